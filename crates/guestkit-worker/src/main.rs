//! `guestkit-worker`: runs guestkit jobs dropped into a directory.
//!
//! ```text
//! guestkit-worker --jobs-dir jobs --results-dir results --image-root /srv/images
//! guestkit-worker --api-enabled --api-tokens /etc/guestkit/tokens …
//! ```
//!
//! SIGTERM or SIGINT: the worker stops taking jobs, lets running ones
//! finish within `--grace-seconds`, cancels the rest (recorded as
//! Cancelled), and exits 0.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result};
use clap::Parser;
use guestkit_worker::api::{Api, ApiParts};
use guestkit_worker::config::{Args, StoreLocation, WorkerConfig};
use guestkit_worker::executor::{Executor, ExecutorConfig};
use guestkit_worker::handlers::Registry;
use guestkit_worker::intake::{Intake, WorkerIdentity};
use guestkit_worker::metrics::Metrics;
use guestkit_worker::policy::Policy;
use guestkit_worker::results::ResultSink;
use guestkit_worker::store::{ClaimFilter, JobStore, PgStoreOptions, SqliteStore};
use guestkit_worker::telemetry::Telemetry;
use guestkit_worker::transport::file::FileTransport;
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::{watch, Notify};

async fn run(config: WorkerConfig) -> Result<()> {
    for dir in [&config.jobs_dir, &config.results_dir, &config.state_dir] {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    if let Some(parent) = match &config.store {
        StoreLocation::Sqlite(path) => path.parent().filter(|p| !p.as_os_str().is_empty()),
        StoreLocation::Postgres(_) => None,
    } {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating {}", parent.display()))?;
    }
    // Bind first: a taken port is a startup error, not a silent gap.
    let metrics_listener = if config.metrics_enabled {
        Some(
            tokio::net::TcpListener::bind(config.metrics_addr)
                .await
                .with_context(|| format!("metrics endpoint {}", config.metrics_addr))?,
        )
    } else {
        None
    };
    let metrics = Arc::new(Metrics::new());
    let store: Arc<dyn JobStore> = match &config.store {
        StoreLocation::Sqlite(path) => Arc::new(
            SqliteStore::open(path)
                .with_context(|| format!("opening the job store {}", path.display()))?,
        ),
        StoreLocation::Postgres(url) => Arc::new(
            PgStoreOptions::new(url.as_str())
                .connect()
                .await
                .with_context(|| format!("opening the job store {}", config.store))?,
        ),
    };
    let recovered = store
        .recover_after_crash(Some(&config.worker_id))
        .await
        .context("recovering jobs of an earlier run")?;
    for (job, attempt) in &recovered.requeued {
        tracing::warn!(job_id = %job, attempt, "job was running when the worker stopped; queued again");
    }
    for job in &recovered.failed {
        tracing::warn!(job_id = %job, "job was running when the worker stopped and has no attempt left");
    }
    let registry = Arc::new(Registry::standard());
    let policy = Arc::new(
        Policy::new(
            &config.image_roots,
            &config.output_roots,
            &config.results_dir,
        )
        .map_err(anyhow::Error::msg)?,
    );
    let sink = Arc::new(ResultSink::new(config.results_dir.clone()).with_metrics(metrics.clone()));
    let mut capabilities = registry.capabilities();
    capabilities.extend(config.extra_capabilities.iter().cloned());
    let identity = WorkerIdentity {
        id: config.worker_id.clone(),
        pool: config.pool.clone(),
        capabilities,
        version: env!("CARGO_PKG_VERSION"),
    };
    let wake = Arc::new(Notify::new());
    let executor = Arc::new(Executor::new(
        store.clone(),
        registry.clone(),
        policy.clone(),
        sink.clone(),
        ExecutorConfig {
            worker_id: config.worker_id.clone(),
            filter: ClaimFilter {
                lease: config.lease,
                ..identity.claim_filter()
            },
            max_concurrent: config.max_concurrent,
            retry_backoff: config.retry_backoff,
            image_roots: policy.image_roots().to_vec(),
            worker_retention: config.worker_retention,
        },
        wake.clone(),
        metrics.clone(),
    ));
    let capabilities_text = identity
        .capabilities
        .iter()
        .cloned()
        .collect::<Vec<_>>()
        .join(",");
    let intake = Arc::new(Intake::new(
        store.clone(),
        registry.clone(),
        policy,
        identity,
        wake,
    ));
    let (claiming_tx, claiming_rx) = watch::channel(true);
    let (stop_tx, stop_rx) = watch::channel(false);
    let api = match &config.api {
        Some(settings) => Some(
            Api::bind(
                settings,
                ApiParts {
                    store: store.clone(),
                    intake: intake.clone(),
                    executor: executor.clone(),
                    sink: sink.clone(),
                    registry,
                    claiming: claiming_rx.clone(),
                    stop: stop_rx.clone(),
                    body_limit: settings.body_limit,
                },
            )
            .await?,
        ),
        None => None,
    };
    let transport = Arc::new(
        FileTransport::new(
            config.jobs_dir.clone(),
            intake,
            store.clone(),
            sink,
            config.rescan,
            metrics.clone(),
        )
        .with_context(|| format!("jobs directory {}", config.jobs_dir.display()))?,
    );
    tracing::info!(
        worker_id = %config.worker_id,
        jobs_dir = %config.jobs_dir.display(),
        results_dir = %config.results_dir.display(),
        store = %config.store,
        max_concurrent = config.max_concurrent,
        capabilities = %capabilities_text,
        "worker started"
    );
    let api_task = api.map(|api| tokio::spawn(api.serve(stop_rx.clone())));
    let metrics_task = match metrics_listener {
        Some(listener) => Some(guestkit_worker::metrics::serve_on_own_thread(
            listener.into_std().context("metrics endpoint")?,
            metrics.clone(),
            store.clone(),
            stop_rx.clone(),
            tokio::runtime::Handle::current(),
        )),
        None => None,
    };
    let transport_task =
        tokio::spawn(transport.run(executor.subscribe(), claiming_rx.clone(), stop_rx));
    let executor_task = tokio::spawn(executor.clone().run(claiming_rx, config.grace));

    let mut term = signal(SignalKind::terminate()).context("SIGTERM handler")?;
    let mut int = signal(SignalKind::interrupt()).context("SIGINT handler")?;
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM: stopping"),
        _ = int.recv() => tracing::info!("SIGINT: stopping"),
    }
    let _ = claiming_tx.send(false);
    executor_task.await.context("executor task")?;
    let _ = stop_tx.send(true);
    transport_task.await.context("transport task")?;
    if let Some(task) = api_task {
        task.await.context("API task")?.context("API endpoint")?;
    }
    if let Some(task) = metrics_task {
        task.await
            .context("metrics task")?
            .context("metrics endpoint")?;
    }
    tracing::info!("worker stopped");
    Ok(())
}

fn main() -> ExitCode {
    let args = Args::parse();
    let config = match WorkerConfig::resolve(args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("guestkit-worker: {e}");
            return ExitCode::from(2);
        }
    };
    // Before the runtime: the OTLP exporter runs its own thread and client.
    let telemetry =
        match Telemetry::init(config.log_format, config.otlp.as_ref(), &config.worker_id) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("guestkit-worker: {e}");
                return ExitCode::from(2);
            }
        };
    let outcome = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
        .and_then(|runtime| runtime.block_on(run(config)));
    let code = match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            eprintln!("guestkit-worker: {e:#}");
            ExitCode::from(2)
        }
    };
    telemetry.shutdown();
    code
}
