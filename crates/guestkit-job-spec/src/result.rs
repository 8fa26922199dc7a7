//! Job results, as a worker writes them to `<results>/<job_id>-result.json`.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::checksum::Checksum;
use crate::envelope::{Extra, JobDocument};
use crate::error_code::ErrorCode;
use crate::status::JobStatus;

/// The outcome of one job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct JobResult {
    /// The job's id.
    pub job_id: String,
    /// Where the job is; a written result is normally terminal.
    pub status: JobStatus,
    /// When the job was created (copied from the job).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<DateTime<Utc>>,
    /// When this attempt started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<DateTime<Utc>>,
    /// When this attempt ended, however it ended (`failed_at` is read as
    /// this too).
    #[serde(default, skip_serializing_if = "Option::is_none", alias = "failed_at")]
    pub completed_at: Option<DateTime<Utc>>,
    /// The worker that ran the job.
    pub worker_id: String,
    /// Attempt, duration and the job's identity.
    #[serde(default)]
    pub execution_summary: ExecutionSummary,
    /// Files written.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub outputs: Vec<ResultOutput>,
    /// Why the job did not complete.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<JobError>,
    /// Things the job ignored or could not fully do, in words (for
    /// example an unknown `include_*` flag).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// The operation's answer (the echo, the report, the findings).
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub data: Value,
    /// Unknown members (for example `metrics`), kept.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `execution_summary` of a result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ExecutionSummary {
    /// The attempt this result is for, from 1.
    #[serde(default = "first_attempt")]
    pub attempt: u32,
    /// Attempts allowed in all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_attempts: Option<u32>,
    /// Wall time of the attempt, in milliseconds.
    #[serde(default)]
    pub duration_ms: u64,
    /// The job's operation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation: Option<String>,
    /// The job's payload type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload_type: Option<String>,
    /// The job's idempotency key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
    /// Unknown members, kept.
    #[serde(flatten)]
    pub extra: Extra,
}

fn first_attempt() -> u32 {
    1
}

impl Default for ExecutionSummary {
    fn default() -> Self {
        ExecutionSummary {
            attempt: 1,
            max_attempts: None,
            duration_ms: 0,
            operation: None,
            payload_type: None,
            idempotency_key: None,
            extra: Extra::new(),
        }
    }
}

/// The role of a written file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum OutputKind {
    /// The job's main output (the report written to `output.destination`).
    Primary,
    /// Another file the job made.
    Artifact,
    /// A log.
    Log,
}

/// One file a job wrote.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ResultOutput {
    /// Its role.
    pub kind: OutputKind,
    /// Where it is.
    pub path: String,
    /// Its format (`json`, `yaml`, `text`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    /// Its size in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size_bytes: Option<u64>,
    /// Its SHA-256.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<Checksum>,
    /// Unknown members, kept.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `error` of a result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct JobError {
    /// Stable code.
    pub code: ErrorCode,
    /// What went wrong, in words (with the path or field it is about).
    pub message: String,
    /// Where in the job's life it went wrong (see the `PHASE_*` names).
    #[serde(default)]
    pub phase: String,
    /// Whether trying the same job again may succeed.
    #[serde(default)]
    pub recoverable: bool,
    /// Structured details (for example expected and actual checksums, or
    /// the validation problems).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<Value>,
    /// Unknown members, kept.
    #[serde(flatten)]
    pub extra: Extra,
}

impl JobError {
    /// Checking the job document, paths and checksum before running.
    pub const PHASE_VALIDATION: &'static str = "validation";
    /// Running the operation.
    pub const PHASE_EXECUTION: &'static str = "execution";
    /// Writing the outputs.
    pub const PHASE_RESULT_GENERATION: &'static str = "result_generation";
    /// Releasing resources afterwards.
    pub const PHASE_CLEANUP: &'static str = "cleanup";

    /// An error with `code`, `message` and `phase`; `recoverable` follows
    /// [`ErrorCode::is_recoverable`].
    pub fn new(code: ErrorCode, message: impl Into<String>, phase: impl Into<String>) -> Self {
        JobError {
            code,
            message: message.into(),
            phase: phase.into(),
            recoverable: code.is_recoverable(),
            details: None,
            extra: Extra::new(),
        }
    }

    /// The same error with details.
    pub fn with_details(mut self, details: Value) -> Self {
        self.details = Some(details);
        self
    }

    /// The error for a job document that failed validation: code
    /// `validation_failed` or `unsupported_operation`, every problem in
    /// `details.problems` as `{path, message}`.
    pub fn from_validation(errors: &crate::ValidationErrors) -> Self {
        let problems: Vec<Value> = errors
            .iter()
            .map(|e| serde_json::json!({"path": e.path, "message": e.message}))
            .collect();
        JobError::new(
            errors.error_code(),
            errors.to_string(),
            JobError::PHASE_VALIDATION,
        )
        .with_details(serde_json::json!({ "problems": problems }))
    }
}

impl JobResult {
    /// A result for `job_id` run by `worker_id`, in `status`, with nothing
    /// else filled in.
    pub fn new(job_id: impl Into<String>, worker_id: impl Into<String>, status: JobStatus) -> Self {
        JobResult {
            job_id: job_id.into(),
            status,
            created_at: None,
            started_at: None,
            completed_at: None,
            worker_id: worker_id.into(),
            execution_summary: ExecutionSummary::default(),
            outputs: Vec::new(),
            error: None,
            warnings: Vec::new(),
            data: Value::Null,
            extra: Extra::new(),
        }
    }

    /// A running result for `job`, with its id, creation time, attempt,
    /// operation, payload type and idempotency key copied.
    pub fn for_job(job: &JobDocument, worker_id: impl Into<String>) -> Self {
        let mut result = JobResult::new(job.job_id.clone(), worker_id, JobStatus::Running);
        result.created_at = Some(job.created_at);
        result.execution_summary = ExecutionSummary {
            attempt: job.execution.attempt,
            max_attempts: Some(job.execution.max_attempts),
            duration_ms: 0,
            operation: Some(job.operation.clone()),
            payload_type: Some(job.payload.payload_type.clone()),
            idempotency_key: job.execution.idempotency_key.clone(),
            extra: Extra::new(),
        };
        result
    }

    /// Records the attempt's start and end, and its duration.
    pub fn set_times(&mut self, started_at: DateTime<Utc>, completed_at: DateTime<Utc>) {
        self.started_at = Some(started_at);
        self.completed_at = Some(completed_at);
        let ms = (completed_at - started_at).num_milliseconds();
        self.execution_summary.duration_ms = u64::try_from(ms).unwrap_or(0);
    }

    /// Marks the job completed with `data`.
    pub fn complete(&mut self, data: Value) {
        self.status = JobStatus::Completed;
        self.error = None;
        self.data = data;
    }

    /// Marks the job ended by `error`: status `timed_out` or `cancelled`
    /// for those codes, `failed` otherwise.
    pub fn fail(&mut self, error: JobError) {
        self.status = match error.code {
            ErrorCode::TimedOut => JobStatus::TimedOut,
            ErrorCode::Cancelled => JobStatus::Cancelled,
            _ => JobStatus::Failed,
        };
        self.error = Some(error);
    }

    /// The result file's name: `<job_id>-result.json`.
    pub fn file_name(&self) -> String {
        result_file_name(&self.job_id)
    }
}

/// The name of the result file of `job_id`: `<job_id>-result.json`.
pub fn result_file_name(job_id: &str) -> String {
    format!("{job_id}-result.json")
}
