//! What every write shares: transactions, a job's state locked for update,
//! history rows, and requeue-or-fail.

use chrono::{DateTime, Utc};
use guestkit_job_spec::ErrorCode;
use sqlx::{PgConnection, PgPool, Postgres, Row, Transaction};

use super::rows::{status_col, u32_col, Op};
use super::R;
use crate::status::JobStatus;
use crate::store::rules::{self, Requeue};
use crate::store::{RecoveryReport, RetryOutcome, StoreError};

pub(super) async fn begin<'p>(pool: &'p PgPool, op: &Op<'_>) -> R<Transaction<'p, Postgres>> {
    pool.begin().await.map_err(|e| op.db(e))
}

pub(super) async fn commit(tx: Transaction<'_, Postgres>, op: &Op<'_>) -> R<()> {
    tx.commit().await.map_err(|e| op.db(e))
}

/// Commits after `out` succeeded, rolls back after it failed. The rollback
/// is explicit: a dropped transaction is only rolled back when its
/// connection is next used, and until then an idle pooled connection would
/// hold the rows it locked (claims would skip them).
pub(super) async fn end<T>(tx: Transaction<'_, Postgres>, op: &Op<'_>, out: R<T>) -> R<T> {
    match out {
        Ok(value) => {
            commit(tx, op).await?;
            Ok(value)
        }
        Err(e) => {
            // The error being reported matters more than a failed rollback,
            // and the server rolls back when the connection closes anyway.
            let _ = tx.rollback().await;
            Err(e)
        }
    }
}

/// The columns of a job that state changes look at.
pub(super) struct JobState {
    pub status: JobStatus,
    pub attempt: u32,
    pub max_attempts: u32,
    pub worker_id: Option<String>,
    pub lease_expires_at: Option<DateTime<Utc>>,
}

/// The job's state, its row locked until the transaction ends.
pub(super) async fn lock_state(conn: &mut PgConnection, op: &Op<'_>, job_id: &str) -> R<JobState> {
    let row = sqlx::query(
        "SELECT status, attempt, max_attempts, worker_id, lease_expires_at
         FROM jobs WHERE job_id = $1 FOR UPDATE",
    )
    .bind(job_id)
    .fetch_optional(conn)
    .await
    .map_err(|e| op.db(e))?
    .ok_or_else(|| StoreError::NotFound {
        job_id: job_id.to_owned(),
    })?;
    let get = |e| op.db(e);
    let status: String = row.try_get(0).map_err(get)?;
    Ok(JobState {
        status: status_col(op, job_id, "status", &status)?,
        attempt: u32_col(op, job_id, "attempt", row.try_get(1).map_err(get)?)?,
        max_attempts: u32_col(op, job_id, "max_attempts", row.try_get(2).map_err(get)?)?,
        worker_id: row.try_get(3).map_err(get)?,
        lease_expires_at: row.try_get(4).map_err(get)?,
    })
}

/// Whether a job with this id exists (jobs are never deleted, so this holds
/// for the statements that follow).
pub(super) async fn exists(pool: &PgPool, op: &Op<'_>, job_id: &str) -> R<()> {
    let found: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM jobs WHERE job_id = $1)")
        .bind(job_id)
        .fetch_one(pool)
        .await
        .map_err(|e| op.db(e))?;
    if found {
        Ok(())
    } else {
        Err(StoreError::NotFound {
            job_id: job_id.to_owned(),
        })
    }
}

/// One row for `job_history`.
pub(super) struct Change<'a> {
    pub job_id: &'a str,
    /// The job's attempt after the change.
    pub attempt: u32,
    pub from: Option<JobStatus>,
    pub to: JobStatus,
    pub worker_id: Option<&'a str>,
    pub detail: Option<&'a str>,
}

pub(super) async fn add_history(
    conn: &mut PgConnection,
    op: &Op<'_>,
    now: DateTime<Utc>,
    c: &Change<'_>,
) -> R<()> {
    sqlx::query(
        "INSERT INTO job_history (job_id, attempt, from_status, to_status, worker_id, detail, at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(c.job_id)
    .bind(i64::from(c.attempt))
    .bind(c.from.map(JobStatus::as_str))
    .bind(c.to.as_str())
    .bind(c.worker_id)
    .bind(c.detail)
    .bind(now)
    .execute(conn)
    .await
    .map_err(|e| op.db(e))?;
    Ok(())
}

/// Puts an assigned or running job back in the queue as its next attempt,
/// or fails it when it has none left.
pub(super) async fn requeue_or_fail(
    conn: &mut PgConnection,
    op: &Op<'_>,
    now: DateTime<Utc>,
    job_id: &str,
    state: &JobState,
    not_before: Option<DateTime<Utc>>,
    detail: &str,
) -> R<RetryOutcome> {
    let worker = state.worker_id.as_deref();
    let why = match rules::requeue_decision(state.attempt, state.max_attempts, detail) {
        Requeue::Next(next) => {
            sqlx::query(
                "UPDATE jobs SET status = 'queued', attempt = $2, worker_id = NULL,
                                 not_before = $3, lease_expires_at = NULL, updated_at = $4,
                                 detail = $5
                 WHERE job_id = $1",
            )
            .bind(job_id)
            .bind(i64::from(next))
            .bind(not_before)
            .bind(now)
            .bind(detail)
            .execute(&mut *conn)
            .await
            .map_err(|e| op.db(e))?;
            let change = Change {
                job_id,
                attempt: next,
                from: Some(state.status),
                to: JobStatus::Queued,
                worker_id: worker,
                detail: Some(detail),
            };
            add_history(conn, op, now, &change).await?;
            return Ok(RetryOutcome::Requeued { attempt: next });
        }
        Requeue::Exhausted(why) => why,
    };
    let mut from = state.status;
    if from == JobStatus::Assigned {
        // Assigned cannot fail directly: the claim is released first.
        let release = Change {
            job_id,
            attempt: state.attempt,
            from: Some(from),
            to: JobStatus::Queued,
            worker_id: worker,
            detail: Some(detail),
        };
        add_history(&mut *conn, op, now, &release).await?;
        from = JobStatus::Queued;
    }
    sqlx::query(
        "UPDATE jobs SET status = 'failed', error_code = $2, not_before = NULL, finished_at = $3,
                         lease_expires_at = NULL, updated_at = $3, detail = $4
         WHERE job_id = $1",
    )
    .bind(job_id)
    .bind(ErrorCode::AttemptsExhausted.as_str())
    .bind(now)
    .bind(&why)
    .execute(&mut *conn)
    .await
    .map_err(|e| op.db(e))?;
    let failed = Change {
        job_id,
        attempt: state.attempt,
        from: Some(from),
        to: JobStatus::Failed,
        worker_id: worker,
        detail: Some(&why),
    };
    add_history(conn, op, now, &failed).await?;
    Ok(RetryOutcome::Exhausted)
}

/// Which held jobs [`requeue_held`] takes back.
#[derive(Clone, Copy)]
pub(super) enum Held<'a> {
    /// Those whose lease has expired; rows another transaction holds are
    /// skipped (the next sweep sees them), so concurrent sweeps never wait
    /// for or double each other.
    LeaseExpired,
    /// Those of this worker (every worker when `None`) after a crash.
    OfCrashed(Option<&'a str>),
}

/// Requeues or fails the assigned or running jobs `which` names, oldest
/// first, in one transaction.
pub(super) async fn requeue_held(pool: &PgPool, op: &Op<'_>, which: Held<'_>) -> R<RecoveryReport> {
    let mut tx = begin(pool, op).await?;
    let out: R<RecoveryReport> = async {
        let now = op.now(&mut tx).await?;
        let ids: Vec<String> = match which {
            Held::LeaseExpired => sqlx::query_scalar(
                "SELECT job_id FROM jobs
             WHERE status IN ('assigned', 'running') AND lease_expires_at <= $1
             ORDER BY seq FOR UPDATE SKIP LOCKED",
            )
            .bind(now),
            Held::OfCrashed(worker) => sqlx::query_scalar(
                "SELECT job_id FROM jobs
             WHERE status IN ('assigned', 'running') AND ($1::text IS NULL OR worker_id = $1)
             ORDER BY seq FOR UPDATE",
            )
            .bind(worker),
        }
        .fetch_all(&mut *tx)
        .await
        .map_err(|e| op.db(e))?;
        let mut report = RecoveryReport::default();
        for job_id in ids {
            let state = lock_state(&mut tx, op, &job_id).await?;
            let why = match which {
                Held::LeaseExpired => {
                    rules::lease_detail(state.worker_id.as_deref(), state.lease_expires_at)
                }
                Held::OfCrashed(_) => rules::crash_detail(state.worker_id.as_deref()),
            };
            match requeue_or_fail(&mut tx, op, now, &job_id, &state, None, &why).await? {
                RetryOutcome::Requeued { attempt } => report.requeued.push((job_id, attempt)),
                RetryOutcome::Exhausted => report.failed.push(job_id),
            }
        }
        Ok(report)
    }
    .await;
    end(tx, op, out).await
}
