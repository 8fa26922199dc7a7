//! The job store: where jobs, their state history, progress, results and the
//! checksum cache are kept.
//!
//! [`JobStore`] is the seam: [`SqliteStore`] is the single-machine store,
//! [`PgStore`] the same trait on PostgreSQL for a fleet (several workers and
//! API servers on one database). Callers hold a `dyn JobStore` (or
//! `Arc<dyn JobStore>`).
//!
//! # Rules every store keeps
//!
//! * **State machine.** Every status change is checked against
//!   [`JobStatus::can_transition_to`]; an illegal one is
//!   [`StoreError::IllegalTransition`] and changes nothing.
//! * **Fencing.** Every write about a running job carries the attempt number
//!   the writer was given by [`JobStore::claim_next`]. A retry, a crash
//!   recovery or a reclaimed lease starts a new attempt, so a write from a
//!   worker that lost its job (an older attempt) is
//!   [`StoreError::StaleAttempt`] and changes nothing.
//! * **Leases.** A claim holds the job for [`ClaimFilter::lease`]; the
//!   worker renews it with [`JobStore::heartbeat`]. Once it has expired,
//!   [`JobStore::reclaim_expired`] (run by any worker) puts the job back in
//!   the queue as its next attempt, or fails it when no attempt is left. A
//!   lease that expired but was not reclaimed yet can still be renewed.
//! * **History.** Every status change adds a [`StateChange`] row.
//! * **Atomicity.** Each operation is one transaction: a failed write leaves
//!   everything already stored as it was.
//!
//! Error codes written by the store are [`ErrorCode`] names (from
//! `guestkit-job-spec`).
//!
//! # Time
//!
//! Every timestamp is a [`chrono::DateTime<Utc>`](DateTime), the protocol's
//! time type. Stores keep them to the **millisecond** (SQLite: a
//! unix-milliseconds `INTEGER`; PostgreSQL: a `timestamptz` truncated to
//! milliseconds), truncating toward the past, so a value read back may be up
//! to 1 ms earlier than the one written. Records serialise them as RFC 3339
//! in UTC (`2023-11-14T22:13:20.123Z`). Ordering by `created_at` is
//! therefore millisecond-grained; insertion order breaks ties.
//!
//! "Now" is the store's [`Clock`]. [`PgStore`] reads the database server's
//! clock by default, so workers on several machines compare leases against
//! one clock.

mod group_commit;
mod postgres;
mod rules;
mod sqlite;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::checksum::FileIdentity;
use crate::status::JobStatus;

pub use group_commit::{GroupCommit, MAX_BATCH};
pub use postgres::{redact_url, PgStore, PgStoreOptions, PG_SCHEMA_VERSION};
pub use sqlite::{SqliteStore, SCHEMA_VERSION};

/// Where a store reads the time: `now` for every timestamp it writes and for
/// comparing `not_before` and leases. [`SqliteStore::open`] uses the system
/// clock, [`PgStore`] the database server's unless given one.
pub type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

#[cfg(doc)]
use guestkit_job_spec::ErrorCode;

/// Priority given by [`NewJob::new`]; the protocol's scale is 1 (lowest) to 10.
pub const DEFAULT_PRIORITY: u8 = 5;
/// Attempts given by [`NewJob::new`]: the first run plus two retries.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 3;
/// The most rows one [`JobStore::list`] call returns.
pub const MAX_LIST_LIMIT: u32 = 1000;
/// Lease given by [`ClaimFilter::default`].
pub const DEFAULT_LEASE: Duration = Duration::from_secs(30);
/// The longest lease a claim or heartbeat may ask for.
pub const MAX_LEASE: Duration = Duration::from_secs(24 * 60 * 60);

/// Any error from a database driver, boxed so the trait stays backend-neutral.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// What went wrong in a [`JobStore`] operation. Each message names the job,
/// key or store it is about.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// No job has this id.
    #[error("job {job_id:?} not found")]
    NotFound {
        /// The id asked for.
        job_id: String,
    },
    /// The job's current status does not allow the requested one.
    #[error("job {job_id:?}: illegal transition {from} -> {to}")]
    IllegalTransition {
        /// The job.
        job_id: String,
        /// Its current status.
        from: JobStatus,
        /// The status asked for.
        to: JobStatus,
    },
    /// The write came from an older attempt (a worker that lost the job).
    #[error(
        "job {job_id:?}: write from attempt {attempt} refused, the job is on attempt {current}"
    )]
    StaleAttempt {
        /// The job.
        job_id: String,
        /// The attempt the writer claimed to be.
        attempt: u32,
        /// The job's current attempt.
        current: u32,
    },
    /// The write named an attempt the job has not reached.
    #[error("job {job_id:?}: write from attempt {attempt} refused, the job is only on attempt {current}")]
    FutureAttempt {
        /// The job.
        job_id: String,
        /// The attempt the writer claimed to be.
        attempt: u32,
        /// The job's current attempt.
        current: u32,
    },
    /// [`JobStore::finish`] was given a status that is not terminal.
    #[error("job {job_id:?}: finish needs a terminal status (completed, failed, cancelled, timed_out), not {status}")]
    NotTerminal {
        /// The job.
        job_id: String,
        /// The status given.
        status: JobStatus,
    },
    /// Progress was reported for a job that is not assigned or running.
    #[error(
        "job {job_id:?}: progress is recorded only while assigned or running, the job is {status}"
    )]
    NotActive {
        /// The job.
        job_id: String,
        /// Its current status.
        status: JobStatus,
    },
    /// No worker with this id is registered ([`JobStore::register_worker`]).
    #[error("worker {worker_id:?} is not registered")]
    WorkerNotFound {
        /// The id asked for.
        worker_id: String,
    },
    /// A value handed to the store is out of range or malformed.
    #[error("job {job_id:?}: invalid {field}: {reason}")]
    InvalidInput {
        /// The job the value belongs to (empty where there is none).
        job_id: String,
        /// Which argument or field.
        field: &'static str,
        /// What was expected.
        reason: String,
    },
    /// The database was written by a newer build; it is left untouched.
    #[error("{store}: database schema version {found} is newer than this build supports (up to {supported}); upgrade guestkit-worker or use another database")]
    SchemaTooNew {
        /// The store (e.g. `sqlite:/var/lib/guestkit/jobs.db`).
        store: String,
        /// The version found in the database.
        found: i64,
        /// The newest version this build knows.
        supported: i64,
    },
    /// The database driver failed.
    #[error("{store}: {what}: {source}")]
    Database {
        /// The store.
        store: String,
        /// The operation and its subject, e.g. `claim next job for worker "w1"`.
        what: String,
        /// The driver's error.
        #[source]
        source: BoxError,
    },
    /// A stored value could not be read back (damaged or foreign data).
    #[error("{store}: {what}: stored value is invalid: {detail}")]
    Corrupt {
        /// The store.
        store: String,
        /// The row and column.
        what: String,
        /// What was found and what was expected.
        detail: String,
    },
    /// The blocking task that ran the operation panicked or was cancelled.
    #[error("{store}: {what}: the database task did not finish: {detail}")]
    Task {
        /// The store.
        store: String,
        /// The operation.
        what: String,
        /// The runtime's explanation.
        detail: String,
    },
}

/// A job handed to [`JobStore::submit`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewJob {
    /// Unique job id (the protocol's `job_id`).
    pub job_id: String,
    /// The operation, e.g. `guestkit.inspect`.
    pub operation: String,
    /// 1 (lowest) to 10 (highest).
    pub priority: u8,
    /// When the job was created (the protocol's `created_at`).
    pub created_at: DateTime<Utc>,
    /// The whole job document, as JSON text; must be valid JSON.
    pub document_json: String,
    /// A second submission with the same key is a [`Submitted::Duplicate`].
    pub idempotency_key: Option<String>,
    /// How many attempts the job may have in total (at least 1).
    pub max_attempts: u32,
    /// Per-attempt time limit.
    pub timeout_seconds: Option<u64>,
    /// Wall-clock time after which the job should not run.
    pub deadline: Option<DateTime<Utc>>,
    /// Capabilities a worker needs to take the job.
    pub required_capabilities: BTreeSet<String>,
    /// Only workers of this pool may take the job; `None`: any worker.
    pub worker_pool: Option<String>,
}

impl NewJob {
    /// A job with [`DEFAULT_PRIORITY`], [`DEFAULT_MAX_ATTEMPTS`], created now,
    /// with no key, limits, capabilities or pool.
    pub fn new(
        job_id: impl Into<String>,
        operation: impl Into<String>,
        document_json: impl Into<String>,
    ) -> Self {
        NewJob {
            job_id: job_id.into(),
            operation: operation.into(),
            priority: DEFAULT_PRIORITY,
            created_at: Utc::now(),
            document_json: document_json.into(),
            idempotency_key: None,
            max_attempts: DEFAULT_MAX_ATTEMPTS,
            timeout_seconds: None,
            deadline: None,
            required_capabilities: BTreeSet::new(),
            worker_pool: None,
        }
    }
}

/// The answer to [`JobStore::submit`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Submitted {
    /// The job was stored, [`JobStatus::Queued`], on attempt 1.
    Submitted {
        /// Its id.
        job_id: String,
        /// When it was stored (its first history entry).
        submitted_at: DateTime<Utc>,
    },
    /// Nothing was stored: the idempotency key was used before, or the job id
    /// already exists.
    Duplicate {
        /// The job that was there first.
        existing_job_id: String,
        /// Its current status.
        status: JobStatus,
    },
}

/// Which jobs a worker can take ([`JobStore::claim_next`]), and for how
/// long it holds one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimFilter {
    /// The worker's capabilities: a job is eligible when its required
    /// capabilities are a subset of these.
    pub capabilities: BTreeSet<String>,
    /// The worker's pool. A job with a pool goes only to a worker of that
    /// pool; a job without a pool goes to any worker. A worker with `None`
    /// therefore takes only jobs without a pool.
    pub pool: Option<String>,
    /// How long a claim holds the job without a [`JobStore::heartbeat`]
    /// (more than zero, at most [`MAX_LEASE`]).
    pub lease: Duration,
}

impl Default for ClaimFilter {
    /// No capabilities, no pool, [`DEFAULT_LEASE`].
    fn default() -> Self {
        ClaimFilter {
            capabilities: BTreeSet::new(),
            pool: None,
            lease: DEFAULT_LEASE,
        }
    }
}

/// A job just claimed by a worker: now [`JobStatus::Assigned`] to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimedJob {
    /// The job.
    pub job_id: String,
    /// Its operation.
    pub operation: String,
    /// The attempt this claim is; pass it to every later write (fencing).
    pub attempt: u32,
    /// Attempts allowed in total.
    pub max_attempts: u32,
    /// Its priority.
    pub priority: u8,
    /// Per-attempt time limit.
    pub timeout_seconds: Option<u64>,
    /// Wall-clock deadline.
    pub deadline: Option<DateTime<Utc>>,
    /// The job document as submitted.
    pub document_json: String,
    /// Until when the claim holds without a [`JobStore::heartbeat`].
    pub lease_expires_at: DateTime<Utc>,
    /// A cancel was asked for while an earlier attempt held the job
    /// ([`JobStore::request_cancel`]): stop it before it runs.
    pub cancel_requested: bool,
}

/// The answer to [`JobStore::retry`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryOutcome {
    /// Back in the queue as this new attempt.
    Requeued {
        /// The new attempt number.
        attempt: u32,
    },
    /// No attempts left: the job is now [`JobStatus::Failed`] with error code
    /// `attempts_exhausted` ([`ErrorCode::AttemptsExhausted`]).
    Exhausted,
}

/// Everything stored about one job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct JobRecord {
    /// The job id.
    pub job_id: String,
    /// The operation.
    pub operation: String,
    /// Current status.
    pub status: JobStatus,
    /// Current attempt (1 for the first run).
    pub attempt: u32,
    /// Attempts allowed in total.
    pub max_attempts: u32,
    /// 1 (lowest) to 10 (highest).
    pub priority: u8,
    /// The worker holding the job while assigned or running, and the one that
    /// ran it last once finished.
    pub worker_id: Option<String>,
    /// When the job was created.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
    /// When the current (or last) attempt started running.
    pub started_at: Option<DateTime<Utc>>,
    /// When it reached a terminal status.
    pub finished_at: Option<DateTime<Utc>>,
    /// A queued retry is not claimed before this time.
    pub not_before: Option<DateTime<Utc>>,
    /// While assigned or running: until when the worker's lease holds.
    pub lease_expires_at: Option<DateTime<Utc>>,
    /// Its idempotency key.
    pub idempotency_key: Option<String>,
    /// Per-attempt time limit.
    pub timeout_seconds: Option<u64>,
    /// Wall-clock deadline.
    pub deadline: Option<DateTime<Utc>>,
    /// Capabilities a worker needs.
    pub required_capabilities: BTreeSet<String>,
    /// The pool it is restricted to.
    pub worker_pool: Option<String>,
    /// Where the result file was written.
    pub result_path: Option<String>,
    /// Machine-readable error code of a failed job.
    pub error_code: Option<String>,
    /// The detail given with the last status change.
    pub detail: Option<String>,
    /// The job document as submitted.
    pub document_json: String,
}

/// One row of a job's state history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StateChange {
    /// The status before (`None` for the submission).
    pub from: Option<JobStatus>,
    /// The status after.
    pub to: JobStatus,
    /// The attempt the change belongs to.
    pub attempt: u32,
    /// The worker involved, if any.
    pub worker_id: Option<String>,
    /// Free text given with the change.
    pub detail: Option<String>,
    /// When.
    pub at: DateTime<Utc>,
}

/// One progress report of a job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProgressRecord {
    /// The attempt that reported it.
    pub attempt: u32,
    /// The phase, e.g. `open_image`, `inspect`.
    pub phase: String,
    /// 0 to 100.
    pub percent: u8,
    /// Free text.
    pub message: Option<String>,
    /// When.
    pub at: DateTime<Utc>,
}

/// A position in [`JobStore::list`]'s newest-first order: the next page
/// starts after (older than) it. Its text form (`Display` / `FromStr`) is
/// what a REST API hands out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ListCursor {
    /// `created_at` of the last job returned, unix milliseconds.
    pub(crate) created_ms: i64,
    /// Insertion sequence of that job (ties on `created_at`).
    pub(crate) seq: i64,
}

impl fmt::Display for ListCursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.created_ms, self.seq)
    }
}

/// Text that is not a [`ListCursor`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid list cursor {0:?} (expected <created_ms>.<seq>, as returned by a previous page)")]
pub struct BadCursor(pub String);

impl FromStr for ListCursor {
    type Err = BadCursor;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || BadCursor(s.to_owned());
        let (created, seq) = s.split_once('.').ok_or_else(bad)?;
        Ok(ListCursor {
            created_ms: created.parse().map_err(|_| bad())?,
            seq: seq.parse().map_err(|_| bad())?,
        })
    }
}

/// Which jobs [`JobStore::list`] returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobFilter {
    /// Only jobs in this status.
    pub status: Option<JobStatus>,
    /// Only jobs of this operation.
    pub operation: Option<String>,
    /// At most this many (1 to [`MAX_LIST_LIMIT`]).
    pub limit: u32,
    /// Only jobs older than this position (the previous page's `next`).
    pub before: Option<ListCursor>,
}

impl Default for JobFilter {
    fn default() -> Self {
        JobFilter {
            status: None,
            operation: None,
            limit: 100,
            before: None,
        }
    }
}

/// One page of [`JobStore::list`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobPage {
    /// Newest first.
    pub jobs: Vec<JobRecord>,
    /// Pass as [`JobFilter::before`] for the next page; `None` on the last.
    pub next: Option<ListCursor>,
}

/// What [`JobStore::recover_after_crash`] or [`JobStore::reclaim_expired`]
/// did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecoveryReport {
    /// Jobs put back in the queue, with their new attempt number.
    pub requeued: Vec<(String, u32)>,
    /// Jobs failed with error code `attempts_exhausted`
    /// ([`ErrorCode::AttemptsExhausted`]).
    pub failed: Vec<String>,
}

/// Number of jobs in each status; every status is present, possibly 0.
pub type StatusCounts = BTreeMap<JobStatus, u64>;

/// A worker announcing itself ([`JobStore::register_worker`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerInfo {
    /// The worker id (the `worker_id` of its claims).
    pub id: String,
    /// The pool it serves.
    pub pool: Option<String>,
    /// What it can run (its [`ClaimFilter::capabilities`]).
    pub capabilities: BTreeSet<String>,
    /// Its build, e.g. `0.1.0`.
    pub version: String,
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// The lease of its claims: it beats every third of it, and is taken
    /// for gone after a whole lease without a heartbeat.
    pub lease: Duration,
}

/// A registered worker as [`JobStore::list_workers`] reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WorkerRecord {
    /// The worker id.
    pub id: String,
    /// The pool it serves.
    pub pool: Option<String>,
    /// What it can run.
    pub capabilities: BTreeSet<String>,
    /// Its build.
    pub version: String,
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// Jobs it was running at its last heartbeat.
    pub active_jobs: u32,
    /// Its last heartbeat (or its registration).
    pub last_heartbeat: DateTime<Utc>,
    /// Its lease ([`WorkerInfo::lease`]).
    pub lease: Duration,
}

impl WorkerRecord {
    /// Whether it was heard from within its lease at `now`: a worker that
    /// crashed stays registered, but not alive.
    pub fn is_alive(&self, now: DateTime<Utc>) -> bool {
        chrono::Duration::from_std(self.lease)
            .ok()
            .and_then(|lease| self.last_heartbeat.checked_add_signed(lease))
            .is_some_and(|until| until >= now)
    }
}

/// The job store. Object-safe: use it as `Arc<dyn JobStore>`.
#[async_trait]
pub trait JobStore: Send + Sync {
    /// The store as errors name it: the database file, or the connection
    /// string without its password.
    fn name(&self) -> &str;

    /// Stores a new job as [`JobStatus::Queued`], attempt 1, unless its
    /// idempotency key was used before or its id exists
    /// ([`Submitted::Duplicate`]). Priority must be 1-10, `max_attempts` at
    /// least 1, `document_json` valid JSON.
    async fn submit(&self, job: NewJob) -> Result<Submitted, StoreError> {
        let job_id = job.job_id.clone();
        self.submit_batch(vec![job])
            .await?
            .pop()
            .ok_or_else(|| StoreError::Task {
                store: "job store".to_owned(),
                what: format!("submit job {job_id:?}"),
                detail: "the batch answered nothing for its one job".to_owned(),
            })
    }

    /// [`JobStore::submit`] for several jobs in one transaction: all are
    /// written with one flush to disk (group commit), or none is. The
    /// answers are in the order of `jobs`; a job whose key or id an earlier
    /// job of the same batch took is a [`Submitted::Duplicate`] of it. Every
    /// job is checked first, so one invalid job stores none: submit the
    /// others alone to learn which.
    async fn submit_batch(&self, jobs: Vec<NewJob>) -> Result<Vec<Submitted>, StoreError>;

    /// Atomically takes the best eligible queued job (highest priority, then
    /// oldest `created_at`, then first inserted) and marks it
    /// [`JobStatus::Assigned`] to `worker_id`, leased for
    /// [`ClaimFilter::lease`]. Eligible: required capabilities within
    /// `filter.capabilities`, pool as [`ClaimFilter::pool`] says, and no
    /// `not_before` in the future. Two claimers never get the same job.
    async fn claim_next(
        &self,
        worker_id: &str,
        filter: &ClaimFilter,
    ) -> Result<Option<ClaimedJob>, StoreError>;

    /// Moves the job to `to` if its status allows it and `attempt` is its
    /// current attempt; records the change with `detail`. Moving a running
    /// job to [`JobStatus::Queued`] is a [`JobStore::retry`] with no delay.
    async fn transition(
        &self,
        job_id: &str,
        attempt: u32,
        to: JobStatus,
        detail: Option<&str>,
    ) -> Result<(), StoreError>;

    /// Puts a running job back in the queue as attempt + 1, not to be claimed
    /// for `backoff`, counted on the store's clock (the one claims are judged
    /// by, whatever the clock of the worker asking); fails it with error code
    /// `attempts_exhausted` ([`ErrorCode::AttemptsExhausted`]) when attempt + 1
    /// would exceed `max_attempts`.
    async fn retry(
        &self,
        job_id: &str,
        attempt: u32,
        backoff: Duration,
    ) -> Result<RetryOutcome, StoreError>;

    /// Records a progress report (percent 0-100) of an assigned or running job.
    async fn record_progress(
        &self,
        job_id: &str,
        attempt: u32,
        phase: &str,
        percent: u8,
        message: Option<&str>,
    ) -> Result<(), StoreError>;

    /// Every progress report of the job, oldest first.
    async fn progress(&self, job_id: &str) -> Result<Vec<ProgressRecord>, StoreError>;

    /// Moves the job to a terminal `status` (same checks as
    /// [`JobStore::transition`]) and stores its result JSON, result file path
    /// and error code.
    async fn finish(
        &self,
        job_id: &str,
        attempt: u32,
        status: JobStatus,
        result_json: &str,
        result_path: Option<&str>,
        error_code: Option<&str>,
    ) -> Result<(), StoreError>;

    /// The job, or `None` when no job has this id.
    async fn get(&self, job_id: &str) -> Result<Option<JobRecord>, StoreError>;

    /// The job's result JSON; `None` while it has none,
    /// [`StoreError::NotFound`] when there is no such job.
    async fn result(&self, job_id: &str) -> Result<Option<String>, StoreError>;

    /// The job's state history, oldest first.
    async fn history(&self, job_id: &str) -> Result<Vec<StateChange>, StoreError>;

    /// Jobs matching `filter`, newest first (by `created_at`, then insertion).
    async fn list(&self, filter: &JobFilter) -> Result<JobPage, StoreError>;

    /// Number of jobs in each status.
    async fn counts_by_status(&self) -> Result<StatusCounts, StoreError>;

    /// Number of queued jobs (including those waiting for their `not_before`).
    async fn queue_depth(&self) -> Result<u64, StoreError>;

    /// After a crash: jobs assigned to or running on `worker_id` (any worker
    /// when `None`) go back to the queue as attempt + 1, or fail with error
    /// code `attempts_exhausted` ([`ErrorCode::AttemptsExhausted`]) when no
    /// attempt is left.
    async fn recover_after_crash(
        &self,
        worker_id: Option<&str>,
    ) -> Result<RecoveryReport, StoreError>;

    /// Renews the leases of `worker_id`'s jobs, each named with the attempt
    /// it holds, to `lease` from now (more than zero, at most
    /// [`MAX_LEASE`]). Answers the jobs that are no longer this worker's:
    /// gone, finished, reclaimed (another attempt), or assigned to another
    /// worker; their leases are not touched, and the worker should stop them.
    async fn heartbeat(
        &self,
        worker_id: &str,
        jobs: &[(String, u32)],
        lease: Duration,
    ) -> Result<Vec<String>, StoreError>;

    /// Asks whichever worker holds `job_id` at `attempt` (assigned or
    /// running) to stop it: records the request, which that worker finds
    /// with [`JobStore::cancel_requests`]. The request stays with the job
    /// until it ends, so a job requeued meanwhile is stopped at its next
    /// claim ([`ClaimedJob::cancel_requested`]). False when the job is not
    /// held at that attempt (queued, ended, or moved on).
    async fn request_cancel(&self, job_id: &str, attempt: u32) -> Result<bool, StoreError>;

    /// The jobs `worker_id` holds (assigned or running) whose cancel has been
    /// requested, with their attempts, oldest request first.
    async fn cancel_requests(&self, worker_id: &str) -> Result<Vec<(String, u32)>, StoreError>;

    /// Jobs assigned or running whose lease has expired go back to the queue
    /// as attempt + 1, or fail with error code `attempts_exhausted`
    /// ([`ErrorCode::AttemptsExhausted`]) when no attempt is left, as
    /// [`JobStore::recover_after_crash`] does for a known crash. Any worker
    /// may run it; concurrent sweeps never reclaim a job twice.
    async fn reclaim_expired(&self) -> Result<RecoveryReport, StoreError>;

    /// Adds the worker to the registry, or replaces its entry (a restart);
    /// its heartbeat is now, with no active jobs.
    async fn register_worker(&self, worker: &WorkerInfo) -> Result<(), StoreError>;

    /// Records that the worker is alive and runs `active_jobs` jobs;
    /// [`StoreError::WorkerNotFound`] when it is not registered.
    async fn worker_heartbeat(&self, worker_id: &str, active_jobs: u32) -> Result<(), StoreError>;

    /// Removes the worker from the registry (a clean shutdown); false when it
    /// was not there. Its jobs are not touched.
    async fn deregister_worker(&self, worker_id: &str) -> Result<bool, StoreError>;

    /// Every registered worker, by id.
    async fn list_workers(&self) -> Result<Vec<WorkerRecord>, StoreError>;

    /// Removes the workers not heard from for `silence` — and for at least
    /// their own lease, so a live worker is never removed — from the
    /// registry: workers that crashed or were killed never deregister.
    /// Their ids, sorted. A worker removed while only stalled registers
    /// again at its next heartbeat.
    async fn forget_silent_workers(&self, silence: Duration) -> Result<Vec<String>, StoreError>;

    /// The SHA-256 digest cached for this file identity (path not compared).
    async fn cached_checksum(&self, file: &FileIdentity) -> Result<Option<[u8; 32]>, StoreError>;

    /// Caches the SHA-256 digest of this file identity, replacing any older one.
    async fn store_checksum(&self, file: &FileIdentity, digest: [u8; 32])
        -> Result<(), StoreError>;
}
