//! Capabilities, liveness, readiness and the OpenAPI document.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use guestkit_job_spec::PROTOCOL_VERSION;

use super::error::ApiError;
use super::model::{Capabilities, Health, Ready, WorkerList, WorkerView};
use super::ApiState;
use crate::handlers::FEATURES;

/// What this worker runs: operations, capabilities, features, version.
#[utoipa::path(
    get,
    path = "/api/v1/capabilities",
    tag = "worker",
    operation_id = "capabilities",
    responses((status = 200, description = "What this worker runs", body = Capabilities)),
    security(("bearer_token" = []))
)]
pub async fn capabilities(State(state): State<ApiState>) -> Json<Capabilities> {
    let worker = state.inner.intake.worker();
    Json(Capabilities {
        worker_id: worker.id.clone(),
        version: worker.version.to_string(),
        protocol_version: PROTOCOL_VERSION.to_string(),
        pool: worker.pool.clone(),
        operations: state
            .inner
            .registry
            .operations()
            .into_iter()
            .map(str::to_string)
            .collect(),
        capabilities: worker.capabilities.iter().cloned().collect(),
        features: FEATURES.iter().map(|f| f.to_string()).collect(),
    })
}

/// Workers registered in the job store: id, pool, capabilities, active
/// jobs, last heartbeat.
#[utoipa::path(
    get,
    path = "/api/v1/workers",
    tag = "worker",
    operation_id = "list_workers",
    responses(
        (status = 200, description = "Registered workers", body = WorkerList),
        (status = 401, description = "Missing or unknown token", body = ApiError),
        (status = 503, description = "The store cannot be read", body = ApiError)
    ),
    security(("bearer_token" = []))
)]
pub async fn workers(State(state): State<ApiState>) -> Result<Json<WorkerList>, ApiError> {
    let now = chrono::Utc::now();
    let workers = state
        .inner
        .store
        .list_workers()
        .await?
        .into_iter()
        .map(|w| WorkerView {
            seconds_since_heartbeat: now.signed_duration_since(w.last_heartbeat).num_seconds(),
            alive: w.is_alive(now),
            lease_seconds: w.lease.as_secs_f64(),
            id: w.id,
            pool: w.pool,
            capabilities: w.capabilities.into_iter().collect(),
            version: w.version,
            started_at: w.started_at,
            active_jobs: w.active_jobs,
            last_heartbeat: w.last_heartbeat,
        })
        .collect();
    Ok(Json(WorkerList { workers }))
}

fn health_of(state: &ApiState) -> Health {
    let worker = state.inner.intake.worker();
    Health {
        status: "ok".into(),
        worker_id: worker.id.clone(),
        version: worker.version.to_string(),
        uptime_seconds: state.inner.started.elapsed().as_secs(),
        draining: state.draining(),
    }
}

/// Liveness: the process answers.
#[utoipa::path(
    get,
    path = "/health",
    tag = "worker",
    operation_id = "health",
    responses((status = 200, description = "The worker is alive", body = Health))
)]
pub async fn health(State(state): State<ApiState>) -> Json<Health> {
    Json(health_of(&state))
}

/// Liveness, under the API's prefix.
#[utoipa::path(
    get,
    path = "/api/v1/health",
    tag = "worker",
    operation_id = "api_health",
    responses((status = 200, description = "The worker is alive", body = Health))
)]
pub async fn api_health(State(state): State<ApiState>) -> Json<Health> {
    Json(health_of(&state))
}

/// Readiness: the job store answers and the worker takes jobs.
#[utoipa::path(
    get,
    path = "/ready",
    tag = "worker",
    operation_id = "ready",
    responses(
        (status = 200, description = "Ready for jobs", body = Ready),
        (status = 503, description = "The store does not answer, or the worker is shutting down", body = ApiError),
    )
)]
pub async fn ready(State(state): State<ApiState>) -> Result<Json<Ready>, ApiError> {
    if state.draining() {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "the worker is shutting down",
        ));
    }
    match state.store().queue_depth().await {
        Ok(depth) => Ok(Json(Ready {
            status: "ready".into(),
            queue_depth: depth,
        })),
        Err(e) => {
            tracing::warn!(error = %e, "readiness: the job store does not answer");
            Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                format!("job store: {e}"),
            ))
        }
    }
}

/// This API's OpenAPI 3.1 document.
#[utoipa::path(
    get,
    path = "/api/v1/openapi.json",
    tag = "worker",
    operation_id = "openapi",
    responses((status = 200, description = "The OpenAPI document", body = Object))
)]
pub async fn openapi_json(State(state): State<ApiState>) -> Json<serde_json::Value> {
    Json(state.inner.openapi.clone())
}
