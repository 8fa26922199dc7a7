//! The operations that change jobs: submit, claim, transitions, retries,
//! progress, finishing and crash recovery. Each is one `BEGIN IMMEDIATE`
//! transaction.

use rusqlite::{params, Connection, OptionalExtension, Transaction};

use super::rows::{self, status_col, to_ms, u32_col, Env};
use super::state::{
    add_history, check_finish, check_legal, commit, fence, invalid, load_state, requeue_all,
    requeue_or_fail, write_tx, Change,
};
use super::R;
use crate::status::JobStatus;
use crate::store::rules;
use crate::store::{
    ClaimFilter, ClaimedJob, NewJob, RecoveryReport, RetryOutcome, StoreError, Submitted,
};

/// Stores `jobs` in one transaction (one flush to disk), in order; a job
/// whose idempotency key or id is taken — also by an earlier job of the
/// same batch — is a duplicate and stores nothing. Every job is checked
/// before anything is written: one bad job stores none.
pub(super) fn submit_batch(
    conn: &mut Connection,
    env: &Env<'_>,
    jobs: Vec<NewJob>,
) -> R<Vec<Submitted>> {
    let checked = jobs
        .iter()
        .map(|job| {
            let caps = serde_json::to_string(&job.required_capabilities)
                .map_err(|e| invalid(&job.job_id, "required_capabilities", e.to_string()))?;
            Ok((rules::check_new_job(job)?, caps))
        })
        .collect::<R<Vec<_>>>()?;
    let tx = write_tx(conn, env)?;
    let out = jobs
        .into_iter()
        .zip(checked)
        .map(|(job, (timeout, caps))| insert_job(&tx, env, job, timeout, &caps))
        .collect::<R<Vec<_>>>()?;
    commit(tx, env)?;
    Ok(out)
}

/// One job of [`submit_batch`], inside its transaction.
fn insert_job(
    tx: &Transaction<'_>,
    env: &Env<'_>,
    job: NewJob,
    timeout: Option<i64>,
    caps: &str,
) -> R<Submitted> {
    let id = job.job_id.as_str();
    let existing = |sql: &str, key: &str| -> R<Option<Submitted>> {
        let row = tx
            .prepare_cached(sql)
            .and_then(|mut stmt| {
                stmt.query_row([key], |row| {
                    Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
                })
                .optional()
            })
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
    tx.prepare_cached(
        "INSERT INTO jobs (job_id, operation, status, priority, attempt, max_attempts,
                           created_at, updated_at, idempotency_key, timeout_seconds, deadline,
                           required_capabilities, worker_pool, document_json)
         VALUES (?1, ?2, 'queued', ?3, 1, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
    )
    .and_then(|mut stmt| {
        stmt.execute(params![
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
        ])
    })
    .map_err(|e| env.db(e))?;
    add_history(
        tx,
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
    Ok(Submitted::Submitted {
        job_id: job.job_id,
        submitted_at: rows::from_ms(env.now_ms()).unwrap_or(env.now),
    })
}

pub(super) fn claim_next(
    conn: &mut Connection,
    env: &Env<'_>,
    worker_id: &str,
    filter: &ClaimFilter,
) -> R<Option<ClaimedJob>> {
    let caps = serde_json::to_string(&filter.capabilities)
        .map_err(|e| invalid("", "capabilities", e.to_string()))?;
    let lease = rules::lease_ms(filter.lease)?;
    let until = env.now_ms().saturating_add(lease);
    let tx = write_tx(conn, env)?;
    let row = tx
        .query_row(
            "UPDATE jobs SET status = 'assigned', worker_id = ?1, updated_at = ?2,
                             not_before = NULL, detail = NULL, lease_expires_at = ?5
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
                       deadline, document_json, cancel_requested_at IS NOT NULL",
            params![worker_id, env.now_ms(), filter.pool, caps, until],
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
                    row.get::<_, bool>(8)?,
                ))
            },
        )
        .optional()
        .map_err(|e| env.db(e))?;
    let Some((
        job_id,
        operation,
        attempt,
        max_attempts,
        priority,
        timeout,
        deadline,
        document,
        cancel_requested,
    )) = row
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
        lease_expires_at: rows::time_col(env, id, "lease_expires_at", until)?,
        cancel_requested,
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

pub(super) fn transition(
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
        (_, JobStatus::Assigned) => return Err(rules::assigned_only_by_claim(job_id)),
        _ => {
            tx.execute(
                "UPDATE jobs SET status = ?2, updated_at = ?3, detail = ?4,
                     started_at = CASE WHEN ?2 = 'running' THEN ?3 ELSE started_at END,
                     finished_at = CASE WHEN ?5 THEN ?3 ELSE finished_at END,
                     worker_id = CASE WHEN ?2 = 'queued' THEN NULL ELSE worker_id END,
                     lease_expires_at = CASE WHEN ?2 = 'running' THEN lease_expires_at END
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

pub(super) fn retry(
    conn: &mut Connection,
    env: &Env<'_>,
    job_id: &str,
    attempt: u32,
    backoff: std::time::Duration,
) -> R<RetryOutcome> {
    let backoff = i64::try_from(backoff.as_millis())
        .map_err(|_| invalid(job_id, "backoff", format!("{backoff:?} is too long")))?;
    let not_before = env.now_ms().saturating_add(backoff);
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
    let outcome = requeue_or_fail(&tx, env, job_id, &state, Some(not_before), "retry")?;
    commit(tx, env)?;
    Ok(outcome)
}

pub(super) fn record_progress(
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
pub(super) fn finish(
    conn: &mut Connection,
    env: &Env<'_>,
    job_id: &str,
    attempt: u32,
    status: JobStatus,
    result: (&str, Option<&str>, Option<&str>),
) -> R<()> {
    let (result_json, result_path, error_code) = result;
    check_finish(job_id, status, result_json)?;
    let tx = write_tx(conn, env)?;
    let state = load_state(&tx, env, job_id)?;
    fence(job_id, attempt, &state)?;
    check_legal(job_id, state.status, status)?;
    tx.execute(
        "UPDATE jobs SET status = ?2, updated_at = ?3, finished_at = ?3, not_before = NULL,
                         lease_expires_at = NULL, result_json = ?4, result_path = ?5, error_code = ?6, detail = NULL
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
pub(super) fn recover_after_crash(
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
    let report = requeue_all(&tx, env, ids, |state| {
        rules::crash_detail(state.worker_id.as_deref())
    })?;
    commit(tx, env)?;
    Ok(report)
}

pub(super) fn heartbeat(
    conn: &mut Connection,
    env: &Env<'_>,
    worker_id: &str,
    jobs: &[(String, u32)],
    lease: std::time::Duration,
) -> R<Vec<String>> {
    let until = env.now_ms().saturating_add(rules::lease_ms(lease)?);
    let tx = write_tx(conn, env)?;
    let mut lost = Vec::new();
    {
        let mut stmt = tx
            .prepare(
                "UPDATE jobs SET lease_expires_at = ?4
                 WHERE job_id = ?1 AND attempt = ?2 AND worker_id = ?3
                   AND status IN ('assigned', 'running')",
            )
            .map_err(|e| env.db(e))?;
        for (job_id, attempt) in jobs {
            let renewed = stmt
                .execute(params![job_id, attempt, worker_id, until])
                .map_err(|e| env.db(e))?;
            if renewed == 0 {
                lost.push(job_id.clone());
            }
        }
    }
    commit(tx, env)?;
    Ok(lost)
}

pub(super) fn reclaim_expired(conn: &mut Connection, env: &Env<'_>) -> R<RecoveryReport> {
    let tx = write_tx(conn, env)?;
    let ids = {
        let mut stmt = tx
            .prepare(
                "SELECT job_id FROM jobs
                 WHERE status IN ('assigned', 'running') AND lease_expires_at <= ?1
                 ORDER BY seq",
            )
            .map_err(|e| env.db(e))?;
        let ids = stmt
            .query_map([env.now_ms()], |row| row.get::<_, String>(0))
            .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
            .map_err(|e| env.db(e))?;
        ids
    };
    let report = requeue_all(&tx, env, ids, |state| {
        rules::lease_detail(
            state.worker_id.as_deref(),
            state.lease_expires_at.and_then(rows::from_ms),
        )
    })?;
    commit(tx, env)?;
    Ok(report)
}

pub(super) fn request_cancel(
    conn: &mut Connection,
    env: &Env<'_>,
    job_id: &str,
    attempt: u32,
) -> R<bool> {
    let tx = write_tx(conn, env)?;
    let done = tx
        .execute(
            "UPDATE jobs SET cancel_requested_at = COALESCE(cancel_requested_at, ?3)
             WHERE job_id = ?1 AND attempt = ?2 AND status IN ('assigned', 'running')",
            params![job_id, attempt, env.now_ms()],
        )
        .map_err(|e| env.db(e))?;
    if done == 0 {
        // Only to tell a missing job from one that is not held.
        load_state(&tx, env, job_id)?;
    }
    commit(tx, env)?;
    Ok(done > 0)
}

pub(super) fn cancel_requests(
    conn: &mut Connection,
    env: &Env<'_>,
    worker_id: &str,
) -> R<Vec<(String, u32)>> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT job_id, attempt FROM jobs
             WHERE worker_id = ?1 AND status IN ('assigned', 'running')
               AND cancel_requested_at IS NOT NULL
             ORDER BY cancel_requested_at, seq",
        )
        .map_err(|e| env.db(e))?;
    let rows = stmt
        .query_map([worker_id], |row| {
            Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?))
        })
        .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
        .map_err(|e| env.db(e))?;
    rows.into_iter()
        .map(|(id, attempt)| {
            let attempt = u32_col(env, &id, "attempt", attempt)?;
            Ok((id, attempt))
        })
        .collect()
}
