//! Opening the SQLite file: connection settings and schema migrations.

use std::time::Duration;

use rusqlite::{Connection, OpenFlags, TransactionBehavior};

use crate::store::StoreError;

/// How long a statement waits for another connection's lock before failing.
pub(super) const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// Schema version 1: jobs, their history and progress, the checksum cache.
///
/// Timestamps are unix milliseconds (`INTEGER`). `seq` is the insertion
/// order (never reused: `AUTOINCREMENT`). `required_capabilities` is a JSON
/// array of strings, matched with `json_each` when claiming.
const V1: &str = "
CREATE TABLE jobs (
    seq                   INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id                TEXT    NOT NULL UNIQUE,
    operation             TEXT    NOT NULL,
    status                TEXT    NOT NULL CHECK (status IN ('pending', 'queued', 'assigned',
                              'running', 'completed', 'failed', 'cancelled', 'timed_out')),
    priority              INTEGER NOT NULL CHECK (priority BETWEEN 1 AND 10),
    attempt               INTEGER NOT NULL CHECK (attempt >= 1),
    max_attempts          INTEGER NOT NULL CHECK (max_attempts >= 1),
    worker_id             TEXT,
    created_at            INTEGER NOT NULL,
    updated_at            INTEGER NOT NULL,
    started_at            INTEGER,
    finished_at           INTEGER,
    not_before            INTEGER,
    idempotency_key       TEXT    UNIQUE,
    timeout_seconds       INTEGER CHECK (timeout_seconds >= 0),
    deadline              INTEGER,
    required_capabilities TEXT    NOT NULL DEFAULT '[]' CHECK (json_valid(required_capabilities)),
    worker_pool           TEXT,
    document_json         TEXT    NOT NULL,
    result_json           TEXT,
    result_path           TEXT,
    error_code            TEXT,
    detail                TEXT
) STRICT;
CREATE INDEX jobs_queue  ON jobs (status, priority DESC, created_at, seq);
CREATE INDEX jobs_newest ON jobs (created_at DESC, seq DESC);
CREATE INDEX jobs_worker ON jobs (worker_id) WHERE worker_id IS NOT NULL;

CREATE TABLE job_history (
    id          INTEGER PRIMARY KEY,
    job_id      TEXT    NOT NULL REFERENCES jobs (job_id),
    attempt     INTEGER NOT NULL,
    from_status TEXT,
    to_status   TEXT    NOT NULL,
    worker_id   TEXT,
    detail      TEXT,
    at          INTEGER NOT NULL
) STRICT;
CREATE INDEX job_history_job ON job_history (job_id, id);

CREATE TABLE job_progress (
    id       INTEGER PRIMARY KEY,
    job_id   TEXT    NOT NULL REFERENCES jobs (job_id),
    attempt  INTEGER NOT NULL,
    phase    TEXT    NOT NULL,
    percent  INTEGER NOT NULL CHECK (percent BETWEEN 0 AND 100),
    message  TEXT,
    at       INTEGER NOT NULL
) STRICT;
CREATE INDEX job_progress_job ON job_progress (job_id, id);

CREATE TABLE file_checksums (
    device    INTEGER NOT NULL,
    inode     INTEGER NOT NULL,
    size      INTEGER NOT NULL,
    mtime_ns  INTEGER NOT NULL,
    path      TEXT    NOT NULL,
    sha256    BLOB    NOT NULL CHECK (length(sha256) = 32),
    stored_at INTEGER NOT NULL,
    PRIMARY KEY (device, inode, size, mtime_ns)
) STRICT, WITHOUT ROWID;
CREATE INDEX file_checksums_path ON file_checksums (path);
";

/// Schema version 2: leases and the worker registry.
///
/// `lease_expires_at` (unix ms) is set while a job is assigned or running.
/// Jobs already assigned or running in a version-1 file get a lease of 30 s
/// from their last change, so a job left behind by a stopped worker is
/// reclaimed once that has passed; a live worker renews it at its next
/// heartbeat.
const V2: &str = "
ALTER TABLE jobs ADD COLUMN lease_expires_at INTEGER;
UPDATE jobs SET lease_expires_at = updated_at + 30000 WHERE status IN ('assigned', 'running');
CREATE INDEX jobs_lease ON jobs (lease_expires_at) WHERE status IN ('assigned', 'running');

CREATE TABLE workers (
    worker_id      TEXT    PRIMARY KEY,
    pool           TEXT,
    capabilities   TEXT    NOT NULL DEFAULT '[]' CHECK (json_valid(capabilities)),
    version        TEXT    NOT NULL,
    started_at     INTEGER NOT NULL,
    last_heartbeat INTEGER NOT NULL,
    active_jobs    INTEGER NOT NULL DEFAULT 0 CHECK (active_jobs >= 0)
) STRICT;
";

/// Schema version 3: cancel requests, and the lease of each worker.
///
/// `cancel_requested_at` (unix ms) is set when a cancel is asked for a job a
/// worker holds; the worker holding it polls for such requests and stops
/// the job. The request stays with the job until it ends: a job requeued
/// meanwhile is cancelled as soon as it is claimed again.
///
/// `workers.lease_ms`: a worker renews its heartbeat every third of its
/// lease; one that has not for a whole lease is not alive.
const V3: &str = "
ALTER TABLE jobs ADD COLUMN cancel_requested_at INTEGER;
ALTER TABLE workers ADD COLUMN lease_ms INTEGER NOT NULL DEFAULT 30000 CHECK (lease_ms > 0);
";

/// Every migration, in order: entry `i` takes the schema from version `i` to
/// `i + 1`. Append only; never edit a released one.
const MIGRATIONS: &[&str] = &[V1, V2, V3];

/// The schema version this build writes (`PRAGMA user_version`).
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

fn db_error(store: &str, what: &str, source: rusqlite::Error) -> StoreError {
    StoreError::Database {
        store: store.to_owned(),
        what: what.to_owned(),
        source: Box::new(source),
    }
}

/// Opens (creating if needed) the database at `path`, sets WAL journalling,
/// full sync, foreign keys and the busy timeout, and brings the schema up to
/// [`SCHEMA_VERSION`]. A database from a newer build is refused unchanged.
pub(super) fn open(path: &std::path::Path, store: &str) -> Result<Connection, StoreError> {
    let err = |what: &'static str| move |e| db_error(store, what, e);
    // No SQLITE_OPEN_URI: a configured path is a file name, even one that
    // starts with `file:`.
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags).map_err(err("open the database file"))?;
    conn.busy_timeout(BUSY_TIMEOUT)
        .map_err(err("set the busy timeout"))?;
    // Refuse a newer schema before changing anything else about the file.
    check_version(&conn, store)?;
    let mode: String = conn
        .query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))
        .map_err(err("switch to WAL journal mode"))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::Database {
            store: store.to_owned(),
            what: "switch to WAL journal mode".to_owned(),
            source: format!("SQLite kept journal mode {mode:?}").into(),
        });
    }
    // FULL: a committed job change survives a power loss, not only a crash.
    conn.pragma_update(None, "synchronous", "FULL")
        .map_err(err("set synchronous = FULL"))?;
    conn.pragma_update(None, "foreign_keys", true)
        .map_err(err("enable foreign keys"))?;
    let mut conn = conn;
    migrate(&mut conn, store)?;
    Ok(conn)
}

fn read_version(conn: &Connection, store: &str) -> Result<i64, StoreError> {
    conn.query_row("PRAGMA user_version", [], |row| row.get(0))
        .map_err(|e| db_error(store, "read the schema version (user_version)", e))
}

fn check_version(conn: &Connection, store: &str) -> Result<i64, StoreError> {
    let found = read_version(conn, store)?;
    if found > SCHEMA_VERSION {
        return Err(StoreError::SchemaTooNew {
            store: store.to_owned(),
            found,
            supported: SCHEMA_VERSION,
        });
    }
    if found < 0 {
        return Err(StoreError::Corrupt {
            store: store.to_owned(),
            what: "user_version".to_owned(),
            detail: format!("negative schema version {found}"),
        });
    }
    Ok(found)
}

/// Applies the missing migrations in one write transaction, so two processes
/// opening a fresh file at once do not both create the tables, and a failed
/// migration leaves the previous schema and its data as they were.
fn migrate(conn: &mut Connection, store: &str) -> Result<(), StoreError> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(|e| db_error(store, "begin the schema migration", e))?;
    let found = check_version(&tx, store)?;
    for (done, sql) in MIGRATIONS.iter().enumerate() {
        let Ok(to) = i64::try_from(done).map(|v| v.saturating_add(1)) else {
            break;
        };
        if to <= found {
            continue;
        }
        let what = format!("migrate the schema to version {to}");
        tx.execute_batch(sql)
            .map_err(|e| db_error(store, &what, e))?;
        tx.pragma_update(None, "user_version", to)
            .map_err(|e| db_error(store, &what, e))?;
    }
    tx.commit()
        .map_err(|e| db_error(store, "commit the schema migration", e))
}
