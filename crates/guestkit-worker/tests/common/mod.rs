//! Helpers shared by the store tests: a temporary database file, a clock the
//! test moves, and job builders.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use guestkit_worker::store::Clock;
use guestkit_worker::{NewJob, SqliteStore};
use tempfile::TempDir;

/// A clock that only moves when told to, in milliseconds since 1970.
#[derive(Clone)]
pub struct ManualClock(Arc<AtomicI64>);

impl ManualClock {
    pub fn at(ms: i64) -> Self {
        ManualClock(Arc::new(AtomicI64::new(ms)))
    }
    pub fn now(&self) -> DateTime<Utc> {
        ms(self.0.load(Ordering::SeqCst))
    }
    pub fn advance_ms(&self, by: i64) {
        self.0.fetch_add(by, Ordering::SeqCst);
    }
    pub fn clock(&self) -> Clock {
        let cell = Arc::clone(&self.0);
        Arc::new(move || ms(cell.load(Ordering::SeqCst)))
    }
}

/// Unix milliseconds as a timestamp.
pub fn ms(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap()
}

/// A fresh database file in its own directory (kept alive by the TempDir).
pub struct TestDb {
    pub dir: TempDir,
    pub path: PathBuf,
}

impl TestDb {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("jobs.db");
        TestDb { dir, path }
    }
    pub fn open(&self) -> SqliteStore {
        SqliteStore::open(&self.path).unwrap()
    }
    pub fn open_with(&self, clock: &ManualClock) -> SqliteStore {
        SqliteStore::open_with_clock(&self.path, clock.clock()).unwrap()
    }
}

/// A job with a small valid document, created at `created_ms`.
pub fn job(id: &str, priority: u8, created_ms: i64) -> NewJob {
    let mut job = NewJob::new(
        id,
        "system.echo",
        format!(r#"{{"version":"1.0","job_id":"{id}","operation":"system.echo"}}"#),
    );
    job.priority = priority;
    job.created_at = ms(created_ms);
    job
}
