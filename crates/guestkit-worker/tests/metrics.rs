//! The worker's Prometheus endpoint: every metric named once, each one
//! moved by real jobs (inspections with a good, a bad and no checksum, an
//! echo, a rejected document), `/health` answering.

mod process;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use guestkit_job_spec::{echo_job, inspect_job, JobStatus};
use process::{free_port, Worker};
use serde_json::{json, Value};

/// Sends `METHOD path` with `headers` (each ending in CRLF) over a new
/// connection; the whole answer.
fn request(port: u16, method: &str, path: &str, headers: &str) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\n{headers}Connection: close\r\n\r\n"
    )
    .expect("send");
    let mut out = String::new();
    s.read_to_string(&mut out).expect("read");
    out
}

fn get(port: u16, path: &str) -> String {
    request(port, "GET", path, "")
}

/// The value of the sample `name{labels}` (exact text before the value).
fn try_sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
}

fn sample(text: &str, series: &str) -> f64 {
    try_sample(text, series).unwrap_or_else(|| panic!("no sample {series} in\n{text}"))
}

/// Scrapes every 20 ms until `ready` accepts the page or `within` passes;
/// the last page read.
fn page_when(port: u16, within: Duration, ready: impl Fn(&str) -> bool) -> String {
    let start = std::time::Instant::now();
    loop {
        let page = get(port, "/metrics");
        if ready(&page) || start.elapsed() > within {
            return page;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The metrics page once the four job ends are counted: a job's result
/// file is written a moment before its end is counted, so a page read right
/// after the last result may lag (bounded wait, then the page as it is).
fn page_after_the_jobs_ended(port: u16) -> String {
    let ends = [
        ("guestkit.inspect", "completed", 2.0),
        ("guestkit.inspect", "failed", 1.0),
        ("system.echo", "completed", 1.0),
    ];
    page_when(port, Duration::from_secs(10), |page| {
        ends.iter().all(|(op, status, n)| {
            let series =
                format!("guestkit_worker_jobs_total{{operation=\"{op}\",status=\"{status}\"}}");
            try_sample(page, &series) == Some(*n)
        }) && try_sample(
            page,
            "guestkit_handler_duration_seconds_count{handler=\"guestkit.inspect\"}",
        ) == Some(2.0)
            && try_sample(page, "guestkit_worker_active_jobs") == Some(0.0)
    })
}

#[test]
fn every_metric_is_exported_once_and_moves() {
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let w = Worker::start(&["--metrics-enabled", "true", "--metrics-addr", &addr]);
    let good = inspect_job("demo/demo.qcow2").build().expect("job");
    let digest = guestkit_worker::digest_file(
        &process::repo_root().join("demo/demo.qcow2"),
        None,
        &mut |_, _| {},
        &|| false,
    )
    .expect("digest")
    .digest;
    let mut with_sum: Value = serde_json::to_value(&good).expect("json");
    with_sum["payload"]["data"]["image"]["checksum"] = json!(digest.to_string());
    let mut bad_sum = with_sum.clone();
    bad_sum["job_id"] = json!("job-bad-sum");
    bad_sum["payload"]["data"]["image"]["checksum"] = json!("0".repeat(64));
    w.drop_text("good.json", &with_sum.to_string());
    w.drop_text("bad.json", &bad_sum.to_string());
    let plain = inspect_job("demo/demo.qcow2").build().expect("job");
    w.drop_job(&plain);
    let echo = echo_job(json!("hi")).build().expect("job");
    w.drop_job(&echo);
    w.drop_text("broken.json", "not json");
    assert_eq!(
        w.wait_result(&good.job_id, Duration::from_secs(60)).status,
        JobStatus::Completed
    );
    assert_eq!(
        w.wait_result("job-bad-sum", Duration::from_secs(60)).status,
        JobStatus::Failed
    );
    assert_eq!(
        w.wait_result(&plain.job_id, Duration::from_secs(60)).status,
        JobStatus::Completed
    );
    assert_eq!(
        w.wait_result(&echo.job_id, Duration::from_secs(60)).status,
        JobStatus::Completed
    );
    w.wait_result("file-broken", Duration::from_secs(60));

    let health = get(port, "/health");
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    assert!(health.contains("\"status\":\"ok\""));
    let page = page_after_the_jobs_ended(port);
    assert!(page.starts_with("HTTP/1.1 200"), "{page}");
    assert!(!page.contains("_total_total"));
    for (name, kind) in [
        ("guestkit_worker_jobs", "counter"),
        ("guestkit_worker_jobs_duration_seconds", "histogram"),
        ("guestkit_worker_active_jobs", "gauge"),
        ("guestkit_worker_queue_depth", "gauge"),
        ("guestkit_handler_executions", "counter"),
        ("guestkit_handler_duration_seconds", "histogram"),
        ("guestkit_checksum_verifications", "counter"),
        ("guestkit_worker_disk_read_bytes", "counter"),
        ("guestkit_worker_disk_write_bytes", "counter"),
        ("guestkit_worker_cpu_seconds", "counter"),
        ("guestkit_worker_memory_bytes", "gauge"),
        ("guestkit_transport_fetches", "counter"),
        ("guestkit_transport_errors", "counter"),
    ] {
        let line = format!("# TYPE {name} {kind}");
        assert_eq!(page.matches(&line).count(), 1, "{line}\n{page}");
    }
    assert_eq!(
        sample(
            &page,
            "guestkit_worker_jobs_total{operation=\"guestkit.inspect\",status=\"completed\"}"
        ),
        2.0
    );
    assert_eq!(
        sample(
            &page,
            "guestkit_worker_jobs_total{operation=\"guestkit.inspect\",status=\"failed\"}"
        ),
        1.0
    );
    assert_eq!(
        sample(
            &page,
            "guestkit_worker_jobs_total{operation=\"system.echo\",status=\"completed\"}"
        ),
        1.0
    );
    assert_eq!(
        sample(
            &page,
            "guestkit_worker_jobs_duration_seconds_count{operation=\"guestkit.inspect\"}"
        ),
        3.0
    );
    assert!(
        page.contains(
            "guestkit_worker_jobs_duration_seconds_bucket{le=\"0.001\",operation=\"system.echo\"}"
        ) || page.contains(
            "guestkit_worker_jobs_duration_seconds_bucket{operation=\"system.echo\",le=\"0.001\"}"
        ),
        "sub-second buckets"
    );
    assert!(page.contains("le=\"2048.0\""), "buckets up to 2048 s");
    assert_eq!(sample(&page, "guestkit_worker_active_jobs"), 0.0);
    assert_eq!(sample(&page, "guestkit_worker_queue_depth"), 0.0);
    assert_eq!(
        sample(
            &page,
            "guestkit_handler_executions_total{handler=\"guestkit.inspect\",status=\"success\"}"
        ),
        2.0
    );
    assert_eq!(
        sample(
            &page,
            "guestkit_handler_duration_seconds_count{handler=\"guestkit.inspect\"}"
        ),
        2.0
    );
    assert_eq!(
        sample(
            &page,
            "guestkit_checksum_verifications_total{status=\"success\"}"
        ),
        1.0
    );
    assert_eq!(
        sample(
            &page,
            "guestkit_checksum_verifications_total{status=\"failure\"}"
        ),
        1.0
    );
    assert_eq!(
        sample(
            &page,
            "guestkit_checksum_verifications_total{status=\"skipped\"}"
        ),
        1.0
    );
    assert!(sample(&page, "guestkit_worker_disk_read_bytes_total") > 100_000.0);
    assert!(sample(&page, "guestkit_worker_disk_write_bytes_total") > 10_000.0);
    assert!(sample(&page, "guestkit_worker_cpu_seconds_total") > 0.0);
    assert!(sample(&page, "guestkit_worker_memory_bytes{type=\"rss\"}") > 1e6);
    assert!(sample(&page, "guestkit_worker_memory_bytes{type=\"virtual\"}") > 1e6);
    assert_eq!(
        sample(
            &page,
            "guestkit_transport_fetches_total{transport=\"file\"}"
        ),
        5.0
    );
    assert_eq!(
        sample(&page, "guestkit_transport_errors_total{transport=\"file\"}"),
        1.0
    );
}

/// Scrapes until `series` reads `want` (bounded wait); the last value seen.
fn wait_for_sample(port: u16, series: &str, want: f64) -> Option<f64> {
    let page = page_when(port, Duration::from_secs(20), |page| {
        try_sample(page, series) == Some(want)
    });
    try_sample(&page, series)
}

/// Sends `DELETE path` to the API with a bearer token; the status code.
fn delete(port: u16, path: &str, token: &str) -> u16 {
    let headers = format!("Authorization: Bearer {token}\r\nContent-Length: 0\r\n");
    let out = request(port, "DELETE", path, &headers);
    out.split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {out:?}"))
}

#[test]
fn queue_depth_follows_the_waiting_jobs() {
    const TOKEN: &str = "submit-token-0123456789abcdef";
    let port = free_port();
    let api_port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let api_addr = format!("127.0.0.1:{api_port}");
    let tokens = format!("submit:{TOKEN}");
    let w = Worker::start(&[
        "--metrics-enabled",
        "true",
        "--metrics-addr",
        &addr,
        "--max-concurrent",
        "1",
        "--api-enabled",
        "--api-addr",
        &api_addr,
        "--api-token-list",
        &tokens,
    ]);
    // One slot, held by a blocker that runs until it is cancelled: however
    // slow the machine, the other three wait in the queue meanwhile.
    let blocker = echo_job(json!({"delay_ms": 600_000})).build().expect("job");
    w.drop_job(&blocker);
    assert_eq!(
        wait_for_sample(port, "guestkit_worker_active_jobs", 1.0),
        Some(1.0),
        "the blocker runs"
    );
    let waiting: Vec<_> = (0..3)
        .map(|i| echo_job(json!({"i": i})).build().expect("job"))
        .collect();
    for job in &waiting {
        w.drop_job(job);
    }
    assert_eq!(
        wait_for_sample(port, "guestkit_worker_queue_depth", 3.0),
        Some(3.0),
        "three jobs wait behind the blocker"
    );
    assert_eq!(
        delete(api_port, &format!("/api/v1/jobs/{}", blocker.job_id), TOKEN),
        200,
        "the blocker is cancelled"
    );
    for job in &waiting {
        let result = w.wait_result(&job.job_id, Duration::from_secs(60));
        assert_eq!(result.status, JobStatus::Completed);
    }
    assert_eq!(
        wait_for_sample(port, "guestkit_worker_queue_depth", 0.0),
        Some(0.0)
    );
}
