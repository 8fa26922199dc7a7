//! The builder makes valid documents with `job-<ULID>` ids and refuses
//! invalid ones with every problem.

use chrono::{Duration, Utc};
use guestkit_job_spec::{
    echo_job, inspect_job, parse_and_validate, profile_job, Checksum, ImageFormat, InspectOptions,
    InspectPayload, JobBuilder, OutputFormat, OutputSpec, ProfileKind, ProfileOptions, Severity,
    TypedPayload, KIND_VM_OPERATION, PROTOCOL_VERSION,
};
use serde_json::json;

#[test]
fn echo_job_has_a_ulid_id_and_now() {
    let before = Utc::now() - Duration::seconds(1);
    let doc = echo_job(json!({"hello": "world"})).build().unwrap();
    let ulid = doc.job_id.strip_prefix("job-").expect("job- prefix");
    assert_eq!(ulid.len(), 26);
    assert!(ulid::Ulid::from_string(ulid).is_ok(), "{}", doc.job_id);
    assert!(doc.created_at >= before && doc.created_at <= Utc::now());
    assert_eq!(doc.version, PROTOCOL_VERSION);
    assert_eq!(doc.kind, KIND_VM_OPERATION);
    assert_eq!(doc.operation, "system.echo");
    assert_eq!(doc.payload.payload_type, "system.echo.v1");
    assert_eq!(doc.payload.data, json!({"hello": "world"}));
    assert!(doc.metadata.is_none() && doc.constraints.is_none());

    let other = echo_job(json!(null)).build().unwrap();
    assert_ne!(other.job_id, doc.job_id);
}

#[test]
fn built_documents_read_back_equal() {
    let checksum =
        Checksum::parse("2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae")
            .unwrap();
    let payload = InspectPayload::new("demo/demo.qcow2")
        .with_checksum(checksum)
        .with_options(InspectOptions {
            include_packages: true,
            ..InspectOptions::none()
        })
        .with_deep_scan(true)
        .with_output(OutputSpec::to(OutputFormat::Yaml, "out.yaml"));
    let doc = JobBuilder::new(payload)
        .job_id("inventory-1")
        .name("inventory")
        .namespace("demo")
        .label("team", "platform")
        .annotation("ticket", "T-1")
        .idempotency_key("inventory-1-key")
        .max_attempts(3)
        .attempt(2)
        .timeout_seconds(120)
        .deadline(Utc::now() + Duration::hours(1))
        .priority(9)
        .cancellable(false)
        .require_capability("guestkit.inspect")
        .require_feature("lvm")
        .minimum_worker_version("0.1.0")
        .allow_worker_pool("pool-a")
        .worker_pool("pool-a")
        .trace_id("trace")
        .span_id("span")
        .correlation_id("batch")
        .submitted_by("tests")
        .map_payload(|p| {
            if let TypedPayload::Inspect(p) = p {
                p.image.format = Some(ImageFormat::Qcow2);
            }
        })
        .build()
        .unwrap();
    assert_eq!(doc.job_id, "inventory-1");
    let text = doc.to_json_pretty().unwrap();
    let back = parse_and_validate(&text).unwrap();
    assert_eq!(back, doc);
    let TypedPayload::Inspect(p) = back.validate().unwrap() else {
        panic!("not inspect");
    };
    assert_eq!(p.image.checksum, Some(checksum));
    assert_eq!(p.image.format, Some(ImageFormat::Qcow2));
    assert_eq!(p.options.sections(), ["packages"]);
    assert!(p.options.deep_scan);
    assert_eq!(p.output.unwrap().format, OutputFormat::Yaml);
}

#[test]
fn profile_job_carries_its_profiles_and_options() {
    let doc = profile_job(
        "demo/demo.qcow2",
        [ProfileKind::Security, ProfileKind::Migration],
    )
    .map_payload(|p| {
        if let TypedPayload::Profile(p) = p {
            p.options = ProfileOptions {
                severity_threshold: Severity::High,
                fail_on_critical: true,
                ..ProfileOptions::default()
            };
        }
    })
    .build()
    .unwrap();
    assert_eq!(doc.payload.payload_type, "guestkit.profile.v1");
    assert_eq!(
        doc.payload.data["profiles"],
        json!(["security", "migration"])
    );
    assert_eq!(doc.payload.data["options"]["severity_threshold"], "high");
    let TypedPayload::Profile(p) = doc.validate().unwrap() else {
        panic!("not profile");
    };
    assert!(p.include_remediation(), "remediation is on by default");
}

#[test]
fn build_reports_every_problem() {
    let errors = inspect_job("")
        .job_id("bad id")
        .priority(0)
        .max_attempts(0)
        .timeout_seconds(0)
        .build()
        .unwrap_err();
    let paths: Vec<_> = errors.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "$.job_id",
            "$.execution.priority",
            "$.execution.max_attempts",
            "$.execution.timeout_seconds",
            "$.payload.data.image.path"
        ],
        "{errors}"
    );
    let errors = profile_job("/p", []).build().unwrap_err();
    assert_eq!(errors.errors[0].path, "$.payload.data.profiles");
    // The unchecked form still gives the document.
    assert!(inspect_job("").build_unchecked().is_ok());
}
