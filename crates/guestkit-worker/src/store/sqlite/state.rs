//! What every write shares: transactions, reading a job's state, fencing by
//! attempt, the transition check, history rows, and requeue-or-fail.

use guestkit_job_spec::ErrorCode;
use rusqlite::{params, Connection, OptionalExtension, Transaction, TransactionBehavior};

use super::rows::{status_col, u32_col, Env};
use super::R;
use crate::status::JobStatus;
use crate::store::rules::{self, Requeue};
use crate::store::{RecoveryReport, RetryOutcome, StoreError};

pub(super) fn write_tx<'c>(conn: &'c mut Connection, env: &Env<'_>) -> R<Transaction<'c>> {
    conn.transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(|e| env.db(e))
}

pub(super) fn read_tx<'c>(conn: &'c mut Connection, env: &Env<'_>) -> R<Transaction<'c>> {
    conn.transaction_with_behavior(TransactionBehavior::Deferred)
        .map_err(|e| env.db(e))
}

pub(super) fn commit(tx: Transaction<'_>, env: &Env<'_>) -> R<()> {
    tx.commit().map_err(|e| env.db(e))
}

pub(super) use crate::store::rules::{check_finish, check_legal, invalid};

/// The columns of a job that state changes look at.
pub(super) struct JobState {
    pub(super) status: JobStatus,
    pub(super) attempt: u32,
    pub(super) max_attempts: u32,
    pub(super) worker_id: Option<String>,
    pub(super) lease_expires_at: Option<i64>,
}

pub(super) fn load_state(conn: &Connection, env: &Env<'_>, job_id: &str) -> R<JobState> {
    let raw = conn
        .query_row(
            "SELECT status, attempt, max_attempts, worker_id, lease_expires_at
             FROM jobs WHERE job_id = ?1",
            [job_id],
            |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, i64>(1)?,
                    row.get::<_, i64>(2)?,
                    row.get::<_, Option<String>>(3)?,
                    row.get::<_, Option<i64>>(4)?,
                ))
            },
        )
        .optional()
        .map_err(|e| env.db(e))?;
    let (status, attempt, max_attempts, worker_id, lease_expires_at) =
        raw.ok_or_else(|| StoreError::NotFound {
            job_id: job_id.to_owned(),
        })?;
    Ok(JobState {
        status: status_col(env, job_id, "status", &status)?,
        attempt: u32_col(env, job_id, "attempt", attempt)?,
        max_attempts: u32_col(env, job_id, "max_attempts", max_attempts)?,
        worker_id,
        lease_expires_at,
    })
}

/// Refuses a write that does not carry the job's current attempt.
pub(super) fn fence(job_id: &str, attempt: u32, state: &JobState) -> R<()> {
    rules::fence(job_id, attempt, state.attempt)
}

/// One row for `job_history`.
pub(super) struct Change<'a> {
    pub(super) job_id: &'a str,
    /// The job's attempt after the change.
    pub(super) attempt: u32,
    pub(super) from: Option<JobStatus>,
    pub(super) to: JobStatus,
    pub(super) worker_id: Option<&'a str>,
    pub(super) detail: Option<&'a str>,
}

pub(super) fn add_history(tx: &Transaction<'_>, env: &Env<'_>, c: &Change<'_>) -> R<()> {
    tx.prepare_cached(
        "INSERT INTO job_history (job_id, attempt, from_status, to_status, worker_id, detail, at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )
    .and_then(|mut stmt| {
        stmt.execute(params![
            c.job_id,
            c.attempt,
            c.from.map(JobStatus::as_str),
            c.to.as_str(),
            c.worker_id,
            c.detail,
            env.now_ms()
        ])
    })
    .map_err(|e| env.db(e))?;
    Ok(())
}

/// Puts an assigned or running job back in the queue as its next attempt,
/// or fails it when it has none left.
pub(super) fn requeue_or_fail(
    tx: &Transaction<'_>,
    env: &Env<'_>,
    job_id: &str,
    state: &JobState,
    not_before: Option<i64>,
    detail: &str,
) -> R<RetryOutcome> {
    let worker = state.worker_id.as_deref();
    let now = env.now_ms();
    let why = match rules::requeue_decision(state.attempt, state.max_attempts, detail) {
        Requeue::Next(next) => {
            tx.execute(
                "UPDATE jobs SET status = 'queued', attempt = ?2, worker_id = NULL, not_before = ?3,
                                 lease_expires_at = NULL, updated_at = ?4, detail = ?5
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
        Requeue::Exhausted(why) => why,
    };
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
                         lease_expires_at = NULL, updated_at = ?3, detail = ?4
         WHERE job_id = ?1",
        params![job_id, ErrorCode::AttemptsExhausted.as_str(), now, why],
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

/// Requeues or fails each job of `ids` (assigned or running, in this
/// transaction), with the detail `detail` gives for its state.
pub(super) fn requeue_all(
    tx: &Transaction<'_>,
    env: &Env<'_>,
    ids: Vec<String>,
    detail: impl Fn(&JobState) -> String,
) -> R<RecoveryReport> {
    let mut report = RecoveryReport::default();
    for job_id in ids {
        let state = load_state(tx, env, &job_id)?;
        match requeue_or_fail(tx, env, &job_id, &state, None, &detail(&state))? {
            RetryOutcome::Requeued { attempt } => report.requeued.push((job_id, attempt)),
            RetryOutcome::Exhausted => report.failed.push(job_id),
        }
    }
    Ok(report)
}
