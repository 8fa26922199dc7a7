//! Runs the real `guestkit-worker` binary on a temporary jobs directory,
//! drops job files into it the documented way (write, then rename) and
//! reads what it leaves behind.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use guestkit_job_spec::{JobDocument, JobResult};

/// The repository root (where `demo/demo.qcow2` is).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("repo root")
}

/// A loopback port free at the time of asking.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// The local PostgreSQL the tests use.
pub const PG_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

fn psql(sql: &str) -> bool {
    Command::new("psql")
        .args([PG_URL, "-qAtc", sql])
        .env("PGOPTIONS", "--client-min-messages=warning")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

/// A fresh PostgreSQL schema for one test or benchmark, dropped at the
/// end, so runs do not see each other's jobs.
pub struct PgSchema(String);

impl PgSchema {
    /// A new schema, or `None` (with a visible SKIP line) when PostgreSQL
    /// does not answer.
    pub fn create(tag: &str) -> Option<PgSchema> {
        if !psql("select 1") {
            eprintln!("SKIP (PostgreSQL not reachable at {PG_URL})");
            return None;
        }
        let name = format!("{tag}_{}", std::process::id());
        assert!(
            psql(&format!("create schema {name}")),
            "create schema {name}"
        );
        Some(PgSchema(name))
    }

    /// The store URL that keeps the worker's tables in this schema.
    pub fn url(&self) -> String {
        format!("{PG_URL}?options=-c%20search_path%3D{}", self.0)
    }
}

impl Drop for PgSchema {
    fn drop(&mut self) {
        psql(&format!("drop schema {} cascade", self.0));
    }
}

/// A worker process and its directories.
pub struct Worker {
    pub dir: tempfile::TempDir,
    pub child: Option<Child>,
    pub args: Vec<String>,
}

impl Worker {
    /// Starts a worker with `--image-root <repo>` and `extra` flags.
    pub fn start(extra: &[&str]) -> Worker {
        let dir = tempfile::tempdir().expect("tmp");
        let mut w = Worker {
            dir,
            child: None,
            args: extra.iter().map(|s| s.to_string()).collect(),
        };
        w.spawn();
        w
    }

    /// Starts the process (again) with the same directories and flags.
    pub fn spawn(&mut self) {
        let d = self.dir.path();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(d.join("worker.log"))
            .expect("log");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_guestkit-worker"));
        if !self.args.iter().any(|a| a == "--worker-id") {
            cmd.arg("--worker-id").arg("test-worker");
        }
        let child = cmd
            .arg("--jobs-dir")
            .arg(d.join("jobs"))
            .arg("--results-dir")
            .arg(d.join("results"))
            .arg("--state-dir")
            .arg(d.join("state"))
            .arg("--image-root")
            .arg(repo_root())
            .arg("--rescan-ms")
            .arg("200")
            .args(&self.args)
            .env("GUESTKIT_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::from(log))
            .spawn()
            .expect("spawn guestkit-worker");
        self.child = Some(child);
        // The jobs directory exists once the worker is up.
        self.wait_for(Duration::from_secs(20), "the worker to start", |w| {
            w.jobs().join("processing").is_dir()
        });
    }

    pub fn jobs(&self) -> PathBuf {
        self.dir.path().join("jobs")
    }

    pub fn results(&self) -> PathBuf {
        self.dir.path().join("results")
    }

    pub fn store_path(&self) -> PathBuf {
        self.dir.path().join("state").join("worker.db")
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("worker.log")).unwrap_or_default()
    }

    /// Drops `text` as job file `name`: written under a temporary name,
    /// then renamed into place.
    pub fn drop_text(&self, name: &str, text: &str) {
        let tmp = self.jobs().join(format!(".{name}.tmp"));
        std::fs::write(&tmp, text).expect("write job");
        std::fs::rename(&tmp, self.jobs().join(name)).expect("rename job");
    }

    /// Drops a job document.
    pub fn drop_job(&self, job: &JobDocument) {
        let text = serde_json::to_string_pretty(job).expect("json");
        self.drop_text(&format!("{}.json", job.job_id), &text);
    }

    /// The result of `job_id`, once written.
    pub fn result(&self, job_id: &str) -> Option<JobResult> {
        let path = self.results().join(format!("{job_id}-result.json"));
        let text = std::fs::read(path).ok()?;
        Some(serde_json::from_slice(&text).expect("result json"))
    }

    /// Waits for the result of `job_id`.
    pub fn wait_result(&self, job_id: &str, within: Duration) -> JobResult {
        let mut found = None;
        self.wait_for(within, &format!("the result of {job_id}"), |w| {
            found = w.result(job_id);
            found.is_some()
        });
        found.expect("result")
    }

    /// Names of the files in a jobs subdirectory.
    pub fn files_in(&self, sub: &str) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(self.jobs().join(sub))
            .map(|d| {
                d.filter_map(Result::ok)
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|n| !n.starts_with('.'))
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    }

    /// Polls `ready` every 20 ms until true; panics with the log after
    /// `within`.
    pub fn wait_for(&self, within: Duration, what: &str, mut ready: impl FnMut(&Self) -> bool) {
        let end = Instant::now() + within;
        while Instant::now() < end {
            if ready(self) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("timed out waiting for {what}; worker log:\n{}", self.log());
    }

    /// The running process's peak resident memory (VmHWM), in KiB.
    #[allow(dead_code)]
    pub fn peak_rss_kib(&self) -> Option<u64> {
        let pid = self.child.as_ref()?.id();
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse().ok())
    }

    /// Sends a signal to the process.
    pub fn signal(&self, sig: &str) {
        let pid = self.child.as_ref().expect("running").id();
        let ok = Command::new("kill")
            .args([&format!("-{sig}"), &pid.to_string()])
            .status()
            .expect("kill")
            .success();
        assert!(ok, "kill -{sig} {pid}");
    }

    /// Waits for the process to exit.
    pub fn wait_exit(&mut self, within: Duration) -> ExitStatus {
        let mut child = self.child.take().expect("running");
        let end = Instant::now() + within;
        loop {
            if let Some(status) = child.try_wait().expect("wait") {
                return status;
            }
            if Instant::now() > end {
                let _ = child.kill();
                panic!("worker did not exit; log:\n{}", self.log());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
