//! `docs/job-spec.schema.json` is the schema the types generate. After a
//! change of the types, rewrite it with
//! `GUESTKIT_BLESS=1 cargo test -p guestkit-job-spec --test schema`.

use std::path::PathBuf;

use guestkit_job_spec::{job_schema, job_schema_json};
use serde_json::Value;

fn committed_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/job-spec.schema.json")
}

#[test]
fn committed_schema_is_current() {
    let generated = job_schema_json();
    let path = committed_path();
    if std::env::var_os("GUESTKIT_BLESS").is_some_and(|v| v == "1") {
        std::fs::write(&path, &generated).unwrap();
        eprintln!("wrote {}", path.display());
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; generate it with GUESTKIT_BLESS=1 cargo test -p guestkit-job-spec --test schema",
            path.display()
        )
    });
    assert!(
        committed == generated,
        "{} differs from the schema the types generate; if the change is meant, run \
         GUESTKIT_BLESS=1 cargo test -p guestkit-job-spec --test schema",
        path.display()
    );
}

#[test]
fn schema_describes_the_envelope_and_payloads() {
    let schema = job_schema();
    assert_eq!(
        schema["$schema"],
        "https://json-schema.org/draft/2020-12/schema"
    );
    let required: Vec<&str> = schema["required"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for field in [
        "version",
        "job_id",
        "created_at",
        "kind",
        "operation",
        "payload",
    ] {
        assert!(required.contains(&field), "{field} not required");
    }
    // Unknown members are allowed at the top and in nested objects.
    assert_ne!(schema["additionalProperties"], Value::Bool(false));
    let defs = schema["$defs"].as_object().unwrap();
    for name in [
        "ExecutionPolicy",
        "InspectPayload",
        "ProfilePayload",
        "JobResult",
        "Checksum",
    ] {
        assert!(defs.contains_key(name), "$defs.{name} missing");
    }
    let text = schema.to_string();
    assert!(!text.contains("\"additionalProperties\":false"), "{text}");
    let rules = schema["allOf"].as_array().unwrap();
    assert_eq!(rules.len(), 3);
    assert_eq!(
        schema["$defs"]["ExecutionPolicy"]["properties"]["priority"]["maximum"],
        10
    );
    // The lower bounds the validator enforces are in the schema too.
    let execution = &schema["$defs"]["ExecutionPolicy"]["properties"];
    for field in ["attempt", "max_attempts", "timeout_seconds"] {
        assert_eq!(execution[field]["minimum"], 1, "{field}");
    }
    assert_eq!(
        schema["$defs"]["ImageSpec"]["properties"]["path"]["minLength"],
        1
    );
    assert_eq!(
        schema["$defs"]["ProfilePayload"]["properties"]["profiles"]["minItems"],
        1
    );
}
