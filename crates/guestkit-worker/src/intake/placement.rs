//! Whether some worker can take a job: its constraints and routing checked
//! against what a worker offers. Intake asks about this worker first, then
//! about the other live workers of the store's registry, so a fleet sharing
//! one PostgreSQL store takes a job routed to — or needing what only — one
//! of its other workers offers; the claim then hands it to that worker.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use guestkit_job_spec::JobDocument;
use tokio::sync::Mutex;

use super::{feature_capability, version_triple};
use crate::store::{JobStore, WorkerRecord};

/// How long a read of the registry serves later submissions.
const REGISTRY_FRESH: Duration = Duration::from_secs(1);

/// What a worker offers to constraints and routing.
pub(super) struct Offer<'a> {
    pub id: &'a str,
    pub pool: Option<&'a str>,
    /// Its claim capabilities: operations, formats, extra capabilities,
    /// `feature:<f>` for its features and `worker:<id>`.
    pub capabilities: &'a BTreeSet<String>,
    pub version: &'a str,
}

impl<'a> Offer<'a> {
    pub(super) fn of_record(w: &'a WorkerRecord) -> Self {
        Offer {
            id: &w.id,
            pool: w.pool.as_deref(),
            capabilities: &w.capabilities,
            version: &w.version,
        }
    }
}

/// The first rule of `doc` that `offer` breaks: its field (under `$.`)
/// and why; `None` when the worker can take the job.
pub(super) fn unmet(doc: &JobDocument, offer: &Offer<'_>) -> Option<(&'static str, String)> {
    if let Some(c) = &doc.constraints {
        let missing: Vec<&str> = c
            .required_capabilities
            .iter()
            .filter(|cap| !offer.capabilities.contains(*cap))
            .map(String::as_str)
            .collect();
        if !missing.is_empty() {
            let why = format!("not offered: {}", missing.join(", "));
            return Some(("constraints.required_capabilities", why));
        }
        let missing: Vec<&str> = c
            .required_features
            .iter()
            .filter(|f| !offer.capabilities.contains(&feature_capability(f)))
            .map(String::as_str)
            .collect();
        if !missing.is_empty() {
            let why = format!("not offered: {}", missing.join(", "));
            return Some(("constraints.required_features", why));
        }
        if let Some(min) = &c.minimum_worker_version {
            if version_triple(min) > version_triple(offer.version) {
                let why = format!("{min} is newer than this worker's {}", offer.version);
                return Some(("constraints.minimum_worker_version", why));
            }
        }
        if !c.allowed_worker_pools.is_empty()
            && !offer
                .pool
                .is_some_and(|p| c.allowed_worker_pools.iter().any(|a| a == p))
        {
            let why = format!(
                "{} does not include this worker's pool {:?}",
                c.allowed_worker_pools.join(", "),
                offer.pool.unwrap_or("(none)")
            );
            return Some(("constraints.allowed_worker_pools", why));
        }
    }
    if let Some(r) = &doc.routing {
        if let Some(target) = r.worker_id.as_deref().filter(|t| *t != offer.id) {
            return Some(("routing.worker_id", format!("routed to worker {target:?}")));
        }
        if let Some(pool) = r.worker_pool.as_deref() {
            if offer.pool != Some(pool) {
                let why = format!(
                    "routed to pool {pool:?}, this worker serves {:?}",
                    offer.pool.unwrap_or("(none)")
                );
                return Some(("routing.worker_pool", why));
            }
        }
    }
    None
}

/// The other live workers of the registry, read at most every
/// [`REGISTRY_FRESH`].
pub(super) struct Fleet {
    store: Arc<dyn JobStore>,
    seen: Mutex<Option<(Instant, Arc<Vec<WorkerRecord>>)>>,
}

impl Fleet {
    pub(super) fn new(store: Arc<dyn JobStore>) -> Self {
        Fleet {
            store,
            seen: Mutex::new(None),
        }
    }

    /// The live workers other than `me`; none when the registry cannot be
    /// read (the job is then judged by this worker alone).
    pub(super) async fn others(&self, me: &str) -> Vec<WorkerRecord> {
        let mut seen = self.seen.lock().await;
        let fresh = seen
            .as_ref()
            .filter(|(at, _)| at.elapsed() < REGISTRY_FRESH)
            .map(|(_, list)| Arc::clone(list));
        let list = match fresh {
            Some(list) => list,
            None => {
                let list = match self.store.list_workers().await {
                    Ok(list) => Arc::new(list),
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot read the worker registry");
                        Arc::new(Vec::new())
                    }
                };
                *seen = Some((Instant::now(), Arc::clone(&list)));
                list
            }
        };
        drop(seen);
        let now = Utc::now();
        list.iter()
            .filter(|w| w.id != me && w.is_alive(now))
            .cloned()
            .collect()
    }
}
