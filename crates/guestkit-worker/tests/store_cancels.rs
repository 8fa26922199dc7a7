//! Both stores: cancel requests left in the store for the worker that holds
//! a job (`request_cancel`, `cancel_requests`), and their staying with the
//! job across a requeue (`ClaimedJob::cancel_requested`).

#[macro_use]
mod common;

use common::{job, Backend, ManualClock};
use guestkit_worker::store::ClaimFilter;
use guestkit_worker::{JobStatus, StoreError};

async fn a_request_reaches_the_worker_that_holds_the_job_only(b: Backend) {
    let clock = ManualClock::at(10_000);
    let store = b.open_with(&clock).await;
    for id in ["a", "b", "c"] {
        store.submit(job(id, 5, 1_000)).await.unwrap();
    }
    let any = ClaimFilter::default();
    let a = store.claim_next("w1", &any).await.unwrap().unwrap();
    let b_job = store.claim_next("w2", &any).await.unwrap().unwrap();
    assert_eq!((a.job_id.as_str(), b_job.job_id.as_str()), ("a", "b"));
    assert!(!a.cancel_requested);
    store
        .transition("a", 1, JobStatus::Running, None)
        .await
        .unwrap();

    assert!(store.cancel_requests("w1").await.unwrap().is_empty());
    assert!(store.request_cancel("a", 1).await.unwrap());
    // Asking twice keeps the first request.
    clock.advance_ms(5);
    assert!(store.request_cancel("a", 1).await.unwrap());
    assert!(
        store.request_cancel("b", 1).await.unwrap(),
        "assigned counts"
    );
    assert_eq!(
        store.cancel_requests("w1").await.unwrap(),
        vec![("a".to_string(), 1)]
    );
    assert_eq!(
        store.cancel_requests("w2").await.unwrap(),
        vec![("b".to_string(), 1)]
    );
    assert!(store.cancel_requests("w3").await.unwrap().is_empty());

    // Not held, or held at another attempt: nothing is recorded.
    assert!(!store.request_cancel("c", 1).await.unwrap(), "queued");
    assert!(
        !store.request_cancel("a", 2).await.unwrap(),
        "future attempt"
    );
    let err = store.request_cancel("nope", 1).await.unwrap_err();
    assert!(
        matches!(&err, StoreError::NotFound { job_id } if job_id == "nope"),
        "{err}"
    );

    // Once the job ends, its worker no longer hears of it.
    store
        .finish("a", 1, JobStatus::Cancelled, "{}", None, Some("cancelled"))
        .await
        .unwrap();
    assert!(store.cancel_requests("w1").await.unwrap().is_empty());
    assert!(!store.request_cancel("a", 1).await.unwrap(), "ended");
    assert_eq!(
        store.get("a").await.unwrap().unwrap().status,
        JobStatus::Cancelled
    );
}

async fn a_request_stays_with_a_job_that_is_requeued(b: Backend) {
    let clock = ManualClock::at(10_000);
    let store = b.open_with(&clock).await;
    let mut new = job("j", 5, 1_000);
    new.max_attempts = 3;
    store.submit(new).await.unwrap();
    store.submit(job("other", 5, 2_000)).await.unwrap();
    let any = ClaimFilter::default();
    let first = store.claim_next("w1", &any).await.unwrap().unwrap();
    store
        .transition("j", first.attempt, JobStatus::Running, None)
        .await
        .unwrap();
    assert!(store.request_cancel("j", 1).await.unwrap());
    // The worker dies before it sees the request; the lease runs out.
    clock.advance_ms(any.lease.as_millis() as i64 + 1);
    let report = store.reclaim_expired().await.unwrap();
    assert_eq!(report.requeued, vec![("j".to_string(), 2)]);
    let again = store.claim_next("w2", &any).await.unwrap().unwrap();
    assert_eq!((again.job_id.as_str(), again.attempt), ("j", 2));
    assert!(again.cancel_requested, "the request outlives the attempt");
    assert_eq!(
        store.cancel_requests("w2").await.unwrap(),
        vec![("j".to_string(), 2)]
    );
    let other = store.claim_next("w2", &any).await.unwrap().unwrap();
    assert_eq!(other.job_id, "other");
    assert!(!other.cancel_requested);
}

both_stores!(
    a_request_reaches_the_worker_that_holds_the_job_only,
    a_request_stays_with_a_job_that_is_requeued,
);
