//! The file transport: job documents dropped into a directory.
//!
//! Writers must create the file under a temporary name and rename it into
//! place (`job.json.tmp` → `job.json`), so the worker never reads half a
//! document: names starting with `.` and ending in `.tmp`, `.part`,
//! `.swp` or `~` are ignored, and only `*.json` files are taken. The
//! directory is watched with inotify and rescanned periodically, so files
//! renamed in and files present at start are all seen.
//!
//! A job is claimed by renaming it into `processing/` (atomic: two
//! workers on one directory never take the same file). Accepted jobs stay
//! there while they run and move to `done/` (completed) or `failed/`
//! (failed, timed out, cancelled); rejected documents move to `failed/`
//! at once, with an error result naming the problem in the results
//! directory. Nothing is skipped silently.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use guestkit_job_spec::{ErrorCode, JobError, JobResult, JobStatus};
use notify::{RecursiveMode, Watcher};
use tokio::sync::{broadcast, mpsc, watch};

use crate::executor::Finished;
use crate::intake::{Accepted, Intake};
use crate::metrics::Metrics;
use crate::results::ResultSink;
use crate::store::JobStore;

/// The transport's name in metrics.
pub const TRANSPORT: &str = "file";

/// Largest job document read.
pub const MAX_JOB_BYTES: u64 = 4 << 20;

/// Subdirectories of the jobs directory.
pub const PROCESSING: &str = "processing";
pub const DONE: &str = "done";
pub const FAILED: &str = "failed";

/// Whether `name` is a job file to take (not a temporary or hidden one).
pub fn is_job_file(name: &str) -> bool {
    !name.starts_with('.')
        && name.ends_with(".json")
        && ![".tmp", ".part", ".swp", "~"]
            .iter()
            .any(|s| name.ends_with(s))
}

/// The file transport of one worker.
pub struct FileTransport {
    jobs: PathBuf,
    intake: Arc<Intake>,
    store: Arc<dyn JobStore>,
    sink: Arc<ResultSink>,
    rescan: Duration,
    metrics: Arc<Metrics>,
    /// job id → its file in processing/.
    tracked: Mutex<HashMap<String, PathBuf>>,
    /// first job id → (repeat job id, its file) for repeated idempotency
    /// keys whose first job has not ended yet.
    repeats: Mutex<HashMap<String, Vec<(String, PathBuf)>>>,
}

fn sub(jobs: &Path, name: &str) -> PathBuf {
    jobs.join(name)
}

/// Renames `from` into `dir`, adding `.N` before the extension when the
/// name is taken there.
fn move_into(from: &Path, dir: &Path) -> std::io::Result<PathBuf> {
    let name = from
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "job.json".into());
    let (stem, ext) = name.rsplit_once('.').unwrap_or((name.as_str(), "json"));
    let mut target = dir.join(&name);
    let mut n: u32 = 1;
    while target.exists() {
        target = dir.join(format!("{stem}.{n}.{ext}"));
        n = n.saturating_add(1);
    }
    std::fs::rename(from, &target)?;
    Ok(target)
}

impl FileTransport {
    /// A transport on `jobs` (its subdirectories are created).
    pub fn new(
        jobs: PathBuf,
        intake: Arc<Intake>,
        store: Arc<dyn JobStore>,
        sink: Arc<ResultSink>,
        rescan: Duration,
        metrics: Arc<Metrics>,
    ) -> std::io::Result<Self> {
        for d in [PROCESSING, DONE, FAILED] {
            std::fs::create_dir_all(sub(&jobs, d))?;
        }
        Ok(FileTransport {
            jobs,
            intake,
            store,
            sink,
            rescan,
            metrics,
            tracked: Mutex::new(HashMap::new()),
            repeats: Mutex::new(HashMap::new()),
        })
    }

    /// Takes files in while `claiming` is true; moves files of finished
    /// jobs until `stop` turns true.
    pub async fn run(
        self: Arc<Self>,
        mut finished: broadcast::Receiver<Finished>,
        mut claiming: watch::Receiver<bool>,
        mut stop: watch::Receiver<bool>,
    ) {
        // Files left in processing/ by an earlier run come first.
        for path in self.list(&sub(&self.jobs, PROCESSING)) {
            self.accept(path).await;
        }
        let (tx, mut changed) = mpsc::unbounded_channel::<()>();
        let watcher = notify::recommended_watcher(move |ev: notify::Result<notify::Event>| {
            // Our own directory reads raise access events: only a new or
            // renamed-in name is news.
            let news = match ev {
                Ok(e) => matches!(
                    e.kind,
                    notify::EventKind::Create(_)
                        | notify::EventKind::Modify(notify::event::ModifyKind::Name(_))
                ),
                Err(_) => true,
            };
            if news {
                let _ = tx.send(());
            }
        })
        .and_then(|mut w| w.watch(&self.jobs, RecursiveMode::NonRecursive).map(|_| w));
        if let Err(e) = &watcher {
            tracing::warn!(error = %e, dir = %self.jobs.display(), "inotify unavailable; relying on rescans");
        }
        let mut tick = tokio::time::interval(self.rescan);
        loop {
            let scanning = *claiming.borrow();
            tokio::select! {
                _ = changed.recv(), if scanning => {
                    while changed.try_recv().is_ok() {}
                    self.scan().await;
                }
                _ = tick.tick(), if scanning => self.scan().await,
                ev = finished.recv() => match ev {
                    Ok(f) => self.on_finished(&f).await,
                    Err(broadcast::error::RecvError::Lagged(n)) => {
                        tracing::warn!(missed = n, "finished-job events lagged; settling from the store");
                        self.settle().await;
                    }
                    Err(broadcast::error::RecvError::Closed) => break,
                },
                _ = claiming.changed(), if scanning => {}
                _ = stop.changed() => break,
            }
        }
        while let Ok(f) = finished.try_recv() {
            self.on_finished(&f).await;
        }
        self.settle().await;
        drop(watcher);
    }

    /// Job files in `dir`, oldest first.
    fn list(&self, dir: &Path) -> Vec<PathBuf> {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return Vec::new();
        };
        let mut files: Vec<(std::time::SystemTime, PathBuf)> = entries
            .filter_map(Result::ok)
            .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
            .filter(|e| is_job_file(&e.file_name().to_string_lossy()))
            .map(|e| {
                let t = e
                    .metadata()
                    .and_then(|m| m.modified())
                    .unwrap_or(std::time::UNIX_EPOCH);
                (t, e.path())
            })
            .collect();
        files.sort();
        files.into_iter().map(|(_, p)| p).collect()
    }

    /// Claims and takes in every job file in the jobs directory.
    async fn scan(&self) {
        for path in self.list(&self.jobs) {
            let processing = sub(&self.jobs, PROCESSING);
            match move_into(&path, &processing) {
                Ok(claimed) => {
                    self.metrics.fetched(TRANSPORT);
                    self.accept(claimed).await
                }
                // Another worker took it, or it was removed.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    self.metrics.transport_error(TRANSPORT);
                    tracing::warn!(file = %path.display(), error = %e, "cannot claim job file")
                }
            }
        }
    }

    /// Takes in a claimed file.
    async fn accept(&self, path: PathBuf) {
        let stem = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let text = match read_job_file(&path) {
            Ok(t) => t,
            Err(error) => return self.reject(&path, None, &stem, error),
        };
        match self.intake.submit_text(&text).await {
            Ok(Accepted::Queued { job_id, .. }) => {
                tracing::info!(job_id = %job_id, file = %path.display(), "job queued");
                self.track(job_id, path);
            }
            Ok(Accepted::Duplicate {
                job_id,
                existing,
                status,
            }) if job_id == existing => {
                // The same job again (a restart, or the file dropped twice).
                if status.is_terminal() {
                    self.settle_file(&path, status);
                } else {
                    self.track(job_id, path);
                }
            }
            Ok(Accepted::Duplicate {
                job_id, existing, ..
            }) => {
                tracing::info!(job_id = %job_id, first = %existing, "idempotency key used before; nothing runs");
                let first_done = self.repeat_result(&job_id, &existing).await;
                if first_done {
                    self.settle_file(&path, JobStatus::Completed);
                } else if let Ok(mut r) = self.repeats.lock() {
                    r.entry(existing).or_default().push((job_id, path));
                }
            }
            Err(rejection) => self.reject(&path, rejection.job_id, &stem, rejection.error),
        }
    }

    fn track(&self, job_id: String, path: PathBuf) {
        if let Ok(mut t) = self.tracked.lock() {
            t.insert(job_id, path);
        }
    }

    /// Writes an error result and moves the file to failed/.
    fn reject(&self, path: &Path, job_id: Option<String>, stem: &str, error: JobError) {
        self.metrics.transport_error(TRANSPORT);
        let id = job_id.unwrap_or_else(|| format!("file-{}", sanitize(stem)));
        tracing::warn!(job_id = %id, file = %path.display(), code = error.code.as_str(), error = %error.message, "job rejected");
        let mut result = JobResult::new(id, self.intake.worker().id.clone(), JobStatus::Failed);
        result.fail(error);
        result.extra.insert(
            "source_file".into(),
            serde_json::Value::String(
                path.file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
            ),
        );
        if let Err(e) = self.sink.write(&result, false) {
            tracing::error!(error = %e, "writing the rejection result failed");
        }
        if let Err(e) = move_into(path, &sub(&self.jobs, FAILED)) {
            tracing::error!(file = %path.display(), error = %e, "cannot move the rejected job to failed/");
        }
    }

    /// For a job repeating `first`'s idempotency key: writes `first`'s
    /// result under `job_id` once `first` has one. True when written.
    async fn repeat_result(&self, job_id: &str, first: &str) -> bool {
        let Ok(Some(text)) = self.store.result(first).await else {
            return false;
        };
        let Ok(mut result) = serde_json::from_str::<JobResult>(&text) else {
            return false;
        };
        result.job_id = job_id.to_string();
        result.extra.insert(
            "duplicate_of".into(),
            serde_json::Value::String(first.to_string()),
        );
        match self.sink.write(&result, false) {
            Ok(_) => true,
            Err(e) => {
                tracing::error!(error = %e, "writing the repeated result failed");
                false
            }
        }
    }

    /// Moves a finished job's file out of processing/.
    async fn on_finished(&self, f: &Finished) {
        let path = self
            .tracked
            .lock()
            .ok()
            .and_then(|mut t| t.remove(&f.job_id));
        if let Some(path) = path {
            self.settle_file(&path, f.status);
        }
        let repeats = self
            .repeats
            .lock()
            .ok()
            .and_then(|mut r| r.remove(&f.job_id))
            .unwrap_or_default();
        for (id, path) in repeats {
            self.repeat_result(&id, &f.job_id).await;
            self.settle_file(&path, f.status);
        }
    }

    /// Settles every tracked file whose job the store says has ended.
    async fn settle(&self) {
        let ids: Vec<String> = self
            .tracked
            .lock()
            .map(|t| t.keys().cloned().collect())
            .unwrap_or_default();
        for id in ids {
            if let Ok(Some(rec)) = self.store.get(&id).await {
                if rec.status.is_terminal() {
                    self.on_finished(&Finished {
                        job_id: id,
                        status: rec.status,
                        result_path: None,
                    })
                    .await;
                }
            }
        }
    }

    fn settle_file(&self, path: &Path, status: JobStatus) {
        let dir = if status == JobStatus::Completed {
            DONE
        } else {
            FAILED
        };
        if let Err(e) = move_into(path, &sub(&self.jobs, dir)) {
            tracing::warn!(file = %path.display(), error = %e, "cannot move the job file to {dir}/");
        }
    }
}

/// Reads a job file: at most [`MAX_JOB_BYTES`], UTF-8.
fn read_job_file(path: &Path) -> Result<String, JobError> {
    let bad = |m: String| {
        JobError::new(
            ErrorCode::ValidationFailed,
            format!("{}: {m}", path.display()),
            JobError::PHASE_VALIDATION,
        )
    };
    let md = std::fs::metadata(path).map_err(|e| bad(e.to_string()))?;
    if md.len() > MAX_JOB_BYTES {
        return Err(bad(format!(
            "{} bytes; job files are limited to {MAX_JOB_BYTES}",
            md.len()
        )));
    }
    let bytes = std::fs::read(path).map_err(|e| bad(e.to_string()))?;
    String::from_utf8(bytes).map_err(|e| {
        bad(format!(
            "not UTF-8 at byte {}",
            e.utf8_error().valid_up_to()
        ))
    })
}

/// A file stem made safe as a job id.
fn sanitize(stem: &str) -> String {
    let s: String = stem
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .take(100)
        .collect();
    if s.is_empty() {
        "unnamed".into()
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temporary_and_hidden_names_are_ignored() {
        assert!(is_job_file("job-1.json"));
        for n in [
            ".job.json",
            "job.json.tmp",
            "job.json.part",
            "job.json~",
            "job.yaml",
            "job.json.swp",
        ] {
            assert!(!is_job_file(n), "{n}");
        }
        assert_eq!(sanitize("a b/../c"), "a_b_.._c");
    }
}
