//! Leases through the library's executor, on both stores: heartbeats keep
//! a job longer than its lease, a job whose lease is lost is stopped and
//! writes nothing, a dead worker's job is reclaimed and run by a live one,
//! and the worker is listed in the registry while it runs.

#[macro_use]
mod common;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::Backend;
use guestkit_job_spec::{echo_job, JobStatus};
use guestkit_worker::executor::{Executor, ExecutorConfig, Finished};
use guestkit_worker::handlers::Registry;
use guestkit_worker::intake::{Accepted, Intake, WorkerIdentity};
use guestkit_worker::policy::Policy;
use guestkit_worker::results::ResultSink;
use guestkit_worker::store::{ClaimFilter, JobStore};
use serde_json::json;
use tokio::sync::{broadcast, watch, Notify};
use tokio::task::JoinHandle;

/// One worker over `store` with a short lease.
struct Worker {
    store: Arc<dyn JobStore>,
    executor: Arc<Executor>,
    intake: Intake,
    results: PathBuf,
    _dir: tempfile::TempDir,
}

const LEASE: Duration = Duration::from_millis(600);

/// One worker over `store` running at most `slots` jobs at once. With one
/// slot, no claim is under way while a job runs: the loop waits for the
/// slot (or the stop).
fn worker(store: Arc<dyn JobStore>, id: &str, slots: usize) -> Worker {
    let dir = tempfile::tempdir().expect("tmp");
    let results = dir.path().join("results");
    std::fs::create_dir_all(&results).expect("mkdir");
    let registry = Arc::new(Registry::standard());
    let policy = Arc::new(Policy::new(&[], &[], &results).expect("policy"));
    let sink = Arc::new(ResultSink::new(results.clone()));
    let identity = WorkerIdentity {
        id: id.into(),
        pool: None,
        capabilities: registry.capabilities(),
        version: "0.1.0",
    };
    let wake = Arc::new(Notify::new());
    let executor = Arc::new(Executor::new(
        store.clone(),
        registry.clone(),
        policy.clone(),
        sink,
        ExecutorConfig {
            worker_id: id.into(),
            filter: ClaimFilter {
                lease: LEASE,
                ..identity.claim_filter()
            },
            max_concurrent: slots,
            retry_backoff: Duration::from_millis(100),
            image_roots: Vec::new(),
            worker_retention: None,
        },
        wake.clone(),
        Arc::new(guestkit_worker::metrics::Metrics::new()),
    ));
    let intake = Intake::new(store.clone(), registry, policy, identity, wake);
    Worker {
        store,
        executor,
        intake,
        results,
        _dir: dir,
    }
}

/// The executor running in the background.
struct Run {
    /// Send `false` to stop claiming.
    claiming: watch::Sender<bool>,
    /// Finished-job announcements, subscribed before the run started.
    events: broadcast::Receiver<Finished>,
    /// Ends once every job has recorded its end.
    task: JoinHandle<()>,
}

impl Worker {
    /// Starts the executor, claiming, with `grace` for running jobs when
    /// it stops.
    fn run(&self, grace: Duration) -> Run {
        let (claiming, claiming_rx) = watch::channel(true);
        let events = self.executor.subscribe();
        let task = tokio::spawn(self.executor.clone().run(claiming_rx, grace));
        Run {
            claiming,
            events,
            task,
        }
    }

    async fn submit(&self, delay_ms: u64) -> String {
        let job = echo_job(json!({ "delay_ms": delay_ms }))
            .max_attempts(3)
            .build()
            .expect("job");
        let id = job.job_id.clone();
        let accepted = self.intake.submit(job).await.expect("accepted");
        assert!(
            matches!(&accepted, Accepted::Queued { job_id, .. } if *job_id == id),
            "{accepted:?}"
        );
        id
    }

    fn result_file(&self, id: &str) -> PathBuf {
        self.results.join(format!("{id}-result.json"))
    }

    async fn wait_for(&self, id: &str, status: JobStatus, within: Duration) {
        let start = Instant::now();
        loop {
            let record = self.store.get(id).await.unwrap().unwrap();
            if record.status == status {
                return;
            }
            assert!(
                start.elapsed() < within,
                "{id} is {} after {within:?}, not {status}",
                record.status
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// A job running four times its lease keeps it by heartbeat; the worker is
/// registered while it runs and removed when it stops.
async fn heartbeats_keep_a_long_job_past_its_lease(b: Backend) {
    let w = worker(b.open().await, "w1", 1);
    let id = w.submit(2_400).await;
    let Run {
        claiming: claiming_tx,
        mut events,
        task,
    } = w.run(Duration::from_secs(5));
    w.wait_for(&id, JobStatus::Running, Duration::from_secs(10))
        .await;
    let workers = w.store.list_workers().await.unwrap();
    assert_eq!(workers.len(), 1);
    assert_eq!(workers[0].id, "w1");
    assert!(workers[0].capabilities.contains("system.echo"));

    let finished = tokio::time::timeout(Duration::from_secs(20), events.recv())
        .await
        .expect("finished in time")
        .expect("event");
    assert_eq!(
        (finished.job_id.as_str(), finished.status),
        (id.as_str(), JobStatus::Completed)
    );
    // The heartbeat reported the running job.
    let record = w.store.get(&id).await.unwrap().unwrap();
    assert_eq!((record.attempt, record.lease_expires_at), (1, None));
    let history: Vec<_> = w
        .store
        .history(&id)
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.to)
        .collect();
    use JobStatus::*;
    assert_eq!(history, [Queued, Assigned, Running, Completed]);
    assert!(w.result_file(&id).exists());

    claiming_tx.send(false).expect("stop");
    task.await.expect("executor");
    assert!(w.store.list_workers().await.unwrap().is_empty());
}

/// Another worker took the job (its attempt moved on): the next heartbeat
/// says so, the job is stopped at once, and nothing is written for it.
async fn a_job_whose_lease_is_lost_is_stopped_and_writes_nothing(b: Backend) {
    let w = worker(b.open().await, "w1", 1);
    // A job far longer than any wait below: if it ends, it was stopped.
    let id = w.submit(120_000).await;
    let Run {
        claiming: claiming_tx,
        mut events,
        task,
    } = w.run(Duration::from_secs(20));
    w.wait_for(&id, JobStatus::Running, Duration::from_secs(10))
        .await;
    // No more claims here: the requeued job must not come back to us.
    claiming_tx.send(false).expect("stop claiming");
    let lost_at = Instant::now();
    let report = w.store.recover_after_crash(Some("w1")).await.unwrap();
    assert_eq!(report.requeued, vec![(id.clone(), 2)]);

    // A heartbeat every third of the 0.6 s lease notices the loss; the
    // wide bound only allows for a loaded machine.
    tokio::time::timeout(Duration::from_secs(30), task)
        .await
        .expect("the lost job stopped long before its 120 s")
        .expect("executor");
    assert!(lost_at.elapsed() < Duration::from_secs(30));
    assert!(
        events.try_recv().is_err(),
        "a lost job is not announced as finished"
    );
    assert!(!w.result_file(&id).exists(), "no result written");
    let record = w.store.get(&id).await.unwrap().unwrap();
    assert_eq!(
        (record.status, record.attempt, record.result_path),
        (JobStatus::Queued, 2, None)
    );
    assert_eq!(w.store.result(&id).await.unwrap(), None);
}

/// The store handed the job back to this same worker as attempt 2 while
/// attempt 1 still ran here: attempt 1 is stopped and writes nothing, and
/// its end leaves attempt 2's lease alone, so attempt 2 completes as
/// attempt 2 (not reclaimed as a third).
async fn a_job_handed_back_as_a_later_attempt_stops_the_earlier_one(b: Backend) {
    let w = worker(b.open().await, "w1", 2);
    let id = w.submit(3_000).await;
    let Run {
        claiming: claiming_tx,
        mut events,
        task,
    } = w.run(Duration::from_secs(20));
    w.wait_for(&id, JobStatus::Running, Duration::from_secs(10))
        .await;
    // Attempt 2 then starts a second after attempt 1: were attempt 1 left
    // running, it would end a second before attempt 2, longer than a lease.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let report = w.store.recover_after_crash(Some("w1")).await.unwrap();
    assert_eq!(report.requeued, vec![(id.clone(), 2)]);
    // A new submission wakes the claim loop at once (well before the next
    // heartbeat), and the older job is claimed first: attempt 2 starts
    // here while attempt 1 still runs.
    let other = w.submit(0).await;
    let mut ended = Vec::new();
    while ended.len() < 2 {
        let finished = tokio::time::timeout(Duration::from_secs(20), events.recv())
            .await
            .expect("finished in time")
            .expect("event");
        ended.push((finished.job_id, finished.status));
    }
    ended.sort();
    let mut want = vec![
        (id.clone(), JobStatus::Completed),
        (other, JobStatus::Completed),
    ];
    want.sort();
    assert_eq!(ended, want, "attempt 1 is not announced");
    let record = w.store.get(&id).await.unwrap().unwrap();
    assert_eq!((record.status, record.attempt), (JobStatus::Completed, 2));
    let result: serde_json::Value =
        serde_json::from_slice(&std::fs::read(w.result_file(&id)).expect("result")).unwrap();
    assert_eq!(result["execution_summary"]["attempt"], 2, "{result}");
    claiming_tx.send(false).expect("stop");
    tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .expect("nothing left running")
        .expect("executor");
    assert!(events.try_recv().is_err());
}

/// A worker died holding a job: a live worker's sweep reclaims it when the
/// lease ends and runs it as attempt 2.
async fn a_dead_workers_job_is_reclaimed_and_run_by_a_live_one(b: Backend) {
    let w = worker(b.open().await, "alive", 1);
    let id = w.submit(0).await;
    // The dead worker could take anything this one can; its lease is short.
    let mut dead_filter = w.executor_filter();
    dead_filter.lease = Duration::from_millis(300);
    let claimed = w
        .store
        .claim_next("dead", &dead_filter)
        .await
        .unwrap()
        .expect("the dead worker took the job");
    assert_eq!((claimed.job_id.as_str(), claimed.attempt), (id.as_str(), 1));

    let Run {
        claiming: claiming_tx,
        mut events,
        task,
    } = w.run(Duration::from_secs(5));
    let start = Instant::now();
    let finished = tokio::time::timeout(Duration::from_secs(20), events.recv())
        .await
        .expect("finished in time")
        .expect("event");
    assert_eq!(
        (finished.job_id.as_str(), finished.status),
        (id.as_str(), JobStatus::Completed)
    );
    assert!(
        start.elapsed() >= Duration::from_millis(200),
        "not before the lease ended"
    );
    let record = w.store.get(&id).await.unwrap().unwrap();
    assert_eq!(
        (record.attempt, record.worker_id.as_deref()),
        (2, Some("alive"))
    );
    let history = w.store.history(&id).await.unwrap();
    assert!(history.iter().any(|c| c
        .detail
        .as_deref()
        .is_some_and(|d| d.contains("lease of worker \"dead\" expired"))));
    claiming_tx.send(false).expect("stop");
    task.await.expect("executor");
}

impl Worker {
    /// The claim filter of a worker that can take anything this one can.
    fn executor_filter(&self) -> ClaimFilter {
        let registry = Registry::standard();
        let identity = WorkerIdentity {
            id: "dead".into(),
            pool: None,
            capabilities: registry.capabilities(),
            version: "0.1.0",
        };
        identity.claim_filter()
    }
}

both_stores!(
    heartbeats_keep_a_long_job_past_its_lease,
    a_job_whose_lease_is_lost_is_stopped_and_writes_nothing,
    a_job_handed_back_as_a_later_attempt_stops_the_earlier_one,
    a_dead_workers_job_is_reclaimed_and_run_by_a_live_one,
);
