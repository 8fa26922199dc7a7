//! Job submission through the REST API of the real `guestkit-worker`
//! binary: 50 concurrent clients POST `system.echo` jobs (each client on
//! one keep-alive connection), with the SQLite store and, when the local
//! PostgreSQL answers, with the PostgreSQL store; then `/metrics` scrape
//! times.
//!
//! Targets: >= 5,000 submissions/s with SQLite and >= 2,000/s with
//! PostgreSQL, p99 <= 20 ms; a `/metrics` scrape <= 5 ms. A first round of
//! 5,000 submissions warms up the worker and its store and is not timed.

#[path = "../tests/process/mod.rs"]
mod process;

use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use process::{free_port, PgSchema, Worker};

const CLIENTS: usize = 50;
const PER_CLIENT: usize = 100;
/// `/metrics` scrapes timed after the submissions.
const SCRAPES: usize = 200;
const TOKEN: &str = "bench-submit-token-0123456789";

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into()
}

/// Submits CLIENTS × PER_CLIENT jobs; (wall, sorted latencies).
fn submit_all(base: &str) -> (Duration, Vec<Duration>) {
    let barrier = Arc::new(Barrier::new(CLIENTS + 1));
    let threads: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let barrier = barrier.clone();
            let url = format!("{base}/api/v1/jobs");
            std::thread::spawn(move || {
                let agent = agent();
                let bodies: Vec<String> = (0..PER_CLIENT)
                    .map(|i| {
                        let job = guestkit_job_spec::echo_job(serde_json::json!({ "i": i }))
                            .max_attempts(1)
                            .build()
                            .expect("job");
                        serde_json::to_string(&job).expect("json")
                    })
                    .collect();
                barrier.wait();
                let mut lat = Vec::with_capacity(PER_CLIENT);
                for body in bodies {
                    let t = Instant::now();
                    let mut resp = agent
                        .post(&url)
                        .header("Authorization", format!("Bearer {TOKEN}"))
                        .header("Content-Type", "application/json")
                        .send(body.as_str())
                        .expect("POST");
                    let status = resp.status().as_u16();
                    let _ = resp.body_mut().read_to_string();
                    assert_eq!(status, 202, "submission refused");
                    lat.push(t.elapsed());
                }
                lat
            })
        })
        .collect();
    barrier.wait();
    let start = Instant::now();
    let mut all: Vec<Duration> = threads
        .into_iter()
        .flat_map(|t| t.join().expect("client"))
        .collect();
    let wall = start.elapsed();
    all.sort();
    (wall, all)
}

fn pct(sorted: &[Duration], p: usize) -> f64 {
    let i = (sorted.len() * p / 100).min(sorted.len().saturating_sub(1));
    sorted.get(i).map(|d| d.as_secs_f64() * 1e3).unwrap_or(0.0)
}

/// SCRAPES timed `/metrics` GETs, sorted.
fn time_scrapes(url: &str) -> Vec<Duration> {
    let agent = agent();
    let mut times: Vec<Duration> = (0..SCRAPES)
        .map(|_| {
            let t = Instant::now();
            let mut r = agent.get(url).call().expect("scrape");
            let _ = r.body_mut().read_to_string();
            t.elapsed()
        })
        .collect();
    times.sort();
    times
}

fn print_scrapes(label: &str, when: &str, sorted: &[Duration]) {
    println!(
        "  {label}: {} /metrics scrapes {when}: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms \
         (target <= 5 ms)",
        sorted.len(),
        pct(sorted, 50),
        pct(sorted, 99),
        sorted.last().map(|d| d.as_secs_f64() * 1e3).unwrap_or(0.0)
    );
}

/// Waits until the metrics show no queued and no active job.
fn wait_until_idle(url: &str, within: Duration) -> bool {
    let agent = agent();
    let end = Instant::now() + within;
    while Instant::now() < end {
        let page = agent
            .get(url)
            .call()
            .ok()
            .and_then(|mut r| r.body_mut().read_to_string().ok())
            .unwrap_or_default();
        let zero = |name: &str| {
            page.lines()
                .any(|l| l.strip_prefix(name).is_some_and(|v| v.trim() == "0"))
        };
        if zero("guestkit_worker_queue_depth ") && zero("guestkit_worker_active_jobs ") {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

fn run(label: &str, store: Option<&str>, target: f64) {
    let api_port = free_port();
    let metrics_port = free_port();
    let tokens = tempfile::tempdir().expect("tmp");
    let file = tokens.path().join("tokens");
    std::fs::write(&file, format!("submit {TOKEN}\n")).expect("tokens");
    let api_addr = format!("127.0.0.1:{api_port}");
    let metrics_addr = format!("127.0.0.1:{metrics_port}");
    let mut flags = vec![
        "--api-enabled",
        "--api-addr",
        api_addr.as_str(),
        "--api-tokens",
        file.to_str().expect("path"),
        "--api-rate-limit",
        "0",
        "--metrics-enabled",
        "true",
        "--metrics-addr",
        metrics_addr.as_str(),
    ];
    if let Some(url) = store {
        flags.extend(["--store", url]);
    }
    let w = Worker::start(&flags);
    let base = format!("http://{api_addr}");
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", api_port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "API did not come up:\n{}",
            w.log()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // Warm-up, not timed: the store's connections (TLS handshakes with
    // PostgreSQL), the first pages of the tables.
    submit_all(&base);
    let (wall, lat) = submit_all(&base);
    let n = lat.len();
    let rate = n as f64 / wall.as_secs_f64();
    println!(
        "  {label}: {n} submissions by {CLIENTS} clients in {:.2} s = {rate:.0}/s (target >= {target:.0}/s); \
         latency p50 {:.2} ms, p99 {:.2} ms (target <= 20 ms)",
        wall.as_secs_f64(),
        pct(&lat, 50),
        pct(&lat, 99),
    );
    let scrape_url = format!("http://{metrics_addr}/metrics");
    let busy = time_scrapes(&scrape_url);
    print_scrapes(label, "while the worker runs the queued jobs", &busy);
    let drain = Instant::now();
    let drained = wait_until_idle(&scrape_url, Duration::from_secs(300));
    println!(
        "  {label}: the worker {} the {n} echo jobs {:.2} s after the last submission",
        if drained { "had run" } else { "had NOT run" },
        (drain.elapsed() + busy.iter().sum::<Duration>()).as_secs_f64()
    );
    print_scrapes(label, "with the worker idle", &time_scrapes(&scrape_url));
    if let Some(kib) = w.peak_rss_kib() {
        println!("  {label}: worker peak RSS {:.1} MiB", kib as f64 / 1024.0);
    }
}

fn main() {
    println!("guestkit-worker REST submission (system.echo jobs, loopback)");
    run("SQLite", None, 5000.0);
    match PgSchema::create("bench_submit") {
        Some(schema) => run("PostgreSQL", Some(&schema.url()), 2000.0),
        None => println!("  PostgreSQL: skipped"),
    }
}
