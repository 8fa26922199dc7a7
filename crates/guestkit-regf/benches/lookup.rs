//! Prints how long the SYSTEM-hive questions of an inspection take on the
//! real hives of the shared corpus (`$GUESTKIT_CORPUS` or
//! `../../../shared/corpus`): parse, the six lookups plus the Services
//! listing, and a full walk decoding every value. Run with
//! `cargo bench -p guestkit-regf --bench lookup`.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use guestkit_regf::{Hive, WalkControl};

fn corpus() -> Option<PathBuf> {
    let dir = std::env::var_os("GUESTKIT_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus")
        });
    dir.join("windows").is_dir().then_some(dir)
}

fn best<F: FnMut()>(runs: u32, mut f: F) -> Duration {
    (0..runs)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .min()
        .unwrap_or_default()
}

fn lookups(hive: &Hive<'_>) -> usize {
    let mut n = 0;
    let current = hive
        .open("Select")
        .ok()
        .flatten()
        .and_then(|k| k.value("Current").ok().flatten())
        .and_then(|v| v.data().ok())
        .and_then(|d| d.as_u32())
        .unwrap_or(1);
    let ccs = format!("ControlSet{current:03}");
    for (path, name) in [
        ("Control\\ComputerName\\ComputerName", "ComputerName"),
        ("Services\\Tcpip\\Parameters", "Hostname"),
        ("Control\\ProductOptions", "ProductType"),
        (
            "Control\\Session Manager\\Environment",
            "PROCESSOR_ARCHITECTURE",
        ),
    ] {
        if let Ok(Some(k)) = hive.open(&format!("{ccs}\\{path}")) {
            if let Ok(Some(v)) = k.value(name) {
                n += usize::from(v.data().is_ok());
            }
        }
    }
    if let Ok(Some(s)) = hive.open(&format!("{ccs}\\Services")) {
        n += s.subkeys().filter(|k| k.is_ok()).count();
    }
    n
}

fn main() {
    let Some(dir) = corpus() else {
        eprintln!("SKIP: corpus not found (set GUESTKIT_CORPUS)");
        return;
    };
    for label in ["win7-x86", "win10-1709"] {
        let path = dir.join("windows").join(label).join("SYSTEM");
        let Ok(bytes) = std::fs::read(&path) else {
            eprintln!("SKIP: {}", path.display());
            continue;
        };
        let parse = best(20, || {
            let _ = Hive::parse(&bytes);
        });
        let Ok(hive) = Hive::parse(&bytes) else {
            eprintln!("{label}: does not parse");
            continue;
        };
        let mut found = 0;
        let look = best(20, || found = lookups(&hive));
        let mut keys = 0u64;
        let walk = best(3, || {
            keys = 0;
            let _ = hive.walk(|k, _| {
                keys += 1;
                for v in k.values().flatten() {
                    let _ = v.data();
                }
                WalkControl::Continue
            });
        });
        println!(
            "{label}: {} MiB; parse {parse:?}; 5 values + Services listing ({found} items) {look:?}; \
             full walk of {keys} keys decoding every value {walk:?}",
            bytes.len() >> 20
        );
    }
}
