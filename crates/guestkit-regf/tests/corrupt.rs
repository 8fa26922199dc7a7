//! Damaged hives: every problem is a typed error naming the cell, iteration
//! keeps the readable entries, and nothing panics or loops.

mod common;

use common::*;
use guestkit_regf::write::{HiveBuilder, KeyNode, SubkeyListKind};
use guestkit_regf::{Hive, Limits, RegValue, RegfError, WalkControl};

/// File position of byte `field` of the data of the cell at `cell`.
fn at(cell: u32, field: usize) -> usize {
    0x1000 + cell as usize + 4 + field
}

fn put32(b: &mut [u8], pos: usize, v: u32) {
    b[pos..pos + 4].copy_from_slice(&v.to_le_bytes());
}

fn get32(b: &[u8], pos: usize) -> u32 {
    u32::from_le_bytes(b[pos..pos + 4].try_into().unwrap())
}

/// Offsets of interesting cells of a freshly built hive.
struct Layout {
    key: u32,
    subkey_list: u32,
    value_list: u32,
}

fn layout(bytes: &[u8], path: &str) -> Layout {
    let hive = Hive::parse(bytes).unwrap();
    let key = hive.open(path).unwrap().unwrap().offset();
    Layout {
        key,
        subkey_list: get32(bytes, at(key, 0x1C)),
        value_list: get32(bytes, at(key, 0x28)),
    }
}

/// Parses, walks everything and decodes every value; returns the number of
/// problems (errors met), and panics only if the reader does.
fn exercise(bytes: &[u8]) -> usize {
    let Ok(hive) = Hive::parse(bytes) else {
        return 1;
    };
    let mut problems = 0;
    let walk = hive.walk(|key, _| {
        let _ = key.name();
        problems += usize::from(key.class_name().is_err());
        for v in key.values() {
            problems += usize::from(v.and_then(|v| v.data()).is_err());
        }
        WalkControl::Continue
    });
    match walk {
        Ok(p) => problems + p.len(),
        Err(_) => problems + 1,
    }
}

#[test]
fn not_a_hive() {
    assert!(matches!(
        Hive::parse(&[]),
        Err(RegfError::Truncated {
            what: "base block",
            ..
        })
    ));
    let mut bytes = software().build();
    bytes[0] = b'x';
    let e = Hive::parse(&bytes).unwrap_err();
    assert!(matches!(e, RegfError::BaseBlock { .. }), "{e}");
    assert!(e.to_string().starts_with("regf: "), "{e}");
    let mut bytes = software().build();
    put32(&mut bytes, 0x14, 2);
    assert!(matches!(
        Hive::parse(&bytes),
        Err(RegfError::BaseBlock { .. })
    ));
    // No hive bin at all.
    let bytes = software().build();
    let mut only_base = bytes[..0x1000].to_vec();
    only_base.extend_from_slice(&[0u8; 0x1000]);
    assert!(matches!(
        Hive::parse(&only_base),
        Err(RegfError::Bin { .. })
    ));
}

#[test]
fn bad_checksum_is_a_warning() {
    let mut bytes = software().build();
    bytes[0x1FC] ^= 0xFF;
    let hive = Hive::parse(&bytes).unwrap();
    assert!(!hive.checksum_ok());
    assert!(matches!(hive.warnings(), [RegfError::BaseBlock { .. }]));
    assert!(hive.open(CURRENT_VERSION).unwrap().is_some());
}

#[test]
fn truncated_hives_never_panic() {
    let bytes = software().build();
    for len in (0..bytes.len())
        .step_by(509)
        .chain([0x1000, 0x1020, 0x2000])
    {
        let cut = &bytes[..len];
        let n = exercise(cut);
        if len < bytes.len() {
            assert!(n > 0, "truncated to {len} bytes and no problem reported");
        }
    }
    // Truncated mid-bins: the base block's length is flagged, early keys read.
    let hive = Hive::parse(&bytes[..0x3000]).unwrap();
    assert!(hive.warnings().iter().any(|w| matches!(
        w,
        RegfError::Truncated {
            what: "hive bins",
            ..
        }
    )));
    assert!(hive.root().is_ok());
    let far = hive.open(UNINSTALL);
    assert!(
        matches!(far, Err(RegfError::OffsetOutOfRange { .. })),
        "{far:?}"
    );
}

#[test]
fn offset_past_the_end() {
    let bytes = software().build();
    // Root offset past the end.
    let mut b = bytes.clone();
    put32(&mut b, 0x24, 0x7FFF_FFF0);
    let hive = Hive::parse(&b).unwrap();
    let e = hive.root().unwrap_err();
    assert_eq!(
        e,
        RegfError::OffsetOutOfRange {
            offset: 0x7FFF_FFF0,
            context: "key"
        }
    );
    assert!(hive.walk(|_, _| WalkControl::Continue).is_err());

    // One subkey list entry past the end: the other 39 still come out.
    let l = layout(&bytes, UNINSTALL);
    let mut b = bytes.clone();
    put32(&mut b, at(l.subkey_list, 4 + 8 * 5), 0x00FF_FFF8);
    let hive = Hive::parse(&b).unwrap();
    let un = hive.open(UNINSTALL).unwrap().unwrap();
    let (good, bad) = un.subkeys_lossy();
    assert_eq!(good.len(), 39);
    assert_eq!(bad.len(), 1);
    assert_eq!(bad[0].offset(), Some(0x00FF_FFF8));
    assert!(un.subkey("App07").unwrap().is_some());
    // Absent, but one subkey is unreadable: an error, not a silent None.
    assert!(un.subkey("NoSuchApp").is_err());
    let problems = hive.walk(|_, _| WalkControl::Continue).unwrap();
    assert_eq!(problems.len(), 1, "{problems:?}");

    // A value list entry and a value data offset past the end.
    let l = layout(&bytes, CURRENT_VERSION);
    let mut b = bytes.clone();
    put32(&mut b, at(l.value_list, 4), 0x0123_4560);
    let first_vk = get32(&b, at(l.value_list, 0));
    put32(&mut b, at(first_vk, 8), 0x0123_4000);
    let hive = Hive::parse(&b).unwrap();
    let cv = hive.open(CURRENT_VERSION).unwrap().unwrap();
    let values: Vec<_> = cv.values().collect();
    assert_eq!(values.len(), 5);
    assert!(matches!(
        values[1],
        Err(RegfError::OffsetOutOfRange {
            offset: 0x0123_4560,
            ..
        })
    ));
    let v0 = values[0].as_ref().unwrap();
    assert_eq!(v0.name(), "ProductName");
    assert!(matches!(
        v0.data(),
        Err(RegfError::OffsetOutOfRange {
            offset: 0x0123_4000,
            context: "value data"
        })
    ));
    assert_eq!(
        cv.value("EditionID")
            .unwrap()
            .unwrap()
            .data()
            .unwrap()
            .as_string(),
        Some("Professional")
    );
}

#[test]
fn broken_cells_are_named() {
    let bytes = software().build();
    let l = layout(&bytes, &format!("{UNINSTALL}\\App03"));
    // Wrong signature.
    let mut b = bytes.clone();
    b[at(l.key, 0)] = b'X';
    let hive = Hive::parse(&b).unwrap();
    let (good, bad) = hive.open(UNINSTALL).unwrap().unwrap().subkeys_lossy();
    assert_eq!(good.len(), 39);
    match &bad[..] {
        [RegfError::Cell { offset, what }] => {
            assert_eq!(*offset, l.key);
            assert!(what.contains("nk"), "{what}");
        }
        other => panic!("{other:?}"),
    }
    // Cell size running past its bin, and a zero size.
    for size in [0x7FF0_0000u32, 0, 0xFFFF_FFFC] {
        let mut b = bytes.clone();
        put32(&mut b, 0x1000 + l.key as usize, size);
        let hive = Hive::parse(&b).unwrap();
        let (good, bad) = hive.open(UNINSTALL).unwrap().unwrap().subkeys_lossy();
        assert_eq!(good.len(), 39);
        assert!(
            matches!(bad[..], [RegfError::Cell { offset, .. }] if offset == l.key),
            "{bad:?}"
        );
    }
    // Name length past the end of the cell.
    let mut b = bytes.clone();
    b[at(l.key, 0x48)..at(l.key, 0x4A)].copy_from_slice(&0xFFFFu16.to_le_bytes());
    let hive = Hive::parse(&b).unwrap();
    let e = hive.open(&format!("{UNINSTALL}\\App03"));
    assert!(e.is_err(), "{e:?}");
    // Misaligned offset into the middle of a cell.
    let mut b = bytes.clone();
    let root = get32(&b, 0x24);
    put32(&mut b, 0x24, root + 2);
    assert!(matches!(
        Hive::parse(&b).unwrap().root(),
        Err(RegfError::OffsetOutOfRange { .. })
    ));
    // A subkey list with a bad signature.
    let l = layout(&bytes, UNINSTALL);
    let mut b = bytes.clone();
    b[at(l.subkey_list, 0)] = b'Q';
    let hive = Hive::parse(&b).unwrap();
    let un = hive.open(UNINSTALL).unwrap().unwrap();
    let items: Vec<_> = un.subkeys().collect();
    assert!(
        matches!(&items[..], [Err(RegfError::Cell { offset, .. })] if *offset == l.subkey_list)
    );
}

#[test]
fn huge_counts_are_bounded() {
    let bytes = software().build();
    let l = layout(&bytes, UNINSTALL);
    // Subkey count says 4 billion, the list says 40: the list wins.
    let mut b = bytes.clone();
    put32(&mut b, at(l.key, 0x14), u32::MAX);
    let hive = Hive::parse(&b).unwrap();
    assert_eq!(hive.open(UNINSTALL).unwrap().unwrap().subkeys().count(), 40);
    // The lh list claims 65535 entries in a cell for 40.
    let mut b = bytes.clone();
    b[at(l.subkey_list, 2)..at(l.subkey_list, 4)].copy_from_slice(&0xFFFFu16.to_le_bytes());
    let hive = Hive::parse(&b).unwrap();
    let (good, bad) = hive.open(UNINSTALL).unwrap().unwrap().subkeys_lossy();
    assert!(good.len() >= 40, "{}", good.len());
    assert!(bad
        .iter()
        .any(|e| matches!(e, RegfError::Cell { offset, .. } if *offset == l.subkey_list)));
    // Value count of 4 billion: a limit error, then what the list holds.
    let l = layout(&bytes, CURRENT_VERSION);
    let mut b = bytes.clone();
    put32(&mut b, at(l.key, 0x24), u32::MAX);
    let hive = Hive::parse(&b).unwrap();
    let cv = hive.open(CURRENT_VERSION).unwrap().unwrap();
    let items: Vec<_> = cv.values().collect();
    assert!(matches!(
        items[0],
        Err(RegfError::Limit {
            what: "values per key",
            ..
        })
    ));
    assert!(items.len() < 100);
    // A value claiming 2 GiB of data.
    let mut b = bytes.clone();
    let vk = get32(&b, at(l.value_list, 0));
    put32(&mut b, at(vk, 4), 0x7FFF_FFFF);
    let hive = Hive::parse(&b).unwrap();
    let v = hive
        .open(CURRENT_VERSION)
        .unwrap()
        .unwrap()
        .value("ProductName")
        .unwrap()
        .unwrap();
    assert!(matches!(
        v.data(),
        Err(RegfError::Limit {
            what: "value data size",
            ..
        })
    ));
    // Inline data claiming 100 bytes.
    put32(&mut b, at(vk, 4), 0x8000_0064);
    let hive = Hive::parse(&b).unwrap();
    let v = hive
        .open(CURRENT_VERSION)
        .unwrap()
        .unwrap()
        .value("ProductName")
        .unwrap()
        .unwrap();
    assert!(matches!(v.data(), Err(RegfError::Cell { .. })));
    // A tighter subkey limit.
    let bytes = software().build();
    let limits = Limits {
        max_subkeys: 10,
        ..Limits::default()
    };
    let hive = Hive::parse_with_limits(&bytes, limits).unwrap();
    let (good, bad) = hive.open(UNINSTALL).unwrap().unwrap().subkeys_lossy();
    assert_eq!(good.len(), 10);
    assert!(matches!(
        bad[..],
        [RegfError::Limit {
            what: "subkeys per key",
            ..
        }]
    ));
}

#[test]
fn big_data_damage() {
    let bytes = software().build();
    let hive = Hive::parse(&bytes).unwrap();
    let t = hive.open("Test").unwrap().unwrap();
    let big = t.value("big").unwrap().unwrap();
    let db = get32(&bytes, at(big.offset(), 8));
    assert_eq!(&bytes[at(db, 0)..at(db, 2)], b"db");
    // Fewer segments than the size needs.
    let mut b = bytes.clone();
    b[at(db, 2)..at(db, 4)].copy_from_slice(&1u16.to_le_bytes());
    let hive = Hive::parse(&b).unwrap();
    let v = hive
        .open("Test")
        .unwrap()
        .unwrap()
        .value("big")
        .unwrap()
        .unwrap();
    assert!(matches!(v.data(), Err(RegfError::Cell { offset, .. }) if offset == db));
    // A segment offset pointing nowhere.
    let mut b = bytes.clone();
    let list = get32(&b, at(db, 4));
    put32(&mut b, at(list, 4), 0x00FF_0000);
    let hive = Hive::parse(&b).unwrap();
    let v = hive
        .open("Test")
        .unwrap()
        .unwrap()
        .value("big")
        .unwrap()
        .unwrap();
    assert!(matches!(
        v.data(),
        Err(RegfError::OffsetOutOfRange {
            context: "big data segment",
            ..
        })
    ));
}

#[test]
fn subkey_list_cycles_terminate() {
    let bytes = software().build();
    // Uninstall\App00's subkey list is Uninstall's list: App00 contains
    // App00 (itself) and its siblings.
    let parent = layout(&bytes, UNINSTALL);
    let child = layout(&bytes, &format!("{UNINSTALL}\\App00"));
    let mut b = bytes.clone();
    put32(&mut b, at(child.key, 0x14), 40);
    put32(&mut b, at(child.key, 0x1C), parent.subkey_list);
    let hive = Hive::parse(&b).unwrap();
    let problems = hive.walk(|_, _| WalkControl::Continue).unwrap();
    assert!(
        problems
            .iter()
            .any(|p| matches!(p, RegfError::Cycle { .. })),
        "{problems:?}"
    );
    // Single-key iteration flags itself among its subkeys.
    let app00 = hive.open(&format!("{UNINSTALL}\\App00")).unwrap().unwrap();
    let (good, bad) = app00.subkeys_lossy();
    assert_eq!(good.len(), 39);
    assert!(matches!(bad[..], [RegfError::Cycle { offset, .. }] if offset == child.key));
    // A path lookup through the loop meets the cycle instead of looping.
    let deep = vec!["App00"; 600].join("\\");
    let r = hive.open(&format!("{UNINSTALL}\\{deep}"));
    assert!(matches!(r, Err(RegfError::Cycle { .. })), "{r:?}");

    // Root's list holding the root: a cycle back to the start.
    let root = Hive::parse(&bytes).unwrap().root_offset();
    let rl = layout(&bytes, "");
    let mut b = bytes.clone();
    put32(&mut b, at(rl.subkey_list, 4), root);
    let hive = Hive::parse(&b).unwrap();
    let problems = hive.walk(|_, _| WalkControl::Continue).unwrap();
    assert!(problems
        .iter()
        .any(|p| matches!(p, RegfError::Cycle { offset, .. } if *offset == root)));

    // An ri index listing itself.
    let mut builder = software();
    builder.subkey_lists(SubkeyListKind::Ri { per_leaf: 4 });
    let bytes = builder.build();
    let l = layout(&bytes, UNINSTALL);
    assert_eq!(&bytes[at(l.subkey_list, 0)..at(l.subkey_list, 2)], b"ri");
    let mut b = bytes.clone();
    put32(&mut b, at(l.subkey_list, 4 + 4 * 2), l.subkey_list);
    let hive = Hive::parse(&b).unwrap();
    let (good, bad) = hive.open(UNINSTALL).unwrap().unwrap().subkeys_lossy();
    assert_eq!(good.len(), 36);
    assert!(
        matches!(bad[..], [RegfError::Cycle { offset, what: "subkey list reached twice" }] if offset == l.subkey_list)
    );
}

#[test]
fn deep_nesting_is_bounded() {
    let mut b = HiveBuilder::new();
    let mut node = KeyNode::new("d");
    for _ in 0..600 {
        let mut parent = KeyNode::new("d");
        parent.subkeys.push(node);
        node = parent;
    }
    b.root_mut().subkeys.push(node);
    b.set_value("d", "v", RegValue::Dword(1));
    let bytes = b.build();
    let hive = Hive::parse(&bytes).unwrap();
    let mut deepest = 0;
    let problems = hive
        .walk(|_, depth| {
            deepest = deepest.max(depth);
            WalkControl::Continue
        })
        .unwrap();
    assert_eq!(deepest, 512);
    assert!(matches!(
        problems[..],
        [RegfError::Limit {
            what: "key nesting depth",
            ..
        }]
    ));
    assert!(hive.open(&vec!["d"; 100].join("\\")).unwrap().is_some());
    let r = hive.open(&vec!["d"; 600].join("\\"));
    assert!(
        matches!(
            r,
            Err(RegfError::Limit {
                what: "path depth",
                ..
            })
        ),
        "{r:?}"
    );
}

/// A small deterministic mutation run (the fuzz target does the real work).
#[test]
fn byte_flips_never_panic() {
    let bytes = software().build();
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for _ in 0..300 {
        let mut b = bytes.clone();
        for _ in 0..8 {
            let pos = 0x1000 + (next() as usize % (b.len() - 0x1000));
            b[pos] = next() as u8;
        }
        exercise(&b);
    }
}
