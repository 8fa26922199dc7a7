//! Group commit for submissions: jobs submitted while the store is busy
//! are written together by one [`JobStore::submit_batch`] — one
//! transaction, one flush to disk — instead of one transaction each. Every
//! submitter still waits for its own answer, and the answer comes only once
//! the batch is durable, so an accepted job is never lost.
//!
//! One batch is written at a time; the next one is whatever arrived
//! meanwhile (up to [`MAX_BATCH`]). A lone submission goes straight through,
//! so an idle store answers as fast as before.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

use super::{JobStore, NewJob, StoreError, Submitted};

/// Most jobs one transaction takes.
pub const MAX_BATCH: usize = 256;
/// Submissions that may wait for the writer before submitters wait to
/// hand theirs over (back-pressure).
const QUEUE_DEPTH: usize = 4 * MAX_BATCH;

/// One submission waiting for its batch.
struct Pending {
    job: NewJob,
    reply: oneshot::Sender<Result<Submitted, StoreError>>,
}

/// The submitting face of a store with group commit. Cheap to clone; the
/// writer task ends when the last clone is dropped.
#[derive(Clone)]
pub struct GroupCommit {
    /// The store's name, for errors of the writer itself.
    store: Arc<str>,
    queue: mpsc::Sender<Pending>,
    written: Arc<Written>,
}

/// What the writer has handed to the store so far.
#[derive(Default)]
struct Written {
    /// Calls to the store: batches, lone jobs and retries one by one.
    transactions: AtomicU64,
    /// Submissions answered.
    jobs: AtomicU64,
}

impl Written {
    fn add(&self, transactions: usize, jobs: usize) {
        self.transactions
            .fetch_add(transactions as u64, Ordering::Relaxed);
        self.jobs.fetch_add(jobs as u64, Ordering::Relaxed);
    }
}

impl std::fmt::Debug for GroupCommit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupCommit").finish_non_exhaustive()
    }
}

impl GroupCommit {
    /// Starts the writer task for `store`. Must be called inside a Tokio
    /// runtime.
    pub fn start(store: Arc<dyn JobStore>) -> Self {
        let (queue, rx) = mpsc::channel(QUEUE_DEPTH);
        let written = Arc::new(Written::default());
        let name = Arc::from(store.name());
        tokio::spawn(write_batches(store, rx, Arc::clone(&written)));
        GroupCommit {
            store: name,
            queue,
            written,
        }
    }

    /// Store transactions started and submissions answered so far: how
    /// well submissions are being grouped.
    pub fn written(&self) -> (u64, u64) {
        (
            self.written.transactions.load(Ordering::Relaxed),
            self.written.jobs.load(Ordering::Relaxed),
        )
    }

    /// [`JobStore::submit`], sharing a transaction with the submissions
    /// that arrive at the same time.
    pub async fn submit(&self, job: NewJob) -> Result<Submitted, StoreError> {
        let job_id = job.job_id.clone();
        let gone = || StoreError::Task {
            store: self.store.to_string(),
            what: format!("submit job {job_id:?}"),
            detail: "the group-commit writer has stopped".to_owned(),
        };
        let (reply, answer) = oneshot::channel();
        self.queue
            .send(Pending { job, reply })
            .await
            .map_err(|_| gone())?;
        answer.await.map_err(|_| gone())?
    }
}

/// The writer: takes what is waiting, writes it as one batch, answers each
/// submitter. When a batch fails as a whole (one invalid job, a database
/// error) its jobs are submitted one by one, so each gets its own answer and
/// one bad job does not take the others down with it.
async fn write_batches(
    store: Arc<dyn JobStore>,
    mut rx: mpsc::Receiver<Pending>,
    written: Arc<Written>,
) {
    let mut waiting = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut waiting, MAX_BATCH).await > 0 {
        let (jobs, replies): (Vec<NewJob>, Vec<_>) =
            waiting.drain(..).map(|p| (p.job, p.reply)).unzip();
        if jobs.len() == 1 {
            written.add(1, 1);
            for (reply, job) in replies.into_iter().zip(jobs) {
                let _ = reply.send(store.submit(job).await);
            }
            continue;
        }
        let count = jobs.len();
        written.add(1, count);
        match store.submit_batch(jobs.clone()).await {
            Ok(answers) if answers.len() == count => {
                for (reply, answer) in replies.into_iter().zip(answers) {
                    // A submitter that gave up waiting still has its job stored.
                    let _ = reply.send(Ok(answer));
                }
            }
            Ok(answers) => {
                for (reply, job) in replies.into_iter().zip(jobs) {
                    let _ = reply.send(Err(StoreError::Task {
                        store: store.name().to_owned(),
                        what: format!("submit job {:?}", job.job_id),
                        detail: format!(
                            "the store gave {} answers for a batch of {count} jobs",
                            answers.len()
                        ),
                    }));
                }
            }
            Err(_) => {
                written.add(count, 0);
                for (reply, job) in replies.into_iter().zip(jobs) {
                    let _ = reply.send(store.submit(job).await);
                }
            }
        }
    }
}
