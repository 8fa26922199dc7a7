//! The job envelope of protocol v1: the fields every job has, whatever its
//! operation. Every object keeps the members it does not know in `extra`,
//! so a document read and written again loses nothing.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Members of an object that this crate does not model, kept as they came.
pub type Extra = serde_json::Map<String, Value>;

/// The protocol version this crate writes.
pub const PROTOCOL_VERSION: &str = "1.0";

/// The job kind of protocol v1.
pub const KIND_VM_OPERATION: &str = "VMOperation";

/// Default of `execution.attempt` and `execution.max_attempts`.
pub const DEFAULT_ATTEMPTS: u32 = 1;

/// Default of `execution.timeout_seconds` (one hour).
pub const DEFAULT_TIMEOUT_SECONDS: u64 = 3600;

/// Default of `execution.priority`.
pub const DEFAULT_PRIORITY: u32 = 5;

/// Lowest (least urgent) priority.
pub const MIN_PRIORITY: u32 = 1;

/// Highest (most urgent) priority.
pub const MAX_PRIORITY: u32 = 10;

/// A job document of protocol v1.
///
/// Reading one checks only its shape (JSON types, required fields);
/// `validate` and `parse_and_validate` check the protocol's rules.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(title = "guestkit job document, protocol v1")]
pub struct JobDocument {
    /// Protocol version, `1.<minor>` (this crate writes `1.0`).
    #[schemars(pattern(r"^1\.[0-9]+$"))]
    pub version: String,
    /// Unique id of the job; it names the result file, so it is limited to
    /// ASCII letters, digits, `.`, `_` and `-` (the builder makes
    /// `job-<ULID>`).
    #[schemars(pattern(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"))]
    pub job_id: String,
    /// When the job was created (RFC 3339).
    pub created_at: DateTime<Utc>,
    /// Job kind, `VMOperation` in protocol v1.
    #[schemars(extend("const" = "VMOperation"))]
    pub kind: String,
    /// Namespaced operation: `system.echo`, `guestkit.inspect`,
    /// `guestkit.profile`.
    pub operation: String,
    /// Names, labels and annotations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Metadata>,
    /// Retry, timeout and priority policy (defaults when absent).
    #[serde(default)]
    pub execution: ExecutionPolicy,
    /// What a worker must have to take the job.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub constraints: Option<Constraints>,
    /// Placement preferences.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub routing: Option<Routing>,
    /// The operation's input: a type name and its data.
    pub payload: Payload,
    /// Tracing ids.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observability: Option<Observability>,
    /// Who submitted the job and how.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audit: Option<Audit>,
    /// Unknown members (for example `$schema`), kept.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `metadata`: human names and free-form labels.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Metadata {
    /// Human-readable job name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Logical namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Key-value labels for filtering.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Free-form annotations.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    /// Unknown members, kept.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `execution`: how the job is run and retried.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ExecutionPolicy {
    /// Jobs with the same key run once; a repeat gets the first result.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
    /// This attempt's number, from 1.
    #[serde(default = "default_attempts")]
    #[schemars(range(min = 1))]
    pub attempt: u32,
    /// Attempts allowed in all, at least 1.
    #[serde(default = "default_attempts")]
    #[schemars(range(min = 1))]
    pub max_attempts: u32,
    /// Time allowed for one attempt, in seconds, at least 1.
    #[serde(default = "default_timeout")]
    #[schemars(range(min = 1))]
    pub timeout_seconds: u64,
    /// Hard deadline for completion (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deadline: Option<DateTime<Utc>>,
    /// 1 (least urgent) to 10 (most urgent).
    #[serde(default = "default_priority")]
    #[schemars(range(min = 1, max = 10))]
    pub priority: u32,
    /// Whether the job may be cancelled once started.
    #[serde(default = "default_true")]
    pub cancellable: bool,
    /// Unknown members, kept.
    #[serde(flatten)]
    pub extra: Extra,
}

fn default_attempts() -> u32 {
    DEFAULT_ATTEMPTS
}

fn default_timeout() -> u64 {
    DEFAULT_TIMEOUT_SECONDS
}

fn default_priority() -> u32 {
    DEFAULT_PRIORITY
}

fn default_true() -> bool {
    true
}

impl Default for ExecutionPolicy {
    fn default() -> Self {
        ExecutionPolicy {
            idempotency_key: None,
            attempt: DEFAULT_ATTEMPTS,
            max_attempts: DEFAULT_ATTEMPTS,
            timeout_seconds: DEFAULT_TIMEOUT_SECONDS,
            deadline: None,
            priority: DEFAULT_PRIORITY,
            cancellable: true,
            extra: Extra::new(),
        }
    }
}

impl ExecutionPolicy {
    /// `timeout_seconds` as a duration.
    pub fn timeout(&self) -> Duration {
        Duration::from_secs(self.timeout_seconds)
    }

    /// True when another attempt is allowed after this one fails.
    pub fn can_retry(&self) -> bool {
        self.attempt < self.max_attempts
    }
}

/// `constraints`: what a worker must offer to take the job.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Constraints {
    /// Capabilities the worker must have (`guestkit.inspect`, `disk.qcow2`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub required_capabilities: Vec<String>,
    /// System features the worker must have (`lvm`, `selinux`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub required_features: Vec<String>,
    /// Lowest worker version allowed (`MAJOR.MINOR.PATCH`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minimum_worker_version: Option<String>,
    /// Largest disk the job may bring, in GB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maximum_disk_size_gb: Option<u64>,
    /// Whether the job needs a privileged worker (guestkit itself never
    /// does).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub require_privileged: Option<bool>,
    /// Worker pools allowed to take the job.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_worker_pools: Vec<String>,
    /// Unknown members (custom constraints), kept.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `routing`: where the job should run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Routing {
    /// Pin to one worker (use sparingly); `null` is the same as absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worker_id: Option<String>,
    /// Target worker pool.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worker_pool: Option<String>,
    /// Scheduling preferences (for example `disk_locality`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub affinity: Option<Extra>,
    /// Scheduling anti-preferences (for example `concurrent_jobs`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub anti_affinity: Option<Extra>,
    /// Unknown members, kept.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `payload`: the operation's input.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Payload {
    /// Payload type, `<operation>.v<N>` (`guestkit.inspect.v1`).
    #[serde(rename = "type")]
    pub payload_type: String,
    /// The operation's data; its shape depends on `type`.
    #[serde(default)]
    pub data: Value,
    /// Unknown members, kept.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `observability`: ids that tie the job into distributed traces.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Observability {
    /// Distributed trace id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<String>,
    /// Span id within the trace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub span_id: Option<String>,
    /// Parent span id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_span_id: Option<String>,
    /// Id shared by related jobs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correlation_id: Option<String>,
    /// Unknown members, kept.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `audit`: who submitted the job.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Audit {
    /// Submitter identity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub submitted_by: Option<String>,
    /// Submitter address or host name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub submitted_from: Option<String>,
    /// How the submitter was authorized.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization: Option<Authorization>,
    /// Unknown members, kept.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `audit.authorization`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Authorization {
    /// Method (`bearer_token`, `mtls`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// Authorized subject.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// Unknown members, kept.
    #[serde(flatten)]
    pub extra: Extra,
}

impl JobDocument {
    /// The operation, when it is one this crate knows.
    pub fn known_operation(&self) -> Option<crate::Operation> {
        crate::Operation::from_name(&self.operation)
    }

    /// The payload decoded for its operation, with every problem of the
    /// payload reported (the envelope is not checked: see [`crate::validate`]).
    pub fn typed_payload(&self) -> Result<crate::TypedPayload, crate::ValidationErrors> {
        crate::payload::decode(self)
    }

    /// Checks every rule of the protocol; on success gives the typed payload.
    pub fn validate(&self) -> Result<crate::TypedPayload, crate::ValidationErrors> {
        crate::validate::validate(self)
    }

    /// The document as pretty-printed JSON.
    pub fn to_json_pretty(&self) -> Result<String, serde_json::Error> {
        serde_json::to_string_pretty(self)
    }

    /// The idempotency key, when the job has one.
    pub fn idempotency_key(&self) -> Option<&str> {
        self.execution.idempotency_key.as_deref()
    }
}
