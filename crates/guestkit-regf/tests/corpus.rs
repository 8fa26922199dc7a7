//! The reader against real SYSTEM hives from the shared corpus
//! (`$GUESTKIT_CORPUS`, or `../../../shared/corpus` from this crate), checked
//! against the answers in its MANIFEST.json (obtained with hivex). Skips with
//! a message when the corpus is absent.

use std::path::PathBuf;
use std::time::Instant;

use guestkit_regf::{Hive, RegValue, WalkControl};
use serde_json::Value as Json;

fn corpus_dir() -> Option<PathBuf> {
    let dir = match std::env::var_os("GUESTKIT_CORPUS") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus"),
    };
    dir.join("MANIFEST.json").is_file().then_some(dir)
}

fn system_hives() -> Option<(PathBuf, Vec<Json>)> {
    let Some(dir) = corpus_dir() else {
        eprintln!(
            "SKIP: corpus not found (set GUESTKIT_CORPUS or place it at ../../../shared/corpus)"
        );
        return None;
    };
    let text = std::fs::read_to_string(dir.join("MANIFEST.json")).expect("read MANIFEST.json");
    let manifest: Json = serde_json::from_str(&text).expect("parse MANIFEST.json");
    let entries: Vec<Json> = manifest["files"]
        .as_array()
        .expect("files[]")
        .iter()
        .filter(|e| e["kind"] == "windows-hive-system")
        .cloned()
        .collect();
    assert!(
        !entries.is_empty(),
        "no windows-hive-system entries in the manifest"
    );
    Some((dir, entries))
}

fn string_value(hive: &Hive<'_>, path: &str, name: &str) -> String {
    let key = hive
        .open(path)
        .unwrap_or_else(|e| panic!("{path}: {e}"))
        .unwrap_or_else(|| panic!("{path}: no such key"));
    let v = key
        .value(name)
        .unwrap_or_else(|e| panic!("{path} {name}: {e}"))
        .unwrap_or_else(|| panic!("{path}: no value {name}"));
    match v.data().unwrap_or_else(|e| panic!("{path} {name}: {e}")) {
        RegValue::Sz(s) | RegValue::ExpandSz(s) => s,
        other => panic!("{path} {name}: not a string: {other:?}"),
    }
}

#[test]
fn system_hives_match_manifest() {
    let Some((dir, entries)) = system_hives() else {
        return;
    };
    for entry in entries {
        let rel = entry["path"].as_str().expect("path");
        let exp = &entry["expected"];
        let bytes = std::fs::read(dir.join(rel)).expect("read hive");
        let known = [
            "select_current",
            "current_control_set",
            "computer_name",
            "tcpip_hostname",
            "product_type",
            "processor_architecture",
            "root_subkeys",
            "services_subkey_count",
            "source",
            "not_applicable",
        ];
        for field in exp.as_object().expect("expected{}").keys() {
            assert!(
                known.contains(&field.as_str()),
                "{rel}: manifest field {field} is not checked by this test"
            );
        }

        let t0 = Instant::now();
        let hive = Hive::parse(&bytes).unwrap_or_else(|e| panic!("{rel}: {e}"));
        let t_parse = t0.elapsed();
        let t1 = Instant::now();

        let current = hive
            .open("Select")
            .unwrap()
            .expect("Select")
            .value("Current")
            .unwrap()
            .expect("Select\\Current")
            .data()
            .unwrap()
            .as_u32()
            .expect("Current is a DWORD");
        let ccs = format!("ControlSet{current:03}");
        let computer_name = string_value(
            &hive,
            &format!("{ccs}\\Control\\ComputerName\\ComputerName"),
            "ComputerName",
        );
        let hostname = string_value(
            &hive,
            &format!("{ccs}\\Services\\Tcpip\\Parameters"),
            "Hostname",
        );
        let product_type = string_value(
            &hive,
            &format!("{ccs}\\Control\\ProductOptions"),
            "ProductType",
        );
        let arch = string_value(
            &hive,
            &format!("{ccs}\\Control\\Session Manager\\Environment"),
            "PROCESSOR_ARCHITECTURE",
        );
        let root_subkeys: Vec<String> = hive
            .root()
            .unwrap()
            .subkeys()
            .map(|k| k.expect("root subkey").name())
            .collect();
        let services = hive
            .open(&format!("{ccs}\\Services"))
            .unwrap()
            .expect("Services");
        let (svc, svc_errors) = services.subkeys_lossy();
        let t_lookup = t1.elapsed();
        eprintln!(
            "{rel}: {} bytes, parse {:?}, lookups {:?}, dirty={}, warnings={:?}",
            bytes.len(),
            t_parse,
            t_lookup,
            hive.is_dirty(),
            hive.warnings()
        );

        assert!(svc_errors.is_empty(), "{rel}: {svc_errors:?}");
        assert_eq!(
            u64::from(current),
            exp["select_current"].as_u64().unwrap(),
            "{rel}"
        );
        assert_eq!(ccs, exp["current_control_set"].as_str().unwrap(), "{rel}");
        assert_eq!(
            computer_name,
            exp["computer_name"].as_str().unwrap(),
            "{rel}"
        );
        assert_eq!(hostname, exp["tcpip_hostname"].as_str().unwrap(), "{rel}");
        assert_eq!(product_type, exp["product_type"].as_str().unwrap(), "{rel}");
        assert_eq!(
            arch,
            exp["processor_architecture"].as_str().unwrap(),
            "{rel}"
        );
        let want_root: Vec<&str> = exp["root_subkeys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap())
            .collect();
        assert_eq!(root_subkeys, want_root, "{rel}");
        assert_eq!(
            svc.len() as u64,
            exp["services_subkey_count"].as_u64().unwrap(),
            "{rel}"
        );
        assert_eq!(services.subkey_count() as usize, svc.len(), "{rel}");
    }
}

/// The whole tree of each real hive reads without a single problem, every
/// value decodes, and the case-insensitive lookups agree with the listing.
#[test]
fn system_hives_walk_cleanly() {
    let Some((dir, entries)) = system_hives() else {
        return;
    };
    for entry in entries {
        let rel = entry["path"].as_str().unwrap();
        let bytes = std::fs::read(dir.join(rel)).unwrap();
        let hive = Hive::parse(&bytes).unwrap();
        let t0 = Instant::now();
        let (mut keys, mut values, mut value_errors) = (0u64, 0u64, Vec::new());
        let problems = hive
            .walk(|key, _depth| {
                keys += 1;
                for v in key.values() {
                    match v.and_then(|v| v.data()) {
                        Ok(_) => values += 1,
                        Err(e) => value_errors.push(e),
                    }
                }
                WalkControl::Continue
            })
            .unwrap();
        eprintln!(
            "{rel}: walked {keys} keys, {values} values in {:?}; {} problems, {} value errors",
            t0.elapsed(),
            problems.len(),
            value_errors.len()
        );
        assert!(
            problems.is_empty(),
            "{rel}: {:?}",
            &problems[..problems.len().min(5)]
        );
        assert!(
            value_errors.is_empty(),
            "{rel}: {:?}",
            &value_errors[..value_errors.len().min(5)]
        );
        assert!(keys > 10_000, "{rel}: only {keys} keys");

        let upper = hive
            .open("SELECT")
            .unwrap()
            .expect("case-insensitive lookup")
            .value("current")
            .unwrap()
            .expect("case-insensitive value");
        assert_eq!(upper.name(), "Current");
        assert!(hive.open("ControlSet001\\NoSuchKey").unwrap().is_none());
    }
}
