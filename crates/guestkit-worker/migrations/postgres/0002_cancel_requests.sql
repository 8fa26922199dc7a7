-- guestkit-worker job store on PostgreSQL, version 2: cancel requests.
--
-- `cancel_requested_at` is set when a cancel is asked for a job that a
-- worker holds (assigned or running), by any API server of the fleet; the
-- worker holding it polls for such requests and stops the job. The request
-- stays with the job until it ends: a job requeued meanwhile (a lost
-- lease, a retry) is cancelled as soon as it is claimed again.
-- Idempotent, like every migration here.

ALTER TABLE jobs ADD COLUMN IF NOT EXISTS cancel_requested_at timestamptz;
