//! `/api/v1/jobs`: submit, list, look at, cancel jobs and read results.

use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::header::LOCATION;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::Utc;
use guestkit_job_spec::{ErrorCode, JobDocument, JobError, JobResult, JobStatus, OutputFormat};
use serde_json::{json, Value};

use super::error::{from_rejection, ApiError};
use super::model::{
    CancelResponse, JobDocumentBody, JobList, JobResultBody, JobSummary, JobView, ListQuery,
    SubmitResponse,
};
use super::ApiState;
use crate::executor::{Finished, StopReason};
use crate::intake::Accepted;
use crate::store::{JobFilter, JobRecord, ListCursor, StoreError, MAX_LIST_LIMIT};

/// Jobs per page when `limit` is not given.
const DEFAULT_LIMIT: u32 = 50;
/// How long a cancel waits for a running job to end.
const CANCEL_WAIT: Duration = Duration::from_secs(3);
/// How often a cancel looks at the store while it waits.
const CANCEL_POLL: Duration = Duration::from_millis(20);
/// Looks at a job that keeps changing state before giving up.
const CANCEL_TRIES: u32 = 25;

fn path_id(p: Result<Path<String>, PathRejection>) -> Result<String, ApiError> {
    p.map(|Path(id)| id)
        .map_err(|r| from_rejection(r.status(), r.body_text()))
}

async fn job_or_404(state: &ApiState, id: &str) -> Result<JobRecord, ApiError> {
    state
        .store()
        .get(id)
        .await?
        .ok_or_else(|| ApiError::job_not_found(id))
}

/// When the job was stored: its first history entry.
async fn submitted_at(state: &ApiState, id: &str) -> chrono::DateTime<Utc> {
    state
        .store()
        .history(id)
        .await
        .ok()
        .and_then(|h| h.first().map(|c| c.at))
        .unwrap_or_else(Utc::now)
}

/// Submit a job.
///
/// The body is a job document of protocol v1.0. Every validation problem
/// is reported at once with its JSON path. A document whose idempotency
/// key (or job id) was used before stores nothing: the answer is 200 with
/// the job that was there first.
#[utoipa::path(
    post,
    path = "/api/v1/jobs",
    tag = "jobs",
    operation_id = "submit_job",
    request_body(content = JobDocumentBody, content_type = "application/json", description = "A job document (protocol v1.0)"),
    responses(
        (status = 202, description = "Stored and queued", body = SubmitResponse,
            headers(("Location" = String, description = "The job's URL"))),
        (status = 200, description = "The idempotency key or job id was used before: the existing job", body = SubmitResponse),
        (status = 400, description = "Not a valid job document, or one this worker cannot take; `details.problems` lists every problem with its JSON path", body = ApiError),
        (status = 403, description = "The image or output destination is outside the allowed roots (or a read-only token)", body = ApiError),
        (status = 413, description = "The body is larger than --api-body-limit", body = ApiError),
        (status = 503, description = "The worker is shutting down", body = ApiError),
    ),
    security(("bearer_token" = []))
)]
pub async fn submit_job(
    State(state): State<ApiState>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let body = body.map_err(|r| {
        let mut e = from_rejection(r.status(), r.body_text());
        if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
            let limit = state.inner.body_limit;
            e.message = format!(
                "the request body is larger than the limit of {limit} bytes (--api-body-limit)"
            );
            e.details = Some(json!({"limit_bytes": limit}));
        }
        e
    })?;
    if state.draining() {
        let mut e = ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "the worker is shutting down and takes no new job",
        );
        e.retry_after = Some(5);
        return Err(e);
    }
    let text = std::str::from_utf8(&body).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            ErrorCode::ValidationFailed.as_str(),
            format!("the body is not UTF-8 (at byte {})", e.valid_up_to()),
        )
        .with_details(json!({"problems": [{"path": "$", "message": "not UTF-8"}]}))
    })?;
    match state.inner.intake.submit_text(text).await {
        Ok(Accepted::Queued {
            job_id,
            submitted_at: at,
        }) => {
            tracing::info!(job_id = %job_id, transport = "api", "job queued");
            let location = format!("/api/v1/jobs/{job_id}");
            let mut response = (
                StatusCode::ACCEPTED,
                Json(SubmitResponse {
                    job_id,
                    status: JobStatus::Queued,
                    submitted_at: at,
                    duplicate: false,
                }),
            )
                .into_response();
            if let Ok(v) = HeaderValue::from_str(&location) {
                response.headers_mut().insert(LOCATION, v);
            }
            Ok(response)
        }
        Ok(Accepted::Duplicate {
            job_id,
            existing,
            status,
        }) => {
            tracing::info!(job_id = %job_id, first = %existing, "repeated submission; nothing stored");
            let at = submitted_at(&state, &existing).await;
            Ok((
                StatusCode::OK,
                Json(SubmitResponse {
                    job_id: existing,
                    status,
                    submitted_at: at,
                    duplicate: true,
                }),
            )
                .into_response())
        }
        Err(rejection) => {
            tracing::info!(
                job_id = rejection.job_id.as_deref().unwrap_or(""),
                code = rejection.error.code.as_str(),
                "job refused"
            );
            Err(ApiError::rejected(
                rejection.job_id.as_deref(),
                &rejection.error,
            ))
        }
    }
}

/// List jobs, newest first.
#[utoipa::path(
    get,
    path = "/api/v1/jobs",
    tag = "jobs",
    operation_id = "list_jobs",
    params(ListQuery),
    responses(
        (status = 200, description = "One page of jobs", body = JobList),
        (status = 400, description = "A bad filter, limit or cursor", body = ApiError),
    ),
    security(("bearer_token" = []))
)]
pub async fn list_jobs(
    State(state): State<ApiState>,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Json<JobList>, ApiError> {
    let Query(q) = query.map_err(|r| from_rejection(StatusCode::BAD_REQUEST, r.body_text()))?;
    let limit = q.limit.unwrap_or(DEFAULT_LIMIT);
    if limit == 0 || limit > MAX_LIST_LIMIT {
        return Err(ApiError::bad_request(format!(
            "limit: {limit} (1 to {MAX_LIST_LIMIT})"
        )));
    }
    let before = q
        .cursor
        .as_deref()
        .map(str::parse::<ListCursor>)
        .transpose()
        .map_err(|e| ApiError::bad_request(format!("cursor: {e}")))?;
    let page = state
        .store()
        .list(&JobFilter {
            status: q.status,
            operation: q.operation.filter(|o| !o.is_empty()),
            limit,
            before,
        })
        .await?;
    Ok(Json(JobList {
        jobs: page.jobs.iter().map(JobSummary::from).collect(),
        next_cursor: page.next.map(|c| c.to_string()),
    }))
}

/// A job: status, latest progress, attempts, timestamps, worker.
#[utoipa::path(
    get,
    path = "/api/v1/jobs/{id}",
    tag = "jobs",
    operation_id = "get_job",
    params(("id" = String, Path, description = "Job id")),
    responses(
        (status = 200, description = "The job", body = JobView),
        (status = 404, description = "No such job", body = ApiError),
    ),
    security(("bearer_token" = []))
)]
pub async fn get_job(
    State(state): State<ApiState>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<JobView>, ApiError> {
    let id = path_id(id)?;
    let job = job_or_404(&state, &id).await?;
    let progress = state.store().progress(&id).await?;
    let history = state.store().history(&id).await?;
    Ok(Json(JobView::new(&job, &progress, &history)))
}

/// A job's result, once it has ended.
#[utoipa::path(
    get,
    path = "/api/v1/jobs/{id}/result",
    tag = "jobs",
    operation_id = "get_result",
    params(("id" = String, Path, description = "Job id")),
    responses(
        (status = 200, description = "The result (the content of `<job_id>-result.json`)", body = JobResultBody),
        (status = 404, description = "No such job (`not_found`), or it has not ended yet (`result_not_ready`)", body = ApiError),
    ),
    security(("bearer_token" = []))
)]
pub async fn get_result(
    State(state): State<ApiState>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<Value>, ApiError> {
    let id = path_id(id)?;
    let job = job_or_404(&state, &id).await?;
    if !job.status.is_terminal() {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "result_not_ready",
            format!("job {id:?} is {}: it has no result yet", job.status),
        )
        .with_details(json!({"job_id": id, "status": job.status})));
    }
    if let Some(text) = state.store().result(&id).await? {
        if let Ok(v) = serde_json::from_str::<Value>(&text) {
            return Ok(Json(v));
        }
    }
    if let Some(r) = state.inner.sink.read(&id) {
        return Ok(Json(serde_json::to_value(r).unwrap_or(Value::Null)));
    }
    // Ended without a result of its own (attempts exhausted in the
    // store): the store's record says how.
    let mut result = JobResult::new(
        id.clone(),
        job.worker_id.clone().unwrap_or_default(),
        job.status,
    );
    result.created_at = Some(job.created_at);
    result.started_at = job.started_at;
    result.completed_at = job.finished_at;
    result.execution_summary.attempt = job.attempt;
    result.execution_summary.max_attempts = Some(job.max_attempts);
    result.execution_summary.operation = Some(job.operation.clone());
    if job.status != JobStatus::Completed {
        let code = job
            .error_code
            .as_deref()
            .and_then(|c| c.parse().ok())
            .unwrap_or(ErrorCode::Internal);
        result.error = Some(JobError::new(
            code,
            job.detail.clone().unwrap_or_else(|| code.as_str().into()),
            JobError::PHASE_EXECUTION,
        ));
    }
    Ok(Json(serde_json::to_value(result).unwrap_or(Value::Null)))
}

fn conflict(job: &JobRecord, message: String) -> ApiError {
    ApiError::new(StatusCode::CONFLICT, "conflict", message)
        .with_details(json!({"job_id": job.job_id, "status": job.status}))
}

/// Cancel a job.
///
/// A queued job is cancelled at once (its result says so); a running one
/// is stopped — by this worker, or through the shared store by the worker
/// of the fleet that runs it — and ends `cancelled` within about a second
/// (the answer waits up to 3 s for that). A job that has ended is a 409.
#[utoipa::path(
    delete,
    path = "/api/v1/jobs/{id}",
    tag = "jobs",
    operation_id = "cancel_job",
    params(("id" = String, Path, description = "Job id")),
    responses(
        (status = 200, description = "The job has ended (normally `cancelled`)", body = CancelResponse),
        (status = 202, description = "Stop signalled; the job has not ended yet", body = CancelResponse),
        (status = 404, description = "No such job", body = ApiError),
        (status = 409, description = "The job has already ended, or is running and not cancellable", body = ApiError),
    ),
    security(("bearer_token" = []))
)]
pub async fn cancel_job(
    State(state): State<ApiState>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let id = path_id(id)?;
    for _ in 0..CANCEL_TRIES {
        let job = job_or_404(&state, &id).await?;
        if job.status.is_terminal() {
            return Err(conflict(
                &job,
                format!("job {id:?} has already ended ({})", job.status),
            ));
        }
        let doc = serde_json::from_str::<JobDocument>(&job.document_json).ok();
        match job.status {
            JobStatus::Running | JobStatus::Assigned => {
                if job.status == JobStatus::Running
                    && doc.as_ref().is_some_and(|d| !d.execution.cancellable)
                {
                    return Err(conflict(
                        &job,
                        format!("job {id:?} is running and its document says cancellable: false"),
                    ));
                }
                if state.inner.executor.stop(&id, StopReason::Cancelled) {
                    tracing::info!(job_id = %id, "cancel: stopping the running job");
                    return Ok(wait_for_end(&state, &id).await?.into_response());
                }
                if job.status == JobStatus::Running {
                    // Running on another worker (or ending right now): leave
                    // the request in the store, where its worker looks.
                    if state.store().request_cancel(&id, job.attempt).await? {
                        tracing::info!(
                            job_id = %id,
                            worker = job.worker_id.as_deref().unwrap_or("?"),
                            "cancel: asked the worker running the job"
                        );
                        return Ok(wait_for_end(&state, &id).await?.into_response());
                    }
                    tokio::time::sleep(CANCEL_POLL).await;
                    continue;
                }
            }
            _ => {}
        }
        // Queued, pending, or assigned but not started here: cancel in the store.
        let mut result = match &doc {
            Some(d) => JobResult::for_job(d, state.inner.intake.worker().id.clone()),
            None => JobResult::new(
                id.clone(),
                state.inner.intake.worker().id.clone(),
                JobStatus::Cancelled,
            ),
        };
        result.execution_summary.attempt = job.attempt;
        result.execution_summary.max_attempts = Some(job.max_attempts);
        let now = Utc::now();
        result.completed_at = Some(now);
        result.fail(JobError::new(
            ErrorCode::Cancelled,
            format!("cancelled on request while {}", job.status),
            JobError::PHASE_EXECUTION,
        ));
        let json = serde_json::to_string(&result).unwrap_or_default();
        let path = state.inner.sink.path_for(&id);
        let path_text = path.display().to_string();
        match state
            .store()
            .finish(
                &id,
                job.attempt,
                JobStatus::Cancelled,
                &json,
                Some(&path_text),
                Some(ErrorCode::Cancelled.as_str()),
            )
            .await
        {
            Ok(()) => {
                // Claimed meanwhile: it stops before it runs.
                state.inner.executor.stop(&id, StopReason::Cancelled);
                let yaml = doc
                    .as_ref()
                    .and_then(|d| d.typed_payload().ok())
                    .and_then(|p| p.output().map(|o| o.format == OutputFormat::Yaml))
                    .unwrap_or(false);
                let written = match state.inner.sink.write(&result, yaml) {
                    Ok(p) => Some(p),
                    Err(e) => {
                        tracing::error!(job_id = %id, error = %e, "writing the cancelled result failed");
                        None
                    }
                };
                state.inner.executor.announce(Finished {
                    job_id: id.clone(),
                    status: JobStatus::Cancelled,
                    result_path: written,
                });
                tracing::info!(job_id = %id, was = %job.status, "job cancelled");
                return Ok((
                    StatusCode::OK,
                    Json(CancelResponse {
                        job_id: id,
                        status: JobStatus::Cancelled,
                        message: format!("cancelled while {}", job.status),
                    }),
                )
                    .into_response());
            }
            Err(
                StoreError::IllegalTransition { .. }
                | StoreError::StaleAttempt { .. }
                | StoreError::FutureAttempt { .. },
            ) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    let job = job_or_404(&state, &id).await?;
    Err(conflict(
        &job,
        format!(
            "job {id:?} kept changing state (now {} on worker {:?}); try again",
            job.status,
            job.worker_id.as_deref().unwrap_or("?")
        ),
    ))
}

/// Waits for a stopped job to end; 200 once it has, 202 if it has not
/// within [`CANCEL_WAIT`].
async fn wait_for_end(
    state: &ApiState,
    id: &str,
) -> Result<(StatusCode, Json<CancelResponse>), ApiError> {
    let started = Instant::now();
    loop {
        let job = job_or_404(state, id).await?;
        if job.status.is_terminal() {
            let message = if job.status == JobStatus::Cancelled {
                "stopped while running".to_string()
            } else {
                format!("the job ended {} before the stop took effect", job.status)
            };
            return Ok((
                StatusCode::OK,
                Json(CancelResponse {
                    job_id: id.to_string(),
                    status: job.status,
                    message,
                }),
            ));
        }
        if started.elapsed() >= CANCEL_WAIT {
            return Ok((
                StatusCode::ACCEPTED,
                Json(CancelResponse {
                    job_id: id.to_string(),
                    status: job.status,
                    message: "stop signalled; the job has not ended yet".into(),
                }),
            ));
        }
        tokio::time::sleep(CANCEL_POLL).await;
    }
}
