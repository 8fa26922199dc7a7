use super::{build_header, package, Val};
use crate::{parse_header, parse_header_with_limits, Limits, RpmError};

fn full() -> Vec<u8> {
    build_header(&[
        // An immutable-region tag first, as rpm writes it: must be ignored.
        (
            63,
            Val::Bin(&[0, 0, 0, 63, 0, 0, 0, 7, 0xff, 0xff, 0xff, 0x00, 0, 0, 0, 16]),
        ),
        (1000, Val::Str("openssl-libs")),
        (1001, Val::Str("3.0.7")),
        (1002, Val::Str("27.el9")),
        (1003, Val::Int32(1)),
        (1004, Val::I18n(&["Crypto library", "Bibliothèque"])),
        (1008, Val::Int32(1_700_000_000)),
        (1009, Val::Int32(123)),
        (5009, Val::Int64(6_000_000_000)),
        (1011, Val::Str("Red Hat, Inc.")),
        (1014, Val::Str("Apache-2.0")),
        (1022, Val::Str("x86_64")),
        (1044, Val::Str("openssl-3.0.7-27.el9.src.rpm")),
        (5096, Val::Str("perl:5.32:8030020201007:1234")),
        (269, Val::Str("signature-ish tag we do not read")),
    ])
}

#[test]
fn decodes_every_field() {
    let p = parse_header(&full()).expect("parse");
    assert_eq!(p.name, "openssl-libs");
    assert_eq!(p.epoch, Some(1));
    assert_eq!(p.version, "3.0.7");
    assert_eq!(p.release, "27.el9");
    assert_eq!(p.summary.as_deref(), Some("Crypto library"));
    assert_eq!(p.install_time, Some(1_700_000_000));
    assert_eq!(p.size, Some(6_000_000_000), "LONGSIZE wins over SIZE");
    assert_eq!(p.vendor.as_deref(), Some("Red Hat, Inc."));
    assert_eq!(p.license.as_deref(), Some("Apache-2.0"));
    assert_eq!(p.arch.as_deref(), Some("x86_64"));
    assert_eq!(p.sourcerpm.as_deref(), Some("openssl-3.0.7-27.el9.src.rpm"));
    assert_eq!(
        p.modularity_label.as_deref(),
        Some("perl:5.32:8030020201007:1234")
    );
    assert_eq!(p.evr(), "1:3.0.7-27.el9");
}

#[test]
fn optional_fields_absent() {
    let p = parse_header(&build_header(&[
        (1000, Val::Str("gpg-pubkey")),
        (1001, Val::Str("fd431d51")),
        (1002, Val::Str("4ae0493b")),
        (1009, Val::Int32(0)),
    ]))
    .expect("parse");
    assert_eq!(p.epoch, None);
    assert_eq!(p.arch, None);
    assert_eq!(p.size, Some(0));
    assert_eq!(p.evr(), "fd431d51-4ae0493b");
}

#[test]
fn too_short_blob() {
    for len in 0..8 {
        assert_eq!(
            parse_header(&full()[..len]),
            Err(RpmError::HeaderTooShort { len })
        );
    }
}

#[test]
fn truncated_blob_at_every_length() {
    let blob = full();
    for len in 8..blob.len() {
        match parse_header(&blob[..len]) {
            Err(RpmError::HeaderTruncated { needed, len: l, .. }) => {
                assert_eq!(needed, blob.len() as u64);
                assert_eq!(l, len);
            }
            other => panic!("length {len}: {other:?}"),
        }
    }
    // Trailing bytes after the data store are ignored.
    let mut longer = blob.clone();
    longer.extend_from_slice(&[0xaa; 7]);
    assert_eq!(parse_header(&longer), parse_header(&blob));
}

/// Index entry `i`'s field at `field` (0 tag, 4 type, 8 offset, 12 count).
fn set_entry(blob: &mut [u8], i: usize, field: usize, v: u32) {
    let at = 8 + 16 * i + field;
    blob[at..at + 4].copy_from_slice(&v.to_be_bytes());
}

#[test]
fn entry_offset_past_data() {
    let mut blob = package("bash");
    let dl = u32::from_be_bytes(blob[4..8].try_into().unwrap());
    set_entry(&mut blob, 1, 8, dl + 1);
    match parse_header(&blob) {
        Err(RpmError::HeaderBadEntry {
            index: 1,
            tag: 1001,
            offset,
            problem,
            ..
        }) => {
            assert_eq!(offset, dl + 1);
            assert!(problem.contains("past the end"), "{problem}");
        }
        other => panic!("{other:?}"),
    }
    let msg = parse_header(&blob).unwrap_err().to_string();
    assert!(
        msg.starts_with("rpm header: index entry 1 (tag 1001"),
        "{msg}"
    );
}

#[test]
fn entry_count_past_data_even_for_unread_tags() {
    let mut blob = full();
    // Entry 0 is the region tag (BIN, 16 bytes): make its count huge.
    set_entry(&mut blob, 0, 12, u32::MAX);
    assert!(matches!(
        parse_header(&blob),
        Err(RpmError::HeaderBadEntry {
            index: 0,
            tag: 63,
            ..
        })
    ));
}

#[test]
fn unknown_type_is_rejected() {
    let mut blob = package("bash");
    set_entry(&mut blob, 3, 4, 77);
    assert!(matches!(
        parse_header(&blob),
        Err(RpmError::HeaderBadEntry {
            tag: 1022,
            kind: 77,
            problem: "unknown data type",
            ..
        })
    ));
}

#[test]
fn unterminated_string() {
    // The last string of the store loses its NUL: shrink the data store by one.
    let mut blob = package("bash");
    let dl = u32::from_be_bytes(blob[4..8].try_into().unwrap());
    blob[4..8].copy_from_slice(&(dl - 1).to_be_bytes());
    blob.pop();
    assert!(matches!(
        parse_header(&blob),
        Err(RpmError::HeaderBadEntry {
            tag: 1044,
            problem: "string is not NUL-terminated inside the data store",
            ..
        })
    ));
}

#[test]
fn wrong_type_for_a_read_tag() {
    let blob = build_header(&[
        (1000, Val::Str("bash")),
        (1001, Val::Str("1")),
        (1002, Val::Str("1")),
        (1003, Val::Str("one")),
    ]);
    assert!(matches!(
        parse_header(&blob),
        Err(RpmError::HeaderBadEntry {
            tag: 1003,
            problem: "expected INT32",
            ..
        })
    ));
}

#[test]
fn missing_required_tag() {
    let blob = build_header(&[(1000, Val::Str("bash")), (1002, Val::Str("1"))]);
    assert_eq!(
        parse_header(&blob),
        Err(RpmError::HeaderMissingTag {
            tag: 1001,
            name: "VERSION"
        })
    );
}

#[test]
fn huge_preamble_is_refused_before_any_allocation() {
    let mut blob = vec![0u8; 8];
    blob[0..4].copy_from_slice(&0x0001_0000u32.to_be_bytes());
    assert!(matches!(
        parse_header(&blob),
        Err(RpmError::HeaderTooLarge {
            entries: 0x10000,
            ..
        })
    ));
    blob[0..4].copy_from_slice(&1u32.to_be_bytes());
    blob[4..8].copy_from_slice(&u32::MAX.to_be_bytes());
    assert!(matches!(
        parse_header(&blob),
        Err(RpmError::HeaderTooLarge { .. })
    ));
    let small = Limits {
        max_header_bytes: 64,
        ..Limits::default()
    };
    assert!(matches!(
        parse_header_with_limits(&full(), &small),
        Err(RpmError::HeaderTooLarge { max_bytes: 64, .. })
    ));
}

#[test]
fn every_single_byte_flip_is_handled() {
    let blob = full();
    for i in 0..blob.len() {
        for v in [0x00, 0x7f, 0x80, 0xff] {
            let mut b = blob.clone();
            b[i] = v;
            let _ = parse_header(&b);
        }
    }
}
