//! Request and response bodies of the API, with their OpenAPI schemas.

use std::borrow::Cow;

use chrono::{DateTime, Utc};
use guestkit_job_spec::JobStatus;
use serde::{Deserialize, Serialize};
use utoipa::openapi::schema::{ObjectBuilder, Schema, SchemaType, Type};
use utoipa::openapi::RefOr;
use utoipa::{IntoParams, PartialSchema, ToSchema};

use crate::store::{JobRecord, ProgressRecord, StateChange};

/// The schema of a job status: its snake_case names.
pub fn status_schema() -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(SchemaType::Type(Type::String))
        .enum_values(Some(JobStatus::ALL.iter().map(|s| s.as_str())))
        .description(Some("Job status"))
}

/// A placeholder type for a protocol object in the OpenAPI document: a
/// bare object named `$name`, whose real schema [`super::openapi`] puts in
/// place from the protocol's JSON Schema.
macro_rules! protocol_schema {
    ($(#[$doc:meta])* $ty:ident, $name:literal, $description:literal) => {
        $(#[$doc])*
        pub struct $ty;

        impl PartialSchema for $ty {
            fn schema() -> RefOr<Schema> {
                ObjectBuilder::new()
                    .schema_type(SchemaType::Type(Type::Object))
                    .description(Some($description))
                    .into()
            }
        }

        impl ToSchema for $ty {
            fn name() -> Cow<'static, str> {
                Cow::Borrowed($name)
            }
        }
    };
}

protocol_schema!(
    /// A job document of protocol v1.0 (the request body of a submission).
    /// Its schema in the OpenAPI document is the protocol's JSON Schema
    /// (`docs/job-spec.schema.json`), put in place by [`super::openapi`].
    JobDocumentBody,
    "JobDocument",
    "A job document (protocol v1.0)"
);

protocol_schema!(
    /// A job result as written to `<job_id>-result.json`; its schema is the
    /// protocol's (`$defs.JobResult` of the job schema).
    JobResultBody,
    "JobResult",
    "A job result (protocol v1.0)"
);

/// The answer to a submission.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SubmitResponse {
    /// The job's id (the existing job's for a repeated idempotency key).
    pub job_id: String,
    /// Its status now.
    #[schema(schema_with = status_schema)]
    pub status: JobStatus,
    /// When the job was stored.
    pub submitted_at: DateTime<Utc>,
    /// True when nothing new was stored: the idempotency key, or the job
    /// id, was used before and `job_id` is the job that was there first.
    pub duplicate: bool,
}

/// The latest progress report of a job.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ProgressView {
    /// The attempt that reported it.
    pub attempt: u32,
    /// The phase (`verify`, `inspect`, `echo` …).
    pub phase: String,
    /// 0 to 100.
    #[schema(minimum = 0, maximum = 100)]
    pub percent: u8,
    /// Free text.
    pub message: Option<String>,
    /// When.
    pub at: DateTime<Utc>,
}

impl From<&ProgressRecord> for ProgressView {
    fn from(p: &ProgressRecord) -> Self {
        ProgressView {
            attempt: p.attempt,
            phase: p.phase.clone(),
            percent: p.percent,
            message: p.message.clone(),
            at: p.at,
        }
    }
}

/// One attempt of a job.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AttemptView {
    /// Its number, from 1.
    pub attempt: u32,
    /// The worker that ran it.
    pub worker_id: Option<String>,
    /// When it started running.
    pub started_at: Option<DateTime<Utc>>,
    /// When it ended.
    pub ended_at: Option<DateTime<Utc>>,
    /// How it ended: a terminal status, `retried` (the job was queued
    /// again as the next attempt), or the job's status while it goes on.
    pub outcome: String,
}

/// The attempts of a job, from its state history.
pub fn attempts(history: &[StateChange]) -> Vec<AttemptView> {
    let mut out: Vec<AttemptView> = Vec::new();
    for change in history {
        if out.last().is_none_or(|a| a.attempt != change.attempt) {
            if let Some(prev) = out.last_mut() {
                if prev.ended_at.is_none() {
                    prev.ended_at = Some(change.at);
                    prev.outcome = "retried".into();
                }
            }
            out.push(AttemptView {
                attempt: change.attempt,
                worker_id: None,
                started_at: None,
                ended_at: None,
                outcome: change.to.as_str().into(),
            });
        }
        let Some(current) = out.last_mut() else {
            continue;
        };
        if change.to == JobStatus::Running {
            current.started_at = Some(change.at);
        }
        if matches!(change.to, JobStatus::Assigned | JobStatus::Running) {
            current.worker_id = change.worker_id.clone();
        }
        if change.to.is_terminal() {
            current.ended_at = Some(change.at);
        }
        current.outcome = change.to.as_str().into();
    }
    out
}

/// Everything about one job.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct JobView {
    /// The job id.
    pub job_id: String,
    /// The operation.
    pub operation: String,
    /// Current status.
    #[schema(schema_with = status_schema)]
    pub status: JobStatus,
    /// 1 (lowest) to 10.
    pub priority: u8,
    /// Current (or last) attempt, from 1.
    pub attempt: u32,
    /// Attempts allowed in all.
    pub max_attempts: u32,
    /// The worker holding the job, or the one that ran it last.
    pub worker_id: Option<String>,
    /// The pool the job is restricted to.
    pub worker_pool: Option<String>,
    /// The job's idempotency key.
    pub idempotency_key: Option<String>,
    /// The document's `created_at`.
    pub created_at: DateTime<Utc>,
    /// When the job was stored.
    pub submitted_at: Option<DateTime<Utc>>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
    /// When the current (or last) attempt started running.
    pub started_at: Option<DateTime<Utc>>,
    /// When the job reached a terminal status.
    pub finished_at: Option<DateTime<Utc>>,
    /// A queued retry is not started before this time.
    pub not_before: Option<DateTime<Utc>>,
    /// Per-attempt time limit.
    pub timeout_seconds: Option<u64>,
    /// Wall-clock deadline.
    pub deadline: Option<DateTime<Utc>>,
    /// Error code of a job that did not complete.
    pub error_code: Option<String>,
    /// The detail given with the last status change.
    pub detail: Option<String>,
    /// Whether `GET /api/v1/jobs/{id}/result` has the result.
    pub result_available: bool,
    /// The latest progress report.
    pub progress: Option<ProgressView>,
    /// Every attempt so far.
    pub attempts: Vec<AttemptView>,
}

impl JobView {
    /// The view of `job` with its progress and history.
    pub fn new(job: &JobRecord, progress: &[ProgressRecord], history: &[StateChange]) -> Self {
        JobView {
            job_id: job.job_id.clone(),
            operation: job.operation.clone(),
            status: job.status,
            priority: job.priority,
            attempt: job.attempt,
            max_attempts: job.max_attempts,
            worker_id: job.worker_id.clone(),
            worker_pool: job.worker_pool.clone(),
            idempotency_key: job.idempotency_key.clone(),
            created_at: job.created_at,
            submitted_at: history.first().map(|c| c.at),
            updated_at: job.updated_at,
            started_at: job.started_at,
            finished_at: job.finished_at,
            not_before: job.not_before,
            timeout_seconds: job.timeout_seconds,
            deadline: job.deadline,
            error_code: job.error_code.clone(),
            detail: job.detail.clone(),
            result_available: job.status.is_terminal(),
            progress: progress.last().map(ProgressView::from),
            attempts: attempts(history),
        }
    }
}

/// One job of a list.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct JobSummary {
    /// The job id.
    pub job_id: String,
    /// The operation.
    pub operation: String,
    /// Current status.
    #[schema(schema_with = status_schema)]
    pub status: JobStatus,
    /// 1 (lowest) to 10.
    pub priority: u8,
    /// Current (or last) attempt.
    pub attempt: u32,
    /// Attempts allowed in all.
    pub max_attempts: u32,
    /// The worker holding the job, or the one that ran it last.
    pub worker_id: Option<String>,
    /// The document's `created_at`.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
    /// When the current (or last) attempt started running.
    pub started_at: Option<DateTime<Utc>>,
    /// When the job reached a terminal status.
    pub finished_at: Option<DateTime<Utc>>,
    /// Error code of a job that did not complete.
    pub error_code: Option<String>,
}

impl From<&JobRecord> for JobSummary {
    fn from(job: &JobRecord) -> Self {
        JobSummary {
            job_id: job.job_id.clone(),
            operation: job.operation.clone(),
            status: job.status,
            priority: job.priority,
            attempt: job.attempt,
            max_attempts: job.max_attempts,
            worker_id: job.worker_id.clone(),
            created_at: job.created_at,
            updated_at: job.updated_at,
            started_at: job.started_at,
            finished_at: job.finished_at,
            error_code: job.error_code.clone(),
        }
    }
}

/// One page of jobs, newest first.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct JobList {
    /// The jobs.
    pub jobs: Vec<JobSummary>,
    /// Pass as `cursor` for the next (older) page; null on the last.
    pub next_cursor: Option<String>,
}

/// Filters and paging of `GET /api/v1/jobs`.
#[derive(Debug, Clone, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Only jobs in this status.
    #[param(schema_with = status_schema)]
    pub status: Option<JobStatus>,
    /// Only jobs of this operation.
    pub operation: Option<String>,
    /// Jobs per page, 1 to 1000 (default 50).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    #[param(pattern = r"^-?[0-9]{1,18}\.[0-9]{1,18}$")]
    pub cursor: Option<String>,
}

/// Kinds of events of a job's event stream.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// `data` is a [`StatusEvent`].
    Status,
    /// `data` is a [`ProgressEvent`].
    Progress,
    /// `data` is an [`ApiError`](super::ApiError): the job is gone.
    Error,
}

impl EventKind {
    /// The name in the stream (`event: status`).
    pub fn name(self) -> &'static str {
        match self {
            EventKind::Status => "status",
            EventKind::Progress => "progress",
            EventKind::Error => "error",
        }
    }
}

/// One event of `GET /api/v1/jobs/{id}/events`, as a client reads it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct EventStreamItem {
    /// What `data` is.
    pub event: EventKind,
    /// The event, as JSON text (a `StatusEvent`, a `ProgressEvent`, or
    /// an `ApiError`).
    pub data: String,
    /// Sequence number of the event in this stream, from 1.
    #[schema(pattern = "^[0-9]+$")]
    pub id: String,
}

/// `event: status`: the job's status, sent at the start and on every
/// change; the last one of a stream is terminal.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct StatusEvent {
    /// The job.
    pub job_id: String,
    /// Its status.
    #[schema(schema_with = status_schema)]
    pub status: JobStatus,
    /// Its attempt.
    pub attempt: u32,
    /// The worker holding (or that ran) it.
    pub worker_id: Option<String>,
    /// Whether the status is terminal (the stream ends after it).
    pub terminal: bool,
    /// Error code of a job that did not complete.
    pub error_code: Option<String>,
    /// When the job last changed.
    pub at: DateTime<Utc>,
}

/// `event: progress`: one progress report, every one from the first.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ProgressEvent {
    /// The job.
    pub job_id: String,
    /// The attempt that reported it.
    pub attempt: u32,
    /// The phase.
    pub phase: String,
    /// 0 to 100.
    #[schema(minimum = 0, maximum = 100)]
    pub percent: u8,
    /// Free text.
    pub message: Option<String>,
    /// When.
    pub at: DateTime<Utc>,
}

/// The answer to a cancellation.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CancelResponse {
    /// The job id.
    pub job_id: String,
    /// Its status now: `cancelled`, or the status it ended with when it
    /// finished first, or `running` while the stop takes effect.
    #[schema(schema_with = status_schema)]
    pub status: JobStatus,
    /// What was done.
    pub message: String,
}

/// A worker registered in the job store, as its heartbeats report it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct WorkerView {
    /// The worker id.
    pub id: String,
    /// The pool it serves.
    pub pool: Option<String>,
    /// What it can run.
    pub capabilities: Vec<String>,
    /// Its build.
    pub version: String,
    /// When it started.
    pub started_at: chrono::DateTime<chrono::Utc>,
    /// Jobs it was running at its last heartbeat.
    pub active_jobs: u32,
    /// Its last heartbeat.
    pub last_heartbeat: chrono::DateTime<chrono::Utc>,
    /// Seconds since that heartbeat (a worker that stopped without
    /// deregistering keeps growing this).
    pub seconds_since_heartbeat: i64,
    /// The lease of its claims, in seconds: it beats every third of it.
    pub lease_seconds: f64,
    /// Heard from within its lease. A worker that crashed stays listed,
    /// not alive, until it starts again under the same id.
    pub alive: bool,
}

/// The registered workers.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct WorkerList {
    /// Every registered worker, by id.
    pub workers: Vec<WorkerView>,
}

/// What this worker runs.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Capabilities {
    /// This worker's id.
    pub worker_id: String,
    /// The worker's version.
    pub version: String,
    /// The job protocol version it speaks.
    pub protocol_version: String,
    /// The pool it serves.
    pub pool: Option<String>,
    /// Operations it runs.
    pub operations: Vec<String>,
    /// Capabilities it offers (`constraints.required_capabilities`).
    pub capabilities: Vec<String>,
    /// Features it offers (`constraints.required_features`).
    pub features: Vec<String>,
}

/// Liveness.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Health {
    /// `ok`.
    pub status: String,
    /// This worker's id.
    pub worker_id: String,
    /// The worker's version.
    pub version: String,
    /// Seconds since the API started.
    pub uptime_seconds: u64,
    /// True once the worker is shutting down (no new jobs accepted).
    pub draining: bool,
}

/// Readiness.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Ready {
    /// `ready`.
    pub status: String,
    /// Jobs queued in the store.
    pub queue_depth: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(attempt: u32, to: JobStatus, worker: Option<&str>, s: i64) -> StateChange {
        StateChange {
            from: None,
            to,
            attempt,
            worker_id: worker.map(str::to_string),
            detail: None,
            at: DateTime::from_timestamp(s, 0).expect("time"),
        }
    }

    #[test]
    fn attempts_come_from_the_history() {
        let h = [
            change(1, JobStatus::Queued, None, 1),
            change(1, JobStatus::Assigned, Some("w"), 2),
            change(1, JobStatus::Running, Some("w"), 3),
            change(2, JobStatus::Queued, Some("w"), 4),
            change(2, JobStatus::Assigned, Some("v"), 5),
            change(2, JobStatus::Running, Some("v"), 6),
            change(2, JobStatus::Completed, Some("v"), 7),
        ];
        let a = attempts(&h);
        assert_eq!(a.len(), 2);
        assert_eq!(a[0].outcome, "retried");
        assert_eq!(a[0].worker_id.as_deref(), Some("w"));
        assert_eq!(a[0].ended_at.map(|t| t.timestamp()), Some(4));
        assert_eq!(a[1].outcome, "completed");
        assert_eq!(a[1].started_at.map(|t| t.timestamp()), Some(6));
        assert_eq!(a[1].ended_at.map(|t| t.timestamp()), Some(7));
        assert!(attempts(&h[..1])[0].started_at.is_none());
    }
}
