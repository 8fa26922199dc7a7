//! Both stores: several jobs submitted in one transaction
//! (`JobStore::submit_batch`), and group commit (`GroupCommit`) gathering
//! concurrent submissions into such batches.

#[macro_use]
mod common;

use common::{job, Backend, ManualClock};
use guestkit_worker::store::{ClaimFilter, GroupCommit};
use guestkit_worker::{JobStatus, StoreError, Submitted};

fn stored_id(answer: &Submitted) -> Option<&str> {
    match answer {
        Submitted::Submitted { job_id, .. } => Some(job_id),
        Submitted::Duplicate { .. } => None,
    }
}

async fn a_batch_stores_every_job_in_order_at_one_time(b: Backend) {
    let clock = ManualClock::at(50_000);
    let store = b.open_with(&clock).await;
    // Same priority and creation time: the claim order is the batch order.
    let ids = ["b-3", "b-1", "b-4", "b-2", "b-5"];
    let answers = store
        .submit_batch(ids.iter().map(|id| job(id, 5, 1_000)).collect())
        .await
        .unwrap();
    assert_eq!(answers.len(), ids.len());
    for (answer, id) in answers.iter().zip(ids) {
        assert_eq!(
            answer,
            &Submitted::Submitted {
                job_id: id.to_string(),
                submitted_at: clock.now()
            }
        );
        let history = store.history(id).await.unwrap();
        assert_eq!(history.len(), 1, "{id}");
        assert_eq!(history[0].at, clock.now());
        assert_eq!(history[0].to, JobStatus::Queued);
    }
    for id in ids {
        let claimed = store
            .claim_next("w", &ClaimFilter::default())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(claimed.job_id, id);
    }
    assert!(store.submit_batch(Vec::new()).await.unwrap().is_empty());
}

async fn a_batch_answers_duplicates_within_itself_and_with_stored_jobs(b: Backend) {
    let store = b.open().await;
    store.submit(job("old", 5, 1)).await.unwrap();
    let mut keyed = job("keyed", 5, 2);
    keyed.idempotency_key = Some("key-1".into());
    let mut same_key = job("same-key", 5, 3);
    same_key.idempotency_key = Some("key-1".into());
    let answers = store
        .submit_batch(vec![
            keyed,
            same_key,
            job("old", 9, 4),
            job("fresh", 5, 5),
            job("fresh", 7, 6),
        ])
        .await
        .unwrap();
    let dup = |of: &str| Submitted::Duplicate {
        existing_job_id: of.to_string(),
        status: JobStatus::Queued,
    };
    assert_eq!(stored_id(&answers[0]), Some("keyed"));
    assert_eq!(answers[1], dup("keyed"));
    assert_eq!(answers[2], dup("old"));
    assert_eq!(stored_id(&answers[3]), Some("fresh"));
    assert_eq!(answers[4], dup("fresh"));
    assert!(store.get("same-key").await.unwrap().is_none());
    let fresh = store.get("fresh").await.unwrap().unwrap();
    assert_eq!(
        fresh.priority, 5,
        "the first job of the batch is the one kept"
    );
    assert_eq!(store.get("old").await.unwrap().unwrap().priority, 5);
    assert_eq!(store.queue_depth().await.unwrap(), 3);
}

async fn one_invalid_job_stores_none_of_its_batch(b: Backend) {
    let store = b.open().await;
    let err = store
        .submit_batch(vec![
            job("good-1", 5, 1),
            job("bad", 11, 1),
            job("good-2", 5, 1),
        ])
        .await
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::InvalidInput { job_id, field: "priority", .. } if job_id == "bad"),
        "{err}"
    );
    assert_eq!(store.queue_depth().await.unwrap(), 0);
    assert!(store.get("good-1").await.unwrap().is_none());
}

async fn group_commit_batches_concurrent_submissions_and_answers_each(b: Backend) {
    let store = b.open().await;
    let commit = GroupCommit::start(store.clone());
    const N: usize = 400;
    let tasks: Vec<_> = (0..N)
        .map(|i| {
            let commit = commit.clone();
            tokio::spawn(async move {
                // Jobs 2k and 2k+1 share an idempotency key; job 333 is
                // invalid and must fail alone.
                let mut new = job(&format!("g-{i}"), if i == 333 { 0 } else { 5 }, 1_000);
                new.idempotency_key = Some(format!("key-{}", i / 2));
                commit.submit(new).await
            })
        })
        .collect();
    let mut answers = Vec::new();
    for task in tasks {
        answers.push(task.await.unwrap());
    }
    let mut stored = 0;
    for (pair, two) in answers.chunks(2).enumerate() {
        let (a, b) = (format!("g-{}", 2 * pair), format!("g-{}", 2 * pair + 1));
        match two {
            [Ok(Submitted::Submitted { job_id: first, .. }), Ok(Submitted::Duplicate {
                existing_job_id, ..
            })]
            | [Ok(Submitted::Duplicate {
                existing_job_id, ..
            }), Ok(Submitted::Submitted { job_id: first, .. })] => {
                assert!(*first == a || *first == b, "{first}");
                assert_eq!(existing_job_id, first, "pair {a}, {b}");
                stored += 1;
            }
            // 333 invalid: 332 holds the key alone.
            [Ok(Submitted::Submitted { job_id, .. }), Err(StoreError::InvalidInput { job_id: bad, .. })]
                if pair == 166 =>
            {
                assert_eq!((job_id.as_str(), bad.as_str()), ("g-332", "g-333"));
                stored += 1;
            }
            other => panic!("pair {a}, {b}: {other:?}"),
        }
    }
    assert_eq!(stored, N / 2);
    assert_eq!(store.queue_depth().await.unwrap(), 200);
    let (transactions, jobs) = commit.written();
    assert_eq!(jobs, N as u64, "every submission went through a batch");
    assert!(
        transactions < jobs,
        "{N} concurrent submissions took {transactions} transactions"
    );
}

both_stores!(
    a_batch_stores_every_job_in_order_at_one_time,
    a_batch_answers_duplicates_within_itself_and_with_stored_jobs,
    one_invalid_job_stores_none_of_its_batch,
    group_commit_batches_concurrent_submissions_and_answers_each,
);
