//! Retries through the library's executor: a handler that fails with a
//! recoverable error is run again after its backoff, on attempt + 1,
//! until it succeeds or its attempts run out.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use guestkit_job_spec::{echo_job, ErrorCode, JobError, JobStatus, Operation, TypedPayload};
use guestkit_worker::executor::{Executor, ExecutorConfig};
use guestkit_worker::handlers::{Failure, Handler, JobContext, Registry};
use guestkit_worker::intake::{Accepted, Intake, WorkerIdentity};
use guestkit_worker::policy::Policy;
use guestkit_worker::results::ResultSink;
use guestkit_worker::store::{JobStore, SqliteStore};
use serde_json::{json, Value};
use tokio::sync::{watch, Notify};

/// `system.echo` that fails with an I/O error (recoverable) its first
/// `failures` runs.
struct Flaky {
    failures: u32,
    runs: AtomicU32,
}

impl Handler for Flaky {
    fn operation(&self) -> Operation {
        Operation::Echo
    }

    fn validate(&self, _: &TypedPayload) -> Result<Vec<String>, JobError> {
        Ok(Vec::new())
    }

    fn run(&self, _: &JobContext, payload: &TypedPayload) -> Result<Value, Failure> {
        let n = self.runs.fetch_add(1, Ordering::SeqCst);
        if n < self.failures {
            return Err(Failure::new(JobError::new(
                ErrorCode::IoError,
                format!("transient read error {n}"),
                JobError::PHASE_EXECUTION,
            )));
        }
        match payload {
            TypedPayload::Echo(e) => Ok(e.data.clone()),
            _ => Err(Failure::handler("not an echo")),
        }
    }
}

async fn run_with(
    failures: u32,
    max_attempts: u32,
) -> (guestkit_job_spec::JobResult, Vec<JobStatus>, u32, Duration) {
    let dir = tempfile::tempdir().expect("tmp");
    let results = dir.path().join("results");
    std::fs::create_dir_all(&results).expect("mkdir");
    let store: Arc<dyn JobStore> =
        Arc::new(SqliteStore::open(dir.path().join("w.db")).expect("store"));
    let flaky = Arc::new(Flaky {
        failures,
        runs: AtomicU32::new(0),
    });
    let mut registry = Registry::default();
    registry.register(flaky.clone());
    let registry = Arc::new(registry);
    let policy = Arc::new(Policy::new(&[], &[], &results).expect("policy"));
    let sink = Arc::new(ResultSink::new(results.clone()));
    let identity = WorkerIdentity {
        id: "w1".into(),
        pool: None,
        capabilities: registry.capabilities(),
        version: "0.1.0",
    };
    let wake = Arc::new(Notify::new());
    let executor = Arc::new(Executor::new(
        store.clone(),
        registry.clone(),
        policy.clone(),
        sink.clone(),
        ExecutorConfig {
            worker_id: "w1".into(),
            filter: identity.claim_filter(),
            max_concurrent: 2,
            retry_backoff: Duration::from_millis(100),
            image_roots: Vec::new(),
            worker_retention: None,
        },
        wake.clone(),
        Arc::new(guestkit_worker::metrics::Metrics::new()),
    ));
    let intake = Intake::new(store.clone(), registry, policy, identity, wake);
    let job = echo_job(json!({"ok": true}))
        .max_attempts(max_attempts)
        .build()
        .expect("job");
    let id = job.job_id.clone();
    let accepted = intake.submit(job).await.expect("accepted");
    assert!(
        matches!(&accepted, Accepted::Queued { job_id, .. } if *job_id == id),
        "{accepted:?}"
    );
    let (claiming_tx, claiming_rx) = watch::channel(true);
    let mut events = executor.subscribe();
    let start = Instant::now();
    let task = tokio::spawn(executor.clone().run(claiming_rx, Duration::from_secs(5)));
    let finished = tokio::time::timeout(Duration::from_secs(20), events.recv())
        .await
        .expect("finished in time")
        .expect("event");
    let took = start.elapsed();
    assert_eq!(finished.job_id, id);
    claiming_tx.send(false).expect("stop");
    task.await.expect("executor");
    let result = sink.read(&id).expect("result file");
    let history: Vec<JobStatus> = store
        .history(&id)
        .await
        .expect("history")
        .into_iter()
        .map(|c| c.to)
        .collect();
    (result, history, flaky.runs.load(Ordering::SeqCst), took)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recoverable_failure_is_retried_after_its_backoff() {
    let (result, history, runs, took) = run_with(2, 3).await;
    assert_eq!(result.status, JobStatus::Completed, "{:?}", result.error);
    assert_eq!(result.execution_summary.attempt, 3);
    assert_eq!(result.data, json!({"ok": true}));
    assert_eq!(runs, 3);
    use JobStatus::*;
    assert_eq!(
        history,
        [
            Queued, Assigned, Running, Queued, Assigned, Running, Queued, Assigned, Running,
            Completed
        ]
    );
    // Backoff 100 ms, then 200 ms.
    assert!(took >= Duration::from_millis(300), "{took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attempts_run_out_and_the_job_fails_with_the_last_error() {
    let (result, history, runs, _) = run_with(5, 2).await;
    assert_eq!(result.status, JobStatus::Failed);
    assert_eq!(result.execution_summary.attempt, 2);
    let e = result.error.expect("error");
    assert_eq!(e.code, ErrorCode::IoError);
    assert!(e.recoverable);
    assert!(
        e.message.contains("transient read error 1"),
        "{}",
        e.message
    );
    assert_eq!(runs, 2);
    assert_eq!(history.last(), Some(&JobStatus::Failed));
}
