//! Runs queued jobs: claims them from the store up to `max_concurrent` at
//! once (priority, then age), moves each through Running to a terminal
//! state, enforces `timeout_seconds` and `deadline` by raising the job's
//! cancellation flag (the engine stops between steps and the slot is
//! freed), retries recoverable failures with exponential backoff, verifies
//! image checksums, writes results and announces finished jobs.
//!
//! Leases: every claim is leased for `filter.lease`. While the executor
//! runs, a keeper renews the leases of the jobs it holds every lease/3,
//! records the worker's own heartbeat in the registry, and sweeps the
//! store for expired leases of any worker (`reclaim_expired`). A job the
//! store says is no longer ours (reclaimed after a missed renewal) is
//! stopped, and its result is neither written nor recorded: another worker
//! runs it now. Runs and leases are kept per job *and attempt*: when the
//! store hands a job back to this same worker as a later attempt, the
//! earlier attempt, still running here unaware, is stopped, and its end
//! touches nothing of the new one. A watcher asks the store every 250 ms
//! for cancel requests that an API server of the fleet left for the jobs
//! held here, and stops them (`executor/leases.rs`).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::Utc;
use guestkit_inspect::Cancellation;
use guestkit_job_spec::{
    Checksum, ErrorCode, JobDocument, JobError, JobResult, JobStatus, OutputFormat, OutputKind,
    ResultOutput,
};
use serde_json::Value;
use tokio::sync::{broadcast, mpsc, watch, Notify, Semaphore};
use tokio::task::JoinSet;
use tracing::Instrument;

use crate::checksum::{verify_file, BlockingStoreCache, ChecksumError};
use crate::handlers::{Failure, JobContext, Registry, PHASE_EXECUTE};
use crate::metrics::{ChecksumOutcome, Metrics};
use crate::policy::Policy;
use crate::results::ResultSink;
use crate::store::{ClaimFilter, ClaimedJob, JobStore, RetryOutcome, WorkerInfo};
use crate::telemetry::JobTrace;

mod leases;

/// How long the claim loop sleeps when the queue is empty and nobody
/// wakes it (jobs waiting for their retry time are seen at this pace).
const IDLE_POLL: Duration = Duration::from_millis(250);
/// How long a stopped job's handler gets to notice its flag before its
/// slot is given back regardless.
const STOP_WAIT: Duration = Duration::from_secs(1);
/// Longest retry delay.
const MAX_BACKOFF: Duration = Duration::from_secs(300);

/// A job that reached a terminal state (or was put back for a retry).
#[derive(Debug, Clone)]
pub struct Finished {
    pub job_id: String,
    pub status: JobStatus,
    pub result_path: Option<PathBuf>,
}

/// Why a running job was stopped from outside.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    /// The worker is shutting down and the grace period ended.
    Shutdown,
    /// Someone cancelled the job.
    Cancelled,
    /// The job's lease was lost: the store gave it to another worker.
    LeaseLost,
}

/// The handles that stop a running job.
#[derive(Clone)]
struct Running {
    cancel: Cancellation,
    stop: Arc<Notify>,
    reason: Arc<Mutex<Option<StopReason>>>,
}

/// Settings of an executor.
#[derive(Debug, Clone)]
pub struct ExecutorConfig {
    pub worker_id: String,
    pub filter: ClaimFilter,
    pub max_concurrent: usize,
    /// First retry delay, doubled per attempt.
    pub retry_backoff: Duration,
    pub image_roots: Vec<PathBuf>,
    /// Workers silent for this long are removed from the registry by this
    /// worker's sweep; `None` leaves them listed.
    pub worker_retention: Option<Duration>,
}

/// The job runner of one worker.
pub struct Executor {
    store: Arc<dyn JobStore>,
    registry: Arc<Registry>,
    policy: Arc<Policy>,
    sink: Arc<ResultSink>,
    config: ExecutorConfig,
    wake: Arc<Notify>,
    events: broadcast::Sender<Finished>,
    /// Attempts running now, by job id and attempt.
    running: Mutex<HashMap<AttemptKey, Running>>,
    /// Attempts claimed and not yet ended here, and whether the store said
    /// their lease is lost.
    leases: Mutex<HashMap<AttemptKey, Lease>>,
    metrics: Arc<Metrics>,
}

/// One attempt at a job: its id and attempt number.
type AttemptKey = (String, u32);

/// A lease this executor holds.
#[derive(Debug, Clone, Copy)]
struct Lease {
    lost: bool,
}

/// What a run tells the metrics.
struct RunReport {
    status: &'static str,
    handler: Option<(Duration, bool)>,
    io: Arc<guestkit_disk::IoStats>,
}

/// How a run ended before its result is written.
enum Ending {
    /// The handler's outcome (or a check's before it), warnings, and the
    /// handler's run time when it ran.
    Done(Result<Value, Failure>, Vec<String>, Option<Duration>),
    Stopped(JobError),
}

fn stopped(code: ErrorCode, message: String) -> Ending {
    Ending::Stopped(JobError::new(code, message, PHASE_EXECUTE))
}

impl Executor {
    /// An executor over `store`; `wake` is notified by intake when a job
    /// is queued.
    pub fn new(
        store: Arc<dyn JobStore>,
        registry: Arc<Registry>,
        policy: Arc<Policy>,
        sink: Arc<ResultSink>,
        config: ExecutorConfig,
        wake: Arc<Notify>,
        metrics: Arc<Metrics>,
    ) -> Self {
        let (events, _) = broadcast::channel(4096);
        Executor {
            store,
            registry,
            policy,
            sink,
            config,
            wake,
            events,
            running: Mutex::new(HashMap::new()),
            leases: Mutex::new(HashMap::new()),
            metrics,
        }
    }

    /// Finished-job announcements.
    pub fn subscribe(&self) -> broadcast::Receiver<Finished> {
        self.events.subscribe()
    }

    /// Announces a job that ended outside the executor (a queued job
    /// cancelled through the API) to the finished-job subscribers.
    pub fn announce(&self, finished: Finished) {
        let _ = self.events.send(finished);
    }

    /// Jobs running now.
    pub fn active(&self) -> usize {
        self.running.lock().map(|r| r.len()).unwrap_or(0)
    }

    /// Stops a running job, whatever its attempt (it ends Cancelled);
    /// false when it is not running here.
    pub fn stop(&self, job_id: &str, reason: StopReason) -> bool {
        self.signal(|(id, _)| id == job_id, reason)
    }

    /// Stops one attempt of a job; false when it is not running here.
    fn stop_attempt(&self, job_id: &str, attempt: u32, reason: StopReason) -> bool {
        self.signal(|(id, a)| id == job_id && *a == attempt, reason)
    }

    fn stop_all(&self, reason: StopReason) {
        self.signal(|_| true, reason);
    }

    /// Raises the stop of every running attempt `which` picks; whether
    /// there was one.
    fn signal(&self, which: impl Fn(&AttemptKey) -> bool, reason: StopReason) -> bool {
        let Ok(running) = self.running.lock() else {
            return false;
        };
        let mut any = false;
        for r in running.iter().filter(|(key, _)| which(key)).map(|(_, r)| r) {
            if let Ok(mut why) = r.reason.lock() {
                why.get_or_insert(reason);
            }
            r.cancel.cancel();
            r.stop.notify_one();
            any = true;
        }
        any
    }

    /// Claims and runs jobs until `claiming` turns false; then waits up to
    /// `grace` for running jobs, cancels those still running, and returns
    /// once every job has recorded its end. Registers the worker while it
    /// runs and keeps its leases (see the module notes).
    pub async fn run(self: Arc<Self>, mut claiming: watch::Receiver<bool>, grace: Duration) {
        let slots = Arc::new(Semaphore::new(self.config.max_concurrent));
        let mut tasks = JoinSet::new();
        self.register().await;
        let keeper = tokio::spawn(self.clone().keep_leases().in_current_span());
        let canceller = tokio::spawn(self.clone().watch_cancels().in_current_span());
        loop {
            while tasks.try_join_next().is_some() {}
            if !*claiming.borrow() {
                break;
            }
            let permit = tokio::select! {
                p = slots.clone().acquire_owned() => match p {
                    Ok(p) => p,
                    Err(_) => break,
                },
                _ = claiming.changed() => continue,
            };
            // A slot and the stop can come at once: stopping wins.
            if !*claiming.borrow() {
                break;
            }
            match self
                .store
                .claim_next(&self.config.worker_id, &self.config.filter)
                .await
            {
                Ok(Some(job)) => {
                    self.hold(&job);
                    let me = self.clone();
                    // The job's own trace id (observability.trace_id) is on
                    // its span, so every line of the job carries it, and an
                    // exported span joins that trace.
                    // Read once here; a document that cannot be read fails
                    // the job inside `run_job`.
                    let doc = serde_json::from_str::<JobDocument>(&job.document_json);
                    let trace = doc.as_ref().map(JobTrace::of).unwrap_or_default();
                    let span = tracing::info_span!(
                        "job",
                        job_id = %job.job_id,
                        operation = %job.operation,
                        attempt = job.attempt,
                        trace_id = tracing::field::Empty,
                    );
                    if let Some(id) = &trace.trace_id {
                        span.record("trace_id", id.as_str());
                    }
                    trace.join(&span, &job.job_id);
                    tasks.spawn(
                        async move {
                            let operation = job.operation.clone();
                            let clock = Instant::now();
                            me.metrics.job_started();
                            let (job_id, attempt) = (job.job_id.clone(), job.attempt);
                            let run = me.clone().run_job(job, doc).await;
                            me.release(&job_id, attempt);
                            me.metrics.job_ended(
                                &operation,
                                run.status,
                                clock.elapsed(),
                                run.handler,
                                run.io.bytes_read(),
                            );
                            drop(permit);
                        }
                        .instrument(span),
                    );
                }
                Ok(None) => {
                    drop(permit);
                    tokio::select! {
                        _ = self.wake.notified() => {}
                        _ = tokio::time::sleep(IDLE_POLL) => {}
                        _ = claiming.changed() => {}
                    }
                }
                Err(e) => {
                    drop(permit);
                    tracing::error!(error = %e, "claiming a job failed");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
        let running = tasks.len();
        if running > 0 {
            tracing::info!(
                running,
                grace_s = grace.as_secs_f64(),
                "stopped claiming; waiting for running jobs"
            );
        }
        let drained =
            tokio::time::timeout(grace, async { while tasks.join_next().await.is_some() {} }).await;
        if drained.is_err() {
            tracing::warn!(
                running = tasks.len(),
                "grace period over; cancelling running jobs"
            );
            self.stop_all(StopReason::Shutdown);
            while tasks.join_next().await.is_some() {}
        }
        keeper.abort();
        canceller.abort();
        let _ = keeper.await;
        let _ = canceller.await;
        if let Err(e) = self.store.deregister_worker(&self.config.worker_id).await {
            tracing::warn!(error = %e, "cannot remove the worker from the registry");
        }
    }

    /// This worker as the registry lists it.
    fn info(&self) -> WorkerInfo {
        WorkerInfo {
            id: self.config.worker_id.clone(),
            pool: self.config.filter.pool.clone(),
            capabilities: self.config.filter.capabilities.clone(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            started_at: Utc::now(),
            lease: self.config.filter.lease,
        }
    }

    async fn register(&self) {
        if let Err(e) = self.store.register_worker(&self.info()).await {
            tracing::warn!(error = %e, "cannot register the worker");
        }
    }

    /// Records the lease of a claimed attempt. An earlier attempt of the
    /// same job still held here lost its lease (the store moved the job on
    /// and handed it back to us): it is stopped.
    fn hold(&self, job: &ClaimedJob) {
        let earlier: Vec<u32> = match self.leases.lock() {
            Ok(mut leases) => {
                let earlier = leases
                    .iter_mut()
                    .filter(|((id, attempt), lease)| {
                        *id == job.job_id && *attempt != job.attempt && !lease.lost
                    })
                    .map(|((_, attempt), lease)| {
                        lease.lost = true;
                        *attempt
                    })
                    .collect();
                leases.insert((job.job_id.clone(), job.attempt), Lease { lost: false });
                earlier
            }
            Err(_) => Vec::new(),
        };
        for attempt in earlier {
            tracing::warn!(
                job_id = %job.job_id,
                attempt,
                now = job.attempt,
                "the job came back as a later attempt: stopping the earlier one"
            );
            self.stop_attempt(&job.job_id, attempt, StopReason::LeaseLost);
        }
    }

    fn release(&self, job_id: &str, attempt: u32) {
        if let Ok(mut leases) = self.leases.lock() {
            leases.remove(&(job_id.to_owned(), attempt));
        }
    }

    fn backoff(&self, attempt: u32) -> Duration {
        let factor = 1u32 << attempt.saturating_sub(1).min(16);
        self.config
            .retry_backoff
            .saturating_mul(factor)
            .min(MAX_BACKOFF)
    }

    /// Runs one claimed job, whose stored document read as `doc`, to its end.
    async fn run_job(
        self: Arc<Self>,
        job: ClaimedJob,
        doc: Result<JobDocument, serde_json::Error>,
    ) -> RunReport {
        let started_at = Utc::now();
        let clock = Instant::now();
        let mut report = RunReport {
            status: "lost",
            handler: None,
            io: Arc::new(guestkit_disk::IoStats::default()),
        };
        let doc = match doc {
            Ok(d) => d,
            Err(e) => {
                let error = JobError::new(
                    ErrorCode::Internal,
                    format!("stored document unreadable: {e}"),
                    PHASE_EXECUTE,
                );
                let mut result = JobResult::new(
                    job.job_id.clone(),
                    self.config.worker_id.clone(),
                    JobStatus::Failed,
                );
                result.fail(error);
                report.status = self.finish(&job, result, started_at, clock, None).await;
                return report;
            }
        };
        tracing::info!("job started");
        // Stoppable before it is Running: a cancel that reads the job as
        // assigned reaches it here (the stop is remembered) or finds the
        // store already moved, so the job never runs on unnoticed.
        let control = Running {
            cancel: Cancellation::new(),
            stop: Arc::new(Notify::new()),
            reason: Arc::new(Mutex::new(None)),
        };
        let key: AttemptKey = (job.job_id.clone(), job.attempt);
        if let Ok(mut r) = self.running.lock() {
            r.insert(key.clone(), control.clone());
        }
        if let Err(e) = self
            .store
            .transition(
                &job.job_id,
                job.attempt,
                JobStatus::Running,
                Some(&self.config.worker_id),
            )
            .await
        {
            if let Ok(mut r) = self.running.lock() {
                r.remove(&key);
            }
            match e {
                // Cancelled (or otherwise ended) after the claim.
                crate::store::StoreError::IllegalTransition { from, .. } if from.is_terminal() => {
                    tracing::info!(status = %from, "the job ended before it started");
                }
                e => tracing::error!(error = %e, "cannot start the job"),
            }
            return report;
        }
        let mut result = JobResult::for_job(&doc, self.config.worker_id.clone());
        result.execution_summary.attempt = job.attempt;
        result.execution_summary.max_attempts = Some(job.max_attempts);
        // A heartbeat may have found the lease lost before the job could be
        // stopped (it was not running yet): stop it now.
        if self.lease_lost(&job.job_id, job.attempt) {
            self.stop_attempt(&job.job_id, job.attempt, StopReason::LeaseLost);
        }
        // Cancelled through the store while an earlier attempt held it.
        if job.cancel_requested {
            tracing::info!("a cancel was requested before this attempt; stopping the job");
            self.stop_attempt(&job.job_id, job.attempt, StopReason::Cancelled);
        }
        let (progress_tx, progress_rx) = mpsc::unbounded_channel::<(String, u8, String)>();
        let forward = tokio::spawn(
            forward_progress(
                self.store.clone(),
                job.job_id.clone(),
                job.attempt,
                progress_rx,
            )
            .in_current_span(),
        );
        let ending = self
            .execute(&job, &doc, &control, progress_tx, report.io.clone())
            .await;
        let _ = forward.await;
        if let Ok(mut r) = self.running.lock() {
            r.remove(&key);
        }
        let mut destination = None;
        match ending {
            Ending::Done(Ok(data), warnings, took) => {
                report.handler = took.map(|t| (t, true));
                result.warnings = warnings;
                match self.write_output(&doc, &data) {
                    Ok(out) => {
                        destination = out;
                        result.complete(data);
                    }
                    Err(error) => {
                        result.data = data;
                        result.fail(error);
                    }
                }
            }
            Ending::Done(Err(failure), warnings, took) => {
                report.handler = took.map(|t| (t, false));
                result.warnings = warnings;
                let retryable = failure.error.recoverable
                    && !matches!(
                        failure.error.code,
                        ErrorCode::TimedOut | ErrorCode::Cancelled
                    )
                    && job.attempt < job.max_attempts;
                if retryable {
                    let wait = self.backoff(job.attempt);
                    match self.store.retry(&job.job_id, job.attempt, wait).await {
                        Ok(RetryOutcome::Requeued { attempt }) => {
                            tracing::warn!(error = %failure.error.message, next_attempt = attempt, backoff_ms = wait.as_millis() as u64, "recoverable failure; retrying");
                            self.wake.notify_one();
                            report.status = "retried";
                            return report;
                        }
                        Ok(RetryOutcome::Exhausted) => {
                            tracing::warn!("attempts exhausted");
                            report.status = JobStatus::Failed.as_str();
                            return report;
                        }
                        Err(e) => tracing::error!(error = %e, "cannot requeue the job"),
                    }
                }
                result.data = failure.data.unwrap_or(Value::Null);
                result.fail(failure.error);
            }
            Ending::Stopped(error) => result.fail(error),
        }
        if let Some(out) = destination {
            result.outputs.push(out);
        }
        report.status = self
            .finish(&job, result, started_at, clock, Some(&doc))
            .await;
        report
    }

    /// The run itself: checks, checksum, handler, under the job's time
    /// limit and stop signal.
    async fn execute(
        &self,
        job: &ClaimedJob,
        doc: &JobDocument,
        control: &Running,
        progress_tx: mpsc::UnboundedSender<(String, u8, String)>,
        io: Arc<guestkit_disk::IoStats>,
    ) -> Ending {
        let payload = match doc.typed_payload() {
            Ok(p) => p,
            Err(e) => {
                return Ending::Done(
                    Err(Failure::new(JobError::from_validation(&e))),
                    Vec::new(),
                    None,
                )
            }
        };
        let Some(handler) = self.registry.get(&doc.operation).cloned() else {
            return stopped(
                ErrorCode::UnsupportedOperation,
                format!("no handler for {}", doc.operation),
            );
        };
        let warnings = match handler.validate(&payload) {
            Ok(w) => w,
            Err(e) => return Ending::Done(Err(Failure::new(e)), Vec::new(), None),
        };
        let image = match payload
            .image()
            .map(|i| self.policy.resolve_image(&i.path))
            .transpose()
        {
            Ok(p) => p,
            Err(e) => return Ending::Done(Err(Failure::new(e)), warnings, None),
        };
        // Time left: the job's timeout, cut by its deadline.
        let mut limit = Duration::from_secs(job.timeout_seconds.unwrap_or(u64::MAX / 4));
        let mut why = format!(
            "ran past timeout_seconds={}",
            job.timeout_seconds.unwrap_or(0)
        );
        if let Some(deadline) = job.deadline {
            let left = deadline
                .signed_duration_since(Utc::now())
                .to_std()
                .unwrap_or(Duration::ZERO);
            if left < limit {
                limit = left;
                why = format!("reached its deadline {}", deadline.to_rfc3339());
            }
        }
        if limit.is_zero() {
            return stopped(ErrorCode::TimedOut, why);
        }
        let progress: crate::handlers::ProgressFn = {
            let tx = progress_tx.clone();
            Arc::new(move |phase: &str, percent: u8, message: &str| {
                let _ = tx.send((phase.to_string(), percent, message.to_string()));
            })
        };
        drop(progress_tx);
        let ctx = JobContext {
            job_id: job.job_id.clone(),
            attempt: job.attempt,
            image,
            image_roots: self.config.image_roots.clone(),
            max_disk_bytes: doc
                .constraints
                .as_ref()
                .and_then(|c| c.maximum_disk_size_gb)
                .map(|gb| gb.saturating_mul(1 << 30)),
            cancel: control.cancel.clone(),
            progress,
            io,
        };
        let checksum: Option<Checksum> = payload.image().and_then(|i| i.checksum);
        let store = self.store.clone();
        let runtime = tokio::runtime::Handle::current();
        let metrics = self.metrics.clone();
        let mut work = tokio::task::spawn_blocking(move || {
            // Start and end are state changes of their own; progress
            // reports cover the steps between.
            match (&checksum, &ctx.image) {
                (Some(expected), Some(path)) => {
                    let verified = verify(&ctx, &*store, runtime, path, expected);
                    metrics.checksum(if verified.is_ok() {
                        ChecksumOutcome::Success
                    } else {
                        ChecksumOutcome::Failure
                    });
                    if let Err(e) = verified {
                        return (Err(e), None);
                    }
                }
                (None, Some(_)) => metrics.checksum(ChecksumOutcome::Skipped),
                _ => {}
            }
            let clock = Instant::now();
            let out = handler.run(&ctx, &payload);
            (out, Some(clock.elapsed()))
        });
        let ending = tokio::select! {
            r = &mut work => {
                let (out, took) = r.unwrap_or_else(|e| {
                    let error = JobError::new(ErrorCode::Internal, format!("handler panicked: {e}"), PHASE_EXECUTE);
                    (Err(Failure::new(error)), None)
                });
                return Ending::Done(out, warnings, took);
            }
            _ = tokio::time::sleep(limit) => stopped(ErrorCode::TimedOut, why),
            _ = control.stop.notified() => {
                let r = control.reason.lock().ok().and_then(|r| *r);
                let message = match r {
                    Some(StopReason::Shutdown) => "cancelled: the worker shut down and the grace period ended",
                    Some(StopReason::LeaseLost) => "stopped: the lease was lost and the job was given to another worker",
                    _ => "cancelled on request",
                };
                stopped(ErrorCode::Cancelled, message.to_string())
            }
        };
        control.cancel.cancel();
        if tokio::time::timeout(STOP_WAIT, &mut work).await.is_err() {
            tracing::warn!("the handler has not stopped yet; its slot is given back");
        }
        ending
    }

    /// Writes the job's data to its output destination, when it has one.
    fn write_output(
        &self,
        doc: &JobDocument,
        data: &Value,
    ) -> Result<Option<ResultOutput>, JobError> {
        let Ok(payload) = doc.typed_payload() else {
            return Ok(None);
        };
        let Some(output) = payload.output() else {
            return Ok(None);
        };
        let Some(dest) = output.destination.as_deref() else {
            return Ok(None);
        };
        let path = self.policy.resolve_destination(dest)?;
        let size = self
            .sink
            .write_output(&path, data, output.format)
            .map_err(|e| {
                JobError::new(
                    ErrorCode::IoError,
                    format!("writing {}: {e}", path.display()),
                    JobError::PHASE_RESULT_GENERATION,
                )
            })?;
        Ok(Some(ResultOutput {
            kind: OutputKind::Primary,
            path: path.display().to_string(),
            format: Some(output.format.name().to_string()),
            size_bytes: Some(size),
            sha256: None,
            extra: Default::default(),
        }))
    }

    /// Writes the result file, records the end in the store, announces it.
    async fn finish(
        &self,
        job: &ClaimedJob,
        mut result: JobResult,
        started_at: chrono::DateTime<Utc>,
        clock: Instant,
        doc: Option<&JobDocument>,
    ) -> &'static str {
        // A result written now would overwrite the new holder's.
        if !self.still_ours(job).await {
            tracing::warn!("lease lost: another worker runs this job now; no result written");
            return "lost";
        }
        result.set_times(started_at, Utc::now());
        result.execution_summary.duration_ms =
            u64::try_from(clock.elapsed().as_millis()).unwrap_or(u64::MAX);
        let yaml = doc
            .and_then(|d| d.typed_payload().ok())
            .and_then(|p| p.output().map(|o| o.format == OutputFormat::Yaml))
            .unwrap_or(false);
        let status = result.status;
        let code = result.error.as_ref().map(|e| e.code.as_str());
        let path = match self.sink.write(&result, yaml) {
            Ok(p) => Some(p),
            Err(e) => {
                tracing::error!(error = %e, "writing the result failed");
                None
            }
        };
        let json = serde_json::to_string(&result).unwrap_or_default();
        let path_text = path.as_ref().map(|p| p.display().to_string());
        if let Err(e) = self
            .store
            .finish(
                &job.job_id,
                job.attempt,
                status,
                &json,
                path_text.as_deref(),
                code,
            )
            .await
        {
            tracing::error!(error = %e, "recording the end of the job failed");
        }
        tracing::info!(
            status = status.as_str(),
            duration_ms = result.execution_summary.duration_ms,
            error = code.unwrap_or(""),
            "job ended"
        );
        let _ = self.events.send(Finished {
            job_id: job.job_id.clone(),
            status,
            result_path: path,
        });
        status.as_str()
    }
}

/// Verifies the image's SHA-256 (cached by file identity), reporting
/// progress.
fn verify(
    ctx: &JobContext,
    store: &dyn JobStore,
    runtime: tokio::runtime::Handle,
    path: &std::path::Path,
    expected: &Checksum,
) -> Result<(), Failure> {
    ctx.report("verify", 10, "verifying the image checksum");
    let cache = BlockingStoreCache::new(store, runtime);
    let mut last = 0u8;
    let mut progress = |done: u64, total: u64| {
        let pct = done
            .saturating_mul(100)
            .checked_div(total)
            .unwrap_or(100)
            .min(100) as u8;
        if pct >= last.saturating_add(10) {
            last = pct;
            ctx.report(
                "verify",
                10u8.saturating_add(pct.saturating_mul(3) / 10),
                &format!("{done} of {total} bytes hashed"),
            );
        }
    };
    let cancelled = || ctx.cancel.is_cancelled();
    match verify_file(path, expected, Some(&cache), &mut progress, &cancelled) {
        Ok(d) => {
            ctx.report(
                "verify",
                40,
                if d.cached {
                    "checksum verified (cached)"
                } else {
                    "checksum verified"
                },
            );
            Ok(())
        }
        Err(e) => {
            let code = match &e {
                ChecksumError::Mismatch { .. } => ErrorCode::ChecksumMismatch,
                ChecksumError::Cancelled { .. } => ErrorCode::Cancelled,
                ChecksumError::Read { .. } | ChecksumError::Open { .. } => ErrorCode::IoError,
                _ => ErrorCode::Internal,
            };
            Err(Failure::new(JobError::new(
                code,
                e.to_string(),
                PHASE_EXECUTE,
            )))
        }
    }
}

/// Stores and logs progress reports until the job's sender is dropped.
async fn forward_progress(
    store: Arc<dyn JobStore>,
    job_id: String,
    attempt: u32,
    mut rx: mpsc::UnboundedReceiver<(String, u8, String)>,
) {
    while let Some((phase, percent, message)) = rx.recv().await {
        tracing::info!(phase = %phase, percent, message = %message, "progress");
        if let Err(e) = store
            .record_progress(&job_id, attempt, &phase, percent, Some(&message))
            .await
        {
            tracing::debug!(error = %e, "progress not recorded");
        }
    }
}
