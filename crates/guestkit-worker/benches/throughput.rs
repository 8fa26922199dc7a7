//! Sustained throughput of `guestkit.inspect` jobs on the demo image,
//! through the real `guestkit-worker` binary and its file transport, and
//! the platform's cost per job beyond the inspection itself.
//!
//! Targets: >= 20 jobs/s with `--max-concurrent 2`; <= 5 ms per job of
//! platform overhead (claim, store writes, progress, result file, job
//! file moves) beyond the inspection.

#[path = "../tests/process/mod.rs"]
mod process;

use std::time::{Duration, Instant};

use guestkit_disk::{open_image_counted, DeviceRef, IoStats, Limits, OpenOptions};
use guestkit_job_spec::{inspect_job, JobStatus};
use process::{repo_root, Worker};

const JOBS: usize = 300;
const SERIAL_JOBS: usize = 100;

/// Drops `n` inspect jobs at once and waits for every result.
fn run(worker: &Worker, n: usize) -> (Duration, Vec<u64>) {
    let jobs: Vec<_> = (0..n)
        .map(|_| inspect_job("demo/demo.qcow2").build().expect("job"))
        .collect();
    let start = Instant::now();
    for j in &jobs {
        worker.drop_job(j);
    }
    let mut durations = Vec::new();
    for j in &jobs {
        let r = worker.wait_result(&j.job_id, Duration::from_secs(600));
        assert_eq!(r.status, JobStatus::Completed, "{:?}", r.error);
        durations.push(r.execution_summary.duration_ms);
    }
    (start.elapsed(), durations)
}

/// Median in-process time of what the handler does: open the demo image,
/// assemble the guest, inspect every section.
fn inspection_alone() -> (Duration, u64) {
    let path = repo_root().join("demo/demo.qcow2");
    let mut times = Vec::new();
    let mut bytes = 0;
    for _ in 0..50 {
        let stats = std::sync::Arc::new(IoStats::default());
        let t = Instant::now();
        let opened =
            open_image_counted(&path, &OpenOptions::default(), stats.clone()).expect("open");
        let devices: Vec<DeviceRef> = vec![opened.device];
        let guest = guestkit_fs::guest::open_guest(
            &devices,
            &Limits::default(),
            &guestkit_fs::FsLimits::default(),
        );
        let report =
            guestkit_inspect::inspect_guest(&guest, &guestkit_inspect::InspectOptions::default());
        let _ = serde_json::to_vec(&report).expect("json");
        times.push(t.elapsed());
        bytes = stats.bytes_read();
    }
    times.sort();
    (times[times.len() / 2], bytes)
}

fn main() {
    let (alone, bytes) = inspection_alone();

    let w = Worker::start(&["--max-concurrent", "2"]);
    run(&w, 20); // warm-up: page cache, SQLite file
    let (wall, durations) = run(&w, JOBS);
    let rate = JOBS as f64 / wall.as_secs_f64();
    let rss = w.peak_rss_kib();

    let serial = Worker::start(&["--max-concurrent", "1"]);
    run(&serial, 10);
    let (serial_wall, _) = run(&serial, SERIAL_JOBS);
    let per_job = serial_wall / SERIAL_JOBS as u32;
    let overhead = per_job.saturating_sub(alone);

    let mut d = durations.clone();
    d.sort();
    println!("guestkit-worker throughput (demo image, file transport, SQLite store)");
    println!(
        "  {JOBS} inspect jobs, --max-concurrent 2: {:.2} s wall, {rate:.1} jobs/s  (target >= 20 jobs/s)",
        wall.as_secs_f64()
    );
    println!(
        "  job duration in results: median {} ms, p99 {} ms",
        d[d.len() / 2],
        d[(d.len() * 99 / 100).min(d.len() - 1)]
    );
    println!(
        "  {SERIAL_JOBS} jobs one at a time: {:.2} ms per job; inspection alone {:.2} ms ({} bytes read from the image)",
        per_job.as_secs_f64() * 1e3,
        alone.as_secs_f64() * 1e3,
        bytes
    );
    println!(
        "  platform overhead per job: {:.2} ms  (target <= 5 ms)",
        overhead.as_secs_f64() * 1e3
    );
    if let Some(kib) = rss {
        println!("  worker peak RSS: {:.1} MiB", kib as f64 / 1024.0);
    }
}
