//! Disk-layer benchmark: guestkit beside `qemu-img convert` on the same 1 GiB
//! image, in one run. Prints figures beside the targets of the disk-layer
//! issue; it judges nothing (tests check behaviour, not time).
//!
//! Workloads:
//! - sequential full read of the virtual disk, uncompressed qcow2 and zlib
//!   qcow2, against `qemu-img convert` of the same image to a null target;
//! - random 4 KiB reads of the uncompressed qcow2 from page cache, one thread.
//!
//! Run: `cargo bench -p guestkit-disk --bench read`.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use guestkit_disk::{open_image_counted, IoStats, OpenOptions};
use rand::{Rng, SeedableRng};

const RUNS: usize = 3;

fn main() {
    let set = guestkit_fixtures::bench::bench_images().expect("building the bench images");
    println!("disk-layer benchmark (median of {RUNS} runs, page cache warm)");
    println!("image: 1 GiB virtual; {}", set.raw.display());
    warm(&set.qcow2);
    warm(&set.qcow2_zlib);
    let plain = sequential("qcow2 (uncompressed)", &set.qcow2, 1.0);
    let zlib = sequential("qcow2 (zlib)", &set.qcow2_zlib, 0.8);
    let _ = (plain, zlib);
    random_reads(&set.qcow2, 200_000.0);
    println!(
        "peak RSS of this process: {} MiB",
        peak_rss_kib(libc::RUSAGE_SELF) / 1024
    );
}

/// Pulls the file into the page cache without holding it in memory.
fn warm(path: &Path) {
    use std::io::Read;
    let mut f = std::fs::File::open(path).expect("open bench image");
    let mut buf = vec![0u8; 4 << 20];
    while f.read(&mut buf).map(|n| n > 0).unwrap_or(false) {}
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn guestkit_sequential(path: &Path) -> (Duration, u64, u64) {
    let stats = Arc::new(IoStats::default());
    let start = Instant::now();
    let image = open_image_counted(path, &OpenOptions::default(), stats.clone()).expect("open");
    let dev = image.device;
    let mut buf = vec![0u8; 4 << 20];
    let mut at = 0u64;
    let mut checksum = 0u64;
    while at < dev.size() {
        let n = ((dev.size() - at) as usize).min(buf.len());
        dev.read_at(&mut buf[..n], at).expect("read");
        checksum = checksum.wrapping_add(buf[n / 2] as u64);
        at += n as u64;
    }
    std::hint::black_box(checksum);
    (start.elapsed(), dev.size(), stats.bytes_read())
}

fn qemu_sequential(path: &Path, size: u64) -> Duration {
    let start = Instant::now();
    let status = Command::new("qemu-img")
        .args(["convert", "-n"])
        .arg(path)
        .args([
            "--target-image-opts",
            &format!("driver=null-co,size={size}"),
        ])
        .status()
        .expect("running qemu-img");
    assert!(status.success(), "qemu-img convert failed");
    start.elapsed()
}

fn sequential(label: &str, path: &Path, target_ratio: f64) -> f64 {
    let mut ours = Vec::new();
    let mut theirs = Vec::new();
    let mut size = 0;
    let mut bytes = 0;
    for _ in 0..RUNS {
        let (t, s, b) = guestkit_sequential(path);
        ours.push(t);
        size = s;
        bytes = b;
        theirs.push(qemu_sequential(path, size));
    }
    let ours = median(ours);
    let theirs = median(theirs);
    let mib = size as f64 / (1 << 20) as f64;
    let ratio = theirs.as_secs_f64() / ours.as_secs_f64();
    println!("\nsequential full read, {label}");
    println!(
        "  guestkit  {:>8.1} ms  {:>8.0} MiB/s   read from image file: {} MiB",
        ours.as_secs_f64() * 1e3,
        mib / ours.as_secs_f64(),
        bytes >> 20
    );
    println!(
        "  qemu-img  {:>8.1} ms  {:>8.0} MiB/s   (convert to a null-co target)",
        theirs.as_secs_f64() * 1e3,
        mib / theirs.as_secs_f64()
    );
    println!("  throughput ratio guestkit/qemu-img: {ratio:.2}x   (target >= {target_ratio:.1}x)");
    ratio
}

fn random_reads(path: &Path, target: f64) {
    let stats = Arc::new(IoStats::default());
    let image = open_image_counted(path, &OpenOptions::default(), stats.clone()).expect("open");
    let dev = image.device;
    let blocks = dev.size() / 4096;
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let offsets: Vec<u64> = (0..1_000_000)
        .map(|_| rng.random_range(0..blocks) * 4096)
        .collect();
    let mut buf = [0u8; 4096];
    // warm the metadata caches and the page cache
    for &o in offsets.iter().take(100_000) {
        dev.read_at(&mut buf, o).expect("read");
    }
    let before = stats.bytes_read();
    let mut rates = Vec::new();
    for _ in 0..RUNS {
        let start = Instant::now();
        for &o in &offsets {
            dev.read_at(&mut buf, o).expect("read");
        }
        rates.push(start.elapsed());
    }
    let t = median(rates);
    let rate = offsets.len() as f64 / t.as_secs_f64();
    println!("\nrandom 4 KiB reads, qcow2 (uncompressed), one thread, page cache");
    println!(
        "  {} reads in {:.1} ms: {:.0} reads/s   (target >= {target:.0})   read from image file: {} MiB",
        offsets.len(),
        t.as_secs_f64() * 1e3,
        rate,
        ((stats.bytes_read() - before) / RUNS as u64) >> 20
    );
}

fn peak_rss_kib(who: i32) -> i64 {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage fills the struct it is given.
    let rc = unsafe { libc::getrusage(who, usage.as_mut_ptr()) };
    if rc != 0 {
        return -1;
    }
    // SAFETY: initialised by the successful call above.
    unsafe { usage.assume_init() }.ru_maxrss
}
