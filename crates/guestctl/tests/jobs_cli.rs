//! `guestctl submit` and `guestctl jobs` against a real `guestkit-worker`
//! with its REST API on a loopback port.

mod cli;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use cli::guestctl;
use serde_json::Value;

const SUBMIT: &str = "submit-token-0123456789";
const READ: &str = "read-token-0123456789ab";

/// The worker binary of this build (built when absent: it is another
/// package's binary).
fn worker_bin() -> PathBuf {
    let exe = std::env::current_exe().expect("test exe");
    let dir = exe
        .parent()
        .and_then(|d| d.parent())
        .expect("target profile dir")
        .to_path_buf();
    let bin = dir.join("guestkit-worker");
    if !bin.exists() {
        let ok = Command::new(env!("CARGO"))
            .args([
                "build",
                "-q",
                "-p",
                "guestkit-worker",
                "--bin",
                "guestkit-worker",
            ])
            .status()
            .expect("cargo build")
            .success();
        assert!(ok, "building guestkit-worker");
    }
    bin
}

struct Worker {
    child: Child,
    server: String,
    _dir: tempfile::TempDir,
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start() -> Worker {
    let dir = tempfile::tempdir().expect("tmp");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("port")
        .local_addr()
        .expect("addr")
        .port();
    let root = guestkit_fixtures::workspace_root();
    let child = Command::new(worker_bin())
        .args(["--worker-id", "cli-test", "--max-concurrent", "1"])
        .arg("--jobs-dir")
        .arg(dir.path().join("jobs"))
        .arg("--results-dir")
        .arg(dir.path().join("results"))
        .arg("--state-dir")
        .arg(dir.path().join("state"))
        .arg("--image-root")
        .arg(&root)
        .args(["--api-enabled", "--api-addr", &format!("127.0.0.1:{port}")])
        .env(
            "GUESTKIT_API_TOKENS",
            format!("submit:{SUBMIT},read:{READ}"),
        )
        .env("GUESTKIT_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn worker");
    let server = format!("http://127.0.0.1:{port}");
    let end = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < end, "the worker's API did not come up");
        std::thread::sleep(Duration::from_millis(50));
    }
    Worker {
        child,
        server,
        _dir: dir,
    }
}

fn run(w: &Worker, token: &str, args: &[&str]) -> (i32, String, String) {
    let mut all = args.to_vec();
    all.extend(["--server", &w.server, "--token", token]);
    let out = guestctl(&all);
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

fn write_job(dir: &std::path::Path, name: &str, job: &guestkit_job_spec::JobDocument) -> String {
    let p = dir.join(name);
    std::fs::write(&p, serde_json::to_string(job).expect("json")).expect("write");
    p.display().to_string()
}

#[test]
fn submit_wait_list_get_result_cancel_watch() {
    let w = start();
    let examples = guestkit_fixtures::workspace_root().join("examples/jobs");
    let inspect = examples.join("inspect-basic.json");
    let (code, out, err) = run(
        &w,
        SUBMIT,
        &["submit", inspect.to_str().expect("path"), "--wait"],
    );
    assert_eq!(code, 0, "{err}");
    let result = json(&out);
    assert_eq!(result["status"], "completed");
    assert_eq!(result["data"]["operating_systems"][0]["distro"], "debian");

    // A long job holds the only slot; a second waits queued.
    let tmp = tempfile::tempdir().expect("tmp");
    let long = guestkit_job_spec::echo_job(serde_json::json!({"delay_ms": 60000}))
        .build()
        .expect("job");
    let queued = guestkit_job_spec::echo_job(serde_json::json!({"n": 2}))
        .build()
        .expect("job");
    let long_file = write_job(tmp.path(), "long.json", &long);
    let queued_file = write_job(tmp.path(), "queued.json", &queued);
    let (code, out, err) = run(&w, SUBMIT, &["submit", &long_file, &queued_file]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains(&long.job_id) && out.contains(&queued.job_id),
        "{out}"
    );

    let (code, out, err) = run(&w, READ, &["jobs", "list"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("JOB"), "{out}");
    assert_eq!(out.lines().count(), 4, "{out}");
    let (code, out, _) = run(&w, READ, &["jobs", "list", "--status", "queued", "--json"]);
    assert_eq!(code, 0);
    let page = json(&out);
    assert_eq!(page["jobs"].as_array().map(Vec::len), Some(1), "{page}");

    let (code, out, err) = run(&w, READ, &["jobs", "get", &queued.job_id]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(json(&out)["status"], "queued");
    // The result is not there yet: an error, exit status 1.
    let (code, _, err) = run(&w, READ, &["jobs", "result", &queued.job_id]);
    assert_eq!(code, 1);
    assert!(err.contains("HTTP 404"), "{err}");
    // A read token may not cancel.
    let (code, _, err) = run(&w, READ, &["jobs", "cancel", &queued.job_id]);
    assert_eq!(code, 1);
    assert!(err.contains("HTTP 403"), "{err}");
    let (code, _, err) = run(&w, SUBMIT, &["jobs", "cancel", &queued.job_id]);
    assert_eq!(code, 0, "{err}");
    let (code, out, _) = run(&w, READ, &["jobs", "result", &queued.job_id]);
    assert_eq!(code, 0);
    assert_eq!(json(&out)["status"], "cancelled");

    // watch follows the running job until it is cancelled.
    let watcher = {
        let mut args = vec!["jobs", "watch", long.job_id.as_str()];
        args.extend(["--server", w.server.as_str(), "--token", READ]);
        Command::new(env!("CARGO_BIN_EXE_guestctl"))
            .args(&args)
            .stdout(Stdio::piped())
            .spawn()
            .expect("watch")
    };
    std::thread::sleep(Duration::from_millis(500));
    let (code, _, err) = run(&w, SUBMIT, &["jobs", "cancel", &long.job_id]);
    assert_eq!(code, 0, "{err}");
    let out = watcher.wait_with_output().expect("watch output");
    assert!(out.status.success());
    let events: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(json)
        .collect();
    let last = events.last().expect("events");
    assert_eq!(last["event"], "status", "{events:?}");
    assert_eq!(last["data"]["status"], "cancelled", "{events:?}");

    // A bad token is an error naming the HTTP status; exit 2 for submit.
    let (code, _, err) = run(
        &w,
        "wrong-token-0123456789",
        &["submit", inspect.to_str().expect("path")],
    );
    assert_eq!(code, 2);
    assert!(err.contains("HTTP 401"), "{err}");
}
