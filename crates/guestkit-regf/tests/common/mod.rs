//! Shared fixture: a SOFTWARE-like hive with known contents.

#![allow(dead_code)]

use guestkit_regf::write::{HiveBuilder, KeyNode};
use guestkit_regf::{FileTime, RegValue};

pub const CURRENT_VERSION: &str = "Microsoft\\Windows NT\\CurrentVersion";
pub const UNINSTALL: &str = "Microsoft\\Windows\\CurrentVersion\\Uninstall";

/// Bytes 0, 1, 2, ... of length `n` (wrapping), for big-data values.
pub fn pattern(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i % 251) as u8).collect()
}

/// A SOFTWARE-like tree: CurrentVersion values, 40 Uninstall entries, and a
/// `Test` key with one value of every type, a big (db) value, a class name,
/// a default value and non-Latin-1 names.
pub fn software() -> HiveBuilder {
    let mut b = HiveBuilder::new();
    b.file_name("SOFTWARE");
    let cv = b.key(CURRENT_VERSION);
    cv.set_value("ProductName", RegValue::Sz("Windows 10 Pro".into()));
    cv.set_value("CurrentBuild", RegValue::Sz("19045".into()));
    cv.set_value("CurrentMajorVersionNumber", RegValue::Dword(10));
    cv.set_value("EditionID", RegValue::Sz("Professional".into()));
    cv.set_value(
        "SystemRoot",
        RegValue::ExpandSz("%SystemDrive%\\Windows".into()),
    );
    for i in 0..40 {
        let k = b.key(&format!("{UNINSTALL}\\App{i:02}"));
        k.set_value("DisplayName", RegValue::Sz(format!("Application {i}")));
        k.set_value("DisplayVersion", RegValue::Sz(format!("1.{i}")));
    }
    let t = b.key("Test");
    t.class = Some("TestClass".into());
    t.last_written = FileTime::from_unix_seconds(1_700_000_000);
    t.set_value("", RegValue::Sz("default value".into()));
    t.set_value("sz", RegValue::Sz("hello".into()));
    t.set_value("short", RegValue::Sz("a".into()));
    t.set_value("expand", RegValue::ExpandSz("%TEMP%\\x".into()));
    t.set_value(
        "multi",
        RegValue::MultiSz(vec!["one".into(), "two".into(), "three".into()]),
    );
    t.set_value("dword", RegValue::Dword(0xDEAD_BEEF));
    t.set_value("dword_be", RegValue::DwordBigEndian(0x0102_0304));
    t.set_value("qword", RegValue::Qword(0x0123_4567_89AB_CDEF));
    t.set_value("binary", RegValue::Binary(vec![1, 2, 3, 4, 5, 6, 7]));
    t.set_value("tiny", RegValue::Binary(vec![9, 8]));
    t.set_value("empty", RegValue::Binary(Vec::new()));
    t.set_value("none", RegValue::None);
    t.set_value(
        "link",
        RegValue::Other {
            kind: 6,
            data: "\\Registry\\Machine"
                .encode_utf16()
                .flat_map(u16::to_le_bytes)
                .collect(),
        },
    );
    t.set_value("big", RegValue::Binary(pattern(40_000)));
    t.set_value("exactly_segment", RegValue::Binary(pattern(16_344)));
    t.set_value("Ünïcødé", RegValue::Sz("latin-1 name".into()));
    t.set_value("ключ", RegValue::Sz("utf-16 name".into()));
    t.set_value("ключ-unicode-data", RegValue::Sz("значение ✓".into()));
    t.subkeys.push(KeyNode::new("Подключ"));
    t.subkeys.push(KeyNode::new("Ärger"));
    b
}
