//! [`SqliteStore`]: the single-machine [`JobStore`] in one SQLite file.
//!
//! One connection per store value, behind a mutex; every operation runs on
//! [`tokio::task::spawn_blocking`] as one transaction (`BEGIN IMMEDIATE` for
//! every write, so a read-then-write never races another connection, and
//! [`JobStore::claim_next`] hands each job out once even across processes).
//! The file is in WAL mode with `synchronous = FULL`; `schema` has the
//! tables and migrations, `writes` and `reads` the operations. Timestamps
//! (`chrono::DateTime<Utc>`) are stored as unix milliseconds.

mod checksums;
mod reads;
mod rows;
mod schema;
mod state;
mod workers;
mod writes;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use chrono::Utc;
use rusqlite::Connection;

use self::checksums::{cached_checksum, store_checksum};
use self::reads::{counts_by_status, get, history, list, progress, queue_depth, result};
use self::rows::Env;
use self::workers::{
    deregister_worker, forget_silent_workers, list_workers, register_worker, worker_heartbeat,
};
use self::writes::{
    cancel_requests, claim_next, finish, heartbeat, reclaim_expired, record_progress,
    recover_after_crash, request_cancel, retry, submit_batch, transition,
};
use super::{
    ClaimFilter, ClaimedJob, Clock, JobFilter, JobPage, JobRecord, JobStore, NewJob,
    ProgressRecord, RecoveryReport, RetryOutcome, StateChange, StatusCounts, StoreError, Submitted,
    WorkerInfo, WorkerRecord,
};
use crate::checksum::{ChecksumCache, FileIdentity};
use crate::status::JobStatus;

pub use self::schema::SCHEMA_VERSION;

/// Every operation's result.
type R<T> = Result<T, StoreError>;

/// The [`JobStore`] kept in one SQLite file. Cheap to clone (shared
/// connection); open the file again for a second connection.
#[derive(Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

struct Inner {
    conn: Mutex<Connection>,
    /// `sqlite:<path>`, the store's name in errors.
    name: String,
    path: PathBuf,
    clock: Clock,
}

impl fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.inner.path)
            .finish_non_exhaustive()
    }
}

impl SqliteStore {
    /// Opens or creates the store at `path` with the system clock. Blocking:
    /// call it at start-up or inside `spawn_blocking`.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        Self::open_with_clock(path, Arc::new(Utc::now))
    }

    /// [`SqliteStore::open`] with another clock (tests, simulations).
    pub fn open_with_clock(path: impl AsRef<Path>, clock: Clock) -> Result<Self, StoreError> {
        let path = path.as_ref().to_path_buf();
        let name = format!("sqlite:{}", path.display());
        let conn = schema::open(&path, &name)?;
        Ok(SqliteStore {
            inner: Arc::new(Inner {
                conn: Mutex::new(conn),
                name,
                path,
                clock,
            }),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Runs `f` on the connection in a blocking task.
    async fn run<T, F>(&self, what: String, f: F) -> R<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection, &Env<'_>) -> R<T> + Send + 'static,
    {
        let inner = Arc::clone(&self.inner);
        let task_what = what.clone();
        tokio::task::spawn_blocking(move || inner.with_conn(&task_what, f))
            .await
            .map_err(|e| StoreError::Task {
                store: self.inner.name.clone(),
                what,
                detail: e.to_string(),
            })?
    }
}

impl Inner {
    fn with_conn<T>(&self, what: &str, f: impl FnOnce(&mut Connection, &Env<'_>) -> R<T>) -> R<T> {
        // A panic inside an operation dropped (rolled back) its transaction
        // while unwinding, so the connection is still sound.
        let mut conn = self.conn.lock().unwrap_or_else(PoisonError::into_inner);
        let env = Env {
            store: &self.name,
            what,
            now: (self.clock)(),
        };
        f(&mut conn, &env)
    }
}
#[async_trait]
impl JobStore for SqliteStore {
    fn name(&self) -> &str {
        &self.inner.name
    }

    async fn submit_batch(&self, jobs: Vec<NewJob>) -> R<Vec<Submitted>> {
        let what = match jobs.as_slice() {
            [job] => format!("submit job {:?}", job.job_id),
            _ => format!("submit {} jobs", jobs.len()),
        };
        self.run(what, move |conn, env| submit_batch(conn, env, jobs))
            .await
    }

    async fn claim_next(&self, worker_id: &str, filter: &ClaimFilter) -> R<Option<ClaimedJob>> {
        let (worker, filter) = (worker_id.to_owned(), filter.clone());
        let what = format!("claim the next job for worker {worker_id:?}");
        self.run(what, move |conn, env| {
            claim_next(conn, env, &worker, &filter)
        })
        .await
    }

    async fn transition(
        &self,
        job_id: &str,
        attempt: u32,
        to: JobStatus,
        detail: Option<&str>,
    ) -> R<()> {
        let (id, detail) = (job_id.to_owned(), detail.map(str::to_owned));
        let what = format!("move job {job_id:?} (attempt {attempt}) to {to}");
        self.run(what, move |conn, env| {
            transition(conn, env, &id, attempt, to, detail.as_deref())
        })
        .await
    }

    async fn retry(&self, job_id: &str, attempt: u32, backoff: Duration) -> R<RetryOutcome> {
        let id = job_id.to_owned();
        let what = format!("retry job {job_id:?} after attempt {attempt}");
        self.run(what, move |conn, env| {
            retry(conn, env, &id, attempt, backoff)
        })
        .await
    }

    async fn record_progress(
        &self,
        job_id: &str,
        attempt: u32,
        phase: &str,
        percent: u8,
        message: Option<&str>,
    ) -> R<()> {
        let (id, phase) = (job_id.to_owned(), phase.to_owned());
        let message = message.map(str::to_owned);
        let what = format!("record progress of job {job_id:?} (attempt {attempt})");
        self.run(what, move |conn, env| {
            record_progress(conn, env, &id, attempt, &phase, percent, message.as_deref())
        })
        .await
    }

    async fn progress(&self, job_id: &str) -> R<Vec<ProgressRecord>> {
        let id = job_id.to_owned();
        let what = format!("read the progress of job {job_id:?}");
        self.run(what, move |conn, env| progress(conn, env, &id))
            .await
    }

    async fn finish(
        &self,
        job_id: &str,
        attempt: u32,
        status: JobStatus,
        result_json: &str,
        result_path: Option<&str>,
        error_code: Option<&str>,
    ) -> R<()> {
        let id = job_id.to_owned();
        let result = result_json.to_owned();
        let path = result_path.map(str::to_owned);
        let code = error_code.map(str::to_owned);
        let what = format!("finish job {job_id:?} (attempt {attempt}) as {status}");
        self.run(what, move |conn, env| {
            let result = (result.as_str(), path.as_deref(), code.as_deref());
            finish(conn, env, &id, attempt, status, result)
        })
        .await
    }

    async fn get(&self, job_id: &str) -> R<Option<JobRecord>> {
        let id = job_id.to_owned();
        let what = format!("read job {job_id:?}");
        self.run(what, move |conn, env| get(conn, env, &id)).await
    }

    async fn result(&self, job_id: &str) -> R<Option<String>> {
        let id = job_id.to_owned();
        let what = format!("read the result of job {job_id:?}");
        self.run(what, move |conn, env| result(conn, env, &id))
            .await
    }

    async fn history(&self, job_id: &str) -> R<Vec<StateChange>> {
        let id = job_id.to_owned();
        let what = format!("read the history of job {job_id:?}");
        self.run(what, move |conn, env| history(conn, env, &id))
            .await
    }

    async fn list(&self, filter: &JobFilter) -> R<JobPage> {
        let filter = filter.clone();
        let what = "list jobs".to_owned();
        self.run(what, move |conn, env| list(conn, env, &filter))
            .await
    }

    async fn counts_by_status(&self) -> R<StatusCounts> {
        let what = "count jobs by status".to_owned();
        self.run(what, |conn, env| counts_by_status(conn, env))
            .await
    }

    async fn queue_depth(&self) -> R<u64> {
        let what = "count queued jobs".to_owned();
        self.run(what, |conn, env| queue_depth(conn, env)).await
    }

    async fn recover_after_crash(&self, worker_id: Option<&str>) -> R<RecoveryReport> {
        let worker = worker_id.map(str::to_owned);
        let what = match worker_id {
            Some(w) => format!("recover the jobs of worker {w:?}"),
            None => "recover the jobs of every worker".to_owned(),
        };
        self.run(what, move |conn, env| {
            recover_after_crash(conn, env, worker.as_deref())
        })
        .await
    }

    async fn heartbeat(
        &self,
        worker_id: &str,
        jobs: &[(String, u32)],
        lease: Duration,
    ) -> R<Vec<String>> {
        let (worker, jobs) = (worker_id.to_owned(), jobs.to_vec());
        let what = format!(
            "renew the leases of {} job(s) of worker {worker_id:?}",
            jobs.len()
        );
        self.run(what, move |conn, env| {
            heartbeat(conn, env, &worker, &jobs, lease)
        })
        .await
    }

    async fn request_cancel(&self, job_id: &str, attempt: u32) -> R<bool> {
        let id = job_id.to_owned();
        let what = format!("request the cancel of job {job_id:?} (attempt {attempt})");
        self.run(what, move |conn, env| {
            request_cancel(conn, env, &id, attempt)
        })
        .await
    }

    async fn cancel_requests(&self, worker_id: &str) -> R<Vec<(String, u32)>> {
        let worker = worker_id.to_owned();
        let what = format!("read the cancel requests for worker {worker_id:?}");
        self.run(what, move |conn, env| cancel_requests(conn, env, &worker))
            .await
    }

    async fn reclaim_expired(&self) -> R<RecoveryReport> {
        let what = "reclaim jobs whose lease expired".to_owned();
        self.run(what, reclaim_expired).await
    }

    async fn register_worker(&self, worker: &WorkerInfo) -> R<()> {
        let worker = worker.clone();
        let what = format!("register worker {:?}", worker.id);
        self.run(what, move |conn, env| register_worker(conn, env, &worker))
            .await
    }

    async fn worker_heartbeat(&self, worker_id: &str, active_jobs: u32) -> R<()> {
        let worker = worker_id.to_owned();
        let what = format!("record the heartbeat of worker {worker_id:?}");
        self.run(what, move |conn, env| {
            worker_heartbeat(conn, env, &worker, active_jobs)
        })
        .await
    }

    async fn deregister_worker(&self, worker_id: &str) -> R<bool> {
        let worker = worker_id.to_owned();
        let what = format!("deregister worker {worker_id:?}");
        self.run(what, move |conn, env| deregister_worker(conn, env, &worker))
            .await
    }

    async fn list_workers(&self) -> R<Vec<WorkerRecord>> {
        let what = "list workers".to_owned();
        self.run(what, list_workers).await
    }

    async fn forget_silent_workers(&self, silence: Duration) -> R<Vec<String>> {
        let what = "remove silent workers from the registry".to_owned();
        self.run(what, move |conn, env| {
            forget_silent_workers(conn, env, silence)
        })
        .await
    }

    async fn cached_checksum(&self, file: &FileIdentity) -> R<Option<[u8; 32]>> {
        let file = file.clone();
        let what = format!("look up the cached checksum of {}", file.path.display());
        self.run(what, move |conn, env| cached_checksum(conn, env, &file))
            .await
    }

    async fn store_checksum(&self, file: &FileIdentity, digest: [u8; 32]) -> R<()> {
        let file = file.clone();
        let what = format!("cache the checksum of {}", file.path.display());
        self.run(what, move |conn, env| {
            store_checksum(conn, env, &file, digest)
        })
        .await
    }
}

/// The blocking face of the checksum cache, for [`crate::checksum`] running
/// inside `spawn_blocking`.
impl ChecksumCache for SqliteStore {
    fn lookup(&self, file: &FileIdentity) -> R<Option<[u8; 32]>> {
        let what = format!("look up the cached checksum of {}", file.path.display());
        self.inner
            .with_conn(&what, |conn, env| cached_checksum(conn, env, file))
    }

    fn remember(&self, file: &FileIdentity, digest: [u8; 32]) -> R<()> {
        let what = format!("cache the checksum of {}", file.path.display());
        self.inner
            .with_conn(&what, |conn, env| store_checksum(conn, env, file, digest))
    }
}
