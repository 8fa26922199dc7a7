//! Every example job of the repository, and documents in the shapes of the
//! original design's examples, are accepted.

use std::fs;
use std::path::{Path, PathBuf};

use guestkit_job_spec::{
    parse_and_validate, parse_document, Checksum, ErrorCode, JobDocument, Operation, ProblemKind,
    ProfileKind, Severity, TypedPayload,
};
use sha2::{Digest, Sha256};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn json_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files
}

fn load(
    path: &Path,
) -> (
    String,
    Result<JobDocument, guestkit_job_spec::ValidationErrors>,
) {
    let text = fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let parsed = parse_and_validate(&text);
    (text, parsed)
}

fn original(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/original-shapes")
        .join(name);
    fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn every_example_job_validates() {
    let files = json_files(&repo_root().join("examples/jobs"));
    let names: Vec<String> = files
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    for wanted in [
        "echo.json",
        "inspect-basic.json",
        "inspect-full.json",
        "profile-security.json",
    ] {
        assert!(
            names.iter().any(|n| n == wanted),
            "{wanted} missing: {names:?}"
        );
    }
    for file in &files {
        let (_, parsed) = load(file);
        let doc = parsed.unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        assert!(
            guestkit_job_spec::is_valid_job_id(&doc.job_id),
            "{}",
            doc.job_id
        );
        let id = doc.job_id.strip_prefix("job-").unwrap();
        assert!(
            ulid::Ulid::from_string(id).is_ok(),
            "{} is not job-<ULID>",
            doc.job_id
        );
        if let Some(image) = doc.validate().unwrap().image() {
            assert_eq!(image.path, "demo/demo.qcow2", "{}", file.display());
        }
    }
}

/// `examples/jobs/inspect-full.json` carries the real digest of the demo
/// image, so a worker can verify it; rebuilding the demo image means
/// updating the example.
#[test]
fn inspect_full_example_checksum_is_the_demo_image_digest() {
    let (_, parsed) = load(&repo_root().join("examples/jobs/inspect-full.json"));
    let doc = parsed.unwrap();
    let TypedPayload::Inspect(inspect) = doc.validate().unwrap() else {
        panic!("not an inspect job");
    };
    assert!(doc.idempotency_key().is_some());
    let expected = inspect.image.checksum.expect("inspect-full has a checksum");
    let image = fs::read(repo_root().join("demo/demo.qcow2")).unwrap();
    let actual = Checksum::from_digest(Sha256::digest(&image).into());
    assert_eq!(
        expected, actual,
        "examples/jobs/inspect-full.json names {expected}, demo/demo.qcow2 is {actual}"
    );
}

#[test]
fn original_shapes_of_supported_operations_validate() {
    for name in [
        "protocol-complete.json",
        "inspect-minimal.json",
        "inspect-full.json",
        "profile-security.json",
        "worker-echo.json",
        "worker-inspect-basic.json",
        "worker-inspect-full.json",
        "worker-profile-security.json",
    ] {
        let doc = parse_and_validate(&original(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(doc.extra.contains_key("$schema"), "{name}");
    }
}

#[test]
fn original_complete_document_reads_every_block() {
    let doc = parse_and_validate(&original("protocol-complete.json")).unwrap();
    assert_eq!(
        doc.metadata.as_ref().unwrap().labels["cost-center"],
        "fin-ops"
    );
    assert_eq!(doc.execution.attempt, 2);
    assert_eq!(doc.execution.max_attempts, 4);
    assert!(!doc.execution.cancellable);
    assert!(doc.execution.deadline.is_some());
    let constraints = doc.constraints.as_ref().unwrap();
    assert_eq!(constraints.maximum_disk_size_gb, Some(250));
    assert_eq!(constraints.require_privileged, Some(false));
    assert!(constraints
        .extra
        .contains_key("custom.example.org/gpu-required"));
    let routing = doc.routing.as_ref().unwrap();
    assert_eq!(routing.worker_id, None);
    assert!(routing.anti_affinity.is_some());
    let observability = doc.observability.as_ref().unwrap();
    assert_eq!(observability.parent_span_id, None);
    let audit = doc.audit.as_ref().unwrap();
    assert_eq!(
        audit.authorization.as_ref().unwrap().method.as_deref(),
        Some("mtls")
    );
    let TypedPayload::Inspect(inspect) = doc.validate().unwrap() else {
        panic!("not inspect");
    };
    assert_eq!(inspect.image.size_bytes, Some(21_474_836_480));
    assert!(!inspect.options.include_services);
    assert!(inspect.options.include_users, "absent flags default to on");
    assert!(!inspect.options.deep_scan);
}

#[test]
fn original_inspect_shapes_keep_unmodelled_fields() {
    let doc = parse_and_validate(&original("inspect-full.json")).unwrap();
    let TypedPayload::Inspect(inspect) = doc.validate().unwrap() else {
        panic!("not inspect");
    };
    assert_eq!(inspect.image.extra["read_only"], serde_json::json!(true));
    let output = inspect.output.unwrap();
    assert_eq!(output.extra["compression"], serde_json::Value::Null);
    assert_eq!(output.destination.as_deref(), Some("/data/out/web-03.json"));
}

#[test]
fn original_profile_shapes_read_remediation_from_options_or_output() {
    let doc = parse_and_validate(&original("profile-security.json")).unwrap();
    let TypedPayload::Profile(p) = doc.validate().unwrap() else {
        panic!("not profile");
    };
    assert_eq!(
        p.profiles,
        [
            ProfileKind::Security,
            ProfileKind::Compliance,
            ProfileKind::Hardening
        ]
    );
    assert_eq!(p.options.severity_threshold, Severity::High);
    assert!(p.options.fail_on_critical);
    assert!(
        !p.include_remediation(),
        "output.include_remediation = false"
    );

    let doc = parse_and_validate(&original("worker-profile-security.json")).unwrap();
    let TypedPayload::Profile(p) = doc.validate().unwrap() else {
        panic!("not profile");
    };
    assert!(p.include_remediation());
    assert_eq!(p.options.severity_threshold, Severity::Low);
}

#[test]
fn original_echo_shape_echoes_its_data() {
    let doc = parse_and_validate(&original("worker-echo.json")).unwrap();
    assert_eq!(doc.known_operation(), Some(Operation::Echo));
    let TypedPayload::Echo(echo) = doc.validate().unwrap() else {
        panic!("not echo");
    };
    assert_eq!(echo.data, doc.payload.data);
    assert_eq!(echo.data["test_data"]["nested"]["value"], 7);
}

/// `guestkit.fix` is in the original design but not in this protocol's
/// operations: the document is read whole, and validation names the
/// operation.
#[test]
fn original_fix_shape_is_read_and_refused_by_name() {
    let text = original("fix-offline.json");
    let doc = parse_document(&text).unwrap();
    assert_eq!(doc.payload.data["operations"][1]["type"], "selinux_relabel");
    let errors = doc.validate().unwrap_err();
    assert_eq!(errors.len(), 1, "{errors}");
    let e = &errors.errors[0];
    assert_eq!(e.path, "$.operation");
    assert_eq!(e.kind, ProblemKind::Unsupported);
    assert!(e.message.contains("guestkit.fix"), "{}", e.message);
    assert_eq!(errors.error_code(), ErrorCode::UnsupportedOperation);
}

/// The original examples abbreviate some checksums (`sha256:abc123...`).
/// Such a document is read; validation says which field is not a digest.
#[test]
fn abbreviated_checksum_placeholder_is_read_then_named() {
    let text = original("profile-security.json").replace(
        "sha256:fcde2b2edba56bf408601fb721fe9b5c338d10ee429ea04fae5511b68fbf8fb9",
        "sha256:abc123...",
    );
    let doc = parse_document(&text).unwrap();
    let errors = doc.validate().unwrap_err();
    assert_eq!(errors.len(), 1, "{errors}");
    assert_eq!(errors.errors[0].path, "$.payload.data.image.checksum");
    assert_eq!(errors.error_code(), ErrorCode::ValidationFailed);
}
