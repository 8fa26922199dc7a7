//! The JSON Schema of a job document, generated from the types. The
//! repository keeps a copy at `docs/job-spec.schema.json`; a test checks
//! that it is current.

use schemars::generate::SchemaSettings;
use serde_json::{json, Value};

use crate::envelope::JobDocument;
use crate::inspect::InspectPayload;
use crate::operation::Operation;
use crate::profile::ProfilePayload;
use crate::result::JobResult;

/// The JSON Schema (draft 2020-12) of a job document of protocol v1.
///
/// Beyond the envelope, it ties each known operation to its payload type
/// and the payload data to that type's schema; `$defs` also holds the
/// schema of a [`JobResult`]. Unknown members are allowed everywhere.
pub fn job_schema() -> Value {
    let mut generator = SchemaSettings::draft2020_12().into_generator();
    let inspect = generator.subschema_for::<InspectPayload>();
    let profile = generator.subschema_for::<ProfilePayload>();
    // Registered for workers and clients reading results.
    let _ = generator.subschema_for::<JobResult>();
    let root = generator.into_root_schema_for::<JobDocument>();
    let mut root = root.to_value();
    let rules: Vec<Value> = Operation::ALL
        .iter()
        .map(|op| {
            let data = match op {
                Operation::Echo => Value::Bool(true),
                Operation::Inspect => inspect.clone().to_value(),
                Operation::Profile => profile.clone().to_value(),
            };
            json!({
                "if": {
                    "properties": {"operation": {"const": op.name()}},
                    "required": ["operation"]
                },
                "then": {
                    "properties": {
                        "payload": {
                            "properties": {
                                "type": {"enum": op.payload_types()},
                                "data": data
                            }
                        }
                    }
                }
            })
        })
        .collect();
    if let Value::Object(map) = &mut root {
        map.insert("allOf".to_string(), Value::Array(rules));
    }
    root
}

/// [`job_schema`] as the pretty-printed text kept in
/// `docs/job-spec.schema.json` (with a final newline).
pub fn job_schema_json() -> String {
    let schema = sorted(job_schema());
    let mut text =
        serde_json::to_string_pretty(&schema).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    text.push('\n');
    text
}

/// The same value with every object's members in key order, whatever map
/// serde_json was built with, so the text is the same in every build.
fn sorted(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(String, Value)> = map.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(entries.into_iter().map(|(k, v)| (k, sorted(v))).collect())
        }
        Value::Array(items) => Value::Array(items.into_iter().map(sorted).collect()),
        other => other,
    }
}
