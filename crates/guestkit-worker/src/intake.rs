//! Accepting a job document from any transport: validate it (every
//! problem at once), check it against this worker (operation, payload,
//! image and output roots, constraints, routing) and queue it in the
//! store, or say exactly why not. Nothing here runs a job.

use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use guestkit_job_spec::{parse_and_validate, ErrorCode, JobDocument, JobError, JobStatus};
use tokio::sync::Notify;

use self::placement::{Fleet, Offer};
use crate::handlers::{Registry, FEATURES};
use crate::policy::{Policy, PHASE_POLICY};
use crate::store::{ClaimFilter, GroupCommit, JobStore, NewJob, Submitted};

mod placement;

/// Capability a job routed to worker `id` requires.
pub fn worker_capability(id: &str) -> String {
    format!("worker:{id}")
}

/// Capability a job requiring feature `f` requires.
pub fn feature_capability(f: &str) -> String {
    format!("feature:{f}")
}

/// Who this worker is, as jobs see it.
#[derive(Debug, Clone)]
pub struct WorkerIdentity {
    pub id: String,
    pub pool: Option<String>,
    /// Operations, formats, extra capabilities.
    pub capabilities: BTreeSet<String>,
    pub version: &'static str,
}

impl WorkerIdentity {
    /// The store's claim filter for this worker: its capabilities, its
    /// features and its own id as `worker:<id>`, with the default lease.
    pub fn claim_filter(&self) -> ClaimFilter {
        let mut caps = self.capabilities.clone();
        caps.extend(FEATURES.iter().map(|f| feature_capability(f)));
        caps.insert(worker_capability(&self.id));
        ClaimFilter {
            capabilities: caps,
            pool: self.pool.clone(),
            ..ClaimFilter::default()
        }
    }
}

/// A job taken in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Accepted {
    /// Stored and queued.
    Queued {
        job_id: String,
        /// When it was stored.
        submitted_at: DateTime<Utc>,
    },
    /// Not stored: its id, or its idempotency key, belongs to `existing`.
    Duplicate {
        job_id: String,
        existing: String,
        status: JobStatus,
    },
}

/// A job refused: the error for its result, and its id when the document
/// had a usable one.
#[derive(Debug, Clone)]
pub struct Rejection {
    pub job_id: Option<String>,
    pub error: JobError,
}

/// Takes jobs in for one worker.
pub struct Intake {
    store: GroupCommit,
    fleet: Fleet,
    registry: Arc<Registry>,
    policy: Arc<Policy>,
    worker: WorkerIdentity,
    /// This worker's claim capabilities, computed once for placement.
    offered: BTreeSet<String>,
    wake: Arc<Notify>,
}

fn reject(job_id: &str, code: ErrorCode, message: String) -> Rejection {
    Rejection {
        job_id: Some(job_id.to_string()),
        error: JobError::new(code, message, PHASE_POLICY),
    }
}

/// Major, minor, patch of a version string.
fn version_triple(v: &str) -> Option<(u64, u64, u64)> {
    let mut it = v.trim().trim_start_matches('v').split('.');
    let mut next = || {
        it.next()
            .and_then(|p| p.split(['-', '+']).next()?.parse().ok())
    };
    Some((next()?, next().unwrap_or(0), next().unwrap_or(0)))
}

impl Intake {
    /// Intake into `store` (with [`GroupCommit`]: concurrent submissions
    /// share a transaction); `wake` is notified when a job is queued. Must
    /// be called inside a Tokio runtime.
    pub fn new(
        store: Arc<dyn JobStore>,
        registry: Arc<Registry>,
        policy: Arc<Policy>,
        worker: WorkerIdentity,
        wake: Arc<Notify>,
    ) -> Self {
        Intake {
            fleet: Fleet::new(Arc::clone(&store)),
            store: GroupCommit::start(store),
            registry,
            policy,
            offered: worker.claim_filter().capabilities,
            worker,
            wake,
        }
    }

    /// The worker jobs are taken in for.
    pub fn worker(&self) -> &WorkerIdentity {
        &self.worker
    }

    /// Takes in a job document given as JSON text.
    pub async fn submit_text(&self, text: &str) -> Result<Accepted, Rejection> {
        let doc = parse_and_validate(text).map_err(|errors| Rejection {
            job_id: serde_json::from_str::<serde_json::Value>(text)
                .ok()
                .and_then(|v| v.get("job_id")?.as_str().map(str::to_string))
                .filter(|id| guestkit_job_spec::is_valid_job_id(id)),
            error: JobError::from_validation(&errors),
        })?;
        self.submit(doc).await
    }

    /// Checks a parsed document against this worker (protocol, operation,
    /// payload, image and output roots); `Ok` carries the store record to
    /// submit. Constraints and routing are checked by [`Intake::submit`],
    /// against the fleet.
    pub fn admit(&self, doc: &JobDocument) -> Result<NewJob, Rejection> {
        let id = doc.job_id.as_str();
        let payload = doc.validate().map_err(|errors| Rejection {
            job_id: Some(id.to_string()),
            error: JobError::from_validation(&errors),
        })?;
        let handler = self.registry.get(&doc.operation).ok_or_else(|| {
            reject(
                id,
                ErrorCode::UnsupportedOperation,
                format!(
                    "$.operation: {:?} is not run by this worker (it runs {})",
                    doc.operation,
                    self.registry.operations().join(", ")
                ),
            )
        })?;
        handler.validate(&payload).map_err(|error| Rejection {
            job_id: Some(id.to_string()),
            error,
        })?;
        if let Some(image) = payload.image() {
            self.policy
                .resolve_image(&image.path)
                .map_err(|error| Rejection {
                    job_id: Some(id.to_string()),
                    error,
                })?;
        }
        if let Some(dest) = payload.output().and_then(|o| o.destination.as_deref()) {
            self.policy
                .resolve_destination(dest)
                .map_err(|error| Rejection {
                    job_id: Some(id.to_string()),
                    error,
                })?;
        }
        let mut required: BTreeSet<String> = doc
            .constraints
            .as_ref()
            .map(|c| {
                c.required_capabilities
                    .iter()
                    .cloned()
                    .chain(c.required_features.iter().map(|f| feature_capability(f)))
                    .collect()
            })
            .unwrap_or_default();
        let routing = doc.routing.as_ref();
        if let Some(w) = routing.and_then(|r| r.worker_id.as_deref()) {
            required.insert(worker_capability(w));
        }
        let document_json = serde_json::to_string(doc)
            .map_err(|e| reject(id, ErrorCode::Internal, format!("re-encoding the job: {e}")))?;
        let exec = &doc.execution;
        Ok(NewJob {
            job_id: doc.job_id.clone(),
            operation: doc.operation.clone(),
            priority: u8::try_from(exec.priority).unwrap_or(u8::MAX).clamp(1, 10),
            created_at: doc.created_at,
            document_json,
            idempotency_key: exec.idempotency_key.clone(),
            max_attempts: exec.max_attempts.max(1),
            timeout_seconds: Some(exec.timeout_seconds),
            deadline: exec.deadline,
            required_capabilities: required,
            worker_pool: routing.and_then(|r| r.worker_pool.clone()),
        })
    }

    /// Constraints and routing: fine when this worker can take the job, or
    /// another live worker of the registry can (it will claim it).
    async fn check_placement(&self, doc: &JobDocument) -> Result<(), Rejection> {
        let w = &self.worker;
        let me = Offer {
            id: &w.id,
            pool: w.pool.as_deref(),
            capabilities: &self.offered,
            version: w.version,
        };
        let Some((field, why)) = placement::unmet(doc, &me) else {
            return Ok(());
        };
        let others = self.fleet.others(&w.id).await;
        if others
            .iter()
            .any(|o| placement::unmet(doc, &Offer::of_record(o)).is_none())
        {
            return Ok(());
        }
        let whom = match others.len() {
            0 => format!("worker {}", w.id),
            n => format!("worker {}, nor any of the {n} other live workers", w.id),
        };
        Err(reject(
            &doc.job_id,
            ErrorCode::ValidationFailed,
            format!("$.{field}: {why} ({whom})"),
        ))
    }

    /// Takes in a parsed job document.
    pub async fn submit(&self, doc: JobDocument) -> Result<Accepted, Rejection> {
        let new = self.admit(&doc)?;
        self.check_placement(&doc).await?;
        let job_id = new.job_id.clone();
        match self.store.submit(new).await {
            Ok(Submitted::Submitted {
                job_id,
                submitted_at,
            }) => {
                self.wake.notify_one();
                Ok(Accepted::Queued {
                    job_id,
                    submitted_at,
                })
            }
            Ok(Submitted::Duplicate {
                existing_job_id,
                status,
            }) => Ok(Accepted::Duplicate {
                job_id,
                existing: existing_job_id,
                status,
            }),
            Err(e) => Err(reject(
                &job_id,
                ErrorCode::Internal,
                format!("storing the job: {e}"),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn versions_compare_numerically() {
        use super::version_triple as v;
        assert!(v("0.10.0") > v("0.9.9"));
        assert!(v("1.0") == v("1.0.0"));
        assert!(v("v0.1.0-rc1") == v("0.1.0"));
        assert!(v("x").is_none());
    }
}
