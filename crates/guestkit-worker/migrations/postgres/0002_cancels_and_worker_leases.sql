-- guestkit-worker job store on PostgreSQL, version 2: cancel requests and
-- the lease of each registered worker.
--
-- `cancel_requested_at` is set when a cancel is asked for a job that a
-- worker holds (assigned or running), by any API server of the fleet; the
-- worker holding it polls for such requests and stops the job. The request
-- stays with the job until it ends: a job requeued meanwhile (a lost
-- lease, a retry) is cancelled as soon as it is claimed again.
-- Idempotent, like every migration here.

ALTER TABLE jobs ADD COLUMN IF NOT EXISTS cancel_requested_at timestamptz;

-- A worker renews its heartbeat every third of its lease; one that has not
-- for a whole lease is not alive (it crashed, or lost the database).
ALTER TABLE workers ADD COLUMN IF NOT EXISTS lease_ms bigint NOT NULL DEFAULT 30000
    CHECK (lease_ms > 0);
