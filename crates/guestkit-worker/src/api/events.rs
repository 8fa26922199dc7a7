//! `GET /api/v1/jobs/{id}/events`: a job's progress and status as
//! Server-Sent Events.
//!
//! The stream looks at the store every [`POLL`] (and at once when the
//! executor announces a finished job). It sends every progress report
//! (`event: progress`) and every status change (`event: status`) in order,
//! and ends after the `status` event of a terminal status.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::time::Duration;

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::Stream;
use tokio::sync::broadcast;

use super::error::{from_rejection, ApiError};
use super::model::{EventKind, EventStreamItem, ProgressEvent, StatusEvent};
use super::ApiState;
use crate::executor::Finished;
use crate::status::JobStatus;
use crate::store::JobRecord;

/// How often the store is looked at.
const POLL: Duration = Duration::from_millis(200);

struct Watch {
    state: ApiState,
    job_id: String,
    /// Progress reports sent so far.
    sent_progress: usize,
    /// The last status sent, with its attempt.
    sent_status: Option<(JobStatus, u32)>,
    queue: VecDeque<Event>,
    finished: broadcast::Receiver<Finished>,
    stop: tokio::sync::watch::Receiver<bool>,
    first: bool,
    done: bool,
    next_id: u64,
}

impl Watch {
    fn push(&mut self, kind: EventKind, data: &impl serde::Serialize) {
        let event = Event::default()
            .event(kind.name())
            .id(self.next_id.to_string())
            .data(serde_json::to_string(data).unwrap_or_default());
        self.next_id = self.next_id.saturating_add(1);
        self.queue.push_back(event);
    }

    /// Waits for the next look (not before the first one).
    async fn wait(&mut self) {
        if std::mem::take(&mut self.first) {
            return;
        }
        let sleep = tokio::time::sleep(POLL);
        tokio::pin!(sleep);
        loop {
            tokio::select! {
                _ = &mut sleep => return,
                changed = self.stop.changed() => {
                    if changed.is_err() {
                        // The worker is gone: nothing more will happen.
                        self.done = true;
                    }
                    return;
                }
                ev = self.finished.recv() => match ev {
                    Ok(f) if f.job_id == self.job_id => return,
                    Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                    Err(broadcast::error::RecvError::Closed) => {
                        (&mut sleep).await;
                        return;
                    }
                },
            }
        }
    }

    /// Looks at the store and queues what is new.
    async fn look(&mut self) {
        let store = self.state.store();
        let progress = match store.progress(&self.job_id).await {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(job_id = %self.job_id, error = %e, "event stream: reading progress failed");
                Vec::new()
            }
        };
        let job = match store.get(&self.job_id).await {
            Ok(Some(j)) => j,
            Ok(None) => {
                let gone = ApiError::job_not_found(&self.job_id);
                self.push(EventKind::Error, &gone);
                self.done = true;
                return;
            }
            Err(e) => {
                tracing::warn!(job_id = %self.job_id, error = %e, "event stream: reading the job failed");
                return;
            }
        };
        // A stream on a job still going opens with its status, then the
        // progress made so far; after that, new progress comes before a
        // change of status, and the terminal status is always the last event.
        let opening = self.sent_status.is_none() && !job.status.is_terminal();
        if opening {
            self.push_status(&job);
        }
        let new: Vec<_> = progress.iter().skip(self.sent_progress).cloned().collect();
        self.sent_progress = progress.len();
        for p in new {
            let event = ProgressEvent {
                job_id: self.job_id.clone(),
                attempt: p.attempt,
                phase: p.phase,
                percent: p.percent,
                message: p.message,
                at: p.at,
            };
            self.push(EventKind::Progress, &event);
        }
        if !opening && self.sent_status != Some((job.status, job.attempt)) {
            self.push_status(&job);
        }
        if job.status.is_terminal() {
            self.done = true;
        }
    }

    fn push_status(&mut self, job: &JobRecord) {
        self.sent_status = Some((job.status, job.attempt));
        let event = StatusEvent {
            job_id: self.job_id.clone(),
            status: job.status,
            attempt: job.attempt,
            worker_id: job.worker_id.clone(),
            terminal: job.status.is_terminal(),
            error_code: job.error_code.clone(),
            at: job.updated_at,
        };
        self.push(EventKind::Status, &event);
    }
}

/// Progress and status of a job as Server-Sent Events.
///
/// Events: `progress` (`{job_id, attempt, phase, percent, message, at}`,
/// every report from the first) and `status` (`{job_id, status, attempt,
/// worker_id, terminal, error_code, at}`, at the start and on every
/// change). The stream ends after the `status` event of a terminal
/// status.
#[utoipa::path(
    get,
    path = "/api/v1/jobs/{id}/events",
    tag = "jobs",
    operation_id = "job_events",
    params(("id" = String, Path, description = "Job id")),
    responses(
        (status = 200, description = "An event stream that ends when the job does; `schema` describes each event", content_type = "text/event-stream", body = EventStreamItem),
        (status = 404, description = "No such job", body = ApiError),
    ),
    security(("bearer_token" = []))
)]
pub async fn job_events(
    State(state): State<ApiState>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let Path(job_id) = id.map_err(|r| from_rejection(r.status(), r.body_text()))?;
    if state.store().get(&job_id).await?.is_none() {
        return Err(ApiError::job_not_found(&job_id));
    }
    let watch = Watch {
        finished: state.inner.executor.subscribe(),
        stop: state.inner.stop.clone(),
        state,
        job_id,
        sent_progress: 0,
        sent_status: None,
        queue: VecDeque::new(),
        first: true,
        done: false,
        next_id: 1,
    };
    let stream = futures_util::stream::unfold(watch, |mut w| async move {
        loop {
            if let Some(event) = w.queue.pop_front() {
                return Some((Ok(event), w));
            }
            if w.done || *w.stop.borrow() {
                return None;
            }
            w.wait().await;
            w.look().await;
        }
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}
