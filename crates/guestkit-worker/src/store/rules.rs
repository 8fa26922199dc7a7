//! The rules every store applies the same way, free of any database:
//! validating a new job, fencing by attempt, the transition check, lease
//! lengths and the requeue-or-fail decision.

use std::time::Duration;

use super::{NewJob, StoreError, MAX_LEASE};
use crate::status::JobStatus;

pub(super) fn invalid(job_id: &str, field: &'static str, reason: impl Into<String>) -> StoreError {
    StoreError::InvalidInput {
        job_id: job_id.to_owned(),
        field,
        reason: reason.into(),
    }
}

pub(super) fn check_json(job_id: &str, field: &'static str, text: &str) -> Result<(), StoreError> {
    serde_json::from_str::<serde::de::IgnoredAny>(text)
        .map(|_| ())
        .map_err(|e| invalid(job_id, field, format!("not valid JSON: {e}")))
}

/// Checks a `finish` before it touches the database: the status must end
/// the job and the result must be JSON.
pub(super) fn check_finish(
    job_id: &str,
    status: JobStatus,
    result_json: &str,
) -> Result<(), StoreError> {
    if !status.is_terminal() {
        return Err(StoreError::NotTerminal {
            job_id: job_id.to_owned(),
            status,
        });
    }
    check_json(job_id, "result_json", result_json)
}

/// Checks a job before it is stored; answers its `timeout_seconds` as the
/// signed integer both databases keep.
pub(super) fn check_new_job(job: &NewJob) -> Result<Option<i64>, StoreError> {
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
            i64::try_from(s)
                .map_err(|_| invalid(id, "timeout_seconds", format!("{s} is too large")))
        })
        .transpose()?;
    check_json(id, "document_json", &job.document_json)?;
    Ok(timeout)
}

/// A lease length in whole milliseconds, checked: more than zero (after
/// truncation to milliseconds), at most [`MAX_LEASE`].
pub(super) fn lease_ms(lease: Duration) -> Result<i64, StoreError> {
    if lease > MAX_LEASE {
        return Err(invalid(
            "",
            "lease",
            format!(
                "{} s is longer than the {} s allowed",
                lease.as_secs_f64(),
                MAX_LEASE.as_secs()
            ),
        ));
    }
    match i64::try_from(lease.as_millis()) {
        Ok(ms) if ms > 0 => Ok(ms),
        _ => Err(invalid(
            "",
            "lease",
            format!("{lease:?} is shorter than 1 ms"),
        )),
    }
}

/// A registry silence in whole milliseconds, capped at a century (far
/// beyond any retention, well inside both databases' arithmetic).
pub(super) fn silence_ms(silence: Duration) -> i64 {
    const CENTURY_MS: i64 = 100 * 366 * 24 * 3_600 * 1_000;
    i64::try_from(silence.as_millis()).map_or(CENTURY_MS, |ms| ms.min(CENTURY_MS))
}

/// A lease kept in whole milliseconds, read back; `None` unless positive.
pub(super) fn lease_from_ms(ms: i64) -> Option<Duration> {
    u64::try_from(ms)
        .ok()
        .filter(|ms| *ms > 0)
        .map(Duration::from_millis)
}

/// Refuses a write that does not carry the job's current attempt.
pub(super) fn fence(job_id: &str, attempt: u32, current: u32) -> Result<(), StoreError> {
    let job_id = job_id.to_owned();
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

pub(super) fn check_legal(job_id: &str, from: JobStatus, to: JobStatus) -> Result<(), StoreError> {
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

/// The refusal of a direct move to [`JobStatus::Assigned`].
pub(super) fn assigned_only_by_claim(job_id: &str) -> StoreError {
    invalid(
        job_id,
        "to",
        "a job is assigned only by claim_next, which names the worker",
    )
}

/// What becomes of an assigned or running job that loses its worker.
pub(super) enum Requeue {
    /// Back in the queue as this attempt.
    Next(u32),
    /// No attempt left: failed with this detail.
    Exhausted(String),
}

pub(super) fn requeue_decision(attempt: u32, max_attempts: u32, detail: &str) -> Requeue {
    match attempt.checked_add(1).filter(|next| *next <= max_attempts) {
        Some(next) => Requeue::Next(next),
        None => Requeue::Exhausted(format!(
            "{detail}; attempt {attempt} of {max_attempts} was the last"
        )),
    }
}

/// The history detail of a job recovered after a crash.
pub(super) fn crash_detail(worker: Option<&str>) -> String {
    match worker {
        Some(worker) => format!("recovered after a crash of worker {worker:?}"),
        None => "recovered after a worker crash".to_owned(),
    }
}

/// The history detail of a job whose lease ran out.
pub(super) fn lease_detail(
    worker: Option<&str>,
    expired: Option<chrono::DateTime<chrono::Utc>>,
) -> String {
    let at = expired
        .map(|t| {
            format!(
                " at {}",
                t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
            )
        })
        .unwrap_or_default();
    match worker {
        Some(worker) => format!("lease of worker {worker:?} expired{at}; reclaimed"),
        None => format!("lease expired{at}; reclaimed"),
    }
}
