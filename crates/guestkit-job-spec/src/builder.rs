//! A fluent builder for job documents: `job-<ULID>` ids, `created_at` now,
//! and a validated result.

use chrono::{DateTime, SubsecRound, Utc};
use serde_json::Value;

use crate::envelope::{
    Audit, Constraints, ExecutionPolicy, Extra, JobDocument, Metadata, Observability, Routing,
    KIND_VM_OPERATION, PROTOCOL_VERSION,
};
use crate::error::{ValidationError, ValidationErrors};
use crate::inspect::InspectPayload;
use crate::payload::{EchoPayload, TypedPayload};
use crate::profile::{ProfileKind, ProfilePayload};

/// A fresh job id: `job-` and a ULID (time-ordered, 26 characters).
pub fn new_job_id() -> String {
    format!("job-{}", ulid::Ulid::new())
}

/// Builds a [`JobDocument`]; [`JobBuilder::build`] validates it.
#[derive(Debug, Clone)]
pub struct JobBuilder {
    job_id: Option<String>,
    created_at: Option<DateTime<Utc>>,
    payload: TypedPayload,
    metadata: Metadata,
    execution: ExecutionPolicy,
    constraints: Constraints,
    routing: Routing,
    observability: Observability,
    audit: Audit,
}

/// A `system.echo` job returning `data`.
pub fn echo_job(data: Value) -> JobBuilder {
    JobBuilder::new(EchoPayload::new(data))
}

/// A `guestkit.inspect` job of the image at `path`, every section.
pub fn inspect_job(path: impl Into<String>) -> JobBuilder {
    JobBuilder::new(InspectPayload::new(path))
}

/// A `guestkit.profile` job running `profiles` on the image at `path`.
pub fn profile_job(
    path: impl Into<String>,
    profiles: impl IntoIterator<Item = ProfileKind>,
) -> JobBuilder {
    JobBuilder::new(ProfilePayload::new(path, profiles))
}

impl JobBuilder {
    /// A job carrying `payload` (its operation follows from it).
    pub fn new(payload: impl Into<TypedPayload>) -> Self {
        JobBuilder {
            job_id: None,
            created_at: None,
            payload: payload.into(),
            metadata: Metadata::default(),
            execution: ExecutionPolicy::default(),
            constraints: Constraints::default(),
            routing: Routing::default(),
            observability: Observability::default(),
            audit: Audit::default(),
        }
    }

    /// Uses this id instead of a fresh `job-<ULID>`.
    pub fn job_id(mut self, job_id: impl Into<String>) -> Self {
        self.job_id = Some(job_id.into());
        self
    }

    /// Uses this creation time instead of now.
    pub fn created_at(mut self, created_at: DateTime<Utc>) -> Self {
        self.created_at = Some(created_at);
        self
    }

    /// Replaces the payload.
    pub fn payload(mut self, payload: impl Into<TypedPayload>) -> Self {
        self.payload = payload.into();
        self
    }

    /// Changes the payload in place (for example to set inspect options).
    pub fn map_payload(mut self, f: impl FnOnce(&mut TypedPayload)) -> Self {
        f(&mut self.payload);
        self
    }

    /// `metadata.name`.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.metadata.name = Some(name.into());
        self
    }

    /// `metadata.namespace`.
    pub fn namespace(mut self, namespace: impl Into<String>) -> Self {
        self.metadata.namespace = Some(namespace.into());
        self
    }

    /// One `metadata.labels` entry.
    pub fn label(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.metadata.labels.insert(key.into(), value.into());
        self
    }

    /// One `metadata.annotations` entry.
    pub fn annotation(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.metadata.annotations.insert(key.into(), value.into());
        self
    }

    /// `execution.idempotency_key`.
    pub fn idempotency_key(mut self, key: impl Into<String>) -> Self {
        self.execution.idempotency_key = Some(key.into());
        self
    }

    /// `execution.attempt`.
    pub fn attempt(mut self, attempt: u32) -> Self {
        self.execution.attempt = attempt;
        self
    }

    /// `execution.max_attempts`.
    pub fn max_attempts(mut self, max_attempts: u32) -> Self {
        self.execution.max_attempts = max_attempts;
        self
    }

    /// `execution.timeout_seconds`.
    pub fn timeout_seconds(mut self, seconds: u64) -> Self {
        self.execution.timeout_seconds = seconds;
        self
    }

    /// `execution.deadline`.
    pub fn deadline(mut self, deadline: DateTime<Utc>) -> Self {
        self.execution.deadline = Some(deadline);
        self
    }

    /// `execution.priority` (1-10).
    pub fn priority(mut self, priority: u32) -> Self {
        self.execution.priority = priority;
        self
    }

    /// `execution.cancellable`.
    pub fn cancellable(mut self, cancellable: bool) -> Self {
        self.execution.cancellable = cancellable;
        self
    }

    /// Adds to `constraints.required_capabilities`.
    pub fn require_capability(mut self, capability: impl Into<String>) -> Self {
        self.constraints
            .required_capabilities
            .push(capability.into());
        self
    }

    /// Adds to `constraints.required_features`.
    pub fn require_feature(mut self, feature: impl Into<String>) -> Self {
        self.constraints.required_features.push(feature.into());
        self
    }

    /// `constraints.minimum_worker_version`.
    pub fn minimum_worker_version(mut self, version: impl Into<String>) -> Self {
        self.constraints.minimum_worker_version = Some(version.into());
        self
    }

    /// Adds to `constraints.allowed_worker_pools`.
    pub fn allow_worker_pool(mut self, pool: impl Into<String>) -> Self {
        self.constraints.allowed_worker_pools.push(pool.into());
        self
    }

    /// `routing.worker_pool`.
    pub fn worker_pool(mut self, pool: impl Into<String>) -> Self {
        self.routing.worker_pool = Some(pool.into());
        self
    }

    /// `routing.worker_id`.
    pub fn worker_id(mut self, worker_id: impl Into<String>) -> Self {
        self.routing.worker_id = Some(worker_id.into());
        self
    }

    /// `observability.trace_id`.
    pub fn trace_id(mut self, trace_id: impl Into<String>) -> Self {
        self.observability.trace_id = Some(trace_id.into());
        self
    }

    /// `observability.span_id`.
    pub fn span_id(mut self, span_id: impl Into<String>) -> Self {
        self.observability.span_id = Some(span_id.into());
        self
    }

    /// `observability.correlation_id`.
    pub fn correlation_id(mut self, correlation_id: impl Into<String>) -> Self {
        self.observability.correlation_id = Some(correlation_id.into());
        self
    }

    /// `audit.submitted_by`.
    pub fn submitted_by(mut self, who: impl Into<String>) -> Self {
        self.audit.submitted_by = Some(who.into());
        self
    }

    /// The document, without validating it.
    pub fn build_unchecked(self) -> Result<JobDocument, ValidationErrors> {
        let payload = self.payload.to_payload().map_err(|e| {
            ValidationErrors::single(ValidationError::invalid(
                "$.payload.data",
                format!("the payload cannot be written as JSON: {e}"),
            ))
        })?;
        Ok(JobDocument {
            version: PROTOCOL_VERSION.to_string(),
            job_id: self.job_id.unwrap_or_else(new_job_id),
            created_at: self
                .created_at
                .unwrap_or_else(|| Utc::now().trunc_subsecs(3)),
            kind: KIND_VM_OPERATION.to_string(),
            operation: self.payload.operation().name().to_string(),
            metadata: non_default(self.metadata, |m| *m == Metadata::default()),
            execution: self.execution,
            constraints: non_default(self.constraints, |c| *c == Constraints::default()),
            routing: non_default(self.routing, |r| *r == Routing::default()),
            payload,
            observability: non_default(self.observability, |o| *o == Observability::default()),
            audit: non_default(self.audit, |a| *a == Audit::default()),
            extra: Extra::new(),
        })
    }

    /// The document, validated: every problem is reported.
    pub fn build(self) -> Result<JobDocument, ValidationErrors> {
        let doc = self.build_unchecked()?;
        doc.validate()?;
        Ok(doc)
    }
}

fn non_default<T>(value: T, is_empty: impl FnOnce(&T) -> bool) -> Option<T> {
    if is_empty(&value) {
        None
    } else {
        Some(value)
    }
}
