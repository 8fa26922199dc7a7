//! Validation reports every problem at once, each with its JSON path; a
//! document that cannot be read is one problem with its position.

use guestkit_job_spec::{
    parse_and_validate, parse_and_validate_yaml, ErrorCode, ProblemKind, ValidationErrors,
};
use serde_json::{json, Value};

fn base(operation: &str, payload_type: &str, data: Value) -> Value {
    json!({
        "version": "1.0",
        "job_id": "job-test-1",
        "created_at": "2026-03-02T10:00:00Z",
        "kind": "VMOperation",
        "operation": operation,
        "payload": {"type": payload_type, "data": data}
    })
}

fn inspect(data: Value) -> Value {
    base("guestkit.inspect", "guestkit.inspect.v1", data)
}

fn errors_of(doc: &Value) -> ValidationErrors {
    match parse_and_validate(&doc.to_string()) {
        Ok(_) => panic!("accepted: {doc:#}"),
        Err(e) => e,
    }
}

fn paths(errors: &ValidationErrors) -> Vec<&str> {
    errors.iter().map(|e| e.path.as_str()).collect()
}

#[test]
fn every_envelope_problem_is_reported_at_once() {
    let mut doc = inspect(json!({"image": {"path": "/i.qcow2"}}));
    doc["version"] = json!("2.0");
    doc["job_id"] = json!("");
    doc["kind"] = json!("Pod");
    doc["execution"] = json!({
        "priority": 11,
        "max_attempts": 0,
        "attempt": 0,
        "timeout_seconds": 0,
        "idempotency_key": " ",
        "deadline": "2026-03-01T00:00:00Z"
    });
    doc["constraints"] = json!({
        "minimum_worker_version": "latest",
        "maximum_disk_size_gb": 0,
        "allowed_worker_pools": ["a", ""]
    });
    doc["routing"] = json!({"worker_pool": "b"});
    let errors = errors_of(&doc);
    let got = paths(&errors);
    for want in [
        "$.version",
        "$.job_id",
        "$.kind",
        "$.execution.priority",
        "$.execution.max_attempts",
        "$.execution.attempt",
        "$.execution.timeout_seconds",
        "$.execution.idempotency_key",
        "$.execution.deadline",
        "$.constraints.minimum_worker_version",
        "$.constraints.maximum_disk_size_gb",
        "$.constraints.allowed_worker_pools[1]",
        "$.routing.worker_pool",
    ] {
        assert!(got.contains(&want), "{want} not reported: {errors}");
    }
    assert_eq!(errors.len(), 13, "{errors}");
    let version = errors.at_path("$.version").unwrap();
    assert!(version.message.contains("2.0"), "{}", version.message);
    assert!(errors
        .at_path("$.execution.priority")
        .unwrap()
        .message
        .contains("1-10"));
    // Display lists them all.
    let text = errors.to_string();
    assert!(
        text.starts_with("invalid job document: 13 problems"),
        "{text}"
    );
    assert_eq!(text.lines().count(), 14, "{text}");
}

#[test]
fn attempt_beyond_max_attempts() {
    let mut doc = inspect(json!({"image": {"path": "/i"}}));
    doc["execution"] = json!({"attempt": 3, "max_attempts": 2});
    let errors = errors_of(&doc);
    assert_eq!(paths(&errors), ["$.execution.attempt"]);
    assert!(errors.errors[0].message.contains("beyond max_attempts 2"));
}

#[test]
fn any_minor_of_major_one_is_read() {
    for v in ["1.0", "1.1", "1.42"] {
        let mut doc = inspect(json!({"image": {"path": "/i"}}));
        doc["version"] = json!(v);
        parse_and_validate(&doc.to_string()).unwrap_or_else(|e| panic!("{v}: {e}"));
    }
    for v in ["0.9", "2.0", "1", "one"] {
        let mut doc = inspect(json!({"image": {"path": "/i"}}));
        doc["version"] = json!(v);
        assert_eq!(paths(&errors_of(&doc)), ["$.version"], "{v}");
    }
}

#[test]
fn every_inspect_payload_problem_is_reported_at_once() {
    let doc = inspect(json!({
        "image": {"path": "", "format": "iso", "checksum": "md5:abcd", "size_bytes": -1},
        "options": {"include_packages": "yes", "deep_scan": 1, "include_gpu": true},
        "output": {"format": "xml", "destination": ""}
    }));
    let errors = errors_of(&doc);
    assert_eq!(
        paths(&errors),
        [
            "$.payload.data.image.path",
            "$.payload.data.image.format",
            "$.payload.data.image.checksum",
            "$.payload.data.image.size_bytes",
            "$.payload.data.options.include_packages",
            "$.payload.data.options.deep_scan",
            "$.payload.data.output.format",
            "$.payload.data.output.destination",
        ],
        "{errors}"
    );
    let checksum = errors.at_path("$.payload.data.image.checksum").unwrap();
    assert!(checksum.message.contains("md5"), "{}", checksum.message);
    let format = errors.at_path("$.payload.data.output.format").unwrap();
    assert!(format.message.contains("xml") && format.message.contains("yaml"));
    assert!(errors.iter().all(|e| e.kind == ProblemKind::Invalid));
    assert_eq!(errors.error_code(), ErrorCode::ValidationFailed);
}

#[test]
fn missing_image_and_path() {
    let errors = errors_of(&inspect(json!({})));
    assert_eq!(paths(&errors), ["$.payload.data.image"]);
    let errors = errors_of(&inspect(json!({"image": {"format": "raw"}})));
    assert_eq!(paths(&errors), ["$.payload.data.image.path"]);
    let errors = errors_of(&inspect(json!({"image": "/i.qcow2"})));
    assert_eq!(paths(&errors), ["$.payload.data.image"]);
    let errors = errors_of(&inspect(json!(null)));
    assert_eq!(paths(&errors), ["$.payload.data"]);
    let errors = errors_of(&inspect(json!({"image": {"path": "/a\u{0}b"}})));
    assert_eq!(paths(&errors), ["$.payload.data.image.path"]);
}

#[test]
fn every_profile_payload_problem_is_reported_at_once() {
    let doc = base(
        "guestkit.profile",
        "guestkit.profile.v1",
        json!({
            "image": {"path": "/p.qcow2", "checksum": "sha256:abc123..."},
            "profiles": ["security", "speed", 7, "compliance", "cost"],
            "options": {"severity_threshold": "severe", "fail_on_critical": "no", "include_remediation": 1},
            "output": {"format": "json", "include_remediation": "sure"}
        }),
    );
    let errors = errors_of(&doc);
    assert_eq!(
        paths(&errors),
        [
            "$.payload.data.image.checksum",
            "$.payload.data.profiles[1]",
            "$.payload.data.profiles[2]",
            "$.payload.data.profiles[4]",
            "$.payload.data.options.severity_threshold",
            "$.payload.data.options.include_remediation",
            "$.payload.data.options.fail_on_critical",
            "$.payload.data.output.include_remediation",
        ],
        "{errors}"
    );
    let speed = errors.at_path("$.payload.data.profiles[1]").unwrap();
    assert!(speed.message.contains("`speed`"), "{}", speed.message);
    assert!(speed.message.contains("migration"), "{}", speed.message);
    let severity = errors
        .at_path("$.payload.data.options.severity_threshold")
        .unwrap();
    assert!(severity.message.contains("severe"), "{}", severity.message);

    let empty = base(
        "guestkit.profile",
        "guestkit.profile.v1",
        json!({"image": {"path": "/p"}, "profiles": []}),
    );
    assert_eq!(paths(&errors_of(&empty)), ["$.payload.data.profiles"]);
}

#[test]
fn payload_type_must_match_the_operation() {
    let errors = errors_of(&base(
        "guestkit.inspect",
        "guestkit.profile.v1",
        json!({"image": {"path": "/i"}}),
    ));
    assert_eq!(paths(&errors), ["$.payload.type"]);
    assert!(errors.errors[0].message.contains("guestkit.inspect.v1"));
    assert_eq!(errors.error_code(), ErrorCode::ValidationFailed);

    let errors = errors_of(&base(
        "guestkit.inspect",
        "guestkit.inspect.v2",
        json!({"image": {"path": "/i"}}),
    ));
    assert_eq!(paths(&errors), ["$.payload.type"]);
    assert_eq!(errors.errors[0].kind, ProblemKind::Unsupported);
    assert_eq!(errors.error_code(), ErrorCode::UnsupportedOperation);

    // Both echo spellings are accepted; any data is.
    for t in ["system.echo", "system.echo.v1"] {
        parse_and_validate(&base("system.echo", t, json!("text")).to_string()).unwrap();
    }
}

#[test]
fn unknown_operation_is_named() {
    let mut doc = base("hyper2kvm.convert", "hyper2kvm.convert.v1", json!({}));
    doc["execution"] = json!({"priority": 0});
    let errors = errors_of(&doc);
    assert_eq!(paths(&errors), ["$.execution.priority", "$.operation"]);
    let op = errors.at_path("$.operation").unwrap();
    assert!(op.message.contains("`hyper2kvm.convert`"), "{}", op.message);
    assert!(op.message.contains("guestkit.profile"), "{}", op.message);
    assert_eq!(errors.error_code(), ErrorCode::UnsupportedOperation);
}

#[test]
fn syntax_error_is_one_problem_with_line_and_column() {
    let text = "{\n  \"version\": \"1.0\",\n  \"job_id\": \"x\"\n  \"kind\": \"VMOperation\"\n}";
    let errors = parse_and_validate(text).unwrap_err();
    assert_eq!(errors.len(), 1);
    let e = &errors.errors[0];
    assert_eq!(e.kind, ProblemKind::Syntax);
    assert_eq!(e.line, Some(4), "{e}");
    assert!(e.column.is_some());
    assert!(e.to_string().contains("(line 4, column"), "{e}");

    let errors = parse_and_validate("").unwrap_err();
    assert_eq!(errors.len(), 1);
    assert_eq!(errors.errors[0].path, "$");
}

#[test]
fn missing_required_field_names_its_path() {
    let mut doc = inspect(json!({"image": {"path": "/i"}}));
    doc.as_object_mut().unwrap().remove("job_id");
    let errors = errors_of(&doc);
    assert_eq!(paths(&errors), ["$.job_id"]);
    assert!(errors.errors[0].message.contains("missing field `job_id`"));
    assert!(errors.errors[0].line.is_some());

    let mut doc = inspect(json!({"image": {"path": "/i"}}));
    doc["payload"].as_object_mut().unwrap().remove("type");
    assert_eq!(paths(&errors_of(&doc)), ["$.payload.type"]);
}

#[test]
fn wrong_json_type_names_its_path() {
    let mut doc = inspect(json!({"image": {"path": "/i"}}));
    doc["execution"] = json!({"priority": "high"});
    let errors = errors_of(&doc);
    assert_eq!(paths(&errors), ["$.execution.priority"]);
    assert_eq!(errors.errors[0].kind, ProblemKind::Syntax);

    let mut doc = inspect(json!({"image": {"path": "/i"}}));
    doc["metadata"] = json!({"labels": {"team": 5}});
    assert_eq!(paths(&errors_of(&doc)), ["$.metadata.labels.team"]);

    let mut doc = inspect(json!({"image": {"path": "/i"}}));
    doc["created_at"] = json!("yesterday");
    assert_eq!(paths(&errors_of(&doc)), ["$.created_at"]);

    let mut doc = inspect(json!({"image": {"path": "/i"}}));
    doc["constraints"] = json!({"required_features": ["lvm", 3]});
    assert_eq!(
        paths(&errors_of(&doc)),
        ["$.constraints.required_features[1]"]
    );
}

#[test]
fn job_id_that_cannot_name_a_file_is_refused() {
    for bad in ["../../etc/passwd", "a/b", ".hidden", "with space"] {
        let mut doc = inspect(json!({"image": {"path": "/i"}}));
        doc["job_id"] = json!(bad);
        assert_eq!(paths(&errors_of(&doc)), ["$.job_id"], "{bad}");
    }
}

#[test]
fn yaml_errors_have_paths_and_lines() {
    let yaml = "version: \"1.0\"\njob_id: y-1\ncreated_at: 2026-03-02T10:00:00Z\nkind: VMOperation\noperation: system.echo\nexecution:\n  priority: [1]\npayload:\n  type: system.echo.v1\n  data: hi\n";
    let errors = parse_and_validate_yaml(yaml).unwrap_err();
    assert_eq!(paths(&errors), ["$.execution.priority"], "{errors}");
    assert_eq!(errors.errors[0].line, Some(7), "{errors}");
    let ok = yaml.replace("[1]", "3");
    let doc = parse_and_validate_yaml(&ok).unwrap();
    assert_eq!(doc.execution.priority, 3);
}
