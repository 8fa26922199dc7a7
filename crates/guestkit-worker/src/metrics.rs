//! Prometheus metrics of a worker, and the small HTTP server exposing
//! them (`/metrics`, `/health`) on `--metrics-addr`.
//!
//! Counters are registered without their `_total` suffix; the exposition
//! adds it once (`guestkit_worker_jobs_total`).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use tokio::runtime::Handle;
use tokio::sync::watch;

use crate::store::JobStore;

/// Duration buckets: sub-second ones for inspections, then 1 s … 2048 s.
const DURATION_BUCKETS: [f64; 21] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0,
    128.0, 256.0, 512.0, 1024.0, 2048.0,
];

/// Kernel clock ticks per second in `/proc/<pid>/stat` (USER_HZ, fixed at
/// 100 by the Linux ABI).
const USER_HZ: f64 = 100.0;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OperationStatus {
    operation: String,
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OperationLabel {
    operation: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HandlerStatus {
    handler: String,
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HandlerLabel {
    handler: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StatusLabel {
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TypeLabel {
    r#type: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TransportLabel {
    transport: String,
}

fn histogram() -> Histogram {
    Histogram::new(DURATION_BUCKETS)
}

/// Outcome of a checksum step, for `guestkit_checksum_verifications_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChecksumOutcome {
    Success,
    Failure,
    Skipped,
}

/// How long a scrape waits for the store's queue count.
pub const QUEUE_DEPTH_WAIT: Duration = Duration::from_millis(1);

/// Every metric of the worker.
pub struct Metrics {
    registry: Registry,
    jobs: Family<OperationStatus, Counter>,
    job_duration: Family<OperationLabel, Histogram, fn() -> Histogram>,
    active_jobs: Gauge,
    queue_depth: QueueDepth,
    handler_executions: Family<HandlerStatus, Counter>,
    handler_duration: Family<HandlerLabel, Histogram, fn() -> Histogram>,
    checksums: Family<StatusLabel, Counter>,
    disk_read: Counter,
    disk_write: Counter,
    cpu: Counter<f64, AtomicU64>,
    cpu_seen: AtomicU64,
    memory: Family<TypeLabel, Gauge>,
    fetches: Family<TransportLabel, Counter>,
    transport_errors: Family<TransportLabel, Counter>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Every metric, registered.
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let jobs = Family::<OperationStatus, Counter>::default();
        let job_duration =
            Family::<OperationLabel, Histogram, fn() -> Histogram>::new_with_constructor(histogram);
        let active_jobs = Gauge::default();
        let queue_depth = Gauge::default();
        let handler_executions = Family::<HandlerStatus, Counter>::default();
        let handler_duration =
            Family::<HandlerLabel, Histogram, fn() -> Histogram>::new_with_constructor(histogram);
        let checksums = Family::<StatusLabel, Counter>::default();
        let disk_read = Counter::default();
        let disk_write = Counter::default();
        let cpu = Counter::<f64, AtomicU64>::default();
        let memory = Family::<TypeLabel, Gauge>::default();
        let fetches = Family::<TransportLabel, Counter>::default();
        let transport_errors = Family::<TransportLabel, Counter>::default();
        registry.register(
            "guestkit_worker_jobs",
            "Jobs ended, by operation and final status",
            jobs.clone(),
        );
        registry.register(
            "guestkit_worker_jobs_duration_seconds",
            "Wall time of jobs, by operation",
            job_duration.clone(),
        );
        registry.register(
            "guestkit_worker_active_jobs",
            "Jobs running now",
            active_jobs.clone(),
        );
        registry.register(
            "guestkit_worker_queue_depth",
            "Jobs queued in the store",
            queue_depth.clone(),
        );
        registry.register(
            "guestkit_handler_executions",
            "Handler runs, by handler and outcome",
            handler_executions.clone(),
        );
        registry.register(
            "guestkit_handler_duration_seconds",
            "Time spent in handlers",
            handler_duration.clone(),
        );
        registry.register(
            "guestkit_checksum_verifications",
            "Image checksum verifications, by outcome",
            checksums.clone(),
        );
        registry.register(
            "guestkit_worker_disk_read_bytes",
            "Bytes the engine read from images",
            disk_read.clone(),
        );
        registry.register(
            "guestkit_worker_disk_write_bytes",
            "Bytes of results and outputs written",
            disk_write.clone(),
        );
        registry.register(
            "guestkit_worker_cpu_seconds",
            "CPU time of the worker process (user + system)",
            cpu.clone(),
        );
        registry.register(
            "guestkit_worker_memory_bytes",
            "Memory of the worker process, by type (rss, virtual)",
            memory.clone(),
        );
        registry.register(
            "guestkit_transport_fetches",
            "Job documents taken from a transport",
            fetches.clone(),
        );
        registry.register(
            "guestkit_transport_errors",
            "Transport failures (unreadable or rejected documents, claim errors)",
            transport_errors.clone(),
        );
        Metrics {
            registry,
            jobs,
            job_duration,
            active_jobs,
            queue_depth: QueueDepth::new(queue_depth),
            handler_executions,
            handler_duration,
            checksums,
            disk_read,
            disk_write,
            cpu,
            cpu_seen: AtomicU64::new(0),
            memory,
            fetches,
            transport_errors,
        }
    }

    /// A job started running.
    pub fn job_started(&self) {
        self.active_jobs.inc();
    }

    /// A job ended with `status` after `wall`; its handler ran for
    /// `handler` (when it ran) and read `bytes_read` from its image.
    pub fn job_ended(
        &self,
        operation: &str,
        status: &str,
        wall: Duration,
        handler: Option<(Duration, bool)>,
        bytes_read: u64,
    ) {
        self.active_jobs.dec();
        self.jobs
            .get_or_create(&OperationStatus {
                operation: operation.to_string(),
                status: status.to_string(),
            })
            .inc();
        self.job_duration
            .get_or_create(&OperationLabel {
                operation: operation.to_string(),
            })
            .observe(wall.as_secs_f64());
        if let Some((took, ok)) = handler {
            self.handler_executions
                .get_or_create(&HandlerStatus {
                    handler: operation.to_string(),
                    status: if ok { "success" } else { "failure" }.to_string(),
                })
                .inc();
            self.handler_duration
                .get_or_create(&HandlerLabel {
                    handler: operation.to_string(),
                })
                .observe(took.as_secs_f64());
        }
        self.disk_read.inc_by(bytes_read);
    }

    /// A checksum step's outcome.
    pub fn checksum(&self, outcome: ChecksumOutcome) {
        let status = match outcome {
            ChecksumOutcome::Success => "success",
            ChecksumOutcome::Failure => "failure",
            ChecksumOutcome::Skipped => "skipped",
        };
        self.checksums
            .get_or_create(&StatusLabel {
                status: status.into(),
            })
            .inc();
    }

    /// Result or output bytes written.
    pub fn wrote(&self, bytes: u64) {
        self.disk_write.inc_by(bytes);
    }

    /// A document taken from `transport`.
    pub fn fetched(&self, transport: &str) {
        self.fetches
            .get_or_create(&TransportLabel {
                transport: transport.into(),
            })
            .inc();
    }

    /// A failure of `transport`.
    pub fn transport_error(&self, transport: &str) {
        self.transport_errors
            .get_or_create(&TransportLabel {
                transport: transport.into(),
            })
            .inc();
    }

    /// Reads the process's CPU and memory from /proc.
    fn sample_process(&self) {
        if let Ok(stat) = std::fs::read_to_string("/proc/self/stat") {
            // Fields after the parenthesised command name: utime is the
            // 14th field of the line, stime the 15th.
            let after = stat.rsplit_once(')').map(|(_, a)| a).unwrap_or("");
            let f: Vec<&str> = after.split_whitespace().collect();
            let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
            let total = ticks(11).saturating_add(ticks(12));
            let before = self.cpu_seen.swap(total, Ordering::Relaxed);
            if total > before {
                self.cpu
                    .inc_by(total.saturating_sub(before) as f64 / USER_HZ);
            }
        }
        if let Ok(status) = std::fs::read_to_string("/proc/self/status") {
            for (key, label) in [("VmRSS:", "rss"), ("VmSize:", "virtual")] {
                let kib = status
                    .lines()
                    .find_map(|l| l.strip_prefix(key))
                    .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<i64>().ok());
                if let Some(kib) = kib {
                    self.memory
                        .get_or_create(&TypeLabel {
                            r#type: label.into(),
                        })
                        .set(kib.saturating_mul(1024));
                }
            }
        }
    }

    /// The exposition text, with the queue depth and process figures
    /// sampled now (the queue depth as [`QueueDepth::refresh`] allows).
    /// The count runs on `jobs`, the runtime the store belongs to.
    pub async fn render(&self, store: Arc<dyn JobStore>, jobs: &Handle) -> String {
        self.queue_depth.refresh(store, jobs).await;
        self.sample_process();
        let mut out = String::new();
        if let Err(e) = prometheus_client::encoding::text::encode(&mut out, &self.registry) {
            tracing::error!(error = %e, "encoding metrics failed");
        }
        out
    }
}

/// The queue-depth gauge, counted by the store when scraped. A scrape never
/// waits behind the store: it starts a count (unless one is running) and
/// waits for it at most [`QUEUE_DEPTH_WAIT`]; a count that takes longer
/// (a busy store, a long queue) still lands in the gauge for the next
/// scrape.
struct QueueDepth {
    gauge: Gauge,
    counting: Arc<AtomicBool>,
    /// Bumped after every finished count.
    counted: Arc<watch::Sender<u64>>,
}

impl QueueDepth {
    fn new(gauge: Gauge) -> Self {
        QueueDepth {
            gauge,
            counting: Arc::new(AtomicBool::new(false)),
            counted: Arc::new(watch::Sender::new(0)),
        }
    }

    async fn refresh(&self, store: Arc<dyn JobStore>, jobs: &Handle) {
        let mut counted = self.counted.subscribe();
        if !self.counting.swap(true, Ordering::AcqRel) {
            let (gauge, counting, done) = (
                self.gauge.clone(),
                Arc::clone(&self.counting),
                Arc::clone(&self.counted),
            );
            jobs.spawn(async move {
                match store.queue_depth().await {
                    Ok(depth) => {
                        gauge.set(i64::try_from(depth).unwrap_or(i64::MAX));
                    }
                    Err(e) => tracing::warn!(error = %e, "counting the queue for /metrics failed"),
                }
                counting.store(false, Ordering::Release);
                done.send_modify(|n| *n = n.wrapping_add(1));
            });
        }
        let _ = tokio::time::timeout(QUEUE_DEPTH_WAIT, counted.changed()).await;
    }
}

#[derive(Clone)]
struct MetricsState {
    metrics: Arc<Metrics>,
    store: Arc<dyn JobStore>,
    /// The runtime of the jobs and the store.
    jobs: Handle,
}

async fn metrics_page(State(s): State<MetricsState>) -> impl IntoResponse {
    let body = s.metrics.render(Arc::clone(&s.store), &s.jobs).await;
    (
        [(
            CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        body,
    )
}

async fn health() -> impl IntoResponse {
    ([(CONTENT_TYPE, "application/json")], "{\"status\":\"ok\"}")
}

/// Serves `/metrics` and `/health` on `listener` until `stop` turns true,
/// on a thread and runtime of its own: a scrape is answered at once even
/// while running jobs keep every thread of the job runtime busy. The store
/// is asked (for the queue depth) on `jobs`, its own runtime. The answer
/// comes when the endpoint has stopped.
pub fn serve_on_own_thread(
    listener: std::net::TcpListener,
    metrics: Arc<Metrics>,
    store: Arc<dyn JobStore>,
    stop: watch::Receiver<bool>,
    jobs: Handle,
) -> tokio::sync::oneshot::Receiver<std::io::Result<()>> {
    let (done, answer) = tokio::sync::oneshot::channel();
    let run = move || {
        let served = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .and_then(|rt| {
                rt.block_on(async move {
                    let listener = tokio::net::TcpListener::from_std(listener)?;
                    serve(listener, metrics, store, stop, jobs).await
                })
            });
        let _ = done.send(served);
    };
    if let Err(e) = std::thread::Builder::new()
        .name("metrics".into())
        .spawn(run)
    {
        let (failed, answer) = tokio::sync::oneshot::channel();
        let _ = failed.send(Err(e));
        return answer;
    }
    answer
}

async fn serve(
    listener: tokio::net::TcpListener,
    metrics: Arc<Metrics>,
    store: Arc<dyn JobStore>,
    mut stop: watch::Receiver<bool>,
    jobs: Handle,
) -> std::io::Result<()> {
    let app = Router::new()
        .route("/metrics", get(metrics_page))
        .route("/health", get(health))
        .with_state(MetricsState {
            metrics,
            store,
            jobs,
        });
    tracing::info!(addr = %listener.local_addr()?, "metrics endpoint listening");
    axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            let _ = stop.wait_for(|s| *s).await;
        })
        .await
}
