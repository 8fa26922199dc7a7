//! Any bytes as a Windows registry hive: parse, walk the whole key tree
//! (bounded depth, cycle detection), decode every value and class name, and
//! look a few paths up. Seeds are small hives from the crate's HiveBuilder
//! (`GUESTKIT_REGF_SEEDS=fuzz/corpus cargo test -p guestkit-regf --test writer -- --ignored`).
#![no_main]

use guestkit_regf::{Hive, Limits, WalkControl};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limits = Limits {
        max_subkeys: 100_000,
        max_values: 100_000,
        max_value_size: 1 << 20,
        max_depth: 64,
        ..Limits::default()
    };
    let Ok(hive) = Hive::parse_with_limits(data, limits) else {
        return;
    };
    let _ = hive.is_dirty();
    let _ = hive.warnings().len();
    let mut budget = 20_000u32;
    let _ = hive.walk(|key, _depth| {
        let _ = key.name();
        let _ = key.class_name();
        let _ = key.parent();
        for v in key.values() {
            budget = budget.saturating_sub(1);
            if let Ok(v) = v {
                let _ = v.name();
                if let Ok(d) = v.data() {
                    let _ = d.as_string();
                    let _ = d.as_u32();
                }
            }
            if budget == 0 {
                break;
            }
        }
        budget = budget.saturating_sub(1);
        if budget == 0 {
            WalkControl::Stop
        } else {
            WalkControl::Continue
        }
    });
    for path in [
        "Select",
        "ControlSet001\\Control\\ComputerName\\ComputerName",
        "k\\K\\\\x",
    ] {
        if let Ok(Some(k)) = hive.open(path) {
            let _ = k.value("ComputerName");
            let _ = k.value("");
        }
    }
});
