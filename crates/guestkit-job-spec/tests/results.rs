//! Job results: shape, round trip, and the helpers a worker uses.

use chrono::{TimeZone, Utc};
use guestkit_job_spec::{
    echo_job, result_file_name, ErrorCode, JobError, JobResult, JobStatus, OutputKind, ResultOutput,
};
use serde_json::{json, Value};

#[test]
fn completed_result_has_the_documented_shape() {
    let job = echo_job(json!({"m": 1}))
        .idempotency_key("k")
        .max_attempts(2)
        .build()
        .unwrap();
    let mut result = JobResult::for_job(&job, "worker-1");
    assert_eq!(result.status, JobStatus::Running);
    let start = Utc.with_ymd_and_hms(2026, 3, 2, 10, 0, 0).unwrap();
    let end = start + chrono::Duration::milliseconds(1500);
    result.set_times(start, end);
    result.complete(job.payload.data.clone());
    result.outputs.push(ResultOutput {
        kind: OutputKind::Primary,
        path: "/out/r.json".into(),
        format: Some("json".into()),
        size_bytes: Some(10),
        sha256: None,
        extra: Default::default(),
    });
    let v: Value = serde_json::to_value(&result).unwrap();
    assert_eq!(v["job_id"], job.job_id.as_str());
    assert_eq!(v["status"], "completed");
    assert_eq!(v["worker_id"], "worker-1");
    assert_eq!(v["started_at"], "2026-03-02T10:00:00Z");
    assert_eq!(v["completed_at"], "2026-03-02T10:00:01.500Z");
    assert_eq!(v["execution_summary"]["attempt"], 1);
    assert_eq!(v["execution_summary"]["max_attempts"], 2);
    assert_eq!(v["execution_summary"]["duration_ms"], 1500);
    assert_eq!(v["execution_summary"]["idempotency_key"], "k");
    assert_eq!(v["execution_summary"]["operation"], "system.echo");
    assert_eq!(v["outputs"][0]["kind"], "primary");
    assert_eq!(v["data"], json!({"m": 1}));
    assert!(v.get("error").is_none());
    let back: JobResult = serde_json::from_value(v).unwrap();
    assert_eq!(back, result);
    assert_eq!(result.file_name(), format!("{}-result.json", job.job_id));
    assert_eq!(result_file_name("a"), "a-result.json");
}

#[test]
fn failures_map_to_their_status() {
    for (code, status) in [
        (ErrorCode::TimedOut, JobStatus::TimedOut),
        (ErrorCode::Cancelled, JobStatus::Cancelled),
        (ErrorCode::ChecksumMismatch, JobStatus::Failed),
        (ErrorCode::CriticalFindings, JobStatus::Failed),
    ] {
        let mut r = JobResult::new("j", "w", JobStatus::Running);
        r.fail(JobError::new(code, "m", JobError::PHASE_EXECUTION));
        assert_eq!(r.status, status, "{code}");
        assert!(r.status.is_terminal());
        assert_eq!(r.error.as_ref().unwrap().recoverable, code.is_recoverable());
    }
}

#[test]
fn validation_failure_becomes_an_error_with_every_problem() {
    let errors = guestkit_job_spec::parse_and_validate(
        &json!({
            "version": "1.0", "job_id": "j", "created_at": "2026-03-02T10:00:00Z",
            "kind": "VMOperation", "operation": "guestkit.inspect",
            "execution": {"priority": 20},
            "payload": {"type": "guestkit.inspect.v1", "data": {"image": {"path": ""}}}
        })
        .to_string(),
    )
    .unwrap_err();
    let error = JobError::from_validation(&errors);
    assert_eq!(error.code, ErrorCode::ValidationFailed);
    assert_eq!(error.phase, "validation");
    assert!(!error.recoverable);
    let problems = error.details.as_ref().unwrap()["problems"]
        .as_array()
        .unwrap();
    assert_eq!(problems.len(), 2);
    assert_eq!(problems[0]["path"], "$.execution.priority");
    let v = serde_json::to_value(&error).unwrap();
    assert_eq!(v["code"], "validation_failed");
}

#[test]
fn results_of_the_original_shape_are_read() {
    // The original design's failure result: `failed_at`, `timeout` status
    // spelling, unknown members kept.
    let text = json!({
        "job_id": "job-1",
        "status": "timeout",
        "failed_at": "2026-03-02T10:15:00Z",
        "worker_id": "worker-2",
        "execution_summary": {"started_at": "2026-03-02T10:00:00Z", "duration_seconds": 900, "attempt": 2},
        "error": {"code": "timed_out", "message": "too slow", "phase": "disk_inspection",
                  "details": {"limit": 900}, "recoverable": true, "retry_recommended": true},
        "metrics": {"peak_memory_mb": 20}
    });
    let r: JobResult = serde_json::from_value(text).unwrap();
    assert_eq!(r.status, JobStatus::TimedOut);
    assert!(r.completed_at.is_some());
    assert_eq!(r.execution_summary.attempt, 2);
    assert!(r.execution_summary.extra.contains_key("duration_seconds"));
    assert!(r.extra.contains_key("metrics"));
    let e = r.error.unwrap();
    assert_eq!(e.code, ErrorCode::TimedOut);
    assert!(e.extra.contains_key("retry_recommended"));
}
