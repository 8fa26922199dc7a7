//! The protocol's rules, checked all at once: every problem of a document
//! is reported, each with its JSON path.

use crate::check::Problems;
use crate::envelope::{
    Constraints, ExecutionPolicy, JobDocument, KIND_VM_OPERATION, MAX_PRIORITY, MIN_PRIORITY,
};
use crate::error::ValidationErrors;
use crate::parse::{parse_document, parse_document_yaml};
use crate::payload::{decode, TypedPayload};

/// Longest job id accepted, in bytes.
pub const MAX_JOB_ID_LEN: usize = 128;

/// True for a protocol version this crate reads: `1.<minor>` with a
/// decimal minor (`1.0`, `1.1`, `1.12`).
pub fn is_supported_version(version: &str) -> bool {
    match version.split_once('.') {
        Some(("1", minor)) => !minor.is_empty() && minor.bytes().all(|b| b.is_ascii_digit()),
        _ => false,
    }
}

/// True for a usable job id: 1 to [`MAX_JOB_ID_LEN`] ASCII letters, digits,
/// `.`, `_` or `-`, starting with a letter or digit. The id names the
/// result file, so nothing else is allowed.
pub fn is_valid_job_id(job_id: &str) -> bool {
    job_id.len() <= MAX_JOB_ID_LEN
        && job_id.starts_with(|c: char| c.is_ascii_alphanumeric())
        && job_id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

/// Checks every rule of protocol v1 on `doc` and reports every problem at
/// once; on success gives the typed payload.
pub fn validate(doc: &JobDocument) -> Result<TypedPayload, ValidationErrors> {
    let mut problems = Problems::default();
    check_envelope(doc, &mut problems);
    match decode(doc) {
        Ok(payload) if problems.is_empty() => Ok(payload),
        Ok(_) => Err(ValidationErrors {
            errors: problems.errors,
        }),
        Err(payload_errors) => {
            problems.errors.extend(payload_errors.errors);
            Err(ValidationErrors {
                errors: problems.errors,
            })
        }
    }
}

/// Reads a JSON job document and checks every rule. A syntax error, a
/// value of the wrong JSON type or a missing required field is one error
/// with its path, line and column; a readable document gets every problem.
pub fn parse_and_validate(text: &str) -> Result<JobDocument, ValidationErrors> {
    let doc = parse_document(text)?;
    validate(&doc)?;
    Ok(doc)
}

/// [`parse_and_validate`] for the YAML form of a job document.
pub fn parse_and_validate_yaml(text: &str) -> Result<JobDocument, ValidationErrors> {
    let doc = parse_document_yaml(text)?;
    validate(&doc)?;
    Ok(doc)
}

fn check_envelope(doc: &JobDocument, problems: &mut Problems) {
    if !is_supported_version(&doc.version) {
        problems.invalid(
            "$.version",
            format!(
                "unsupported protocol version `{}` (this crate reads 1.x: `1.0`, `1.1`, …)",
                doc.version
            ),
        );
    }
    if doc.job_id.is_empty() {
        problems.invalid("$.job_id", "must not be empty");
    } else if !is_valid_job_id(&doc.job_id) {
        problems.invalid(
            "$.job_id",
            format!(
                "`{}` is not a usable job id: 1-{MAX_JOB_ID_LEN} ASCII letters, digits, `.`, `_` or `-`, starting with a letter or digit",
                doc.job_id.escape_debug()
            ),
        );
    }
    if doc.kind != KIND_VM_OPERATION {
        problems.invalid(
            "$.kind",
            format!(
                "unsupported kind `{}` (protocol v1 has `{KIND_VM_OPERATION}`)",
                doc.kind
            ),
        );
    }
    check_execution(&doc.execution, problems);
    if let Some(deadline) = doc.execution.deadline {
        if deadline <= doc.created_at {
            problems.invalid(
                "$.execution.deadline",
                format!(
                    "deadline {} is not after created_at {}",
                    deadline.to_rfc3339(),
                    doc.created_at.to_rfc3339()
                ),
            );
        }
    }
    if let Some(constraints) = &doc.constraints {
        check_constraints(constraints, problems);
        let pool = doc.routing.as_ref().and_then(|r| r.worker_pool.as_deref());
        if let Some(pool) = pool {
            let allowed = &constraints.allowed_worker_pools;
            if !allowed.is_empty() && !allowed.iter().any(|p| p == pool) {
                problems.invalid(
                    "$.routing.worker_pool",
                    format!(
                        "worker pool `{pool}` is not one of constraints.allowed_worker_pools ({})",
                        allowed.join(", ")
                    ),
                );
            }
        }
    }
    if let Some(routing) = &doc.routing {
        for (value, at) in [
            (&routing.worker_id, "$.routing.worker_id"),
            (&routing.worker_pool, "$.routing.worker_pool"),
        ] {
            if value.as_deref().is_some_and(|v| v.trim().is_empty()) {
                problems.invalid(at, "must not be empty (leave it out or null)");
            }
        }
    }
}

fn check_execution(e: &ExecutionPolicy, problems: &mut Problems) {
    if e.idempotency_key
        .as_deref()
        .is_some_and(|k| k.trim().is_empty())
    {
        problems.invalid("$.execution.idempotency_key", "must not be empty");
    }
    if !(MIN_PRIORITY..=MAX_PRIORITY).contains(&e.priority) {
        problems.invalid(
            "$.execution.priority",
            format!(
                "priority {} is outside {MIN_PRIORITY}-{MAX_PRIORITY}",
                e.priority
            ),
        );
    }
    if e.max_attempts == 0 {
        problems.invalid("$.execution.max_attempts", "must be at least 1");
    }
    if e.attempt == 0 {
        problems.invalid("$.execution.attempt", "attempts are counted from 1");
    } else if e.max_attempts > 0 && e.attempt > e.max_attempts {
        problems.invalid(
            "$.execution.attempt",
            format!(
                "attempt {} is beyond max_attempts {}",
                e.attempt, e.max_attempts
            ),
        );
    }
    if e.timeout_seconds == 0 {
        problems.invalid("$.execution.timeout_seconds", "must be at least 1");
    }
}

fn check_constraints(c: &Constraints, problems: &mut Problems) {
    if let Some(version) = &c.minimum_worker_version {
        if !is_semver(version) {
            problems.invalid(
                "$.constraints.minimum_worker_version",
                format!("`{version}` is not a version of the form MAJOR.MINOR.PATCH"),
            );
        }
    }
    if c.maximum_disk_size_gb == Some(0) {
        problems.invalid("$.constraints.maximum_disk_size_gb", "must be at least 1");
    }
    for (list, at) in [
        (
            &c.required_capabilities,
            "$.constraints.required_capabilities",
        ),
        (&c.required_features, "$.constraints.required_features"),
        (
            &c.allowed_worker_pools,
            "$.constraints.allowed_worker_pools",
        ),
    ] {
        for (i, item) in list.iter().enumerate() {
            if item.trim().is_empty() {
                problems.invalid(crate::path::index(at, i), "must not be empty");
            }
        }
    }
}

/// `MAJOR.MINOR.PATCH` with decimal parts, an optional `-pre` and `+build`.
fn is_semver(text: &str) -> bool {
    let core = text.split('+').next().unwrap_or(text);
    let core = core.split('-').next().unwrap_or(core);
    let parts: Vec<&str> = core.split('.').collect();
    parts.len() == 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions() {
        for ok in ["1.0", "1.1", "1.12"] {
            assert!(is_supported_version(ok), "{ok}");
        }
        for bad in ["", "1", "1.", "2.0", "1.0.1", "v1.0", "1.x", "0.9", "10.0"] {
            assert!(!is_supported_version(bad), "{bad}");
        }
    }

    #[test]
    fn job_ids() {
        for ok in ["job-01JAB3Y7X5K4M8F9W2T6", "echo-test-001", "a", "x.y_z"] {
            assert!(is_valid_job_id(ok), "{ok}");
        }
        let long = "a".repeat(MAX_JOB_ID_LEN + 1);
        for bad in ["", "../etc", ".hidden", "a/b", "a b", "é", long.as_str()] {
            assert!(!is_valid_job_id(bad), "{bad}");
        }
    }

    #[test]
    fn semver() {
        for ok in ["0.4.0", "1.2.3-rc.1", "1.2.3+build.5", "1.2.3-rc.1+b"] {
            assert!(is_semver(ok), "{ok}");
        }
        for bad in ["0.4", "a.b.c", "1.2.3.4", "", "1..3"] {
            assert!(!is_semver(bad), "{bad}");
        }
    }
}
