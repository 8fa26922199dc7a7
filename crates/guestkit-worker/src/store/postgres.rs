//! [`PgStore`]: the [`JobStore`] on PostgreSQL, shared by several workers
//! and API servers.
//!
//! A pool of connections (sqlx); every operation is one transaction, and a
//! job's row is locked (`SELECT … FOR UPDATE`) before its state is checked.
//! Claims are one statement that skips rows other claimers hold
//! (`FOR UPDATE SKIP LOCKED`), so workers never wait for each other nor get
//! the same job; the lease sweep skips them too. "Now" is the database
//! server's clock (one clock for the whole fleet) unless a [`Clock`] is
//! given. The schema lives in `migrations/postgres/` and is brought up to
//! date at every connect. `schema` has the connection and migrations,
//! `writes`, `reads` and `workers` the operations.

mod reads;
mod rows;
mod schema;
mod state;
mod workers;
mod writes;

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::postgres::PgConnectOptions;
use sqlx::PgPool;

use self::rows::{trunc_ms, Op};
use super::{
    ClaimFilter, ClaimedJob, Clock, JobFilter, JobPage, JobRecord, JobStore, NewJob,
    ProgressRecord, RecoveryReport, RetryOutcome, StateChange, StatusCounts, StoreError, Submitted,
    WorkerInfo, WorkerRecord,
};
use crate::checksum::FileIdentity;
use crate::status::JobStatus;

pub use self::schema::PG_SCHEMA_VERSION;

/// Every operation's result.
type R<T> = Result<T, StoreError>;

/// Connections a [`PgStore`] opens at most, unless told otherwise.
pub const DEFAULT_MAX_CONNECTIONS: u32 = 10;

/// The connection string with its password (in the user part or a
/// `password=` parameter) replaced by `***`, for logs and errors.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let authority = match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _password)) => format!("{user}:***@{host}"),
            None => format!("{userinfo}@{host}"),
        },
        None => authority.to_owned(),
    };
    let tail = match tail.split_once('?') {
        Some((path, query)) => {
            let params: Vec<String> = query
                .split('&')
                .map(|kv| match kv.split_once('=') {
                    Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=***"),
                    _ => kv.to_owned(),
                })
                .collect();
            format!("{path}?{}", params.join("&"))
        }
        None => tail.to_owned(),
    };
    format!("{scheme}://{authority}{tail}")
}

/// How to open a [`PgStore`]: the connection string and the optional
/// schema, clock and pool size.
#[derive(Clone)]
pub struct PgStoreOptions {
    url: String,
    schema: Option<String>,
    clock: Option<Clock>,
    max_connections: u32,
    acquire_timeout: Duration,
}

impl fmt::Debug for PgStoreOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgStoreOptions")
            .field("url", &redact_url(&self.url))
            .field("schema", &self.schema)
            .field("clock", &self.clock.as_ref().map(|_| "custom"))
            .field("max_connections", &self.max_connections)
            .field("acquire_timeout", &self.acquire_timeout)
            .finish()
    }
}

impl PgStoreOptions {
    /// `postgres://user:password@host:port/database` (or `postgresql://`,
    /// with any libpq-style parameter sqlx understands).
    pub fn new(url: impl Into<String>) -> Self {
        PgStoreOptions {
            url: url.into(),
            schema: None,
            clock: None,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            acquire_timeout: Duration::from_secs(30),
        }
    }

    /// Keeps the tables in this schema (created when missing; every
    /// connection's `search_path`). A plain lower-case identifier.
    pub fn schema(mut self, schema: impl Into<String>) -> Self {
        self.schema = Some(schema.into());
        self
    }

    /// Reads "now" from this clock instead of the database server's (tests,
    /// simulations).
    pub fn clock(mut self, clock: Clock) -> Self {
        self.clock = Some(clock);
        self
    }

    /// Opens at most this many connections (at least 1).
    pub fn max_connections(mut self, n: u32) -> Self {
        self.max_connections = n.max(1);
        self
    }

    /// How long the first connect waits for the server, and an operation
    /// for a free connection (default 30 s).
    pub fn acquire_timeout(mut self, timeout: Duration) -> Self {
        self.acquire_timeout = timeout;
        self
    }

    /// The store's name in errors and logs: the connection string without
    /// its password, and the schema.
    pub fn name(&self) -> String {
        let url = redact_url(&self.url);
        match &self.schema {
            Some(schema) => format!("{url} (schema {schema})"),
            None => url,
        }
    }

    /// Connects, creates the schema if asked, and brings the tables up to
    /// [`PG_SCHEMA_VERSION`].
    pub async fn connect(self) -> Result<PgStore, StoreError> {
        let name = self.name();
        let options = PgConnectOptions::from_str(&self.url).map_err(|e| StoreError::Database {
            store: name.clone(),
            what: "read the connection string".to_owned(),
            source: Box::new(e),
        })?;
        if let Some(schema) = &self.schema {
            schema::check_schema_name(schema).map_err(|reason| StoreError::InvalidInput {
                job_id: String::new(),
                field: "schema",
                reason,
            })?;
        }
        let pool = schema::connect(
            options,
            self.schema.as_deref(),
            self.max_connections,
            self.acquire_timeout,
            &name,
        )
        .await?;
        Ok(PgStore {
            inner: Arc::new(Inner {
                pool,
                name,
                clock: self.clock,
            }),
        })
    }
}

/// The [`JobStore`] on PostgreSQL. Cheap to clone (shared pool).
#[derive(Clone)]
pub struct PgStore {
    inner: Arc<Inner>,
}

struct Inner {
    pool: PgPool,
    /// The connection string without its password.
    name: String,
    clock: Option<Clock>,
}

impl fmt::Debug for PgStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgStore")
            .field("name", &self.inner.name)
            .finish_non_exhaustive()
    }
}

impl PgStore {
    /// Connects with the default options ([`PgStoreOptions::new`]).
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        PgStoreOptions::new(url).connect().await
    }

    /// The store's name: the connection string without its password.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The connection pool (for tools and tests that look at the tables).
    pub fn pool(&self) -> &PgPool {
        &self.inner.pool
    }

    /// Closes every connection; later operations fail.
    pub async fn close(&self) {
        self.inner.pool.close().await;
    }

    fn op(&self, what: String) -> Op<'_> {
        Op {
            store: &self.inner.name,
            what,
            now: self.inner.clock.as_ref().map(|c| trunc_ms(c())),
        }
    }

    fn pool_ref(&self) -> &PgPool {
        &self.inner.pool
    }
}

#[async_trait]
impl JobStore for PgStore {
    fn name(&self) -> &str {
        &self.inner.name
    }

    async fn submit_batch(&self, jobs: Vec<NewJob>) -> R<Vec<Submitted>> {
        let op = self.op(match jobs.as_slice() {
            [job] => format!("submit job {:?}", job.job_id),
            _ => format!("submit {} jobs", jobs.len()),
        });
        writes::submit_batch(self.pool_ref(), &op, jobs).await
    }

    async fn claim_next(&self, worker_id: &str, filter: &ClaimFilter) -> R<Option<ClaimedJob>> {
        let op = self.op(format!("claim the next job for worker {worker_id:?}"));
        writes::claim_next(self.pool_ref(), &op, worker_id, filter).await
    }

    async fn transition(
        &self,
        job_id: &str,
        attempt: u32,
        to: JobStatus,
        detail: Option<&str>,
    ) -> R<()> {
        let op = self.op(format!("move job {job_id:?} (attempt {attempt}) to {to}"));
        writes::transition(self.pool_ref(), &op, job_id, attempt, to, detail).await
    }

    async fn retry(&self, job_id: &str, attempt: u32, backoff: Duration) -> R<RetryOutcome> {
        let op = self.op(format!("retry job {job_id:?} after attempt {attempt}"));
        writes::retry(self.pool_ref(), &op, job_id, attempt, backoff).await
    }

    async fn record_progress(
        &self,
        job_id: &str,
        attempt: u32,
        phase: &str,
        percent: u8,
        message: Option<&str>,
    ) -> R<()> {
        let op = self.op(format!(
            "record progress of job {job_id:?} (attempt {attempt})"
        ));
        let progress = (phase, percent, message);
        writes::record_progress(self.pool_ref(), &op, job_id, attempt, progress).await
    }

    async fn progress(&self, job_id: &str) -> R<Vec<ProgressRecord>> {
        let op = self.op(format!("read the progress of job {job_id:?}"));
        reads::progress(self.pool_ref(), &op, job_id).await
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
        let op = self.op(format!(
            "finish job {job_id:?} (attempt {attempt}) as {status}"
        ));
        let result = (result_json, result_path, error_code);
        writes::finish(self.pool_ref(), &op, job_id, attempt, status, result).await
    }

    async fn get(&self, job_id: &str) -> R<Option<JobRecord>> {
        let op = self.op(format!("read job {job_id:?}"));
        reads::get(self.pool_ref(), &op, job_id).await
    }

    async fn result(&self, job_id: &str) -> R<Option<String>> {
        let op = self.op(format!("read the result of job {job_id:?}"));
        reads::result(self.pool_ref(), &op, job_id).await
    }

    async fn history(&self, job_id: &str) -> R<Vec<StateChange>> {
        let op = self.op(format!("read the history of job {job_id:?}"));
        reads::history(self.pool_ref(), &op, job_id).await
    }

    async fn list(&self, filter: &JobFilter) -> R<JobPage> {
        let op = self.op("list jobs".to_owned());
        reads::list(self.pool_ref(), &op, filter).await
    }

    async fn counts_by_status(&self) -> R<StatusCounts> {
        let op = self.op("count jobs by status".to_owned());
        reads::counts_by_status(self.pool_ref(), &op).await
    }

    async fn queue_depth(&self) -> R<u64> {
        let op = self.op("count queued jobs".to_owned());
        reads::queue_depth(self.pool_ref(), &op).await
    }

    async fn recover_after_crash(&self, worker_id: Option<&str>) -> R<RecoveryReport> {
        let op = self.op(match worker_id {
            Some(w) => format!("recover the jobs of worker {w:?}"),
            None => "recover the jobs of every worker".to_owned(),
        });
        writes::recover_after_crash(self.pool_ref(), &op, worker_id).await
    }

    async fn heartbeat(
        &self,
        worker_id: &str,
        jobs: &[(String, u32)],
        lease: Duration,
    ) -> R<Vec<String>> {
        let op = self.op(format!(
            "renew the leases of {} job(s) of worker {worker_id:?}",
            jobs.len()
        ));
        writes::heartbeat(self.pool_ref(), &op, worker_id, jobs, lease).await
    }

    async fn request_cancel(&self, job_id: &str, attempt: u32) -> R<bool> {
        let op = self.op(format!(
            "request the cancel of job {job_id:?} (attempt {attempt})"
        ));
        writes::request_cancel(self.pool_ref(), &op, job_id, attempt).await
    }

    async fn cancel_requests(&self, worker_id: &str) -> R<Vec<(String, u32)>> {
        let op = self.op(format!("read the cancel requests for worker {worker_id:?}"));
        writes::cancel_requests(self.pool_ref(), &op, worker_id).await
    }

    async fn reclaim_expired(&self) -> R<RecoveryReport> {
        let op = self.op("reclaim jobs whose lease expired".to_owned());
        writes::reclaim_expired(self.pool_ref(), &op).await
    }

    async fn register_worker(&self, worker: &WorkerInfo) -> R<()> {
        let op = self.op(format!("register worker {:?}", worker.id));
        workers::register_worker(self.pool_ref(), &op, worker).await
    }

    async fn worker_heartbeat(&self, worker_id: &str, active_jobs: u32) -> R<()> {
        let op = self.op(format!("record the heartbeat of worker {worker_id:?}"));
        workers::worker_heartbeat(self.pool_ref(), &op, worker_id, active_jobs).await
    }

    async fn deregister_worker(&self, worker_id: &str) -> R<bool> {
        let op = self.op(format!("deregister worker {worker_id:?}"));
        workers::deregister_worker(self.pool_ref(), &op, worker_id).await
    }

    async fn list_workers(&self) -> R<Vec<WorkerRecord>> {
        let op = self.op("list workers".to_owned());
        workers::list_workers(self.pool_ref(), &op).await
    }

    async fn forget_silent_workers(&self, silence: Duration) -> R<Vec<String>> {
        let op = self.op("remove silent workers from the registry".to_owned());
        workers::forget_silent_workers(self.pool_ref(), &op, silence).await
    }

    async fn cached_checksum(&self, file: &FileIdentity) -> R<Option<[u8; 32]>> {
        let op = self.op(format!(
            "look up the cached checksum of {}",
            file.path.display()
        ));
        reads::cached_checksum(self.pool_ref(), &op, file).await
    }

    async fn store_checksum(&self, file: &FileIdentity, digest: [u8; 32]) -> R<()> {
        let op = self.op(format!("cache the checksum of {}", file.path.display()));
        reads::store_checksum(self.pool_ref(), &op, file, digest).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_show() {
        for (url, shown) in [
            (
                "postgres://gk:s3cret@db.example:5432/jobs",
                "postgres://gk:***@db.example:5432/jobs",
            ),
            (
                "postgresql://gk:p@ss@db/jobs?sslmode=disable&password=x",
                "postgresql://gk:***@db/jobs?sslmode=disable&password=***",
            ),
            (
                "postgres://postgres@127.0.0.1:5432/test",
                "postgres://postgres@127.0.0.1:5432/test",
            ),
            ("postgres://host", "postgres://host"),
            ("jobs.db", "jobs.db"),
        ] {
            assert_eq!(redact_url(url), shown);
        }
        let options = PgStoreOptions::new("postgres://u:hunter2@h/d").schema("s");
        assert_eq!(options.name(), "postgres://u:***@h/d (schema s)");
        assert!(!format!("{options:?}").contains("hunter2"));
    }
}
