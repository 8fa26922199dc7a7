//! The real `guestkit-worker` binary on a watched jobs directory: the
//! example jobs and a hundred inspections, crash recovery after kill -9,
//! timeouts, SIGTERM, rejected documents, idempotency keys and priority.

mod process;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use guestkit_job_spec::{echo_job, inspect_job, ErrorCode, JobStatus};
use guestkit_worker::JobStore;
use process::{repo_root, Worker};
use serde_json::{json, Value};

const LONG: Duration = Duration::from_secs(60);

/// The in-process inspection of the demo image, without timings.
fn demo_report(deep_scan: bool) -> Value {
    use guestkit_disk::{open_image, DeviceRef, Limits, OpenOptions};
    let opened = open_image(
        &repo_root().join("demo/demo.qcow2"),
        &OpenOptions::default(),
    )
    .expect("demo image");
    let devices: Vec<DeviceRef> = vec![opened.device];
    let guest = guestkit_fs::guest::open_guest(
        &devices,
        &Limits::default(),
        &guestkit_fs::FsLimits::default(),
    );
    let options = guestkit_inspect::InspectOptions {
        deep_scan,
        ..guestkit_inspect::InspectOptions::default()
    };
    let report = guestkit_inspect::inspect_guest(&guest, &options);
    without_timings(serde_json::to_value(report).expect("json"))
}

fn without_timings(mut v: Value) -> Value {
    if let Some(oses) = v.get_mut("operating_systems").and_then(Value::as_array_mut) {
        for os in oses {
            if let Some(o) = os.as_object_mut() {
                o.remove("timings_ms");
            }
        }
    }
    v
}

#[test]
fn examples_and_a_hundred_inspect_jobs_complete_with_correct_results() {
    let w = Worker::start(&["--max-concurrent", "2"]);
    let examples = repo_root().join("examples/jobs");
    let mut ids = Vec::new();
    for entry in std::fs::read_dir(&examples).expect("examples") {
        let path = entry.expect("entry").path();
        let text = std::fs::read_to_string(&path).expect("read");
        let doc: Value = serde_json::from_str(&text).expect("json");
        ids.push(doc["job_id"].as_str().expect("id").to_string());
        w.drop_text(&path.file_name().expect("name").to_string_lossy(), &text);
    }
    assert_eq!(
        ids.len(),
        4,
        "echo, inspect basic, inspect full, profile security"
    );
    for i in 0..100 {
        let job = inspect_job("demo/demo.qcow2")
            .name(format!("generated-{i}"))
            .build()
            .expect("job");
        ids.push(job.job_id.clone());
        w.drop_job(&job);
    }
    let want = demo_report(false);
    let want_deep = demo_report(true);
    let start = Instant::now();
    for id in &ids {
        let r = w.wait_result(id, LONG);
        assert_eq!(r.status, JobStatus::Completed, "{id}: {:?}", r.error);
        assert_eq!(r.worker_id, "test-worker");
        assert_eq!(r.execution_summary.attempt, 1);
        match r.execution_summary.operation.as_deref() {
            Some("guestkit.inspect") if r.execution_summary.payload_type.is_some() => {
                let got = without_timings(r.data.clone());
                let full = got["operating_systems"][0]["packages"].is_object();
                let deep = r.execution_summary.idempotency_key.is_some();
                if full {
                    let want = if deep { &want_deep } else { &want };
                    assert_eq!(&got, want, "{id}: report differs from the library's");
                } else {
                    // A job asking for some sections: the OS facts match.
                    for key in ["distro", "version_id", "hostname", "arch", "product_name"] {
                        let w = &want["operating_systems"][0][key];
                        assert!(!w.is_null(), "{key}");
                        assert_eq!(&got["operating_systems"][0][key], w, "{id}: {key}");
                    }
                }
            }
            Some("guestkit.profile") => {
                assert!(
                    r.data["summary"]["checks_evaluated"].as_u64().unwrap_or(0) > 20,
                    "{id}"
                );
                assert!(r.data["findings"].as_array().is_some_and(|f| !f.is_empty()));
            }
            Some("system.echo") => assert!(!r.data.is_null()),
            other => panic!("{id}: unexpected operation {other:?}"),
        }
    }
    eprintln!("104 jobs in {:.2} s", start.elapsed().as_secs_f64());
    // The full example wrote its report to its destination, inside the
    // results directory.
    let full: Value = serde_json::from_slice(
        &std::fs::read(w.results().join("inspect-demo-full.json")).expect("destination"),
    )
    .expect("json");
    assert_eq!(without_timings(full), want_deep);
    w.wait_for(Duration::from_secs(10), "all job files in done/", |w| {
        w.files_in("done").len() == 104
    });
    assert!(w.files_in("processing").is_empty());
    assert!(w.files_in("failed").is_empty());
    // Progress was stored for each inspection, in order.
    let store = guestkit_worker::SqliteStore::open(w.store_path()).expect("store");
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let progress = rt.block_on(store.progress(&ids[5])).expect("progress");
    let phases: Vec<&str> = progress.iter().map(|p| p.phase.as_str()).collect();
    assert_eq!(phases, ["open", "inspect"], "{progress:?}");
}

#[test]
fn kill_9_during_a_long_job_then_restart_completes_it_once_on_attempt_2() {
    let mut w = Worker::start(&[]);
    let job = echo_job(json!({"delay_ms": 3000, "message": "long"}))
        .max_attempts(3)
        .build()
        .expect("job");
    w.drop_job(&job);
    w.wait_for(LONG, "the job to run", |w| {
        w.log().contains("progress") && w.log().contains(&job.job_id)
    });
    std::thread::sleep(Duration::from_millis(300));
    w.signal("KILL");
    let status = w.wait_exit(Duration::from_secs(10));
    assert!(!status.success());
    assert!(
        w.result(&job.job_id).is_none(),
        "no result before the restart"
    );
    w.spawn();
    let r = w.wait_result(&job.job_id, LONG);
    assert_eq!(r.status, JobStatus::Completed, "{:?}", r.error);
    assert_eq!(r.execution_summary.attempt, 2);
    assert_eq!(r.data["message"], "long");
    let results: Vec<_> = std::fs::read_dir(w.results())
        .expect("results")
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with(&job.job_id))
        .collect();
    assert_eq!(results.len(), 1, "exactly one result file");
    assert!(w.log().contains("queued again"), "{}", w.log());
    w.wait_for(Duration::from_secs(10), "the job file in done/", |w| {
        w.files_in("done").len() == 1
    });
}

#[test]
fn a_timed_out_job_ends_within_3_s_and_frees_its_slot() {
    let w = Worker::start(&["--max-concurrent", "1"]);
    let slow = echo_job(json!({"delay_ms": 60_000}))
        .timeout_seconds(2)
        .priority(9)
        .build()
        .expect("job");
    let next = echo_job(json!({"after": "the slow one"}))
        .priority(1)
        .build()
        .expect("job");
    w.drop_job(&slow);
    w.wait_for(LONG, "the slow job to start", |w| {
        w.log().contains("job started")
    });
    w.drop_job(&next);
    let r = w.wait_result(&slow.job_id, Duration::from_secs(10));
    assert_eq!(r.status, JobStatus::TimedOut);
    let err = r.error.as_ref().expect("error");
    assert_eq!(err.code, ErrorCode::TimedOut);
    assert!(err.message.contains("timeout_seconds=2"), "{}", err.message);
    let ran = r.completed_at.expect("end") - r.started_at.expect("start");
    assert!(ran.num_milliseconds() < 3000, "timed out after {ran}");
    let n = w.wait_result(&next.job_id, Duration::from_secs(10));
    assert_eq!(n.status, JobStatus::Completed);
    assert!(
        n.started_at >= r.completed_at,
        "the slot was reused after the timeout"
    );
    // A deadline cuts a longer timeout.
    let deadline = echo_job(json!({"delay_ms": 60_000}))
        .timeout_seconds(600)
        .deadline(chrono::Utc::now() + chrono::Duration::milliseconds(1500))
        .build()
        .expect("job");
    w.drop_job(&deadline);
    let d = w.wait_result(&deadline.job_id, Duration::from_secs(10));
    assert_eq!(d.status, JobStatus::TimedOut);
    assert!(
        d.error
            .as_ref()
            .expect("error")
            .message
            .contains("deadline"),
        "{:?}",
        d.error
    );
    w.wait_for(Duration::from_secs(5), "files settled", |w| {
        w.files_in("failed").len() == 2 && w.files_in("done").len() == 1
    });
}

#[test]
fn sigterm_lets_running_jobs_finish_and_exits_0() {
    let mut w = Worker::start(&["--max-concurrent", "2"]);
    let jobs: Vec<_> = (0..2)
        .map(|_| echo_job(json!({"delay_ms": 1500})).build().expect("job"))
        .collect();
    for j in &jobs {
        w.drop_job(j);
    }
    w.wait_for(LONG, "both jobs to start", |w| {
        w.log().matches("job started").count() == 2
    });
    w.signal("TERM");
    let status = w.wait_exit(Duration::from_secs(20));
    assert!(status.success(), "exit {status:?}");
    for j in &jobs {
        let r = w.result(&j.job_id).expect("result");
        assert_eq!(r.status, JobStatus::Completed);
    }
    assert_eq!(w.files_in("done").len(), 2);
}

#[test]
fn sigterm_cancels_jobs_still_running_after_the_grace_period() {
    let mut w = Worker::start(&["--grace-seconds", "1"]);
    let job = echo_job(json!({"delay_ms": 60_000})).build().expect("job");
    w.drop_job(&job);
    w.wait_for(LONG, "the job to start", |w| {
        w.log().contains("job started")
    });
    let sent = Instant::now();
    w.signal("TERM");
    let status = w.wait_exit(Duration::from_secs(20));
    assert!(status.success(), "exit {status:?}");
    assert!(
        sent.elapsed() < Duration::from_secs(5),
        "{:?}",
        sent.elapsed()
    );
    let r = w.result(&job.job_id).expect("result");
    assert_eq!(r.status, JobStatus::Cancelled);
    assert!(r.error.expect("error").message.contains("grace period"));
    assert_eq!(w.files_in("failed").len(), 1);
}

#[test]
fn bad_jobs_land_in_failed_with_a_result_naming_the_problem() {
    let w = Worker::start(&[]);
    w.drop_text("broken.json", "{\"version\": \"1.0\", \"job_id\": ");
    let mut wrong_version: Value =
        serde_json::to_value(echo_job(json!(1)).build().expect("job")).expect("json");
    wrong_version["version"] = json!("2.0");
    w.drop_text("wrong-version.json", &wrong_version.to_string());
    let mut unknown_op: Value =
        serde_json::to_value(echo_job(json!(1)).build().expect("job")).expect("json");
    unknown_op["operation"] = json!("guestkit.fix");
    unknown_op["payload"]["type"] = json!("guestkit.fix.v1");
    w.drop_text("unknown-op.json", &unknown_op.to_string());
    let outside = inspect_job("/etc/hostname").build().expect("job");
    w.drop_job(&outside);
    let mut bad_sum: Value =
        serde_json::to_value(inspect_job("demo/demo.qcow2").build().expect("job")).expect("json");
    bad_sum["payload"]["data"]["image"]["checksum"] = json!(format!("sha256:{}", "0".repeat(64)));
    w.drop_text("bad-checksum.json", &bad_sum.to_string());
    let mut bad_dest: Value =
        serde_json::to_value(inspect_job("demo/demo.qcow2").build().expect("job")).expect("json");
    bad_dest["payload"]["data"]["output"] =
        json!({"format": "json", "destination": "/tmp/../etc/guestkit-out.json"});
    w.drop_text("bad-destination.json", &bad_dest.to_string());

    let other_worker = echo_job(json!(1))
        .worker_id("elsewhere")
        .build()
        .expect("job");
    w.drop_job(&other_worker);
    let missing_cap = echo_job(json!(1))
        .require_capability("gpu.cuda")
        .build()
        .expect("job");
    w.drop_job(&missing_cap);
    let other_pool = echo_job(json!(1))
        .worker_pool("pool-secure")
        .build()
        .expect("job");
    w.drop_job(&other_pool);
    let newer = echo_job(json!(1))
        .minimum_worker_version("99.0.0")
        .build()
        .expect("job");
    w.drop_job(&newer);

    let cases = [
        (
            other_worker.job_id.clone(),
            ErrorCode::ValidationFailed,
            "routed to worker \"elsewhere\"",
        ),
        (
            missing_cap.job_id.clone(),
            ErrorCode::ValidationFailed,
            "not offered: gpu.cuda",
        ),
        (
            other_pool.job_id.clone(),
            ErrorCode::ValidationFailed,
            "routed to pool \"pool-secure\"",
        ),
        (
            newer.job_id.clone(),
            ErrorCode::ValidationFailed,
            "99.0.0 is newer",
        ),
        (
            "file-broken".to_string(),
            ErrorCode::ValidationFailed,
            "line 1",
        ),
        (
            wrong_version["job_id"].as_str().expect("id").to_string(),
            ErrorCode::ValidationFailed,
            "$.version",
        ),
        (
            unknown_op["job_id"].as_str().expect("id").to_string(),
            ErrorCode::UnsupportedOperation,
            "guestkit.fix",
        ),
        (
            outside.job_id.clone(),
            ErrorCode::ImageNotAllowed,
            "outside the allowed image roots",
        ),
        (
            bad_sum["job_id"].as_str().expect("id").to_string(),
            ErrorCode::ChecksumMismatch,
            "0000000000",
        ),
        (
            bad_dest["job_id"].as_str().expect("id").to_string(),
            ErrorCode::DestinationNotAllowed,
            "outside the results directory",
        ),
    ];
    for (id, code, text) in &cases {
        let r = w.wait_result(id, LONG);
        assert_eq!(r.status, JobStatus::Failed, "{id}");
        let e = r.error.as_ref().expect("error");
        assert_eq!(e.code, *code, "{id}: {}", e.message);
        assert!(
            e.message.contains(text),
            "{id}: {:?} lacks {text:?}",
            e.message
        );
    }
    w.wait_for(Duration::from_secs(10), "ten files in failed/", |w| {
        w.files_in("failed").len() == 10
    });
    assert!(w.files_in("done").is_empty());
    assert!(w.files_in("processing").is_empty());
}

#[test]
fn a_repeated_idempotency_key_runs_nothing_also_after_a_restart() {
    let mut w = Worker::start(&[]);
    let first = echo_job(json!({"n": 1}))
        .idempotency_key("nightly-42")
        .build()
        .expect("job");
    w.drop_job(&first);
    let r1 = w.wait_result(&first.job_id, LONG);
    assert_eq!(r1.status, JobStatus::Completed);
    let again = echo_job(json!({"n": 2}))
        .idempotency_key("nightly-42")
        .build()
        .expect("job");
    w.drop_job(&again);
    let r2 = w.wait_result(&again.job_id, LONG);
    assert_eq!(r2.data, json!({"n": 1}), "the first job's result");
    assert_eq!(r2.extra.get("duplicate_of"), Some(&json!(first.job_id)));
    w.signal("TERM");
    assert!(w.wait_exit(Duration::from_secs(20)).success());
    w.spawn();
    let third = echo_job(json!({"n": 3}))
        .idempotency_key("nightly-42")
        .build()
        .expect("job");
    w.drop_job(&third);
    let r3 = w.wait_result(&third.job_id, LONG);
    assert_eq!(r3.data, json!({"n": 1}));
    assert_eq!(
        w.log().matches("job started").count(),
        1,
        "only the first job ran"
    );
    w.wait_for(Duration::from_secs(10), "three files in done/", |w| {
        w.files_in("done").len() == 3
    });
}

#[test]
fn queued_jobs_start_by_priority_then_age() {
    let w = Worker::start(&["--max-concurrent", "1"]);
    let blocker = echo_job(json!({"delay_ms": 1500})).build().expect("job");
    w.drop_job(&blocker);
    w.wait_for(LONG, "the blocker to start", |w| {
        w.log().contains("job started")
    });
    let mut expected = Vec::new();
    let mut jobs = Vec::new();
    for (i, prio) in [2u32, 9, 5, 9, 2].iter().enumerate() {
        let created = chrono::Utc::now() + chrono::Duration::milliseconds(i as i64);
        let j = echo_job(json!({"i": i}))
            .priority(*prio)
            .created_at(created)
            .build()
            .expect("job");
        jobs.push((*prio, i, j.job_id.clone()));
        w.drop_job(&j);
    }
    let mut order = jobs.clone();
    order.sort_by_key(|(p, i, _)| (std::cmp::Reverse(*p), *i));
    expected.extend(order.iter().map(|(_, _, id)| id.clone()));
    let mut started: Vec<(chrono::DateTime<chrono::Utc>, String)> = jobs
        .iter()
        .map(|(_, _, id)| {
            (
                w.wait_result(id, LONG).started_at.expect("start"),
                id.clone(),
            )
        })
        .collect();
    started.sort();
    let got: Vec<String> = started.into_iter().map(|(_, id)| id).collect();
    assert_eq!(got, expected);
    let unique: BTreeSet<_> = got.iter().collect();
    assert_eq!(unique.len(), 5);
}

#[test]
fn json_logs_carry_the_jobs_trace_id_on_every_line_of_the_job() {
    let w = Worker::start(&["--log-format", "json"]);
    let text = std::fs::read_to_string(repo_root().join("examples/jobs/inspect-full.json"))
        .expect("example");
    let doc: Value = serde_json::from_str(&text).expect("json");
    let id = doc["job_id"].as_str().expect("id");
    let trace = doc["observability"]["trace_id"].as_str().expect("trace id");
    w.drop_text("full.json", &text);
    assert_eq!(w.wait_result(id, LONG).status, JobStatus::Completed);
    let lines: Vec<Value> = w
        .log()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let of_job: Vec<&Value> = lines.iter().filter(|l| l["span"]["job_id"] == id).collect();
    assert!(of_job.len() >= 3, "{of_job:?}");
    let started = of_job
        .iter()
        .find(|l| l["fields"]["message"] == "job started")
        .expect("job started line");
    assert_eq!(started["span"]["trace_id"], trace, "{started}");
    assert_eq!(started["span"]["operation"], "guestkit.inspect");
    for l in of_job
        .iter()
        .filter(|l| l["fields"]["message"] == "job ended")
    {
        assert_eq!(l["span"]["trace_id"], trace, "{l}");
    }
}
