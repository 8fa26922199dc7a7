//! The executor's leases: the keeper that renews them every lease/3,
//! records the worker's heartbeat, sweeps expired leases of any worker and
//! removes long-silent workers from the registry,
//! and what happens to a job whose lease is lost. Also the watcher of cancel
//! requests, which any API server of the fleet leaves in the store.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use super::{Executor, StopReason};
use crate::store::{ClaimedJob, StoreError};

/// How often the executor asks the store for cancel requests while it
/// holds jobs: a job cancelled through another worker's API stops within
/// about this long.
pub(super) const CANCEL_POLL: Duration = Duration::from_millis(250);

impl Executor {
    pub(super) fn lease_lost(&self, job_id: &str, attempt: u32) -> bool {
        self.leases
            .lock()
            .ok()
            .and_then(|l| l.get(&(job_id.to_owned(), attempt)).map(|l| l.lost))
            .unwrap_or(false)
    }

    /// Marks the job's lease lost (if it is still the attempt we hold) and
    /// stops it.
    pub(super) fn lose(&self, job_id: &str, attempt: u32) {
        let marked = self.leases.lock().ok().is_some_and(|mut leases| {
            match leases.get_mut(&(job_id.to_owned(), attempt)) {
                Some(lease) if !lease.lost => {
                    lease.lost = true;
                    true
                }
                _ => false,
            }
        });
        if marked {
            tracing::warn!(
                job_id,
                attempt,
                "lease lost: the job is no longer ours; stopping it"
            );
            self.stop_attempt(job_id, attempt, StopReason::LeaseLost);
        }
    }

    /// Every lease/3: renews our leases, records our heartbeat, sweeps
    /// expired leases. Runs until aborted.
    pub(super) async fn keep_leases(self: Arc<Self>) {
        let every = self
            .config
            .filter
            .lease
            .checked_div(3)
            .unwrap_or(Duration::ZERO)
            .max(Duration::from_millis(10));
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.tick().await;
        loop {
            tick.tick().await;
            self.beat().await;
        }
    }

    /// One round of [`Executor::keep_leases`].
    pub(super) async fn beat(&self) {
        let held = self.held();
        let worker = &self.config.worker_id;
        if !held.is_empty() {
            match self
                .store
                .heartbeat(worker, &held, self.config.filter.lease)
                .await
            {
                Ok(lost) => {
                    for id in lost {
                        if let Some((_, attempt)) = held.iter().find(|(h, _)| *h == id) {
                            self.lose(&id, *attempt);
                        }
                    }
                }
                Err(e) => tracing::warn!(error = %e, "cannot renew the leases"),
            }
        }
        let active = u32::try_from(held.len()).unwrap_or(u32::MAX);
        match self.store.worker_heartbeat(worker, active).await {
            Ok(()) => {}
            Err(StoreError::WorkerNotFound { .. }) => self.register().await,
            Err(e) => tracing::warn!(error = %e, "cannot record the worker heartbeat"),
        }
        match self.store.reclaim_expired().await {
            Ok(report) => {
                for (job_id, attempt) in &report.requeued {
                    tracing::warn!(job_id = %job_id, attempt, "lease expired; job queued again");
                }
                for job_id in &report.failed {
                    tracing::warn!(job_id = %job_id, "lease expired on the last attempt; job failed");
                }
                if !report.requeued.is_empty() {
                    self.wake.notify_one();
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot reclaim expired leases"),
        }
        if let Some(silence) = self.config.worker_retention {
            match self.store.forget_silent_workers(silence).await {
                Ok(forgotten) => {
                    for worker in forgotten {
                        tracing::info!(
                            %worker,
                            silent_s = silence.as_secs(),
                            "removed from the registry: not heard from within the retention"
                        );
                    }
                }
                Err(e) => tracing::warn!(error = %e, "cannot remove silent workers"),
            }
        }
    }

    /// Whether the job is still ours at `job.attempt`, asked of the store
    /// (which renews the lease); a store error counts as yes, and the
    /// store's fencing still refuses a stale write.
    pub(super) async fn still_ours(&self, job: &ClaimedJob) -> bool {
        if self.lease_lost(&job.job_id, job.attempt) {
            return false;
        }
        let held = [(job.job_id.clone(), job.attempt)];
        match self
            .store
            .heartbeat(&self.config.worker_id, &held, self.config.filter.lease)
            .await
        {
            Ok(lost) if !lost.is_empty() => {
                self.lose(&job.job_id, job.attempt);
                false
            }
            _ => true,
        }
    }

    /// The jobs held now, with their attempts (lost leases left out).
    fn held(&self) -> Vec<(String, u32)> {
        self.leases
            .lock()
            .map(|l| {
                l.iter()
                    .filter(|(_, lease)| !lease.lost)
                    .map(|(key, _)| key.clone())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Every [`CANCEL_POLL`] while jobs are held: stops the held jobs whose
    /// cancel was requested through the store. Runs until aborted.
    pub(super) async fn watch_cancels(self: Arc<Self>) {
        let mut tick = tokio::time::interval(CANCEL_POLL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // Stops already signalled, so each is logged once.
        let mut signalled: HashSet<(String, u32)> = HashSet::new();
        loop {
            tick.tick().await;
            let held = self.held();
            signalled.retain(|job| held.contains(job));
            if held.is_empty() {
                continue;
            }
            let requests = match self.store.cancel_requests(&self.config.worker_id).await {
                Ok(requests) => requests,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot read the cancel requests");
                    continue;
                }
            };
            for job in requests {
                if held.contains(&job)
                    && !signalled.contains(&job)
                    && self.stop_attempt(&job.0, job.1, StopReason::Cancelled)
                {
                    tracing::info!(
                        job_id = %job.0,
                        attempt = job.1,
                        "cancel requested through the store; stopping the job"
                    );
                    signalled.insert(job);
                }
            }
        }
    }
}
