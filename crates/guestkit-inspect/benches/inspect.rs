//! Inspection benchmark: full inspection (every section) of the real
//! Debian 12 guest as qcow2, from page cache, each run on a freshly opened
//! image (no metadata cached). Prints wall time, bytes read from the image
//! file, peak RSS and the per-section times beside the targets;
//! judges nothing.
//!
//! Run: `cargo bench -p guestkit-inspect --bench inspect`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use guestkit_disk::{open_image_counted, DeviceRef, IoStats, Limits, OpenOptions};
use guestkit_fixtures::debian_images::debian_images;
use guestkit_fs::guest::open_guest;
use guestkit_fs::FsLimits;
use guestkit_inspect::{inspect_guest, InspectOptions};

const RUNS: usize = 7;

/// Peak resident set size of this process, from /proc (KiB).
fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn main() {
    let images = debian_images().expect("debian images");
    let image = images
        .iter()
        .find(|i| i.name == "ext4-gpt.qcow2")
        .expect("ext4-gpt.qcow2");
    let run = || {
        let stats = Arc::new(IoStats::default());
        let start = Instant::now();
        let opened =
            open_image_counted(&image.path, &OpenOptions::default(), stats.clone()).expect("open");
        let devices: Vec<DeviceRef> = vec![opened.device];
        let guest = open_guest(&devices, &Limits::default(), &FsLimits::default());
        let report = inspect_guest(&guest, &InspectOptions::default());
        let wall = start.elapsed();
        (wall, stats.bytes_read(), report)
    };
    run(); // page cache warm
    let mut times: Vec<Duration> = Vec::new();
    let mut last = None;
    for _ in 0..RUNS {
        let (wall, bytes, report) = run();
        times.push(wall);
        last = Some((bytes, report));
    }
    times.sort();
    let median = times[RUNS / 2];
    let (bytes, report) = last.expect("runs");
    let os = &report.operating_systems[0];
    println!(
        "full inspection of {} ({} packages), median of {RUNS} fresh opens:",
        image.name,
        os.packages.as_ref().map_or(0, |p| p.count)
    );
    println!(
        "  wall        {:>8.2} ms   (target <= 50 ms; fastest {:.2} ms)",
        median.as_secs_f64() * 1e3,
        times[0].as_secs_f64() * 1e3
    );
    println!(
        "  image read  {:>8.2} MiB  (target <= 8 MiB; {bytes} bytes)",
        bytes as f64 / (1 << 20) as f64
    );
    println!(
        "  peak RSS    {:>8.2} MiB  (target <= 64 MiB; whole benchmark process)",
        peak_rss_kib() as f64 / 1024.0
    );
    println!("  per section (last run):");
    for (name, ms) in &os.timings_ms {
        println!("    {name:<10} {ms:>8.2} ms");
    }
    println!("  warnings: {}", report.warnings.len());
}
