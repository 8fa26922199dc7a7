//! The hive builder round-trips through the reader, and hivex (an
//! independent implementation: `hivexget`, `hivexregedit` from Debian's
//! libhivex-bin / libwin-hivex-perl) reads what it writes.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

use common::*;
use guestkit_regf::write::{HiveBuilder, KeyNode, SubkeyListKind};
use guestkit_regf::{FileTime, Hive, Key, RegValue, WalkControl};

const KINDS: [SubkeyListKind; 5] = [
    SubkeyListKind::Lh,
    SubkeyListKind::Lf,
    SubkeyListKind::Li,
    SubkeyListKind::Ri { per_leaf: 7 },
    SubkeyListKind::Ri { per_leaf: 1 },
];

fn data(key: &Key<'_>, name: &str) -> RegValue {
    key.value(name)
        .unwrap()
        .unwrap_or_else(|| panic!("no value {name:?}"))
        .data()
        .unwrap()
}

/// Every key and value of the builder's tree is read back, equal.
fn assert_tree_eq(node: &KeyNode, key: &Key<'_>, is_root: bool) {
    if !is_root {
        assert_eq!(key.name(), node.name);
    }
    assert_eq!(key.last_written(), node.last_written, "{}", node.name);
    assert_eq!(key.class_name().unwrap(), node.class, "{}", node.name);
    let values: Vec<_> = key.values().map(|v| v.unwrap()).collect();
    assert_eq!(values.len(), node.values.len(), "{}", node.name);
    for (v, (name, want)) in values.iter().zip(&node.values) {
        assert_eq!(&v.name(), name);
        assert_eq!(&v.data().unwrap(), want, "value {name:?}");
        assert_eq!(v.kind(), want.kind());
    }
    let (subkeys, errors) = key.subkeys_lossy();
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(subkeys.len(), node.subkeys.len(), "{}", node.name);
    // Stored sorted by upper-case name; look each one up by name.
    let mut upper: Vec<String> = subkeys.iter().map(|k| k.name().to_uppercase()).collect();
    let sorted = {
        let mut s = upper.clone();
        s.sort();
        s
    };
    assert_eq!(upper, sorted, "subkeys of {} are sorted", node.name);
    upper.clear();
    for child in &node.subkeys {
        let k = key
            .subkey(&child.name.to_lowercase())
            .unwrap()
            .unwrap_or_else(|| panic!("subkey {}", child.name));
        assert_eq!(k.parent().unwrap().unwrap().offset(), key.offset());
        assert_tree_eq(child, &k, false);
    }
}

#[test]
fn round_trip_every_list_kind_and_name_encoding() {
    for kind in KINDS {
        for utf16 in [false, true] {
            for minor in [3, 5] {
                let mut b = software();
                b.subkey_lists(kind).utf16_names(utf16).minor_version(minor);
                let bytes = b.build();
                assert_eq!(bytes.len() % 4096, 0);
                let hive = Hive::parse(&bytes).unwrap();
                assert!(hive.warnings().is_empty(), "{:?}", hive.warnings());
                assert!(hive.checksum_ok());
                assert!(!hive.is_dirty());
                assert_eq!(hive.version(), (1, minor));
                assert_eq!(hive.file_name(), "SOFTWARE");
                let root = hive.root().unwrap();
                assert_eq!(root.name(), "ROOT");
                assert!(root.parent().unwrap().is_none());
                let mut b2 = software();
                assert_tree_eq(b2.root_mut(), &root, true);
                assert!(hive.walk(|_, _| WalkControl::Continue).unwrap().is_empty());
            }
        }
    }
}

#[test]
fn lookups_values_and_helpers() {
    let bytes = software().build();
    let hive = Hive::parse(&bytes).unwrap();
    let cv = hive.open(&CURRENT_VERSION.to_uppercase()).unwrap().unwrap();
    assert_eq!(cv.name(), "CurrentVersion");
    assert_eq!(data(&cv, "productname").as_string(), Some("Windows 10 Pro"));
    assert_eq!(data(&cv, "CurrentMajorVersionNumber").as_u32(), Some(10));
    assert_eq!(
        data(&cv, "SystemRoot"),
        RegValue::ExpandSz("%SystemDrive%\\Windows".into())
    );
    assert!(cv.value("NoSuchValue").unwrap().is_none());
    assert!(hive.open("Microsoft\\NoSuchKey\\X").unwrap().is_none());
    assert_eq!(
        hive.open("\\Microsoft\\\\Windows NT\\")
            .unwrap()
            .unwrap()
            .name(),
        "Windows NT"
    );
    assert_eq!(hive.open("").unwrap().unwrap().offset(), hive.root_offset());

    let uninstall = hive.open(UNINSTALL).unwrap().unwrap();
    assert_eq!(uninstall.subkey_count(), 40);
    let names: Vec<String> = uninstall.subkeys().map(|k| k.unwrap().name()).collect();
    assert_eq!(names.first().map(String::as_str), Some("App00"));
    assert_eq!(names.len(), 40);

    let t = hive.open("test").unwrap().unwrap();
    assert_eq!(data(&t, "").as_string(), Some("default value"));
    assert_eq!(data(&t, "(Default)").as_string(), Some("default value"));
    assert_eq!(data(&t, "short").as_string(), Some("a"));
    assert_eq!(data(&t, "dword").as_u32(), Some(0xDEAD_BEEF));
    assert_eq!(data(&t, "dword_be").as_u32(), Some(0x0102_0304));
    assert_eq!(data(&t, "qword").as_u64(), Some(0x0123_4567_89AB_CDEF));
    assert_eq!(data(&t, "qword").as_u32(), None);
    assert_eq!(
        data(&t, "multi"),
        RegValue::MultiSz(vec!["one".into(), "two".into(), "three".into()])
    );
    assert_eq!(data(&t, "big"), RegValue::Binary(pattern(40_000)));
    assert_eq!(
        data(&t, "exactly_segment"),
        RegValue::Binary(pattern(16_344))
    );
    assert_eq!(data(&t, "empty"), RegValue::Binary(Vec::new()));
    assert_eq!(data(&t, "none"), RegValue::None);
    assert_eq!(data(&t, "ÜNÏCØDÉ").as_string(), Some("latin-1 name"));
    assert_eq!(data(&t, "КЛЮЧ").as_string(), Some("utf-16 name"));
    assert_eq!(
        data(&t, "ключ-unicode-data").as_string(),
        Some("значение ✓")
    );
    assert_eq!(t.subkey("подключ").unwrap().unwrap().name(), "Подключ");
    assert_eq!(t.subkey("ärger").unwrap().unwrap().name(), "Ärger");
    assert_eq!(t.last_written().unix_seconds(), 1_700_000_000);
    assert_eq!(t.class_name().unwrap().as_deref(), Some("TestClass"));
    let big = t.value("big").unwrap().unwrap();
    assert_eq!(big.data_len(), 40_000);
    assert_eq!(big.raw_data().unwrap().len(), 40_000);
}

#[test]
fn dirty_hive_is_read_and_flagged() {
    let mut b = software();
    b.sequence_numbers(7, 6);
    let bytes = b.build();
    let hive = Hive::parse(&bytes).unwrap();
    assert!(hive.is_dirty());
    assert_eq!(hive.sequence_numbers(), (7, 6));
    assert_eq!(
        data(&hive.open(CURRENT_VERSION).unwrap().unwrap(), "ProductName").as_string(),
        Some("Windows 10 Pro")
    );
}

#[test]
fn many_subkeys_spill_into_an_ri_index() {
    let mut b = HiveBuilder::new();
    let k = b.key("Many");
    for i in 0..70_000u32 {
        k.subkeys.push(KeyNode::new(format!("k{i:05}")));
    }
    let bytes = b.build();
    let hive = Hive::parse(&bytes).unwrap();
    let many = hive.open("Many").unwrap().unwrap();
    assert_eq!(many.subkeys().filter(|k| k.is_ok()).count(), 70_000);
    assert_eq!(many.subkey("K69999").unwrap().unwrap().name(), "k69999");
    assert_eq!(FileTime::from_unix_seconds(0).unix_seconds(), 0);
}

fn write_temp(bytes: &[u8]) -> tempfile::NamedTempFile {
    let f = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(f.path(), bytes).unwrap();
    f
}

fn have(tool: &str) -> bool {
    let ok = Command::new(tool).arg("--help").output().is_ok();
    if !ok {
        eprintln!("SKIP: {tool} not found (apt-get install libhivex-bin libwin-hivex-perl)");
    }
    ok
}

#[test]
fn hivexget_reads_the_written_hive() {
    if !have("hivexget") {
        return;
    }
    for kind in KINDS {
        let mut b = software();
        b.subkey_lists(kind);
        let f = write_temp(&b.build());
        let get = |key: &str, value: &str| {
            let out = Command::new("hivexget")
                .arg(f.path())
                .arg(key)
                .arg(value)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "hivexget {key} {value}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            String::from_utf8(out.stdout).unwrap()
        };
        assert_eq!(
            get("Microsoft\\Windows NT\\CurrentVersion", "ProductName"),
            "Windows 10 Pro\n"
        );
        assert_eq!(
            get(
                "Microsoft\\Windows NT\\CurrentVersion",
                "CurrentMajorVersionNumber"
            ),
            "10\n"
        );
        assert_eq!(
            get(&format!("{UNINSTALL}\\App39"), "DisplayName"),
            "Application 39\n"
        );
        assert_eq!(get("Test", "multi"), "one\ntwo\nthree\n\n");
        assert_eq!(
            get("Test", "qword"),
            format!("{}\n", 0x0123_4567_89AB_CDEFu64)
        );
    }
}

/// Normalizes an export line for comparison: hivex prints Latin-1 names as
/// raw bytes, so every non-ASCII character becomes `?` on both sides.
fn norm(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_ascii() { c } else { '?' })
        .collect()
}

/// Our own `.reg` rendering, in hivexregedit's format.
fn export(hive: &Hive<'_>) -> BTreeMap<String, BTreeSet<String>> {
    fn go(key: &Key<'_>, path: &str, out: &mut BTreeMap<String, BTreeSet<String>>) {
        let mut lines = BTreeSet::new();
        for v in key.values() {
            let v = v.unwrap();
            let name = v.name();
            let lhs = if name.is_empty() {
                "@".to_string()
            } else {
                format!("\"{name}\"")
            };
            let raw = v.raw_data().unwrap();
            let rhs = if v.kind() == 4 && raw.len() == 4 {
                format!(
                    "dword:{:08x}",
                    u32::from_le_bytes(raw[..4].try_into().unwrap())
                )
            } else {
                let hex: Vec<String> = raw.iter().map(|b| format!("{b:02x}")).collect();
                format!("hex({:x}):{}", v.kind(), hex.join(","))
            };
            lines.insert(norm(&format!("{lhs}={rhs}")));
        }
        out.insert(norm(&format!("[{path}]")), lines);
        for k in key.subkeys() {
            let k = k.unwrap();
            let p = if path == "\\" {
                format!("\\{}", k.name())
            } else {
                format!("{path}\\{}", k.name())
            };
            go(&k, &p, out);
        }
    }
    let mut out = BTreeMap::new();
    go(&hive.root().unwrap(), "\\", &mut out);
    out
}

fn parse_reg(text: &str) -> BTreeMap<String, BTreeSet<String>> {
    let mut out = BTreeMap::new();
    let mut cur: Option<String> = None;
    for line in text.lines() {
        if line.starts_with('[') {
            let k = norm(line);
            out.insert(k.clone(), BTreeSet::new());
            cur = Some(k);
        } else if !line.is_empty() && !line.starts_with("Windows Registry Editor") {
            let k = cur.clone().expect("value line before any key");
            out.get_mut(&k).unwrap().insert(norm(line));
        }
    }
    out
}

#[test]
fn hivexregedit_export_matches_the_reader() {
    if !have("hivexregedit") {
        return;
    }
    for kind in KINDS {
        let mut b = software();
        b.subkey_lists(kind);
        let bytes = b.build();
        let f = write_temp(&bytes);
        let out = Command::new("hivexregedit")
            .arg("--export")
            .arg(f.path())
            .arg("\\")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let theirs = parse_reg(&String::from_utf8_lossy(&out.stdout));
        let hive = Hive::parse(&bytes).unwrap();
        let ours = export(&hive);
        assert_eq!(ours.len(), 1 + 4 + 40 + 2 + 1 + 2, "{kind:?}");
        assert_eq!(theirs, ours, "{kind:?}");
    }
}

/// Writes small hives from the builder as fuzz seeds into
/// `$GUESTKIT_REGF_SEEDS/regf/`.
#[test]
#[ignore = "writes fuzz seeds: GUESTKIT_REGF_SEEDS=../../fuzz/corpus cargo test -p guestkit-regf --test writer -- --ignored"]
fn write_fuzz_seeds() {
    let Some(root) = std::env::var_os("GUESTKIT_REGF_SEEDS") else {
        eprintln!("SKIP: GUESTKIT_REGF_SEEDS is not set");
        return;
    };
    let dir = std::path::Path::new(&root).join("regf");
    std::fs::create_dir_all(&dir).unwrap();
    let mut seeds: Vec<(String, Vec<u8>)> = Vec::new();
    for (i, kind) in KINDS.iter().enumerate() {
        let mut b = software();
        b.subkey_lists(*kind).utf16_names(i % 2 == 1);
        seeds.push((format!("software-{i}"), b.build()));
    }
    let mut small = HiveBuilder::new();
    small.set_value("Select", "Current", RegValue::Dword(1));
    small.set_value(
        "ControlSet001\\Control\\ComputerName\\ComputerName",
        "ComputerName",
        RegValue::Sz("HOST".into()),
    );
    seeds.push(("small".into(), small.build()));
    small
        .subkey_lists(SubkeyListKind::Ri { per_leaf: 1 })
        .sequence_numbers(3, 2);
    seeds.push(("small-ri-dirty".into(), small.build()));
    let mut big = HiveBuilder::new();
    big.set_value("K", "big", RegValue::Binary(pattern(20_000)));
    seeds.push(("db".into(), big.build()));
    big.minor_version(3);
    seeds.push(("big-v13".into(), big.build()));
    for (name, bytes) in seeds {
        assert!(bytes.len() <= 262_144, "{name}: {} bytes", bytes.len());
        std::fs::write(dir.join(name), bytes).unwrap();
    }
}
