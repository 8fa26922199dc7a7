//! The operations that change jobs: submit, claim, transitions, retries,
//! progress, finishing, leases and crash recovery. Each is one transaction
//! (the claim and the heartbeat one statement each); a job's row is locked
//! (`FOR UPDATE`) before its state is checked, so checks and writes never
//! race another worker.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::{PgPool, Row};

use super::rows::{self, now_sql, priority_col, status_col, time_in, timeout_col, u32_col, Op};
use super::state::{
    add_history, begin, end, exists, lock_state, requeue_held, requeue_or_fail, Change, Held,
};
use super::R;
use crate::status::JobStatus;
use crate::store::rules::{self, check_finish, check_legal, fence, invalid};
use crate::store::{
    ClaimFilter, ClaimedJob, NewJob, RecoveryReport, RetryOutcome, StoreError, Submitted,
};

/// Stores `jobs` with one statement — one transaction, one flush to disk —
/// in order; a job whose idempotency key or id is taken (also by an
/// earlier job of the same batch) is looked up as a duplicate afterwards.
/// A concurrent submission holding the same key or id makes the insert
/// wait for it, then skip the row. Every job is checked before anything
/// is written: one bad job stores none.
pub(super) async fn submit_batch(
    pool: &PgPool,
    op: &Op<'_>,
    jobs: Vec<NewJob>,
) -> R<Vec<Submitted>> {
    let mut cols = SubmitColumns::default();
    for job in &jobs {
        cols.push(job)?;
    }
    let inserted: Vec<(String, DateTime<Utc>)> = sqlx::query_as(&format!(
        "WITH input AS (
             SELECT * FROM UNNEST($1::text[], $2::text[], $3::int2[], $4::int8[],
                                  $5::timestamptz[], $6::text[], $7::int8[], $8::timestamptz[],
                                  $9::text[], $10::text[], $11::text[])
                 WITH ORDINALITY AS t(job_id, operation, priority, max_attempts, created_at,
                                      idempotency_key, timeout_seconds, deadline,
                                      capabilities, worker_pool, document_json, ord)
         ), inserted AS (
             INSERT INTO jobs (job_id, operation, status, priority, attempt, max_attempts,
                               created_at, updated_at, idempotency_key, timeout_seconds,
                               deadline, required_capabilities, worker_pool, document_json)
             SELECT job_id, operation, 'queued', priority, 1, max_attempts, created_at, {now},
                    idempotency_key, timeout_seconds, deadline,
                    ARRAY(SELECT json_array_elements_text(capabilities::json)), worker_pool,
                    document_json::json
             FROM input ORDER BY ord
             ON CONFLICT DO NOTHING
             RETURNING job_id, updated_at
         ), history AS (
             INSERT INTO job_history (job_id, attempt, from_status, to_status, worker_id,
                                      detail, at)
             SELECT job_id, 1, NULL, 'queued', NULL, 'submitted', updated_at FROM inserted
         )
         SELECT job_id, updated_at FROM inserted",
        now = now_sql(12)
    ))
    .bind(&cols.job_ids)
    .bind(&cols.operations)
    .bind(&cols.priorities)
    .bind(&cols.max_attempts)
    .bind(&cols.created_at)
    .bind(&cols.idempotency_keys)
    .bind(&cols.timeouts)
    .bind(&cols.deadlines)
    .bind(&cols.capabilities)
    .bind(&cols.worker_pools)
    .bind(&cols.documents)
    .bind(op.now)
    .fetch_all(pool)
    .await
    .map_err(|e| op.db(e))?;
    let mut stored: HashMap<String, DateTime<Utc>> = inserted.into_iter().collect();
    let mut out = Vec::with_capacity(jobs.len());
    for job in &jobs {
        // The first job of the batch with an id is the one stored under it.
        match stored.remove(&job.job_id) {
            Some(submitted_at) => out.push(Submitted::Submitted {
                job_id: job.job_id.clone(),
                submitted_at,
            }),
            None => out.push(duplicate(pool, op, job).await?),
        }
    }
    Ok(out)
}

/// The jobs of a batch, column by column, checked: the arrays
/// [`submit_batch`] unnests.
#[derive(Default)]
struct SubmitColumns {
    job_ids: Vec<String>,
    operations: Vec<String>,
    priorities: Vec<i16>,
    max_attempts: Vec<i64>,
    created_at: Vec<DateTime<Utc>>,
    idempotency_keys: Vec<Option<String>>,
    timeouts: Vec<Option<i64>>,
    deadlines: Vec<Option<DateTime<Utc>>>,
    /// JSON arrays: SQL arrays of arrays must be rectangular.
    capabilities: Vec<String>,
    worker_pools: Vec<Option<String>>,
    documents: Vec<String>,
}

impl SubmitColumns {
    fn push(&mut self, job: &NewJob) -> R<()> {
        let id = job.job_id.as_str();
        let timeout = rules::check_new_job(job)?;
        let created_at = time_in(id, "created_at", job.created_at)?;
        let deadline = job
            .deadline
            .map(|d| time_in(id, "deadline", d))
            .transpose()?;
        let caps = serde_json::to_string(&job.required_capabilities)
            .map_err(|e| invalid(id, "required_capabilities", e.to_string()))?;
        self.job_ids.push(job.job_id.clone());
        self.operations.push(job.operation.clone());
        self.priorities.push(i16::from(job.priority));
        self.max_attempts.push(i64::from(job.max_attempts));
        self.created_at.push(created_at);
        self.idempotency_keys.push(job.idempotency_key.clone());
        self.timeouts.push(timeout);
        self.deadlines.push(deadline);
        self.capabilities.push(caps);
        self.worker_pools.push(job.worker_pool.clone());
        self.documents.push(job.document_json.clone());
        Ok(())
    }
}

/// The job that kept `job` out: the holder of its idempotency key first,
/// then of its id.
async fn duplicate(pool: &PgPool, op: &Op<'_>, job: &NewJob) -> R<Submitted> {
    let by_key = match &job.idempotency_key {
        Some(key) => {
            sqlx::query("SELECT job_id, status FROM jobs WHERE idempotency_key = $1")
                .bind(key)
                .fetch_optional(pool)
                .await
        }
        None => Ok(None),
    }
    .map_err(|e| op.db(e))?;
    let row = match by_key {
        Some(row) => Some(row),
        None => sqlx::query("SELECT job_id, status FROM jobs WHERE job_id = $1")
            .bind(&job.job_id)
            .fetch_optional(pool)
            .await
            .map_err(|e| op.db(e))?,
    };
    let Some(row) = row else {
        return Err(StoreError::Database {
            store: op.store.to_owned(),
            what: op.what.clone(),
            source: "the insert met a conflict, but no job holds this id or key".into(),
        });
    };
    let existing_job_id: String = row.try_get(0).map_err(|e| op.db(e))?;
    let status: String = row.try_get(1).map_err(|e| op.db(e))?;
    Ok(Submitted::Duplicate {
        status: status_col(op, &existing_job_id, "status", &status)?,
        existing_job_id,
    })
}

pub(super) async fn claim_next(
    pool: &PgPool,
    op: &Op<'_>,
    worker_id: &str,
    filter: &ClaimFilter,
) -> R<Option<ClaimedJob>> {
    let lease = rules::lease_ms(filter.lease)?;
    let caps: Vec<&str> = filter.capabilities.iter().map(String::as_str).collect();
    let now = now_sql(2);
    // One statement: pick the best eligible job, skipping rows another
    // claimer holds, assign it with its lease, and record the change.
    let sql = format!(
        "WITH claimed AS (
             UPDATE jobs SET status = 'assigned', worker_id = $1, updated_at = {now},
                             not_before = NULL, detail = NULL,
                             lease_expires_at = {now} + $5 * interval '1 millisecond'
             WHERE seq = (
                 SELECT seq FROM jobs
                 WHERE status = 'queued'
                   AND (not_before IS NULL OR not_before <= {now})
                   AND required_capabilities <@ $4::text[]
                   AND (worker_pool IS NULL OR worker_pool = $3)
                 ORDER BY priority DESC, created_at, seq
                 FOR UPDATE SKIP LOCKED
                 LIMIT 1)
             RETURNING job_id, operation, attempt, max_attempts, priority, timeout_seconds,
                       deadline, document_json::text AS document_json, lease_expires_at,
                       updated_at, cancel_requested_at IS NOT NULL AS cancel_requested
         ), history AS (
             INSERT INTO job_history (job_id, attempt, from_status, to_status, worker_id, at)
             SELECT job_id, attempt, 'queued', 'assigned', $1, updated_at FROM claimed
         )
         SELECT * FROM claimed"
    );
    let mut tx = begin(pool, op).await?;
    let row = async {
        // Claim order is the jobs_queue index's order. On a table that
        // just grew (statistics not yet gathered) the planner may instead
        // sort every queued job per claim: a cost that grows with the queue.
        sqlx::query(
            "SELECT set_config('enable_sort', 'off', true),
                    set_config('enable_bitmapscan', 'off', true)",
        )
        .execute(&mut *tx)
        .await
        .map_err(|e| op.db(e))?;
        sqlx::query(&sql)
            .bind(worker_id)
            .bind(op.now)
            .bind(&filter.pool)
            .bind(&caps)
            .bind(lease)
            .fetch_optional(&mut *tx)
            .await
            .map_err(|e| op.db(e))
    }
    .await;
    let row = end(tx, op, row).await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let job_id: String = rows::col(op, &row, "job_id")?;
    let id = job_id.as_str();
    Ok(Some(ClaimedJob {
        operation: rows::col(op, &row, "operation")?,
        attempt: u32_col(op, id, "attempt", rows::col(op, &row, "attempt")?)?,
        max_attempts: u32_col(op, id, "max_attempts", rows::col(op, &row, "max_attempts")?)?,
        priority: priority_col(op, id, rows::col(op, &row, "priority")?)?,
        timeout_seconds: timeout_col(op, id, rows::col(op, &row, "timeout_seconds")?)?,
        deadline: rows::col(op, &row, "deadline")?,
        document_json: rows::col(op, &row, "document_json")?,
        lease_expires_at: rows::col(op, &row, "lease_expires_at")?,
        cancel_requested: rows::col(op, &row, "cancel_requested")?,
        job_id: job_id.clone(),
    }))
}

pub(super) async fn transition(
    pool: &PgPool,
    op: &Op<'_>,
    job_id: &str,
    attempt: u32,
    to: JobStatus,
    detail: Option<&str>,
) -> R<()> {
    let mut tx = begin(pool, op).await?;
    let out: R<()> = async {
        let state = lock_state(&mut tx, op, job_id).await?;
        fence(job_id, attempt, state.attempt)?;
        check_legal(job_id, state.status, to)?;
        let now = op.now(&mut tx).await?;
        match (state.status, to) {
            (JobStatus::Running, JobStatus::Queued) => {
                let detail = detail.unwrap_or("requeued");
                requeue_or_fail(&mut tx, op, now, job_id, &state, None, detail).await?;
            }
            (_, JobStatus::Assigned) => return Err(rules::assigned_only_by_claim(job_id)),
            _ => {
                sqlx::query(
                    "UPDATE jobs SET status = $2, updated_at = $3, detail = $4,
                     started_at = CASE WHEN $2 = 'running' THEN $3 ELSE started_at END,
                     finished_at = CASE WHEN $5 THEN $3 ELSE finished_at END,
                     worker_id = CASE WHEN $2 = 'queued' THEN NULL ELSE worker_id END,
                     lease_expires_at = CASE WHEN $2 = 'running' THEN lease_expires_at END
                 WHERE job_id = $1",
                )
                .bind(job_id)
                .bind(to.as_str())
                .bind(now)
                .bind(detail)
                .bind(to.is_terminal())
                .execute(&mut *tx)
                .await
                .map_err(|e| op.db(e))?;
                let change = Change {
                    job_id,
                    attempt,
                    from: Some(state.status),
                    to,
                    worker_id: state.worker_id.as_deref(),
                    detail,
                };
                add_history(&mut tx, op, now, &change).await?;
            }
        }
        Ok(())
    }
    .await;
    end(tx, op, out).await
}

pub(super) async fn retry(
    pool: &PgPool,
    op: &Op<'_>,
    job_id: &str,
    attempt: u32,
    backoff: Duration,
) -> R<RetryOutcome> {
    let backoff = chrono::Duration::from_std(backoff)
        .map_err(|_| invalid(job_id, "backoff", format!("{backoff:?} is too long")))?;
    let mut tx = begin(pool, op).await?;
    let out: R<RetryOutcome> = async {
        let state = lock_state(&mut tx, op, job_id).await?;
        fence(job_id, attempt, state.attempt)?;
        if !matches!(state.status, JobStatus::Running | JobStatus::Assigned) {
            return Err(StoreError::IllegalTransition {
                job_id: job_id.to_owned(),
                from: state.status,
                to: JobStatus::Queued,
            });
        }
        let now = op.now(&mut tx).await?;
        let not_before = now.checked_add_signed(backoff).ok_or_else(|| {
            invalid(
                job_id,
                "backoff",
                format!("{backoff} from {now} is out of range"),
            )
        })?;
        let outcome =
            requeue_or_fail(&mut tx, op, now, job_id, &state, Some(not_before), "retry").await?;
        Ok(outcome)
    }
    .await;
    end(tx, op, out).await
}

pub(super) async fn record_progress(
    pool: &PgPool,
    op: &Op<'_>,
    job_id: &str,
    attempt: u32,
    progress: (&str, u8, Option<&str>),
) -> R<()> {
    let (phase, percent, message) = progress;
    if percent > 100 {
        return Err(invalid(
            job_id,
            "percent",
            format!("{percent} is above 100"),
        ));
    }
    let mut tx = begin(pool, op).await?;
    let out: R<()> = async {
        let state = lock_state(&mut tx, op, job_id).await?;
        fence(job_id, attempt, state.attempt)?;
        if !matches!(state.status, JobStatus::Running | JobStatus::Assigned) {
            return Err(StoreError::NotActive {
                job_id: job_id.to_owned(),
                status: state.status,
            });
        }
        let now = op.now(&mut tx).await?;
        sqlx::query(
            "INSERT INTO job_progress (job_id, attempt, phase, percent, message, at)
         VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(job_id)
        .bind(i64::from(attempt))
        .bind(phase)
        .bind(i16::from(percent))
        .bind(message)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(|e| op.db(e))?;
        sqlx::query("UPDATE jobs SET updated_at = $2 WHERE job_id = $1")
            .bind(job_id)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(|e| op.db(e))?;
        Ok(())
    }
    .await;
    end(tx, op, out).await
}

pub(super) async fn finish(
    pool: &PgPool,
    op: &Op<'_>,
    job_id: &str,
    attempt: u32,
    status: JobStatus,
    result: (&str, Option<&str>, Option<&str>),
) -> R<()> {
    let (result_json, result_path, error_code) = result;
    check_finish(job_id, status, result_json)?;
    let mut tx = begin(pool, op).await?;
    let out: R<()> = async {
        let state = lock_state(&mut tx, op, job_id).await?;
        fence(job_id, attempt, state.attempt)?;
        check_legal(job_id, state.status, status)?;
        let now = op.now(&mut tx).await?;
        sqlx::query(
            "UPDATE jobs SET status = $2, updated_at = $3, finished_at = $3, not_before = NULL,
                         lease_expires_at = NULL, result_json = $4::json, result_path = $5,
                         error_code = $6, detail = NULL
         WHERE job_id = $1",
        )
        .bind(job_id)
        .bind(status.as_str())
        .bind(now)
        .bind(result_json)
        .bind(result_path)
        .bind(error_code)
        .execute(&mut *tx)
        .await
        .map_err(|e| op.db(e))?;
        let change = Change {
            job_id,
            attempt,
            from: Some(state.status),
            to: status,
            worker_id: state.worker_id.as_deref(),
            detail: error_code,
        };
        add_history(&mut tx, op, now, &change).await?;
        Ok(())
    }
    .await;
    end(tx, op, out).await
}

pub(super) async fn recover_after_crash(
    pool: &PgPool,
    op: &Op<'_>,
    worker_id: Option<&str>,
) -> R<RecoveryReport> {
    requeue_held(pool, op, Held::OfCrashed(worker_id)).await
}

pub(super) async fn reclaim_expired(pool: &PgPool, op: &Op<'_>) -> R<RecoveryReport> {
    requeue_held(pool, op, Held::LeaseExpired).await
}

pub(super) async fn heartbeat(
    pool: &PgPool,
    op: &Op<'_>,
    worker_id: &str,
    jobs: &[(String, u32)],
    lease: Duration,
) -> R<Vec<String>> {
    let lease = rules::lease_ms(lease)?;
    if jobs.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<&str> = jobs.iter().map(|(id, _)| id.as_str()).collect();
    let attempts: Vec<i64> = jobs.iter().map(|(_, a)| i64::from(*a)).collect();
    let now = now_sql(2);
    // Rows are locked in `seq` order, as every multi-row write does, and
    // re-checked once locked: a job reclaimed meanwhile (another attempt)
    // is not renewed.
    let sql = format!(
        "WITH held AS (
             SELECT j.seq FROM jobs j
             JOIN unnest($3::text[], $4::bigint[]) AS want (job_id, attempt)
               ON j.job_id = want.job_id AND j.attempt = want.attempt
             WHERE j.worker_id = $1 AND j.status IN ('assigned', 'running')
             ORDER BY j.seq
             FOR UPDATE OF j
         )
         UPDATE jobs SET lease_expires_at = {now} + $5 * interval '1 millisecond'
         WHERE seq IN (SELECT seq FROM held)
         RETURNING job_id"
    );
    let renewed: Vec<String> = sqlx::query_scalar(&sql)
        .bind(worker_id)
        .bind(op.now)
        .bind(&ids)
        .bind(&attempts)
        .bind(lease)
        .fetch_all(pool)
        .await
        .map_err(|e| op.db(e))?;
    Ok(jobs
        .iter()
        .filter(|(id, _)| !renewed.contains(id))
        .map(|(id, _)| id.clone())
        .collect())
}

pub(super) async fn request_cancel(
    pool: &PgPool,
    op: &Op<'_>,
    job_id: &str,
    attempt: u32,
) -> R<bool> {
    let sql = format!(
        "UPDATE jobs SET cancel_requested_at = COALESCE(cancel_requested_at, {now})
         WHERE job_id = $1 AND attempt = $3 AND status IN ('assigned', 'running')",
        now = now_sql(2)
    );
    let done = sqlx::query(&sql)
        .bind(job_id)
        .bind(op.now)
        .bind(i64::from(attempt))
        .execute(pool)
        .await
        .map_err(|e| op.db(e))?
        .rows_affected();
    if done == 0 {
        exists(pool, op, job_id).await?;
    }
    Ok(done > 0)
}

pub(super) async fn cancel_requests(
    pool: &PgPool,
    op: &Op<'_>,
    worker_id: &str,
) -> R<Vec<(String, u32)>> {
    let rows: Vec<(String, i64)> = sqlx::query_as(
        "SELECT job_id, attempt FROM jobs
         WHERE worker_id = $1 AND status IN ('assigned', 'running')
           AND cancel_requested_at IS NOT NULL
         ORDER BY cancel_requested_at, seq",
    )
    .bind(worker_id)
    .fetch_all(pool)
    .await
    .map_err(|e| op.db(e))?;
    rows.into_iter()
        .map(|(id, attempt)| {
            let attempt = u32_col(op, &id, "attempt", attempt)?;
            Ok((id, attempt))
        })
        .collect()
}
