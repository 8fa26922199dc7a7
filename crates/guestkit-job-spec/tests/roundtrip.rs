//! Unknown members survive a read and a write at every level, and a
//! written document reads back equal.

use guestkit_job_spec::{parse_and_validate, parse_document, JobDocument, TypedPayload};
use serde_json::{json, Value};

fn with_unknowns() -> Value {
    json!({
        "$schema": "https://example.invalid/job.json",
        "version": "1.3",
        "job_id": "rt-1",
        "created_at": "2026-03-02T10:00:00+02:00",
        "kind": "VMOperation",
        "operation": "guestkit.inspect",
        "x_top": {"any": ["thing", 1, null]},
        "metadata": {"name": "n", "x_meta": 1},
        "execution": {"priority": 2, "x_exec": "e", "retry_backoff": {"base_ms": 100}},
        "constraints": {"required_capabilities": ["guestkit.inspect"], "custom.example/x": "y"},
        "routing": {"worker_pool": "p", "affinity": {"zone": "a"}, "x_route": true},
        "observability": {"trace_id": "t", "baggage": {"k": "v"}},
        "audit": {"submitted_by": "me", "authorization": {"method": "m", "scopes": ["a"]}, "x_audit": 0},
        "payload": {
            "type": "guestkit.inspect.v1",
            "x_payload": "kept",
            "data": {
                "image": {"path": "/i.qcow2", "checksum": "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855", "read_only": true},
                "options": {"include_packages": false, "include_firmware": true},
                "output": {"format": "yaml", "compression": "zstd"},
                "x_data": [1, 2]
            }
        },
        "signature": {"algorithm": "ed25519", "value": "c2ln"}
    })
}

#[test]
fn unknown_members_survive_at_every_level() {
    let text = with_unknowns().to_string();
    let doc = parse_and_validate(&text).unwrap();
    let written: Value = serde_json::to_value(&doc).unwrap();

    for pointer in [
        "/$schema",
        "/x_top/any/0",
        "/signature/algorithm",
        "/metadata/x_meta",
        "/execution/x_exec",
        "/execution/retry_backoff/base_ms",
        "/constraints/custom.example~1x",
        "/routing/x_route",
        "/routing/affinity/zone",
        "/observability/baggage/k",
        "/audit/x_audit",
        "/audit/authorization/scopes/0",
        "/payload/x_payload",
        "/payload/data/x_data/1",
        "/payload/data/image/read_only",
        "/payload/data/options/include_firmware",
        "/payload/data/output/compression",
    ] {
        assert_eq!(
            written.pointer(pointer),
            with_unknowns().pointer(pointer),
            "{pointer} lost: {written:#}"
        );
    }
    // The payload data is kept exactly as it came (bare upper-case digest
    // included); the typed view normalizes.
    assert_eq!(
        written["payload"]["data"],
        with_unknowns()["payload"]["data"]
    );

    let again = parse_document(&written.to_string()).unwrap();
    assert_eq!(again, doc);
    // Timestamps are normalized to UTC and still mean the same instant.
    assert_eq!(written["created_at"], "2026-03-02T08:00:00Z");
}

#[test]
fn typed_payload_keeps_unknowns_too() {
    let doc = parse_and_validate(&with_unknowns().to_string()).unwrap();
    let TypedPayload::Inspect(p) = doc.validate().unwrap() else {
        panic!("not inspect");
    };
    assert_eq!(p.options.unknown_include_flags(), ["include_firmware"]);
    assert!(!p.options.include_packages);
    assert!(p.options.include_users);
    assert!(!p.options.sections().contains(&"packages"));
    assert_eq!(p.extra["x_data"], json!([1, 2]));
    assert_eq!(
        p.image.checksum.unwrap().to_string(),
        "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
    let back: Value = serde_json::to_value(&p).unwrap();
    assert_eq!(back["options"]["include_firmware"], true);
    assert_eq!(back["image"]["read_only"], true);
    let reread: guestkit_job_spec::InspectPayload = serde_json::from_value(back).unwrap();
    assert_eq!(reread, p);
}

#[test]
fn every_example_round_trips() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    for sub in ["../../examples/jobs", "tests/data/original-shapes"] {
        for entry in std::fs::read_dir(dir.join(sub)).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_none_or(|e| e != "json") {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            let doc: JobDocument = parse_document(&text).unwrap();
            let written = doc.to_json_pretty().unwrap();
            let again = parse_document(&written).unwrap();
            assert_eq!(again, doc, "{}", path.display());
            // Nothing of the original is dropped: every member of the input
            // is in the output (defaults may be added).
            let input: Value = serde_json::from_str(&text).unwrap();
            let output: Value = serde_json::from_str(&written).unwrap();
            assert_contains(&output, &input, &path.display().to_string());
        }
    }
}

/// Every member of `wanted` is in `have` with the same value, `null`
/// members being allowed to disappear (absent and null read the same).
fn assert_contains(have: &Value, wanted: &Value, at: &str) {
    match (have, wanted) {
        (Value::Object(h), Value::Object(w)) => {
            for (k, v) in w {
                match h.get(k) {
                    Some(hv) => assert_contains(hv, v, &format!("{at}.{k}")),
                    None => assert!(v.is_null(), "{at}.{k} dropped"),
                }
            }
        }
        _ => assert_eq!(have, wanted, "{at}"),
    }
}

#[test]
fn yaml_form_reads_the_same_document() {
    let json_doc = parse_and_validate(&with_unknowns().to_string()).unwrap();
    let yaml = serde_yaml_ng::to_string(&json_doc).unwrap();
    let yaml_doc = guestkit_job_spec::parse_and_validate_yaml(&yaml).unwrap();
    assert_eq!(yaml_doc, json_doc);
}
