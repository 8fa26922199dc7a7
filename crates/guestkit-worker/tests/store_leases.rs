//! Both stores: leases (claim, heartbeat, expiry, reclaim, fencing of the
//! old holder) and the worker registry; concurrent claimers and sweepers on
//! separate connections.

#[macro_use]
mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use common::{job, ms, Backend, ManualClock};
use guestkit_job_spec::ErrorCode;
use guestkit_worker::store::{DEFAULT_LEASE, MAX_LEASE};
use guestkit_worker::{ClaimFilter, JobStatus, JobStore, RecoveryReport, StoreError, WorkerInfo};

fn leased(secs: u64) -> ClaimFilter {
    ClaimFilter {
        lease: Duration::from_secs(secs),
        ..ClaimFilter::default()
    }
}

/// Two workers, four claiming tasks each, every task on its own connection
/// (SQLite) or pool (PostgreSQL): every job is claimed exactly once.
async fn two_workers_claim_concurrently_and_never_share_a_job(b: Backend) {
    const JOBS: usize = 500;
    const WORKERS: usize = 2;
    const TASKS: usize = 4;
    let store = b.open().await;
    for i in 0..JOBS {
        let priority = u8::try_from(i % 10 + 1).unwrap();
        store
            .submit(job(&format!("job-{i:03}"), priority, 1_000))
            .await
            .unwrap();
    }
    let start = Arc::new(tokio::sync::Barrier::new(WORKERS * TASKS));
    let mut tasks = vec![];
    for w in 0..WORKERS {
        for t in 0..TASKS {
            let claimer = b.open().await;
            let start = Arc::clone(&start);
            tasks.push(tokio::spawn(async move {
                let worker = format!("worker-{w}");
                start.wait().await;
                let mut mine = vec![];
                while let Some(claimed) = claimer.claim_next(&worker, &leased(30)).await.unwrap() {
                    assert_eq!(claimed.attempt, 1);
                    mine.push((claimed.job_id, worker.clone(), t));
                    // Let the others in (see store_lifecycle).
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
                mine
            }));
        }
    }
    let mut owner: BTreeMap<String, Vec<(String, usize)>> = BTreeMap::new();
    let mut per_worker: BTreeMap<String, usize> = BTreeMap::new();
    for task in tasks {
        for (job_id, worker, t) in task.await.unwrap() {
            *per_worker.entry(worker.clone()).or_default() += 1;
            owner.entry(job_id).or_default().push((worker, t));
        }
    }
    assert_eq!(owner.len(), JOBS, "every job claimed");
    for (job_id, claims) in &owner {
        assert_eq!(claims.len(), 1, "{job_id} claimed by {claims:?}");
    }
    assert_eq!(per_worker.values().sum::<usize>(), JOBS);
    assert_eq!(
        per_worker.len(),
        WORKERS,
        "both workers got jobs: {per_worker:?}"
    );
    let counts = store.counts_by_status().await.unwrap();
    assert_eq!(counts[&JobStatus::Assigned], JOBS as u64);
    assert_eq!(store.queue_depth().await.unwrap(), 0);
    // The store agrees with the claimers, and recorded one claim per job.
    for (job_id, claims) in owner.iter().step_by(25) {
        let record = store.get(job_id).await.unwrap().unwrap();
        assert_eq!(record.worker_id.as_deref(), Some(claims[0].0.as_str()));
        assert!(record.lease_expires_at.is_some());
        let assigned = store
            .history(job_id)
            .await
            .unwrap()
            .iter()
            .filter(|c| c.to == JobStatus::Assigned)
            .count();
        assert_eq!(assigned, 1, "{job_id}");
    }
}

/// The lease runs out: a sweep gives the job to another worker as attempt
/// 2, and everything the first worker still says is refused.
async fn an_expired_lease_is_reclaimed_and_the_old_workers_late_writes_are_stale(b: Backend) {
    let clock = ManualClock::at(1_000_000);
    let store = b.open_with(&clock).await;
    store.submit(job("j", 5, 1_000)).await.unwrap();
    let first = store.claim_next("w1", &leased(30)).await.unwrap().unwrap();
    assert_eq!(first.attempt, 1);
    assert_eq!(first.lease_expires_at, ms(1_030_000));
    store
        .transition("j", 1, JobStatus::Running, None)
        .await
        .unwrap();
    let record = store.get("j").await.unwrap().unwrap();
    assert_eq!(
        record.lease_expires_at,
        Some(ms(1_030_000)),
        "running keeps the lease"
    );

    // Not yet: the lease holds until its last millisecond.
    clock.advance_ms(29_999);
    assert_eq!(
        store.reclaim_expired().await.unwrap(),
        RecoveryReport::default()
    );
    clock.advance_ms(1);
    let report = store.reclaim_expired().await.unwrap();
    assert_eq!(
        report,
        RecoveryReport {
            requeued: vec![("j".into(), 2)],
            failed: vec![],
        }
    );
    let record = store.get("j").await.unwrap().unwrap();
    assert_eq!(
        (
            record.status,
            record.attempt,
            record.worker_id,
            record.lease_expires_at
        ),
        (JobStatus::Queued, 2, None, None)
    );
    let detail = record.detail.unwrap();
    assert!(
        detail.contains("lease of worker \"w1\" expired"),
        "{detail}"
    );

    // Another worker takes attempt 2.
    let second = store.claim_next("w2", &leased(30)).await.unwrap().unwrap();
    assert_eq!((second.job_id.as_str(), second.attempt), ("j", 2));
    store
        .transition("j", 2, JobStatus::Running, None)
        .await
        .unwrap();

    // The first worker wakes up: its heartbeat says the job is gone, and its
    // late finish, progress and retry are refused.
    assert_eq!(
        store
            .heartbeat("w1", &[("j".into(), 1)], Duration::from_secs(30))
            .await
            .unwrap(),
        vec!["j".to_string()]
    );
    let before = store.get("j").await.unwrap().unwrap();
    let late = store
        .finish("j", 1, JobStatus::Completed, r#"{"late":true}"#, None, None)
        .await
        .unwrap_err();
    assert!(
        matches!(late, StoreError::StaleAttempt { attempt: 1, current: 2, ref job_id } if job_id == "j"),
        "{late}"
    );
    assert!(matches!(
        store.record_progress("j", 1, "inspect", 90, None).await,
        Err(StoreError::StaleAttempt { .. })
    ));
    assert!(matches!(
        store.retry("j", 1, Duration::ZERO).await,
        Err(StoreError::StaleAttempt { .. })
    ));
    assert_eq!(store.get("j").await.unwrap().unwrap(), before);
    assert_eq!(store.result("j").await.unwrap(), None);

    // The new holder finishes normally.
    store
        .finish("j", 2, JobStatus::Completed, r#"{"ok":true}"#, None, None)
        .await
        .unwrap();
    let record = store.get("j").await.unwrap().unwrap();
    assert_eq!(
        (
            record.status,
            record.worker_id.as_deref(),
            record.lease_expires_at
        ),
        (JobStatus::Completed, Some("w2"), None)
    );
    let steps: Vec<_> = store
        .history("j")
        .await
        .unwrap()
        .iter()
        .map(|c| (c.from, c.to, c.attempt, c.worker_id.clone()))
        .collect();
    assert_eq!(
        steps,
        [
            (None, JobStatus::Queued, 1, None),
            (
                Some(JobStatus::Queued),
                JobStatus::Assigned,
                1,
                Some("w1".into())
            ),
            (
                Some(JobStatus::Assigned),
                JobStatus::Running,
                1,
                Some("w1".into())
            ),
            (
                Some(JobStatus::Running),
                JobStatus::Queued,
                2,
                Some("w1".into())
            ),
            (
                Some(JobStatus::Queued),
                JobStatus::Assigned,
                2,
                Some("w2".into())
            ),
            (
                Some(JobStatus::Assigned),
                JobStatus::Running,
                2,
                Some("w2".into())
            ),
            (
                Some(JobStatus::Running),
                JobStatus::Completed,
                2,
                Some("w2".into())
            ),
        ]
    );
}

/// A job whose lease runs out on its last attempt fails; one that was only
/// assigned is released first, so every recorded step is legal.
async fn an_expired_lease_on_the_last_attempt_fails_the_job(b: Backend) {
    let clock = ManualClock::at(1_000_000);
    let store = b.open_with(&clock).await;
    for id in ["running", "assigned"] {
        let mut new = job(id, 5, 1_000);
        new.max_attempts = 1;
        store.submit(new).await.unwrap();
    }
    store.submit(job("queued", 1, 1_000)).await.unwrap();
    store.claim_next("w1", &leased(10)).await.unwrap().unwrap();
    store.claim_next("w1", &leased(10)).await.unwrap().unwrap();
    store
        .transition("running", 1, JobStatus::Running, None)
        .await
        .unwrap();
    clock.advance_ms(10_000);
    let report = store.reclaim_expired().await.unwrap();
    assert_eq!(report.requeued, vec![]);
    assert_eq!(
        report.failed.iter().collect::<BTreeSet<_>>(),
        BTreeSet::from([&"running".to_string(), &"assigned".to_string()])
    );
    for id in ["running", "assigned"] {
        let record = store.get(id).await.unwrap().unwrap();
        assert_eq!(record.status, JobStatus::Failed, "{id}");
        assert_eq!(
            record.error_code.as_deref(),
            Some(ErrorCode::AttemptsExhausted.as_str())
        );
        assert!(record
            .detail
            .unwrap()
            .contains("attempt 1 of 1 was the last"));
    }
    let steps: Vec<_> = store
        .history("assigned")
        .await
        .unwrap()
        .iter()
        .map(|c| (c.from, c.to))
        .collect();
    assert_eq!(
        steps[2..],
        [
            (Some(JobStatus::Assigned), JobStatus::Queued),
            (Some(JobStatus::Queued), JobStatus::Failed)
        ]
    );
    // The failed job is terminal: the old worker's finish is refused.
    assert!(matches!(
        store
            .finish("running", 1, JobStatus::Completed, "{}", None, None)
            .await,
        Err(StoreError::IllegalTransition {
            from: JobStatus::Failed,
            ..
        })
    ));
    // The queued job was never leased and is untouched.
    let queued = store.get("queued").await.unwrap().unwrap();
    assert_eq!((queued.status, queued.attempt), (JobStatus::Queued, 1));
}

/// Heartbeats move the lease forward; a job keeps its worker as long as
/// they come, and is reclaimed once they stop.
async fn heartbeats_keep_a_lease_alive(b: Backend) {
    let clock = ManualClock::at(5_000_000);
    let store = b.open_with(&clock).await;
    store.submit(job("a", 9, 1_000)).await.unwrap();
    store.submit(job("b", 5, 1_000)).await.unwrap();
    let a = store.claim_next("w1", &leased(10)).await.unwrap().unwrap();
    let b_job = store.claim_next("w1", &leased(10)).await.unwrap().unwrap();
    store
        .transition("a", a.attempt, JobStatus::Running, None)
        .await
        .unwrap();
    let held = vec![("a".to_string(), 1), ("b".to_string(), 1)];
    for _ in 0..5 {
        clock.advance_ms(8_000);
        let lost = store
            .heartbeat("w1", &held, Duration::from_secs(10))
            .await
            .unwrap();
        assert!(lost.is_empty(), "{lost:?}");
        assert_eq!(
            store.reclaim_expired().await.unwrap(),
            RecoveryReport::default()
        );
    }
    // 40 s later, both still held, leases 10 s from the last heartbeat.
    for id in ["a", "b"] {
        let record = store.get(id).await.unwrap().unwrap();
        assert_eq!(record.worker_id.as_deref(), Some("w1"));
        assert_eq!(record.lease_expires_at, Some(ms(5_050_000)), "{id}");
    }
    assert_eq!(b_job.attempt, 1);

    // Only the worker that holds the job, at its attempt, renews it: the
    // others are told the job is not theirs and change nothing.
    let lost = store
        .heartbeat(
            "w2",
            &[("a".into(), 1), ("missing".into(), 1)],
            Duration::from_secs(60),
        )
        .await
        .unwrap();
    assert_eq!(lost, ["a", "missing"]);
    let lost = store
        .heartbeat(
            "w1",
            &[("a".into(), 2), ("b".into(), 1)],
            Duration::from_secs(60),
        )
        .await
        .unwrap();
    assert_eq!(lost, ["a"]);
    assert_eq!(
        store.get("a").await.unwrap().unwrap().lease_expires_at,
        Some(ms(5_050_000))
    );
    assert_eq!(
        store.get("b").await.unwrap().unwrap().lease_expires_at,
        Some(ms(5_100_000))
    );
    assert!(store
        .heartbeat("w1", &[], Duration::from_secs(10))
        .await
        .unwrap()
        .is_empty());

    // A lease that ran out but was not reclaimed yet can still be renewed.
    clock.advance_ms(10_000);
    assert!(store
        .heartbeat("w1", &[("a".into(), 1)], Duration::from_secs(10))
        .await
        .unwrap()
        .is_empty());
    // The heartbeats stop: a is reclaimed once its lease ends; b, renewed
    // for 60 s, is still held.
    clock.advance_ms(9_999);
    let report = store.reclaim_expired().await.unwrap();
    assert_eq!(report.requeued, vec![]);
    clock.advance_ms(1);
    let report = store.reclaim_expired().await.unwrap();
    assert_eq!(report.requeued, vec![("a".to_string(), 2)]);

    // Bad lease lengths are refused, whoever asks.
    for lease in [
        Duration::ZERO,
        Duration::from_micros(999),
        MAX_LEASE + Duration::from_secs(1),
    ] {
        let err = store.heartbeat("w1", &held, lease).await.unwrap_err();
        assert!(
            matches!(err, StoreError::InvalidInput { field: "lease", .. }),
            "{err}"
        );
        let filter = ClaimFilter {
            lease,
            ..ClaimFilter::default()
        };
        let err = store.claim_next("w1", &filter).await.unwrap_err();
        assert!(
            matches!(err, StoreError::InvalidInput { field: "lease", .. }),
            "{err}"
        );
    }
    assert_eq!(ClaimFilter::default().lease, DEFAULT_LEASE);
}

/// Sweepers on separate connections at once: each expired job is reclaimed
/// once (attempt 2, never 3).
async fn concurrent_sweeps_reclaim_each_job_once(b: Backend) {
    const JOBS: usize = 60;
    let clock = ManualClock::at(9_000_000);
    let store = b.open_with(&clock).await;
    for i in 0..JOBS {
        store
            .submit(job(&format!("j{i:02}"), 5, 1_000))
            .await
            .unwrap();
        store.claim_next("gone", &leased(5)).await.unwrap().unwrap();
    }
    clock.advance_ms(5_000);
    let start = Arc::new(tokio::sync::Barrier::new(3));
    let mut sweeps = vec![];
    for _ in 0..3 {
        let sweeper = b.open_with(&clock).await;
        let start = Arc::clone(&start);
        sweeps.push(tokio::spawn(async move {
            start.wait().await;
            sweeper.reclaim_expired().await.unwrap()
        }));
    }
    let mut requeued = vec![];
    for sweep in sweeps {
        let report = sweep.await.unwrap();
        assert!(report.failed.is_empty());
        requeued.extend(report.requeued);
    }
    // Anything a sweep skipped (held by another at that moment) is there
    // for the next one.
    requeued.extend(store.reclaim_expired().await.unwrap().requeued);
    requeued.sort();
    let expected: Vec<(String, u32)> = (0..JOBS).map(|i| (format!("j{i:02}"), 2)).collect();
    assert_eq!(requeued, expected);
    assert_eq!(store.queue_depth().await.unwrap(), JOBS as u64);
}

/// The registry the REST API serves: who is there, what it runs, when it
/// was last heard from.
async fn the_worker_registry_lists_heartbeats(b: Backend) {
    let clock = ManualClock::at(7_000_000);
    let store = b.open_with(&clock).await;
    assert!(store.list_workers().await.unwrap().is_empty());
    let info = |id: &str, pool: Option<&str>| WorkerInfo {
        id: id.into(),
        pool: pool.map(str::to_owned),
        capabilities: ["system.echo", "guestkit.inspect"]
            .into_iter()
            .map(String::from)
            .collect(),
        version: "0.1.0".into(),
        started_at: ms(6_999_000),
        lease: std::time::Duration::from_secs(if id == "w1" { 2 } else { 30 }),
    };
    store
        .register_worker(&info("w2", Some("gpu")))
        .await
        .unwrap();
    clock.advance_ms(500);
    store.register_worker(&info("w1", None)).await.unwrap();
    clock.advance_ms(1_500);
    store.worker_heartbeat("w2", 3).await.unwrap();

    let workers = store.list_workers().await.unwrap();
    let rows: Vec<_> = workers
        .iter()
        .map(|w| {
            (
                w.id.as_str(),
                w.pool.as_deref(),
                w.active_jobs,
                w.last_heartbeat,
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            ("w1", None, 0, ms(7_000_500)),
            ("w2", Some("gpu"), 3, ms(7_002_000)),
        ]
    );
    assert_eq!(workers[0].capabilities.len(), 2);
    assert!(workers[0].capabilities.contains("guestkit.inspect"));
    assert_eq!(
        (workers[0].version.as_str(), workers[0].started_at),
        ("0.1.0", ms(6_999_000))
    );
    let json = serde_json::to_value(&workers[1]).unwrap();
    assert_eq!(json["last_heartbeat"], "1970-01-01T01:56:42Z");
    assert_eq!(json["active_jobs"], 3);
    // Alive while heard from within its lease (w1: 2 s from 7,000.5 s).
    assert_eq!(workers[0].lease, std::time::Duration::from_secs(2));
    assert!(workers[0].is_alive(clock.now()) && workers[1].is_alive(clock.now()));
    assert!(workers[0].is_alive(ms(7_002_500)));
    assert!(!workers[0].is_alive(ms(7_002_501)));

    // A restart replaces the entry.
    clock.advance_ms(1_000);
    let mut again = info("w2", None);
    again.version = "0.2.0".into();
    store.register_worker(&again).await.unwrap();
    let w2 = store.list_workers().await.unwrap().remove(1);
    assert_eq!(
        (
            w2.pool,
            w2.version.as_str(),
            w2.active_jobs,
            w2.last_heartbeat
        ),
        (None, "0.2.0", 0, ms(7_003_000))
    );
    let listed = store.list_workers().await.unwrap();
    let alive: Vec<bool> = listed.iter().map(|w| w.is_alive(clock.now())).collect();
    assert_eq!(alive, [false, true], "w1 missed its lease");

    // Another connection (another API server) sees the same.
    let other = b.open().await;
    assert_eq!(other.list_workers().await.unwrap().len(), 2);

    assert!(matches!(
        store.worker_heartbeat("nobody", 1).await,
        Err(StoreError::WorkerNotFound { worker_id }) if worker_id == "nobody"
    ));
    assert!(store.deregister_worker("w1").await.unwrap());
    assert!(!store.deregister_worker("w1").await.unwrap());
    let ids: Vec<_> = store
        .list_workers()
        .await
        .unwrap()
        .into_iter()
        .map(|w| w.id)
        .collect();
    assert_eq!(ids, ["w2"]);
    assert!(matches!(
        store.register_worker(&info("", None)).await,
        Err(StoreError::InvalidInput { .. })
    ));
}

/// Workers that crashed never deregister: the sweep removes those silent
/// for longer than the retention and than their own lease, never one heard
/// from within either.
async fn silent_workers_are_forgotten(b: Backend) {
    let clock = ManualClock::at(9_000_000);
    let store = b.open_with(&clock).await;
    let info = |id: &str, lease_s: u64| WorkerInfo {
        id: id.into(),
        pool: None,
        capabilities: ["system.echo".to_string()].into_iter().collect(),
        version: "0.1.0".into(),
        started_at: ms(9_000_000),
        lease: Duration::from_secs(lease_s),
    };
    for (id, lease) in [("crashed", 2), ("long-lease", 60), ("alive", 2)] {
        store.register_worker(&info(id, lease)).await.unwrap();
    }
    let listed = |store: Arc<dyn JobStore>| async move {
        let workers = store.list_workers().await.unwrap();
        workers.into_iter().map(|w| w.id).collect::<Vec<_>>()
    };
    let forget = |silence: Duration| {
        let store = store.clone();
        async move { store.forget_silent_workers(silence).await.unwrap() }
    };
    clock.advance_ms(10_000);
    store.worker_heartbeat("alive", 0).await.unwrap();
    let none: Vec<String> = Vec::new();
    assert_eq!(
        forget(Duration::from_secs(30)).await,
        none,
        "10 s of silence is within a 30 s retention"
    );
    // 10 s silent: past a 5 s retention, but within long-lease's 60 s lease.
    assert_eq!(forget(Duration::from_secs(5)).await, ["crashed"]);
    assert_eq!(listed(store.clone()).await, ["alive", "long-lease"]);
    // Exactly the retention is not past it.
    clock.advance_ms(55_000);
    assert_eq!(forget(Duration::from_secs(65)).await, none);
    clock.advance_ms(1);
    assert_eq!(
        forget(Duration::from_secs(65)).await,
        ["long-lease"],
        "65.001 s silent; alive was heard from 55.001 s ago"
    );
    assert_eq!(listed(store.clone()).await, ["alive"]);
    // A removed worker that was only stalled is told so at its heartbeat
    // (the executor then registers it again).
    assert!(matches!(
        store.worker_heartbeat("crashed", 0).await,
        Err(StoreError::WorkerNotFound { .. })
    ));
    // A retention far beyond any clock is no error.
    assert_eq!(forget(Duration::MAX).await, none);
}

/// Leases follow the job through every other state change: released,
/// finished, retried or recovered jobs hold none.
async fn leases_end_with_the_claim(b: Backend) {
    let clock = ManualClock::at(2_000_000);
    let store: Arc<dyn JobStore> = b.open_with(&clock).await;
    for id in ["released", "finished", "retried", "recovered"] {
        store.submit(job(id, 5, 1_000)).await.unwrap();
    }
    let mut claimed = vec![];
    while let Some(c) = store.claim_next("w", &leased(30)).await.unwrap() {
        claimed.push(c.job_id);
    }
    assert_eq!(claimed.len(), 4);
    store
        .transition("released", 1, JobStatus::Queued, Some("shutting down"))
        .await
        .unwrap();
    for id in ["finished", "retried", "recovered"] {
        store
            .transition(id, 1, JobStatus::Running, None)
            .await
            .unwrap();
    }
    store
        .finish("finished", 1, JobStatus::Completed, "{}", None, None)
        .await
        .unwrap();
    store.retry("retried", 1, Duration::ZERO).await.unwrap();
    let report = store.recover_after_crash(Some("w")).await.unwrap();
    assert_eq!(report.requeued, vec![("recovered".to_string(), 2)]);
    for id in ["released", "finished", "retried", "recovered"] {
        let record = store.get(id).await.unwrap().unwrap();
        assert_eq!(record.lease_expires_at, None, "{id}");
    }
    // Nothing is left for the sweep, however late.
    clock.advance_ms(3_600_000);
    assert_eq!(
        store.reclaim_expired().await.unwrap(),
        RecoveryReport::default()
    );
}

both_stores!(
    two_workers_claim_concurrently_and_never_share_a_job,
    an_expired_lease_is_reclaimed_and_the_old_workers_late_writes_are_stale,
    an_expired_lease_on_the_last_attempt_fails_the_job,
    heartbeats_keep_a_lease_alive,
    concurrent_sweeps_reclaim_each_job_once,
    the_worker_registry_lists_heartbeats,
    silent_workers_are_forgotten,
    leases_end_with_the_claim,
);
