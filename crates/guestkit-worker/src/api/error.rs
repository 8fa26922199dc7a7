//! The API's one error shape, `{error, message, details}`, for every
//! failure: the handlers' own, axum's rejections (JSON syntax, body too
//! large, bad query), unknown routes (404) and methods (405).

use axum::body::Body;
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use axum::http::{HeaderValue, Request, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use guestkit_job_spec::{ErrorCode, JobError};
use serde::Serialize;
use serde_json::{json, Value};
use utoipa::ToSchema;

use super::json_set;
use crate::store::StoreError;

/// An error answer of the API.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ApiError {
    /// Stable machine-readable code (`validation_failed`, `not_found`,
    /// `unauthorized`, `image_not_allowed`, `rate_limited` …).
    pub error: String,
    /// What went wrong, in words.
    pub message: String,
    /// Structured details: for a rejected job, `problems` lists every
    /// problem as `{path, message}` with the JSON path it is about.
    #[schema(value_type = Option<Object>)]
    pub details: Option<Value>,
    /// The HTTP status (not serialised).
    #[serde(skip)]
    pub status: StatusCode,
    /// Seconds to wait before trying again (429, 503).
    #[serde(skip)]
    pub retry_after: Option<u64>,
}

impl ApiError {
    /// An error with `status`, `code` and `message`, no details.
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        ApiError {
            error: code.to_string(),
            message: message.into(),
            details: None,
            status,
            retry_after: None,
        }
    }

    /// The same error with `details`.
    pub fn with_details(mut self, details: Value) -> Self {
        self.details = Some(details);
        self
    }

    /// 404 `not_found` for job `id`.
    pub fn job_not_found(id: &str) -> Self {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", format!("no job {id:?}"))
            .with_details(json!({ "job_id": id }))
    }

    /// 500 `internal` for a store failure.
    pub fn store(e: &StoreError) -> Self {
        tracing::error!(error = %e, "job store failed");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            format!("job store: {e}"),
        )
    }

    /// 400 `bad_request`.
    pub fn bad_request(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    /// The answer to a job the intake refused: 400 for an invalid
    /// document or one this worker cannot take, 403 for an image or
    /// destination outside the allowed roots, 500 for a store failure.
    /// `details.problems` lists every problem with its JSON path.
    pub fn rejected(job_id: Option<&str>, error: &JobError) -> Self {
        let status = match error.code {
            ErrorCode::ImageNotAllowed | ErrorCode::DestinationNotAllowed => StatusCode::FORBIDDEN,
            ErrorCode::Internal | ErrorCode::IoError => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::BAD_REQUEST,
        };
        let mut details = error
            .details
            .clone()
            .filter(Value::is_object)
            .unwrap_or_else(|| json!({}));
        if details.get("problems").is_none() {
            let default_path = match error.code {
                ErrorCode::ImageNotAllowed => "$.payload.data.image.path",
                ErrorCode::DestinationNotAllowed => "$.payload.data.output.destination",
                _ => "$",
            };
            json_set(
                &mut details,
                &["problems"],
                json!([problem_of(&error.message, default_path)]),
            );
        }
        json_set(&mut details, &["phase"], json!(error.phase));
        if let Some(id) = job_id {
            json_set(&mut details, &["job_id"], json!(id));
        }
        ApiError::new(status, error.code.as_str(), error.message.clone()).with_details(details)
    }
}

/// `{path, message}` of a message that starts with its JSON path
/// (`$.routing.worker_id: routed to …`); `default_path` when it names none.
fn problem_of(message: &str, default_path: &str) -> Value {
    match message.split_once(": ") {
        Some((path, rest)) if path.starts_with('$') && !path.contains(' ') => {
            json!({"path": path, "message": rest})
        }
        _ => json!({"path": default_path, "message": message}),
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status;
        let retry = self.retry_after;
        let mut response = (status, Json(self)).into_response();
        if let Some(secs) = retry {
            response
                .headers_mut()
                .insert("retry-after", HeaderValue::from(secs));
        }
        if status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert("www-authenticate", HeaderValue::from_static("Bearer"));
        }
        response
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match &e {
            StoreError::NotFound { job_id } => ApiError::job_not_found(job_id),
            _ => ApiError::store(&e),
        }
    }
}

/// The code of an error status without a more precise one.
fn code_for(status: StatusCode) -> &'static str {
    match status {
        StatusCode::BAD_REQUEST => "bad_request",
        StatusCode::UNAUTHORIZED => "unauthorized",
        StatusCode::FORBIDDEN => "forbidden",
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::NOT_ACCEPTABLE => "not_acceptable",
        StatusCode::CONFLICT => "conflict",
        StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        StatusCode::UNPROCESSABLE_ENTITY => "unprocessable",
        StatusCode::TOO_MANY_REQUESTS => "rate_limited",
        StatusCode::SERVICE_UNAVAILABLE => "unavailable",
        s if s.is_server_error() => "internal",
        _ => "error",
    }
}

/// An axum rejection (its status and text) in the API's shape.
pub fn from_rejection(status: StatusCode, text: String) -> ApiError {
    let message = if status == StatusCode::PAYLOAD_TOO_LARGE {
        format!("request body too large: {text}")
    } else {
        text
    };
    ApiError::new(status, code_for(status), message)
}

/// 404 for a path no route serves.
pub async fn no_route(req: Request<Body>) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        format!("no route {} {}", req.method(), req.uri().path()),
    )
}

/// Middleware: any error answer that is not JSON yet (axum's 405, a
/// rejection's plain text) is rewritten as `{error, message, details}`,
/// keeping its status and headers (`Allow`, `Retry-After`).
pub async fn json_errors(req: Request<Body>, next: Next) -> Response {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let response = next.run(req).await;
    let status = response.status();
    let is_json = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, 64 * 1024)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_string())
        .unwrap_or_default();
    let message = match status {
        StatusCode::METHOD_NOT_ALLOWED => format!("{method} is not allowed on {path}"),
        _ if text.is_empty() => status
            .canonical_reason()
            .unwrap_or("request failed")
            .to_string(),
        _ => text,
    };
    let body = from_rejection(status, message);
    let bytes = serde_json::to_vec(&body).unwrap_or_default();
    parts.headers.remove(CONTENT_LENGTH);
    parts
        .headers
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Response::from_parts(parts, Body::from(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejections_keep_every_problem_and_their_paths() {
        let e = JobError::new(
            ErrorCode::ValidationFailed,
            "$.routing.worker_id: routed to \"x\" (worker w)",
            "validation",
        );
        let a = ApiError::rejected(Some("j1"), &e);
        assert_eq!(a.status, StatusCode::BAD_REQUEST);
        let d = a.details.expect("details");
        assert_eq!(d["problems"][0]["path"], "$.routing.worker_id");
        assert_eq!(d["job_id"], "j1");
        let e = JobError::new(
            ErrorCode::ImageNotAllowed,
            "image \"/x\" outside",
            "validation",
        );
        let a = ApiError::rejected(None, &e);
        assert_eq!(a.status, StatusCode::FORBIDDEN);
        assert_eq!(a.error, "image_not_allowed");
        assert_eq!(
            a.details.expect("details")["problems"][0]["path"],
            "$.payload.data.image.path"
        );
    }
}
