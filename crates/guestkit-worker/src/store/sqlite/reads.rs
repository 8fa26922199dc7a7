//! The queries: one job, its result, history and progress, pages of jobs,
//! counts.

use rusqlite::{params, Connection, OptionalExtension};

use super::rows::{self, status_col, u32_col, Env, RawJob, JOB_COLUMNS};
use super::state::{invalid, load_state, read_tx};
use super::R;
use crate::status::JobStatus;
use crate::store::{
    JobFilter, JobPage, JobRecord, ListCursor, ProgressRecord, StateChange, StatusCounts,
    StoreError, MAX_LIST_LIMIT,
};

pub(super) fn progress(
    conn: &mut Connection,
    env: &Env<'_>,
    job_id: &str,
) -> R<Vec<ProgressRecord>> {
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
pub(super) fn get(conn: &Connection, env: &Env<'_>, job_id: &str) -> R<Option<JobRecord>> {
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

pub(super) fn result(conn: &Connection, env: &Env<'_>, job_id: &str) -> R<Option<String>> {
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

pub(super) fn history(conn: &mut Connection, env: &Env<'_>, job_id: &str) -> R<Vec<StateChange>> {
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

pub(super) fn list(conn: &mut Connection, env: &Env<'_>, filter: &JobFilter) -> R<JobPage> {
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

pub(super) fn counts_by_status(conn: &Connection, env: &Env<'_>) -> R<StatusCounts> {
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

pub(super) fn queue_depth(conn: &Connection, env: &Env<'_>) -> R<u64> {
    let n: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM jobs WHERE status = 'queued'",
            [],
            |row| row.get(0),
        )
        .map_err(|e| env.db(e))?;
    Ok(u64::try_from(n).unwrap_or(0))
}
