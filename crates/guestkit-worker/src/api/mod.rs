//! The worker's REST API (axum), on `--api-addr` when `--api-enabled`.
//!
//! ```text
//! POST   /api/v1/jobs                 submit a job document (202, 200 for a repeated key)
//! GET    /api/v1/jobs                 list: status, operation, limit, cursor; newest first
//! GET    /api/v1/jobs/{id}            status, latest progress, attempts, timestamps, worker
//! GET    /api/v1/jobs/{id}/result     the result once the job has ended (404 before)
//! DELETE /api/v1/jobs/{id}            cancel (queued: at once; running: stopped)
//! GET    /api/v1/jobs/{id}/events     progress and status as Server-Sent Events
//! GET    /api/v1/capabilities         operations, capabilities, features, version
//! GET    /api/v1/workers              registered workers and their heartbeats
//! GET    /api/v1/health, /health      liveness (no token)
//! GET    /ready                       readiness: the store answers (no token)
//! GET    /api/v1/openapi.json         the OpenAPI 3.1 document (no token)
//! ```
//!
//! Every error is `{error, message, details}` ([`ApiError`]). GET needs a
//! `read` or `submit` bearer token, POST and DELETE a `submit` token
//! ([`auth`]); each token has its own rate limit. TLS (rustls) when a
//! certificate and key are given.

pub mod auth;
pub mod error;
mod events;
mod jobs;
pub mod model;
pub mod openapi;
mod system;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::DefaultBodyLimit;
use axum::Router;
use tokio::sync::watch;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::config::ApiSettings;
use crate::executor::Executor;
use crate::handlers::Registry;
use crate::intake::Intake;
use crate::results::ResultSink;
use crate::store::JobStore;

pub use auth::{RateLimiter, Role, Tokens};
pub use error::ApiError;

/// How long open connections (event streams) get to end at shutdown.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// What the handlers share.
#[derive(Clone)]
pub struct ApiState {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn JobStore>,
    intake: Arc<Intake>,
    executor: Arc<Executor>,
    sink: Arc<ResultSink>,
    registry: Arc<Registry>,
    tokens: Tokens,
    limiter: RateLimiter,
    /// True while the worker takes jobs; false once it shuts down.
    claiming: watch::Receiver<bool>,
    /// Turns true when the API must stop (event streams end).
    stop: watch::Receiver<bool>,
    started: Instant,
    /// Largest request body, in bytes.
    body_limit: usize,
    /// The OpenAPI document, built once.
    openapi: serde_json::Value,
}

/// The parts of the worker the API works on.
pub struct ApiParts {
    pub store: Arc<dyn JobStore>,
    pub intake: Arc<Intake>,
    pub executor: Arc<Executor>,
    pub sink: Arc<ResultSink>,
    pub registry: Arc<Registry>,
    /// True while the worker takes jobs.
    pub claiming: watch::Receiver<bool>,
    /// Turns true when the API must stop.
    pub stop: watch::Receiver<bool>,
    /// Largest request body, in bytes.
    pub body_limit: usize,
}

impl ApiState {
    /// The state of an API with `tokens` (none: anyone may do anything)
    /// and `limiter`.
    pub fn new(parts: ApiParts, tokens: Tokens, limiter: RateLimiter) -> Self {
        ApiState {
            inner: Arc::new(Inner {
                store: parts.store,
                intake: parts.intake,
                executor: parts.executor,
                sink: parts.sink,
                registry: parts.registry,
                tokens,
                limiter,
                claiming: parts.claiming,
                stop: parts.stop,
                started: Instant::now(),
                body_limit: parts.body_limit,
                openapi: openapi::document(),
            }),
        }
    }

    fn store(&self) -> &dyn JobStore {
        &*self.inner.store
    }

    fn tokens(&self) -> &Tokens {
        &self.inner.tokens
    }

    fn limiter(&self) -> &RateLimiter {
        &self.inner.limiter
    }

    /// True once the worker stopped taking jobs.
    fn draining(&self) -> bool {
        !*self.inner.claiming.borrow()
    }
}

/// The routes with their OpenAPI descriptions; `protect` wraps the ones
/// that need a token.
pub(crate) fn routes(state: Option<ApiState>) -> OpenApiRouter<ApiState> {
    let protected = OpenApiRouter::new()
        .routes(routes!(jobs::submit_job, jobs::list_jobs))
        .routes(routes!(jobs::get_job, jobs::cancel_job))
        .routes(routes!(jobs::get_result))
        .routes(routes!(events::job_events))
        .routes(routes!(system::capabilities))
        .routes(routes!(system::workers));
    let protected = match state {
        Some(s) => protected.route_layer(axum::middleware::from_fn_with_state(s, auth::authorize)),
        None => protected,
    };
    OpenApiRouter::new()
        .routes(routes!(system::health))
        .routes(routes!(system::api_health))
        .routes(routes!(system::ready))
        .routes(routes!(system::openapi_json))
        .merge(protected)
}

/// The API's router, ready to serve.
pub fn router(state: ApiState) -> Router {
    let body_limit = state.inner.body_limit;
    let (router, _) = routes(Some(state.clone())).split_for_parts();
    router
        .fallback(error::no_route)
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(axum::middleware::from_fn(error::json_errors))
        .with_state(state)
}

/// A bound API listener and what it serves.
pub struct Api {
    listener: std::net::TcpListener,
    tls: Option<(PathBuf, PathBuf)>,
    app: Router,
}

impl Api {
    /// Binds `settings.addr` and loads the tokens and TLS files: every
    /// mistake is a startup error, not a gap found later.
    pub async fn bind(settings: &ApiSettings, parts: ApiParts) -> anyhow::Result<Api> {
        use anyhow::Context;
        let tokens = Tokens::load(
            settings.tokens_file.as_deref(),
            settings.token_list.as_deref(),
        )
        .map_err(anyhow::Error::msg)?;
        if tokens.is_empty() && !settings.insecure_no_auth {
            anyhow::bail!(
                "the API has no token (the tokens file and GUESTKIT_API_TOKENS name none); \
                 give one, or --api-insecure-no-auth"
            );
        }
        if tokens.is_empty() {
            tracing::warn!("API without authentication (--api-insecure-no-auth): anyone who reaches it may submit and cancel jobs");
        }
        if let Some((cert, key)) = &settings.tls {
            // Checked now: a bad file stops the start.
            tls_config(cert, key).await?;
        }
        let listener = std::net::TcpListener::bind(settings.addr)
            .with_context(|| format!("API endpoint {}", settings.addr))?;
        listener.set_nonblocking(true)?;
        let limiter = RateLimiter::new(settings.rate_limit, settings.rate_burst);
        let tokens_n = tokens.len();
        let state = ApiState::new(parts, tokens, limiter);
        tracing::info!(
            addr = %listener.local_addr()?,
            tls = settings.tls.is_some(),
            tokens = tokens_n,
            "API listening"
        );
        Ok(Api {
            listener,
            tls: settings.tls.clone(),
            app: router(state),
        })
    }

    /// The bound address.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until `stop` turns true, then lets open requests end (at
    /// most [`SHUTDOWN_GRACE`]).
    pub async fn serve(self, mut stop: watch::Receiver<bool>) -> anyhow::Result<()> {
        let handle = axum_server::Handle::new();
        let h = handle.clone();
        tokio::spawn(async move {
            let _ = stop.wait_for(|s| *s).await;
            h.graceful_shutdown(Some(SHUTDOWN_GRACE));
        });
        let server = axum_server::from_tcp(self.listener)?.handle(handle);
        let service = self.app.into_make_service_with_connect_info::<SocketAddr>();
        match self.tls {
            Some((cert, key)) => {
                let config = tls_config(&cert, &key).await?;
                server
                    .acceptor(axum_server::tls_rustls::RustlsAcceptor::new(config))
                    .serve(service)
                    .await?
            }
            None => server.serve(service).await?,
        }
        Ok(())
    }
}

/// The member at `path` inside `value`, made (as objects) where missing;
/// `None` when a value on the way is not an object.
pub(crate) fn json_slot<'a>(
    value: &'a mut serde_json::Value,
    path: &[&str],
) -> Option<&'a mut serde_json::Value> {
    let mut at = value;
    for key in path {
        if at.is_null() {
            *at = serde_json::Value::Object(serde_json::Map::new());
        }
        at = at
            .as_object_mut()?
            .entry(key.to_string())
            .or_insert(serde_json::Value::Null);
    }
    Some(at)
}

/// Sets the member at `path` (see [`json_slot`]).
pub(crate) fn json_set(value: &mut serde_json::Value, path: &[&str], new: serde_json::Value) {
    if let Some(slot) = json_slot(value, path) {
        *slot = new;
    }
}

/// The rustls configuration of a PEM certificate chain and key.
async fn tls_config(
    cert: &std::path::Path,
    key: &std::path::Path,
) -> anyhow::Result<axum_server::tls_rustls::RustlsConfig> {
    // One provider for the process (ring); a second install is harmless.
    let _ = rustls::crypto::ring::default_provider().install_default();
    axum_server::tls_rustls::RustlsConfig::from_pem_file(cert, key)
        .await
        .map_err(|e| {
            anyhow::anyhow!(
                "API TLS certificate {} / key {}: {e}",
                cert.display(),
                key.display()
            )
        })
}
