//! [`SqliteStore`]: the single-machine [`JobStore`] in one SQLite file.
//!
//! One connection per store value, behind a mutex; every operation runs on
//! [`tokio::task::spawn_blocking`] as one transaction (`BEGIN IMMEDIATE` for
//! every write, so a read-then-write never races another connection, and
//! [`JobStore::claim_next`] hands each job out once even across processes).
//! The file is in WAL mode with `synchronous = FULL`; see [`schema`] for the
//! tables. Timestamps are unix milliseconds.

mod rows;
mod schema;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use rusqlite::{params, Connection, OptionalExtension, Transaction, TransactionBehavior};
use time::OffsetDateTime;

use self::rows::{status_col, to_ms, u32_col, u64_bits, u64_to_sql, Env, RawJob, JOB_COLUMNS};
use super::{
    ClaimFilter, ClaimedJob, JobFilter, JobPage, JobRecord, JobStore, ListCursor, NewJob,
    ProgressRecord, RecoveryReport, RetryOutcome, StateChange, StatusCounts, StoreError, Submitted,
    ATTEMPTS_EXHAUSTED, MAX_LIST_LIMIT,
};
use crate::checksum::{ChecksumCache, FileIdentity};
use crate::status::JobStatus;

pub use self::schema::SCHEMA_VERSION;

/// Where a store reads the time: `now` for every timestamp it writes and for
/// comparing `not_before`. [`SqliteStore::open`] uses the system clock.
pub type Clock = Arc<dyn Fn() -> OffsetDateTime + Send + Sync>;

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
        Self::open_with_clock(path, Arc::new(OffsetDateTime::now_utc))
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

fn write_tx<'c>(conn: &'c mut Connection, env: &Env<'_>) -> R<Transaction<'c>> {
    conn.transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(|e| env.db(e))
}

fn read_tx<'c>(conn: &'c mut Connection, env: &Env<'_>) -> R<Transaction<'c>> {
    conn.transaction_with_behavior(TransactionBehavior::Deferred)
        .map_err(|e| env.db(e))
}

fn commit(tx: Transaction<'_>, env: &Env<'_>) -> R<()> {
    tx.commit().map_err(|e| env.db(e))
}

fn invalid(job_id: &str, field: &'static str, reason: impl Into<String>) -> StoreError {
    StoreError::InvalidInput {
        job_id: job_id.to_owned(),
        field,
        reason: reason.into(),
    }
}

fn check_json(job_id: &str, field: &'static str, text: &str) -> R<()> {
    serde_json::from_str::<serde::de::IgnoredAny>(text)
        .map(|_| ())
        .map_err(|e| invalid(job_id, field, format!("not valid JSON: {e}")))
}

/// The columns of a job that state changes look at.
struct JobState {
    status: JobStatus,
    attempt: u32,
    max_attempts: u32,
    worker_id: Option<String>,
}

fn load_state(conn: &Connection, env: &Env<'_>, job_id: &str) -> R<JobState> {
    let raw = conn
        .query_row(
            "SELECT status, attempt, max_attempts, worker_id FROM jobs WHERE job_id = ?1",
            [job_id],
            |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, i64>(1)?,
                    row.get::<_, i64>(2)?,
                    row.get::<_, Option<String>>(3)?,
                ))
            },
        )
        .optional()
        .map_err(|e| env.db(e))?;
    let (status, attempt, max_attempts, worker_id) = raw.ok_or_else(|| StoreError::NotFound {
        job_id: job_id.to_owned(),
    })?;
    Ok(JobState {
        status: status_col(env, job_id, "status", &status)?,
        attempt: u32_col(env, job_id, "attempt", attempt)?,
        max_attempts: u32_col(env, job_id, "max_attempts", max_attempts)?,
        worker_id,
    })
}

/// Refuses a write that does not carry the job's current attempt.
fn fence(job_id: &str, attempt: u32, state: &JobState) -> R<()> {
    let (job_id, current) = (job_id.to_owned(), state.attempt);
    match attempt.cmp(&current) {
        std::cmp::Ordering::Equal => Ok(()),
        std::cmp::Ordering::Less => Err(StoreError::StaleAttempt {
            job_id,
            attempt,
            current,
        }),
        std::cmp::Ordering::Greater => Err(StoreError::FutureAttempt {
            job_id,
            attempt,
            current,
        }),
    }
}

fn check_legal(job_id: &str, from: JobStatus, to: JobStatus) -> R<()> {
    if from.can_transition_to(to) {
        Ok(())
    } else {
        Err(StoreError::IllegalTransition {
            job_id: job_id.to_owned(),
            from,
            to,
        })
    }
}

/// One row for `job_history`.
struct Change<'a> {
    job_id: &'a str,
    /// The job's attempt after the change.
    attempt: u32,
    from: Option<JobStatus>,
    to: JobStatus,
    worker_id: Option<&'a str>,
    detail: Option<&'a str>,
}

fn add_history(tx: &Transaction<'_>, env: &Env<'_>, c: &Change<'_>) -> R<()> {
    tx.execute(
        "INSERT INTO job_history (job_id, attempt, from_status, to_status, worker_id, detail, at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            c.job_id,
            c.attempt,
            c.from.map(JobStatus::as_str),
            c.to.as_str(),
            c.worker_id,
            c.detail,
            env.now_ms()
        ],
    )
    .map_err(|e| env.db(e))?;
    Ok(())
}

/// Puts an assigned or running job back in the queue as its next attempt,
/// or fails it when it has none left.
fn requeue_or_fail(
    tx: &Transaction<'_>,
    env: &Env<'_>,
    job_id: &str,
    state: &JobState,
    not_before: Option<i64>,
    detail: &str,
) -> R<RetryOutcome> {
    let worker = state.worker_id.as_deref();
    let now = env.now_ms();
    if let Some(next) = state
        .attempt
        .checked_add(1)
        .filter(|next| *next <= state.max_attempts)
    {
        tx.execute(
            "UPDATE jobs SET status = 'queued', attempt = ?2, worker_id = NULL, not_before = ?3,
                             updated_at = ?4, detail = ?5
             WHERE job_id = ?1",
            params![job_id, next, not_before, now, detail],
        )
        .map_err(|e| env.db(e))?;
        add_history(
            tx,
            env,
            &Change {
                job_id,
                attempt: next,
                from: Some(state.status),
                to: JobStatus::Queued,
                worker_id: worker,
                detail: Some(detail),
            },
        )?;
        return Ok(RetryOutcome::Requeued { attempt: next });
    }
    let why = format!(
        "{detail}; attempt {} of {} was the last",
        state.attempt, state.max_attempts
    );
    let mut from = state.status;
    if from == JobStatus::Assigned {
        // Assigned cannot fail directly: the claim is released first.
        add_history(
            tx,
            env,
            &Change {
                job_id,
                attempt: state.attempt,
                from: Some(from),
                to: JobStatus::Queued,
                worker_id: worker,
                detail: Some(detail),
            },
        )?;
        from = JobStatus::Queued;
    }
    tx.execute(
        "UPDATE jobs SET status = 'failed', error_code = ?2, not_before = NULL, finished_at = ?3,
                         updated_at = ?3, detail = ?4
         WHERE job_id = ?1",
        params![job_id, ATTEMPTS_EXHAUSTED, now, why],
    )
    .map_err(|e| env.db(e))?;
    add_history(
        tx,
        env,
        &Change {
            job_id,
            attempt: state.attempt,
            from: Some(from),
            to: JobStatus::Failed,
            worker_id: worker,
            detail: Some(&why),
        },
    )?;
    Ok(RetryOutcome::Exhausted)
}

fn submit(conn: &mut Connection, env: &Env<'_>, job: NewJob) -> R<Submitted> {
    let id = job.job_id.as_str();
    if id.is_empty() {
        return Err(invalid(id, "job_id", "must not be empty"));
    }
    if job.operation.is_empty() {
        return Err(invalid(id, "operation", "must not be empty"));
    }
    if !(1..=10).contains(&job.priority) {
        return Err(invalid(
            id,
            "priority",
            format!("{} is outside 1-10", job.priority),
        ));
    }
    if job.max_attempts == 0 {
        return Err(invalid(id, "max_attempts", "must be at least 1"));
    }
    let timeout = job
        .timeout_seconds
        .map(|s| {
            u64_to_sql(s).ok_or_else(|| invalid(id, "timeout_seconds", format!("{s} is too large")))
        })
        .transpose()?;
    check_json(id, "document_json", &job.document_json)?;
    let caps = serde_json::to_string(&job.required_capabilities)
        .map_err(|e| invalid(id, "required_capabilities", e.to_string()))?;

    let tx = write_tx(conn, env)?;
    let existing = |sql: &str, key: &str| -> R<Option<Submitted>> {
        let row = tx
            .query_row(sql, [key], |row| {
                Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
            })
            .optional()
            .map_err(|e| env.db(e))?;
        row.map(|(existing_job_id, status)| {
            Ok(Submitted::Duplicate {
                status: status_col(env, &existing_job_id, "status", &status)?,
                existing_job_id,
            })
        })
        .transpose()
    };
    if let Some(key) = &job.idempotency_key {
        if let Some(dup) = existing(
            "SELECT job_id, status FROM jobs WHERE idempotency_key = ?1",
            key,
        )? {
            return Ok(dup);
        }
    }
    if let Some(dup) = existing("SELECT job_id, status FROM jobs WHERE job_id = ?1", id)? {
        return Ok(dup);
    }
    tx.execute(
        "INSERT INTO jobs (job_id, operation, status, priority, attempt, max_attempts,
                           created_at, updated_at, idempotency_key, timeout_seconds, deadline,
                           required_capabilities, worker_pool, document_json)
         VALUES (?1, ?2, 'queued', ?3, 1, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
        params![
            id,
            job.operation,
            job.priority,
            job.max_attempts,
            to_ms(job.created_at),
            env.now_ms(),
            job.idempotency_key,
            timeout,
            job.deadline.map(to_ms),
            caps,
            job.worker_pool,
            job.document_json
        ],
    )
    .map_err(|e| env.db(e))?;
    add_history(
        &tx,
        env,
        &Change {
            job_id: id,
            attempt: 1,
            from: None,
            to: JobStatus::Queued,
            worker_id: None,
            detail: Some("submitted"),
        },
    )?;
    commit(tx, env)?;
    Ok(Submitted::Submitted { job_id: job.job_id })
}

fn claim_next(
    conn: &mut Connection,
    env: &Env<'_>,
    worker_id: &str,
    filter: &ClaimFilter,
) -> R<Option<ClaimedJob>> {
    let caps = serde_json::to_string(&filter.capabilities)
        .map_err(|e| invalid("", "capabilities", e.to_string()))?;
    let tx = write_tx(conn, env)?;
    let row = tx
        .query_row(
            "UPDATE jobs SET status = 'assigned', worker_id = ?1, updated_at = ?2,
                             not_before = NULL, detail = NULL
             WHERE seq = (
                 SELECT j.seq FROM jobs j
                 WHERE j.status = 'queued'
                   AND (j.not_before IS NULL OR j.not_before <= ?2)
                   AND (j.worker_pool IS NULL OR j.worker_pool = ?3)
                   AND NOT EXISTS (
                       SELECT 1 FROM json_each(j.required_capabilities) AS need
                       WHERE need.value NOT IN (SELECT value FROM json_each(?4)))
                 ORDER BY j.priority DESC, j.created_at ASC, j.seq ASC
                 LIMIT 1)
             RETURNING job_id, operation, attempt, max_attempts, priority, timeout_seconds,
                       deadline, document_json",
            params![worker_id, env.now_ms(), filter.pool, caps],
            |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, i64>(2)?,
                    row.get::<_, i64>(3)?,
                    row.get::<_, i64>(4)?,
                    row.get::<_, Option<i64>>(5)?,
                    row.get::<_, Option<i64>>(6)?,
                    row.get::<_, String>(7)?,
                ))
            },
        )
        .optional()
        .map_err(|e| env.db(e))?;
    let Some((job_id, operation, attempt, max_attempts, priority, timeout, deadline, document)) =
        row
    else {
        return Ok(None);
    };
    let id = job_id.as_str();
    let claimed = ClaimedJob {
        attempt: u32_col(env, id, "attempt", attempt)?,
        max_attempts: u32_col(env, id, "max_attempts", max_attempts)?,
        priority: u8::try_from(priority)
            .map_err(|_| env.corrupt(id, "priority", priority.to_string()))?,
        timeout_seconds: timeout
            .map(|s| {
                u64::try_from(s).map_err(|_| env.corrupt(id, "timeout_seconds", s.to_string()))
            })
            .transpose()?,
        deadline: deadline
            .map(|ms| rows::time_col(env, id, "deadline", ms))
            .transpose()?,
        operation,
        document_json: document,
        job_id: job_id.clone(),
    };
    add_history(
        &tx,
        env,
        &Change {
            job_id: id,
            attempt: claimed.attempt,
            from: Some(JobStatus::Queued),
            to: JobStatus::Assigned,
            worker_id: Some(worker_id),
            detail: None,
        },
    )?;
    commit(tx, env)?;
    Ok(Some(claimed))
}

fn transition(
    conn: &mut Connection,
    env: &Env<'_>,
    job_id: &str,
    attempt: u32,
    to: JobStatus,
    detail: Option<&str>,
) -> R<()> {
    let tx = write_tx(conn, env)?;
    let state = load_state(&tx, env, job_id)?;
    fence(job_id, attempt, &state)?;
    check_legal(job_id, state.status, to)?;
    match (state.status, to) {
        (JobStatus::Running, JobStatus::Queued) => {
            requeue_or_fail(&tx, env, job_id, &state, None, detail.unwrap_or("requeued"))?;
        }
        (_, JobStatus::Assigned) => {
            return Err(invalid(
                job_id,
                "to",
                "a job is assigned only by claim_next, which names the worker",
            ));
        }
        _ => {
            tx.execute(
                "UPDATE jobs SET status = ?2, updated_at = ?3, detail = ?4,
                     started_at = CASE WHEN ?2 = 'running' THEN ?3 ELSE started_at END,
                     finished_at = CASE WHEN ?5 THEN ?3 ELSE finished_at END,
                     worker_id = CASE WHEN ?2 = 'queued' THEN NULL ELSE worker_id END
                 WHERE job_id = ?1",
                params![job_id, to.as_str(), env.now_ms(), detail, to.is_terminal()],
            )
            .map_err(|e| env.db(e))?;
            add_history(
                &tx,
                env,
                &Change {
                    job_id,
                    attempt,
                    from: Some(state.status),
                    to,
                    worker_id: state.worker_id.as_deref(),
                    detail,
                },
            )?;
        }
    }
    commit(tx, env)
}

fn retry(
    conn: &mut Connection,
    env: &Env<'_>,
    job_id: &str,
    attempt: u32,
    not_before: OffsetDateTime,
) -> R<RetryOutcome> {
    let tx = write_tx(conn, env)?;
    let state = load_state(&tx, env, job_id)?;
    fence(job_id, attempt, &state)?;
    if !matches!(state.status, JobStatus::Running | JobStatus::Assigned) {
        return Err(StoreError::IllegalTransition {
            job_id: job_id.to_owned(),
            from: state.status,
            to: JobStatus::Queued,
        });
    }
    let outcome = requeue_or_fail(&tx, env, job_id, &state, Some(to_ms(not_before)), "retry")?;
    commit(tx, env)?;
    Ok(outcome)
}

fn record_progress(
    conn: &mut Connection,
    env: &Env<'_>,
    job_id: &str,
    attempt: u32,
    phase: &str,
    percent: u8,
    message: Option<&str>,
) -> R<()> {
    if percent > 100 {
        return Err(invalid(
            job_id,
            "percent",
            format!("{percent} is above 100"),
        ));
    }
    let tx = write_tx(conn, env)?;
    let state = load_state(&tx, env, job_id)?;
    fence(job_id, attempt, &state)?;
    if !matches!(state.status, JobStatus::Running | JobStatus::Assigned) {
        return Err(StoreError::NotActive {
            job_id: job_id.to_owned(),
            status: state.status,
        });
    }
    let now = env.now_ms();
    tx.execute(
        "INSERT INTO job_progress (job_id, attempt, phase, percent, message, at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![job_id, attempt, phase, percent, message, now],
    )
    .map_err(|e| env.db(e))?;
    tx.execute(
        "UPDATE jobs SET updated_at = ?2 WHERE job_id = ?1",
        params![job_id, now],
    )
    .map_err(|e| env.db(e))?;
    commit(tx, env)
}

fn progress(conn: &mut Connection, env: &Env<'_>, job_id: &str) -> R<Vec<ProgressRecord>> {
    let tx = read_tx(conn, env)?;
    load_state(&tx, env, job_id)?;
    let mut stmt = tx
        .prepare(
            "SELECT attempt, phase, percent, message, at FROM job_progress
             WHERE job_id = ?1 ORDER BY id",
        )
        .map_err(|e| env.db(e))?;
    let raw = stmt
        .query_map([job_id], |row| {
            Ok((
                row.get::<_, i64>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, i64>(2)?,
                row.get::<_, Option<String>>(3)?,
                row.get::<_, i64>(4)?,
            ))
        })
        .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
        .map_err(|e| env.db(e))?;
    raw.into_iter()
        .map(|(attempt, phase, percent, message, at)| {
            Ok(ProgressRecord {
                attempt: u32_col(env, job_id, "job_progress.attempt", attempt)?,
                phase,
                percent: u8::try_from(percent).map_err(|_| {
                    env.corrupt(job_id, "job_progress.percent", percent.to_string())
                })?,
                message,
                at: rows::time_col(env, job_id, "job_progress.at", at)?,
            })
        })
        .collect()
}

fn finish(
    conn: &mut Connection,
    env: &Env<'_>,
    job_id: &str,
    attempt: u32,
    status: JobStatus,
    result: (&str, Option<&str>, Option<&str>),
) -> R<()> {
    let (result_json, result_path, error_code) = result;
    if !status.is_terminal() {
        return Err(StoreError::NotTerminal {
            job_id: job_id.to_owned(),
            status,
        });
    }
    check_json(job_id, "result_json", result_json)?;
    let tx = write_tx(conn, env)?;
    let state = load_state(&tx, env, job_id)?;
    fence(job_id, attempt, &state)?;
    check_legal(job_id, state.status, status)?;
    tx.execute(
        "UPDATE jobs SET status = ?2, updated_at = ?3, finished_at = ?3, not_before = NULL,
                         result_json = ?4, result_path = ?5, error_code = ?6, detail = NULL
         WHERE job_id = ?1",
        params![
            job_id,
            status.as_str(),
            env.now_ms(),
            result_json,
            result_path,
            error_code
        ],
    )
    .map_err(|e| env.db(e))?;
    add_history(
        &tx,
        env,
        &Change {
            job_id,
            attempt,
            from: Some(state.status),
            to: status,
            worker_id: state.worker_id.as_deref(),
            detail: error_code,
        },
    )?;
    commit(tx, env)
}

fn get(conn: &Connection, env: &Env<'_>, job_id: &str) -> R<Option<JobRecord>> {
    conn.query_row(
        &format!("SELECT {JOB_COLUMNS} FROM jobs WHERE job_id = ?1"),
        [job_id],
        RawJob::read,
    )
    .optional()
    .map_err(|e| env.db(e))?
    .map(|raw| raw.into_record(env))
    .transpose()
}

fn result(conn: &Connection, env: &Env<'_>, job_id: &str) -> R<Option<String>> {
    conn.query_row(
        "SELECT result_json FROM jobs WHERE job_id = ?1",
        [job_id],
        |row| row.get::<_, Option<String>>(0),
    )
    .optional()
    .map_err(|e| env.db(e))?
    .ok_or_else(|| StoreError::NotFound {
        job_id: job_id.to_owned(),
    })
}

fn history(conn: &mut Connection, env: &Env<'_>, job_id: &str) -> R<Vec<StateChange>> {
    let tx = read_tx(conn, env)?;
    load_state(&tx, env, job_id)?;
    let mut stmt = tx
        .prepare(
            "SELECT from_status, to_status, attempt, worker_id, detail, at FROM job_history
             WHERE job_id = ?1 ORDER BY id",
        )
        .map_err(|e| env.db(e))?;
    let raw = stmt
        .query_map([job_id], |row| {
            Ok((
                row.get::<_, Option<String>>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, i64>(2)?,
                row.get::<_, Option<String>>(3)?,
                row.get::<_, Option<String>>(4)?,
                row.get::<_, i64>(5)?,
            ))
        })
        .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
        .map_err(|e| env.db(e))?;
    raw.into_iter()
        .map(|(from, to, attempt, worker_id, detail, at)| {
            Ok(StateChange {
                from: from
                    .map(|s| status_col(env, job_id, "job_history.from_status", &s))
                    .transpose()?,
                to: status_col(env, job_id, "job_history.to_status", &to)?,
                attempt: u32_col(env, job_id, "job_history.attempt", attempt)?,
                worker_id,
                detail,
                at: rows::time_col(env, job_id, "job_history.at", at)?,
            })
        })
        .collect()
}

fn list(conn: &mut Connection, env: &Env<'_>, filter: &JobFilter) -> R<JobPage> {
    if !(1..=MAX_LIST_LIMIT).contains(&filter.limit) {
        return Err(invalid(
            "",
            "limit",
            format!("{} is outside 1-{MAX_LIST_LIMIT}", filter.limit),
        ));
    }
    let (before_ms, before_seq) = filter
        .before
        .map_or((i64::MAX, i64::MAX), |c| (c.created_ms, c.seq));
    let tx = read_tx(conn, env)?;
    let mut stmt = tx
        .prepare(&format!(
            "SELECT {JOB_COLUMNS} FROM jobs
             WHERE (?1 IS NULL OR status = ?1) AND (?2 IS NULL OR operation = ?2)
               AND (created_at, seq) < (?3, ?4)
             ORDER BY created_at DESC, seq DESC
             LIMIT ?5"
        ))
        .map_err(|e| env.db(e))?;
    // One more than asked tells whether a next page exists.
    let raw = stmt
        .query_map(
            params![
                filter.status.map(JobStatus::as_str),
                filter.operation,
                before_ms,
                before_seq,
                filter.limit.saturating_add(1)
            ],
            RawJob::read,
        )
        .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
        .map_err(|e| env.db(e))?;
    let limit = usize::try_from(filter.limit).unwrap_or(usize::MAX);
    let more = raw.len() > limit;
    let mut jobs = Vec::with_capacity(limit.min(raw.len()));
    let mut next = None;
    for raw in raw.into_iter().take(limit) {
        next = Some(ListCursor {
            created_ms: raw.created_at,
            seq: raw.seq,
        });
        jobs.push(raw.into_record(env)?);
    }
    Ok(JobPage {
        jobs,
        next: if more { next } else { None },
    })
}

fn counts_by_status(conn: &Connection, env: &Env<'_>) -> R<StatusCounts> {
    let mut stmt = conn
        .prepare("SELECT status, COUNT(*) FROM jobs GROUP BY status")
        .map_err(|e| env.db(e))?;
    let raw = stmt
        .query_map([], |row| {
            Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?))
        })
        .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
        .map_err(|e| env.db(e))?;
    let mut counts: StatusCounts = JobStatus::ALL.into_iter().map(|s| (s, 0)).collect();
    for (status, n) in raw {
        let status = status
            .parse::<JobStatus>()
            .map_err(|e| StoreError::Corrupt {
                store: env.store.to_owned(),
                what: "jobs.status".to_owned(),
                detail: e.to_string(),
            })?;
        counts.insert(status, u64::try_from(n).unwrap_or(0));
    }
    Ok(counts)
}

fn queue_depth(conn: &Connection, env: &Env<'_>) -> R<u64> {
    let n: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM jobs WHERE status = 'queued'",
            [],
            |row| row.get(0),
        )
        .map_err(|e| env.db(e))?;
    Ok(u64::try_from(n).unwrap_or(0))
}

fn recover_after_crash(
    conn: &mut Connection,
    env: &Env<'_>,
    worker_id: Option<&str>,
) -> R<RecoveryReport> {
    let tx = write_tx(conn, env)?;
    let ids = {
        let mut stmt = tx
            .prepare(
                "SELECT job_id FROM jobs
                 WHERE status IN ('assigned', 'running') AND (?1 IS NULL OR worker_id = ?1)
                 ORDER BY seq",
            )
            .map_err(|e| env.db(e))?;
        let ids = stmt
            .query_map([worker_id], |row| row.get::<_, String>(0))
            .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
            .map_err(|e| env.db(e))?;
        ids
    };
    let mut report = RecoveryReport::default();
    for job_id in ids {
        let state = load_state(&tx, env, &job_id)?;
        let detail = match &state.worker_id {
            Some(worker) => format!("recovered after a crash of worker {worker:?}"),
            None => "recovered after a worker crash".to_owned(),
        };
        match requeue_or_fail(&tx, env, &job_id, &state, None, &detail)? {
            RetryOutcome::Requeued { attempt } => report.requeued.push((job_id, attempt)),
            RetryOutcome::Exhausted => report.failed.push(job_id),
        }
    }
    commit(tx, env)?;
    Ok(report)
}

fn cached_checksum(conn: &Connection, env: &Env<'_>, file: &FileIdentity) -> R<Option<[u8; 32]>> {
    let blob: Option<Vec<u8>> = conn
        .query_row(
            "SELECT sha256 FROM file_checksums
             WHERE device = ?1 AND inode = ?2 AND size = ?3 AND mtime_ns = ?4",
            params![
                u64_bits(file.device),
                u64_bits(file.inode),
                u64_bits(file.size),
                file.mtime_ns
            ],
            |row| row.get(0),
        )
        .optional()
        .map_err(|e| env.db(e))?;
    blob.map(|b| {
        <[u8; 32]>::try_from(b.as_slice()).map_err(|_| StoreError::Corrupt {
            store: env.store.to_owned(),
            what: format!("file_checksums row of {}", file.path.display()),
            detail: format!("digest of {} bytes, expected 32", b.len()),
        })
    })
    .transpose()
}

fn store_checksum(
    conn: &mut Connection,
    env: &Env<'_>,
    file: &FileIdentity,
    digest: [u8; 32],
) -> R<()> {
    let path = file.path.to_string_lossy();
    let tx = write_tx(conn, env)?;
    // The file at this path changed: its old identities are of no more use.
    tx.execute("DELETE FROM file_checksums WHERE path = ?1", [&path])
        .map_err(|e| env.db(e))?;
    tx.execute(
        "INSERT OR REPLACE INTO file_checksums
             (device, inode, size, mtime_ns, path, sha256, stored_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            u64_bits(file.device),
            u64_bits(file.inode),
            u64_bits(file.size),
            file.mtime_ns,
            path,
            digest.as_slice(),
            env.now_ms()
        ],
    )
    .map_err(|e| env.db(e))?;
    commit(tx, env)
}

#[async_trait]
impl JobStore for SqliteStore {
    async fn submit(&self, job: NewJob) -> R<Submitted> {
        let what = format!("submit job {:?}", job.job_id);
        self.run(what, move |conn, env| submit(conn, env, job))
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

    async fn retry(
        &self,
        job_id: &str,
        attempt: u32,
        not_before: OffsetDateTime,
    ) -> R<RetryOutcome> {
        let id = job_id.to_owned();
        let what = format!("retry job {job_id:?} after attempt {attempt}");
        self.run(what, move |conn, env| {
            retry(conn, env, &id, attempt, not_before)
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
