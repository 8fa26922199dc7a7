-- guestkit-worker job store on PostgreSQL, version 1: jobs with leases,
-- their history and progress, the worker registry, the checksum cache.
--
-- Timestamps are timestamptz truncated to milliseconds by the store.
-- `seq` is the insertion order (ties on created_at; list cursors).
-- Counters that hold a Rust u32 (attempt, max_attempts, active_jobs) are
-- bigint. The job document and result are `json` (kept as written, checked
-- to be JSON).
-- Idempotent: the store runs it at every connect through sqlx's migration
-- table, and every statement here also survives a second run.

CREATE TABLE IF NOT EXISTS jobs (
    seq                   bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    job_id                text        NOT NULL UNIQUE,
    operation             text        NOT NULL,
    status                text        NOT NULL CHECK (status IN ('pending', 'queued', 'assigned',
                              'running', 'completed', 'failed', 'cancelled', 'timed_out')),
    priority              smallint    NOT NULL CHECK (priority BETWEEN 1 AND 10),
    attempt               bigint      NOT NULL CHECK (attempt >= 1),
    max_attempts          bigint      NOT NULL CHECK (max_attempts >= 1),
    worker_id             text,
    created_at            timestamptz NOT NULL,
    updated_at            timestamptz NOT NULL,
    started_at            timestamptz,
    finished_at           timestamptz,
    not_before            timestamptz,
    lease_expires_at      timestamptz,
    idempotency_key       text        UNIQUE,
    timeout_seconds       bigint      CHECK (timeout_seconds >= 0),
    deadline              timestamptz,
    required_capabilities text[]      NOT NULL DEFAULT '{}',
    worker_pool           text,
    document_json         json        NOT NULL,
    result_json           json,
    result_path           text,
    error_code            text,
    detail                text
);
-- The claim: queued jobs in claim order.
CREATE INDEX IF NOT EXISTS jobs_queue ON jobs (priority DESC, created_at, seq)
    WHERE status = 'queued';
CREATE INDEX IF NOT EXISTS jobs_status ON jobs (status);
CREATE INDEX IF NOT EXISTS jobs_newest ON jobs (created_at DESC, seq DESC);
CREATE INDEX IF NOT EXISTS jobs_worker ON jobs (worker_id) WHERE worker_id IS NOT NULL;
-- The reclaim sweep: held jobs by lease end.
CREATE INDEX IF NOT EXISTS jobs_lease ON jobs (lease_expires_at)
    WHERE status IN ('assigned', 'running');

CREATE TABLE IF NOT EXISTS job_history (
    id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    job_id      text        NOT NULL REFERENCES jobs (job_id),
    attempt     bigint      NOT NULL,
    from_status text,
    to_status   text        NOT NULL,
    worker_id   text,
    detail      text,
    at          timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS job_history_job ON job_history (job_id, id);

CREATE TABLE IF NOT EXISTS job_progress (
    id       bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    job_id   text        NOT NULL REFERENCES jobs (job_id),
    attempt  bigint      NOT NULL,
    phase    text        NOT NULL,
    percent  smallint    NOT NULL CHECK (percent BETWEEN 0 AND 100),
    message  text,
    at       timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS job_progress_job ON job_progress (job_id, id);

CREATE TABLE IF NOT EXISTS workers (
    worker_id      text        PRIMARY KEY,
    pool           text,
    capabilities   text[]      NOT NULL DEFAULT '{}',
    version        text        NOT NULL,
    started_at     timestamptz NOT NULL,
    last_heartbeat timestamptz NOT NULL,
    active_jobs    bigint      NOT NULL DEFAULT 0 CHECK (active_jobs >= 0)
);

-- device, inode and size are u64 stored bit for bit in a bigint.
CREATE TABLE IF NOT EXISTS file_checksums (
    device    bigint      NOT NULL,
    inode     bigint      NOT NULL,
    size      bigint      NOT NULL,
    mtime_ns  bigint      NOT NULL,
    path      text        NOT NULL,
    sha256    bytea       NOT NULL CHECK (length(sha256) = 32),
    stored_at timestamptz NOT NULL,
    PRIMARY KEY (device, inode, size, mtime_ns)
);
CREATE INDEX IF NOT EXISTS file_checksums_path ON file_checksums (path);
