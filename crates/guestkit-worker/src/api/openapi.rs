//! The OpenAPI 3.1 document of the API, generated from the handlers'
//! `#[utoipa::path]` descriptions and the types' `ToSchema`, with the job
//! protocol's own JSON Schema (from `guestkit-job-spec`) for job documents
//! and results. The repository keeps a copy at `docs/openapi.json`; a
//! test checks that it is current (`GUESTKIT_BLESS=1` rewrites it).

use guestkit_job_spec::{job_schema, Operation};
use serde_json::{json, Map, Value};
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

use super::error::ApiError;
use super::model::{ProgressEvent, StatusEvent};
use super::{json_set, json_slot};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "guestkit-worker API",
        description = "Submit guestkit jobs (job protocol v1.0), follow them and read their results. \
GET needs a `read` or `submit` bearer token, POST and DELETE a `submit` token. \
Every error is `{error, message, details}`.",
        license(name = "MIT OR Apache-2.0", identifier = "MIT OR Apache-2.0")
    ),
    tags(
        (name = "jobs", description = "Submitting, following and cancelling jobs"),
        (name = "worker", description = "What the worker runs and whether it is up")
    ),
    components(schemas(ApiError, StatusEvent, ProgressEvent))
)]
struct ApiDoc;

/// The security scheme every protected operation names.
const SCHEME: &str = "bearer_token";

/// The OpenAPI document as JSON.
pub fn document() -> Value {
    let router: OpenApiRouter<super::ApiState> =
        OpenApiRouter::with_openapi(ApiDoc::openapi()).merge(super::routes(None));
    let (_, api) = router.split_for_parts();
    let mut doc = serde_json::to_value(&api).unwrap_or_else(|_| json!({}));
    finish(&mut doc);
    doc
}

/// [`document`] as the pretty text kept in `docs/openapi.json` (keys
/// sorted, final newline).
pub fn document_text() -> String {
    let mut text = serde_json::to_string_pretty(&document()).unwrap_or_default();
    text.push('\n');
    text
}

fn error_ref() -> Value {
    json!({"content": {"application/json": {"schema": {"$ref": "#/components/schemas/ApiError"}}}})
}

fn response(description: &str) -> Value {
    let mut r = error_ref();
    json_set(&mut r, &["description"], json!(description));
    r
}

/// What utoipa cannot say: the security scheme, the answers every
/// protected operation may give (401, 403, 429), and the protocol's
/// schemas for job documents and results.
fn finish(doc: &mut Value) {
    json_set(doc, &["info", "version"], json!(env!("CARGO_PKG_VERSION")));
    json_set(
        doc,
        &["components", "securitySchemes"],
        json!({
            SCHEME: {
                "type": "http",
                "scheme": "bearer",
                "description": "A token of the worker's --api-tokens file or GUESTKIT_API_TOKENS: `read` tokens may GET, `submit` tokens may also POST and DELETE."
            }
        }),
    );
    if let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) {
        for item in paths.values_mut() {
            let Some(item) = item.as_object_mut() else {
                continue;
            };
            for op in item.values_mut() {
                let protected = op
                    .get("security")
                    .and_then(Value::as_array)
                    .is_some_and(|s| !s.is_empty());
                let Some(responses) = op.get_mut("responses").and_then(Value::as_object_mut) else {
                    continue;
                };
                if protected {
                    responses
                        .entry("401")
                        .or_insert_with(|| response("Missing or unknown bearer token"));
                    responses
                        .entry("403")
                        .or_insert_with(|| response("A read token used to submit or cancel"));
                    let mut limited = response("The token's rate limit is spent");
                    json_set(
                        &mut limited,
                        &["headers"],
                        json!({"Retry-After": {
                            "description": "Seconds to wait",
                            "schema": {"type": "integer", "minimum": 1}
                        }}),
                    );
                    responses.entry("429").or_insert(limited);
                }
                responses
                    .entry("500")
                    .or_insert_with(|| response("The worker failed (the job store, say)"));
            }
        }
    }
    json_set(
        doc,
        &[
            "components",
            "schemas",
            "EventStreamItem",
            "properties",
            "data",
            "contentMediaType",
        ],
        json!("application/json"),
    );
    json_set(
        doc,
        &[
            "components",
            "schemas",
            "EventStreamItem",
            "properties",
            "data",
            "contentSchema",
        ],
        json!({"oneOf": [
            {"$ref": "#/components/schemas/StatusEvent"},
            {"$ref": "#/components/schemas/ProgressEvent"},
            {"$ref": "#/components/schemas/ApiError"}
        ]}),
    );
    link_submissions(doc);
    embed_job_schema(doc);
}

/// Links from a submission's answer to the operations on the job it
/// names (clients and stateful testers follow them).
fn link_submissions(doc: &mut Value) {
    let mut links = Map::new();
    for (name, op) in [
        ("GetJob", "get_job"),
        ("GetResult", "get_result"),
        ("JobEvents", "job_events"),
        ("CancelJob", "cancel_job"),
    ] {
        links.insert(
            name.to_string(),
            json!({"operationId": op, "parameters": {"id": "$response.body#/job_id"}}),
        );
    }
    for status in ["200", "202"] {
        json_set(
            doc,
            &[
                "paths",
                "/api/v1/jobs",
                "post",
                "responses",
                status,
                "links",
            ],
            Value::Object(links.clone()),
        );
    }
}

/// Rewrites `#/$defs/X` references as `#/components/schemas/X`.
fn rebase_refs(value: &mut Value) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(r)) = map.get_mut("$ref") {
                if let Some(name) = r.strip_prefix("#/$defs/") {
                    *r = format!("#/components/schemas/{name}");
                }
            }
            for v in map.values_mut() {
                rebase_refs(v);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(rebase_refs),
        _ => {}
    }
}

/// Puts the protocol's JSON Schema in `components.schemas`: the document
/// as `JobDocument` (its `operation` narrowed to the operations of the
/// protocol), its `$defs` beside it (`JobResult` among them).
fn embed_job_schema(doc: &mut Value) {
    let mut schema = job_schema();
    let defs = schema
        .as_object_mut()
        .and_then(|m| m.remove("$defs"))
        .and_then(|d| match d {
            Value::Object(m) => Some(m),
            _ => None,
        })
        .unwrap_or_default();
    if let Some(m) = schema.as_object_mut() {
        m.remove("$schema");
    }
    // The protocol's validation needs `payload.data` where the schema
    // gives it a shape (inspect, profile): say so here too.
    if let Some(rules) = schema.get_mut("allOf").and_then(Value::as_array_mut) {
        for rule in rules {
            let Some(payload) = json_slot(rule, &["then", "properties", "payload"]) else {
                continue;
            };
            let shaped = payload
                .pointer("/properties/data")
                .is_some_and(Value::is_object);
            if shaped {
                json_set(payload, &["required"], json!(["type", "data"]));
            }
        }
    }
    let operations: Vec<&str> = Operation::ALL.iter().map(|o| o.name()).collect();
    json_set(
        &mut schema,
        &["properties", "operation", "enum"],
        json!(operations),
    );
    let Some(schemas) = json_slot(doc, &["components", "schemas"]).and_then(Value::as_object_mut)
    else {
        return;
    };
    let mut add = |name: String, mut value: Value| {
        rebase_refs(&mut value);
        schemas.insert(name, value);
    };
    for (name, value) in Map::into_iter(defs) {
        add(name, value);
    }
    add("JobDocument".into(), schema);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_document_names_every_route_and_resolves_every_reference() {
        let doc = document();
        assert_eq!(doc["openapi"], "3.1.0");
        for path in [
            "/api/v1/jobs",
            "/api/v1/jobs/{id}",
            "/api/v1/jobs/{id}/result",
            "/api/v1/jobs/{id}/events",
            "/api/v1/capabilities",
            "/api/v1/health",
            "/health",
            "/ready",
            "/api/v1/openapi.json",
        ] {
            assert!(doc["paths"].get(path).is_some(), "{path}");
        }
        let text = doc.to_string();
        assert!(!text.contains("#/$defs/"), "unrebased reference");
        let schemas = doc["components"]["schemas"].as_object().expect("schemas");
        for r in text.split("\"$ref\":\"#/components/schemas/").skip(1) {
            let name = r.split('"').next().expect("name");
            assert!(
                schemas.contains_key(name),
                "{name} is referenced but missing"
            );
        }
        let post = &doc["paths"]["/api/v1/jobs"]["post"];
        assert_eq!(
            post["requestBody"]["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/JobDocument"
        );
        assert!(post["responses"].get("429").is_some());
        assert!(doc["paths"]["/health"]["get"]["responses"]
            .get("401")
            .is_none());
    }
}
