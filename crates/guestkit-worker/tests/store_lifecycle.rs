//! Both stores (SQLite in a file, PostgreSQL in a schema of its own):
//! submitting, claiming, state changes, fencing, retries and crash recovery.

#[macro_use]
mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use common::{job, Backend, ManualClock};
use guestkit_job_spec::ErrorCode;
use guestkit_worker::{
    ClaimFilter, JobStatus, JobStore, RecoveryReport, RetryOutcome, StoreError, Submitted,
};

fn any_worker() -> ClaimFilter {
    ClaimFilter::default()
}

fn caps(list: &[&str]) -> BTreeSet<String> {
    list.iter().map(|s| s.to_string()).collect()
}

async fn idempotency_key_and_job_id_are_remembered_across_reopen(b: Backend) {
    {
        let store = b.open().await;
        let mut first = job("job-1", 5, 1_000);
        first.idempotency_key = Some("key-A".into());
        let stored = store.submit(first).await.unwrap();
        assert!(
            matches!(&stored, Submitted::Submitted { job_id, .. } if job_id == "job-1"),
            "{stored:?}"
        );
    }
    let store = b.open().await;
    // Same key, another id: the first job answers.
    let mut again = job("job-2", 5, 2_000);
    again.idempotency_key = Some("key-A".into());
    assert_eq!(
        store.submit(again).await.unwrap(),
        Submitted::Duplicate {
            existing_job_id: "job-1".into(),
            status: JobStatus::Queued
        }
    );
    assert!(store.get("job-2").await.unwrap().is_none());
    // Same id, no key.
    assert_eq!(
        store.submit(job("job-1", 9, 3_000)).await.unwrap(),
        Submitted::Duplicate {
            existing_job_id: "job-1".into(),
            status: JobStatus::Queued
        }
    );
    // The duplicate's status follows the job.
    let claimed = store
        .claim_next("w1", &any_worker())
        .await
        .unwrap()
        .unwrap();
    let mut third = job("job-3", 5, 4_000);
    third.idempotency_key = Some("key-A".into());
    assert_eq!(
        store.submit(third).await.unwrap(),
        Submitted::Duplicate {
            existing_job_id: claimed.job_id,
            status: JobStatus::Assigned
        }
    );
    let record = store.get("job-1").await.unwrap().unwrap();
    assert_eq!(record.priority, 5, "the duplicate changed nothing");
    assert_eq!(record.idempotency_key.as_deref(), Some("key-A"));
}

async fn submit_rejects_bad_input_and_stores_nothing(b: Backend) {
    let store = b.open().await;
    let mut bad = vec![job("p0", 0, 1), job("p11", 11, 1), job("", 5, 1)];
    let mut no_attempts = job("a0", 5, 1);
    no_attempts.max_attempts = 0;
    let mut not_json = job("nj", 5, 1);
    not_json.document_json = "{\"version\": ".into();
    bad.push(no_attempts);
    bad.push(not_json);
    for new in bad {
        let id = new.job_id.clone();
        let err = store.submit(new).await.unwrap_err();
        assert!(
            matches!(&err, StoreError::InvalidInput { job_id, .. } if *job_id == id),
            "{err}"
        );
        assert!(err.to_string().contains(&format!("{id:?}")), "{err}");
    }
    assert_eq!(store.list(&Default::default()).await.unwrap().jobs, vec![]);
}

async fn claims_by_priority_then_age_then_insertion_order(b: Backend) {
    let store = b.open().await;
    for new in [
        job("low-old", 2, 1_000),
        job("high-new", 9, 5_000),
        job("mid-newer", 5, 4_000),
        job("high-old", 9, 2_000),
        job("mid-tie-first", 5, 3_000),
        job("mid-tie-second", 5, 3_000),
    ] {
        store.submit(new).await.unwrap();
    }
    let mut order = vec![];
    while let Some(claimed) = store.claim_next("w1", &any_worker()).await.unwrap() {
        assert_eq!(claimed.attempt, 1);
        assert!(claimed.document_json.contains(&claimed.job_id));
        order.push(claimed.job_id);
    }
    assert_eq!(
        order,
        [
            "high-old",
            "high-new",
            "mid-tie-first",
            "mid-tie-second",
            "mid-newer",
            "low-old"
        ]
    );
    let record = store.get("low-old").await.unwrap().unwrap();
    assert_eq!(record.status, JobStatus::Assigned);
    assert_eq!(record.worker_id.as_deref(), Some("w1"));
}

async fn claims_respect_capabilities_and_pools(b: Backend) {
    let store = b.open().await;
    let mut needs_lvm = job("needs-lvm", 5, 1_000);
    needs_lvm.required_capabilities = caps(&["lvm"]);
    let mut needs_both = job("needs-lvm-luks", 9, 1_000);
    needs_both.required_capabilities = caps(&["lvm", "luks"]);
    let mut gpu_pool = job("gpu-only", 10, 1_000);
    gpu_pool.worker_pool = Some("gpu".into());
    for new in [needs_lvm, needs_both, gpu_pool, job("plain", 1, 1_000)] {
        store.submit(new).await.unwrap();
    }

    // No capabilities, no pool: only the plain job.
    let plain = store
        .claim_next("w0", &any_worker())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(plain.job_id, "plain");
    assert!(store
        .claim_next("w0", &any_worker())
        .await
        .unwrap()
        .is_none());

    // lvm alone is not enough for lvm+luks.
    let lvm = ClaimFilter {
        capabilities: caps(&["lvm", "xfs"]),
        pool: None,
        ..ClaimFilter::default()
    };
    let got = store.claim_next("w1", &lvm).await.unwrap().unwrap();
    assert_eq!(got.job_id, "needs-lvm");
    assert!(store.claim_next("w1", &lvm).await.unwrap().is_none());

    // Another pool never sees the gpu job.
    let cpu = ClaimFilter {
        capabilities: caps(&["lvm", "luks"]),
        pool: Some("cpu".into()),
        ..ClaimFilter::default()
    };
    let got = store.claim_next("w2", &cpu).await.unwrap().unwrap();
    assert_eq!(got.job_id, "needs-lvm-luks");
    assert!(store.claim_next("w2", &cpu).await.unwrap().is_none());

    let gpu = ClaimFilter {
        capabilities: BTreeSet::new(),
        pool: Some("gpu".into()),
        ..ClaimFilter::default()
    };
    let got = store.claim_next("w3", &gpu).await.unwrap().unwrap();
    assert_eq!(got.job_id, "gpu-only");
    assert_eq!(store.queue_depth().await.unwrap(), 0);
}

async fn concurrent_claimers_on_separate_connections_never_share_a_job(b: Backend) {
    const JOBS: usize = 200;
    const CLAIMERS: usize = 4;
    let store = b.open().await;
    for i in 0..JOBS {
        let priority = u8::try_from(i % 10 + 1).unwrap();
        store
            .submit(job(&format!("job-{i:03}"), priority, 1_000))
            .await
            .unwrap();
    }
    let mut tasks = vec![];
    let start = Arc::new(tokio::sync::Barrier::new(CLAIMERS));
    for c in 0..CLAIMERS {
        // Each claimer has its own connection to the same file.
        let store = b.open().await;
        let start = Arc::clone(&start);
        tasks.push(tokio::spawn(async move {
            let worker = format!("w{c}");
            start.wait().await;
            let mut mine = vec![];
            while let Some(claimed) = store
                .claim_next(&worker, &ClaimFilter::default())
                .await
                .unwrap()
            {
                mine.push((claimed.job_id, worker.clone()));
                // Let the others in: a loaded machine may otherwise run one
                // claimer to the end before the next is scheduled.
                tokio::time::sleep(std::time::Duration::from_millis(1)).await;
            }
            mine
        }));
    }
    let mut owner: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut per_claimer = vec![];
    for task in tasks {
        let mine = task.await.unwrap();
        per_claimer.push(mine.len());
        for (job_id, worker) in mine {
            owner.entry(job_id).or_default().push(worker);
        }
    }
    assert_eq!(owner.len(), JOBS, "every job claimed");
    for (job_id, workers) in &owner {
        assert_eq!(workers.len(), 1, "{job_id} claimed by {workers:?}");
        let record = store.get(job_id).await.unwrap().unwrap();
        assert_eq!(record.status, JobStatus::Assigned);
        assert_eq!(record.worker_id.as_ref(), workers.first());
    }
    assert_eq!(per_claimer.iter().sum::<usize>(), JOBS);
    // The claimers really competed (it is not one draining the queue alone).
    assert!(
        per_claimer.iter().filter(|&&n| n > 0).count() >= 2,
        "{per_claimer:?}"
    );
    let counts = store.counts_by_status().await.unwrap();
    assert_eq!(counts[&JobStatus::Assigned], JOBS as u64);
    assert_eq!(counts[&JobStatus::Queued], 0);
}

async fn illegal_transition_is_rejected_and_changes_nothing(b: Backend) {
    let store = b.open().await;
    store.submit(job("j", 5, 1_000)).await.unwrap();
    let before = store.get("j").await.unwrap().unwrap();

    let err = store
        .transition("j", 1, JobStatus::Completed, None)
        .await
        .unwrap_err();
    match &err {
        StoreError::IllegalTransition { job_id, from, to } => {
            assert_eq!(job_id, "j");
            assert_eq!((*from, *to), (JobStatus::Queued, JobStatus::Completed));
        }
        other => panic!("expected IllegalTransition, got {other}"),
    }
    assert!(err.to_string().contains("queued -> completed"), "{err}");
    // A job is assigned only through claim_next.
    assert!(matches!(
        store.transition("j", 1, JobStatus::Assigned, None).await,
        Err(StoreError::InvalidInput { field: "to", .. })
    ));
    assert_eq!(store.get("j").await.unwrap().unwrap(), before);
    assert_eq!(store.history("j").await.unwrap().len(), 1);

    let claimed = store.claim_next("w", &any_worker()).await.unwrap().unwrap();
    store
        .transition("j", claimed.attempt, JobStatus::Running, Some("started"))
        .await
        .unwrap();
    store
        .transition("j", 1, JobStatus::Completed, None)
        .await
        .unwrap();
    // Terminal is terminal.
    assert!(matches!(
        store.transition("j", 1, JobStatus::Running, None).await,
        Err(StoreError::IllegalTransition {
            from: JobStatus::Completed,
            ..
        })
    ));
    assert!(matches!(
        store.transition("nope", 1, JobStatus::Running, None).await,
        Err(StoreError::NotFound { job_id }) if job_id == "nope"
    ));

    let history = store.history("j").await.unwrap();
    let steps: Vec<_> = history.iter().map(|c| (c.from, c.to)).collect();
    assert_eq!(
        steps,
        [
            (None, JobStatus::Queued),
            (Some(JobStatus::Queued), JobStatus::Assigned),
            (Some(JobStatus::Assigned), JobStatus::Running),
            (Some(JobStatus::Running), JobStatus::Completed),
        ]
    );
    assert_eq!(history[2].detail.as_deref(), Some("started"));
    assert_eq!(history[1].worker_id.as_deref(), Some("w"));
    let record = store.get("j").await.unwrap().unwrap();
    assert!(record.started_at.is_some() && record.finished_at.is_some());
}

async fn writes_from_an_older_attempt_are_fenced_off(b: Backend) {
    let clock = ManualClock::at(10_000);
    let store = b.open_with(&clock).await;
    store.submit(job("j", 5, 1_000)).await.unwrap();
    let first = store
        .claim_next("old", &any_worker())
        .await
        .unwrap()
        .unwrap();
    store
        .transition("j", first.attempt, JobStatus::Running, None)
        .await
        .unwrap();
    // The job is retried and picked up again by another worker.
    let outcome = store.retry("j", 1, Duration::ZERO).await.unwrap();
    assert_eq!(outcome, RetryOutcome::Requeued { attempt: 2 });
    let second = store
        .claim_next("new", &any_worker())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(second.attempt, 2);
    store
        .transition("j", 2, JobStatus::Running, None)
        .await
        .unwrap();
    let before = store.get("j").await.unwrap().unwrap();

    // The old worker wakes up and reports.
    let stale = [
        store
            .transition("j", 1, JobStatus::Completed, None)
            .await
            .unwrap_err(),
        store
            .finish("j", 1, JobStatus::Completed, "{}", None, None)
            .await
            .unwrap_err(),
        store
            .record_progress("j", 1, "inspect", 50, None)
            .await
            .unwrap_err(),
        store.retry("j", 1, Duration::ZERO).await.unwrap_err(),
    ];
    for err in stale {
        assert!(
            matches!(err, StoreError::StaleAttempt { attempt: 1, current: 2, ref job_id } if job_id == "j"),
            "{err}"
        );
    }
    assert!(matches!(
        store.transition("j", 3, JobStatus::Completed, None).await,
        Err(StoreError::FutureAttempt {
            attempt: 3,
            current: 2,
            ..
        })
    ));
    assert_eq!(store.get("j").await.unwrap().unwrap(), before);
    store
        .finish("j", 2, JobStatus::Completed, "{\"ok\":true}", None, None)
        .await
        .unwrap();
}

async fn retry_waits_for_not_before_and_fails_when_attempts_run_out(b: Backend) {
    let clock = ManualClock::at(100_000);
    let store = b.open_with(&clock).await;
    let mut new = job("j", 5, 1_000);
    new.max_attempts = 2;
    store.submit(new).await.unwrap();
    store.submit(job("other", 1, 2_000)).await.unwrap();

    let claimed = store.claim_next("w", &any_worker()).await.unwrap().unwrap();
    assert_eq!(claimed.job_id, "j");
    store
        .transition("j", 1, JobStatus::Running, None)
        .await
        .unwrap();
    // The backoff counts on the store's clock: 30 s from 100 s.
    let later = common::ms(130_000);
    assert_eq!(
        store.retry("j", 1, Duration::from_secs(30)).await.unwrap(),
        RetryOutcome::Requeued { attempt: 2 }
    );
    let record = store.get("j").await.unwrap().unwrap();
    assert_eq!(
        (
            record.status,
            record.attempt,
            record.worker_id,
            record.not_before
        ),
        (JobStatus::Queued, 2, None, Some(later))
    );
    // Backing off: the lower-priority job goes first, then nothing.
    let got = store.claim_next("w", &any_worker()).await.unwrap().unwrap();
    assert_eq!(got.job_id, "other");
    assert!(store
        .claim_next("w", &any_worker())
        .await
        .unwrap()
        .is_none());
    assert_eq!(store.queue_depth().await.unwrap(), 1);

    clock.advance_ms(30_000);
    let again = store
        .claim_next("w2", &any_worker())
        .await
        .unwrap()
        .unwrap();
    assert_eq!((again.job_id.as_str(), again.attempt), ("j", 2));
    store
        .transition("j", 2, JobStatus::Running, None)
        .await
        .unwrap();
    assert_eq!(
        store.retry("j", 2, Duration::ZERO).await.unwrap(),
        RetryOutcome::Exhausted
    );
    let record = store.get("j").await.unwrap().unwrap();
    assert_eq!(record.status, JobStatus::Failed);
    assert_eq!(
        record.error_code.as_deref(),
        Some(ErrorCode::AttemptsExhausted.as_str())
    );
    assert_eq!(record.attempt, 2);
    assert_eq!(record.finished_at, Some(clock.now()));
    assert!(record.detail.unwrap().contains("attempt 2 of 2"));
    // Retrying a job that is not running is illegal.
    assert!(matches!(
        store.retry("j", 2, Duration::ZERO).await,
        Err(StoreError::IllegalTransition {
            from: JobStatus::Failed,
            to: JobStatus::Queued,
            ..
        })
    ));
}

async fn crash_recovery_requeues_or_fails_the_workers_jobs(b: Backend) {
    let store = b.open().await;
    let mut running = job("running", 9, 1_000);
    running.max_attempts = 3;
    let mut last_try = job("last-try", 8, 1_000);
    last_try.max_attempts = 1;
    let mut assigned_last = job("assigned-last", 7, 1_000);
    assigned_last.max_attempts = 1;
    for new in [
        running,
        last_try,
        assigned_last,
        job("elsewhere", 6, 1_000),
        job("waiting", 1, 1_000),
    ] {
        store.submit(new).await.unwrap();
    }
    for (id, worker) in [
        ("running", "w1"),
        ("last-try", "w1"),
        ("assigned-last", "w1"),
        ("elsewhere", "w2"),
    ] {
        let claimed = store
            .claim_next(worker, &any_worker())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(claimed.job_id, id);
    }
    for id in ["running", "last-try", "elsewhere"] {
        store
            .transition(id, 1, JobStatus::Running, None)
            .await
            .unwrap();
    }

    // The process restarts: w1's jobs come back, w2's are untouched.
    let reopened = b.open().await;
    let report = reopened.recover_after_crash(Some("w1")).await.unwrap();
    assert_eq!(
        report,
        RecoveryReport {
            requeued: vec![("running".into(), 2)],
            failed: vec!["last-try".into(), "assigned-last".into()],
        }
    );
    let running = reopened.get("running").await.unwrap().unwrap();
    assert_eq!(
        (running.status, running.attempt, running.worker_id),
        (JobStatus::Queued, 2, None)
    );
    for id in ["last-try", "assigned-last"] {
        let failed = reopened.get(id).await.unwrap().unwrap();
        assert_eq!(failed.status, JobStatus::Failed, "{id}");
        assert_eq!(
            failed.error_code.as_deref(),
            Some(ErrorCode::AttemptsExhausted.as_str())
        );
    }
    // An assigned job is released before it fails: every step is legal.
    let steps: Vec<_> = reopened
        .history("assigned-last")
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
    assert_eq!(
        reopened.get("elsewhere").await.unwrap().unwrap().status,
        JobStatus::Running
    );
    assert_eq!(
        reopened.get("waiting").await.unwrap().unwrap().status,
        JobStatus::Queued
    );

    // Every worker at once.
    let report = reopened.recover_after_crash(None).await.unwrap();
    assert_eq!(report.requeued, vec![("elsewhere".to_string(), 2)]);
    assert!(report.failed.is_empty());
    // The recovered job is claimed again as attempt 2.
    let next = reopened
        .claim_next("w3", &any_worker())
        .await
        .unwrap()
        .unwrap();
    assert_eq!((next.job_id.as_str(), next.attempt), ("running", 2));
}

async fn the_store_is_usable_as_a_trait_object(b: Backend) {
    let store: Arc<dyn JobStore> = b.open().await;
    store.submit(job("j", 5, 1_000)).await.unwrap();
    assert_eq!(store.queue_depth().await.unwrap(), 1);
}

both_stores!(
    idempotency_key_and_job_id_are_remembered_across_reopen,
    submit_rejects_bad_input_and_stores_nothing,
    claims_by_priority_then_age_then_insertion_order,
    claims_respect_capabilities_and_pools,
    illegal_transition_is_rejected_and_changes_nothing,
    writes_from_an_older_attempt_are_fenced_off,
    retry_waits_for_not_before_and_fails_when_attempts_run_out,
    crash_recovery_requeues_or_fails_the_workers_jobs,
    the_store_is_usable_as_a_trait_object,
);

/// As `both_stores!`, on four runtime threads: the claimers start at once.
mod concurrent_claimers_on_separate_connections_never_share_a_job {
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn sqlite() {
        super::concurrent_claimers_on_separate_connections_never_share_a_job(
            crate::common::Backend::sqlite(),
        )
        .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn postgres() {
        if let Some(b) = crate::common::Backend::postgres(concat!(module_path!(), "::postgres")) {
            super::concurrent_claimers_on_separate_connections_never_share_a_job(b).await;
        }
    }
}
