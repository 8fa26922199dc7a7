use super::package;
use crate::{read_ndb, DbKind, Limits, RpmError};

/// An ndb file with one slot page holding `blobs` as packages 1, 2, ...
fn build(blobs: &[Vec<u8>]) -> Vec<u8> {
    let mut f = vec![0u8; 4096];
    f[0..4].copy_from_slice(b"RpmP");
    f[8..12].copy_from_slice(&7u32.to_le_bytes());
    f[12..16].copy_from_slice(&1u32.to_le_bytes());
    f[16..20].copy_from_slice(&(blobs.len() as u32 + 1).to_le_bytes());
    for slot in 2..256 {
        f[slot * 16..slot * 16 + 4].copy_from_slice(b"Slot");
    }
    for (i, blob) in blobs.iter().enumerate() {
        let pkgidx = i as u32 + 1;
        let blkoff = (f.len() / 16) as u32;
        let mut b = Vec::new();
        b.extend_from_slice(b"BlbS");
        b.extend_from_slice(&pkgidx.to_le_bytes());
        b.extend_from_slice(&7u32.to_le_bytes());
        b.extend_from_slice(&(blob.len() as u32).to_le_bytes());
        b.extend_from_slice(blob);
        while (b.len() + 12) % 16 != 0 {
            b.push(0);
        }
        b.extend_from_slice(&0u32.to_le_bytes());
        b.extend_from_slice(&(blob.len() as u32).to_le_bytes());
        b.extend_from_slice(b"BlbE");
        let blkcnt = (b.len() / 16) as u32;
        let slot = (i + 2) * 16;
        f[slot + 4..slot + 8].copy_from_slice(&pkgidx.to_le_bytes());
        f[slot + 8..slot + 12].copy_from_slice(&blkoff.to_le_bytes());
        f[slot + 12..slot + 16].copy_from_slice(&blkcnt.to_le_bytes());
        f.extend_from_slice(&b);
    }
    f
}

fn three() -> Vec<u8> {
    build(&[package("aaa"), package("bbb"), package("ccc")])
}

fn names(db: &[u8]) -> (Vec<String>, Vec<String>) {
    let list = read_ndb(db, &Limits::default()).expect("read");
    (
        list.packages.into_iter().map(|p| p.name).collect(),
        list.warnings.iter().map(|w| w.to_string()).collect(),
    )
}

#[test]
fn reads_all_slots() {
    let db = three();
    assert_eq!(DbKind::detect(&db), Some(DbKind::Ndb));
    let (n, w) = names(&db);
    assert_eq!(n, ["aaa", "bbb", "ccc"]);
    assert!(w.is_empty(), "{w:?}");
}

#[test]
fn slot_pointing_past_eof() {
    let mut db = three();
    // Slot 3 (package "bbb"): first block far beyond the file.
    db[3 * 16 + 8..3 * 16 + 12].copy_from_slice(&0x1000_0000u32.to_le_bytes());
    let list = read_ndb(&db, &Limits::default()).expect("read");
    let n: Vec<&str> = list.packages.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(n, ["aaa", "ccc"], "the other packages are still read");
    match &list.warnings[..] {
        [w] => {
            assert!(matches!(
                w.error,
                RpmError::NdbSlotPastEof {
                    slot: 3,
                    pkgidx: 2,
                    blkoff: 0x1000_0000,
                    ..
                }
            ));
            assert!(
                w.record.contains("ndb slot 3 (package index 2"),
                "{}",
                w.record
            );
            assert!(w.to_string().contains("rpm ndb: slot 3"), "{w}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn slot_count_overflow_does_not_wrap() {
    let mut db = three();
    db[2 * 16 + 8..2 * 16 + 12].copy_from_slice(&u32::MAX.to_le_bytes());
    db[2 * 16 + 12..2 * 16 + 16].copy_from_slice(&u32::MAX.to_le_bytes());
    let (n, w) = names(&db);
    assert_eq!(n, ["bbb", "ccc"]);
    assert_eq!(w.len(), 1);
}

#[test]
fn truncated_file_loses_only_the_cut_blob() {
    let db = three();
    let (n, w) = names(&db[..db.len() - 20]);
    assert_eq!(n, ["aaa", "bbb"]);
    assert_eq!(w.len(), 1);
    assert!(w[0].contains("past the end"), "{w:?}");
}

#[test]
fn blob_of_another_package() {
    let mut db = three();
    let blob1 = 4096 + 4;
    db[blob1..blob1 + 4].copy_from_slice(&9u32.to_le_bytes());
    let (n, w) = names(&db);
    assert_eq!(n, ["bbb", "ccc"]);
    assert!(
        w[0].contains("belongs to package index 9, slot says 1"),
        "{w:?}"
    );
}

#[test]
fn blob_length_larger_than_its_blocks() {
    let mut db = three();
    let blob1 = 4096 + 12;
    db[blob1..blob1 + 4].copy_from_slice(&100_000u32.to_le_bytes());
    let (n, w) = names(&db);
    assert_eq!(n, ["bbb", "ccc"]);
    assert!(w[0].contains("does not fit"), "{w:?}");
}

#[test]
fn missing_tail_magic() {
    let mut db = three();
    let end_of_first =
        4096 + (u32::from_le_bytes(db[2 * 16 + 12..2 * 16 + 16].try_into().unwrap()) as usize) * 16;
    db[end_of_first - 1] = b'X';
    let (n, w) = names(&db);
    assert_eq!(n, ["bbb", "ccc"]);
    assert!(w[0].contains("BlbE"), "{w:?}");
}

#[test]
fn slot_pointing_into_slot_area() {
    let mut db = three();
    db[2 * 16 + 8..2 * 16 + 12].copy_from_slice(&2u32.to_le_bytes());
    let (n, w) = names(&db);
    assert_eq!(n, ["bbb", "ccc"]);
    assert!(w[0].contains("slot area"), "{w:?}");
}

#[test]
fn bad_file_header_is_an_error() {
    let db = three();
    assert!(matches!(
        read_ndb(&db[..20], &Limits::default()),
        Err(RpmError::Ndb { .. })
    ));
    let mut v = db.clone();
    v[4] = 1;
    assert!(read_ndb(&v, &Limits::default())
        .unwrap_err()
        .to_string()
        .contains("version 1"));
    let mut pages = db.clone();
    pages[12..16].copy_from_slice(&1000u32.to_le_bytes());
    let e = read_ndb(&pages, &Limits::default()).unwrap_err();
    assert!(e.to_string().starts_with("rpm ndb: file offset 12"), "{e}");
    assert!(read_ndb(b"nope", &Limits::default()).is_err());
}

#[test]
fn every_single_byte_flip_is_handled() {
    let db = build(&[package("aaa")]);
    for i in (0..db.len()).filter(|i| *i < 64 || *i >= 4096) {
        for v in [0x00, 0x01, 0x7f, 0xff] {
            let mut b = db.clone();
            b[i] = v;
            let _ = read_ndb(&b, &Limits::default());
        }
    }
}
