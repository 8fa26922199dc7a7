//! MBR and GPT tables read by guestkit equal what sfdisk wrote (the factory's
//! manifests are sfdisk's own JSON dump), and damaged tables give typed errors
//! or warnings — never a panic or a huge allocation.

mod common;

use std::sync::Arc;

use guestkit_disk::volume::table::{PartitionKind, Scheme};
use guestkit_disk::volume::{gpt, mbr};
use guestkit_disk::{DiskError, Limits, MemDevice};
use guestkit_fixtures::disks::{gpt_disk, load_manifest, mbr_disk};

fn mem(bytes: Vec<u8>) -> Arc<MemDevice> {
    Arc::new(MemDevice::new(bytes, "test-disk"))
}

#[test]
fn mbr_primary_extended_and_logical_partitions_match_sfdisk() {
    let path = mbr_disk().unwrap();
    let manifest = load_manifest(&path).unwrap();
    let disk = common::open(&path);
    assert!(gpt::parse(disk.device.as_ref(), &Limits::default())
        .unwrap()
        .is_none());
    let table = mbr::parse(disk.device.as_ref(), &Limits::default())
        .unwrap()
        .expect("an MBR");
    assert_eq!(table.scheme, Scheme::Mbr);
    assert_eq!(format!("0x{}", table.disk_id), manifest.label_id);
    assert!(table.warnings.is_empty(), "{:?}", table.warnings);
    assert_eq!(table.partitions.len(), manifest.partitions.len());
    for (got, want) in table.partitions.iter().zip(&manifest.partitions) {
        assert_eq!(got.number, want.number);
        assert_eq!(got.start, want.start, "partition {}", want.number);
        assert_eq!(got.size, want.size, "partition {}", want.number);
        let want_type = u8::from_str_radix(&want.type_id, 16).unwrap();
        assert_eq!(
            got.type_id,
            format!("0x{want_type:02x}"),
            "partition {}",
            want.number
        );
        assert_eq!(got.bootable, want.bootable, "partition {}", want.number);
        let kind = match want.number {
            3 => PartitionKind::Extended,
            n if n >= 5 => PartitionKind::Logical,
            _ => PartitionKind::Primary,
        };
        assert_eq!(got.kind, kind, "partition {}", want.number);
    }
}

#[test]
fn gpt_names_types_and_uuids_match_sfdisk() {
    let path = gpt_disk().unwrap();
    let manifest = load_manifest(&path).unwrap();
    let disk = common::open(&path);
    assert!(mbr::parse(disk.device.as_ref(), &Limits::default())
        .unwrap()
        .is_none());
    let table = gpt::parse(disk.device.as_ref(), &Limits::default())
        .unwrap()
        .expect("a GPT");
    assert_eq!(table.scheme, Scheme::Gpt);
    assert_eq!(table.disk_id, manifest.label_id);
    assert!(table.warnings.is_empty(), "{:?}", table.warnings);
    assert_eq!(table.partitions.len(), 5);
    for (got, want) in table.partitions.iter().zip(&manifest.partitions) {
        assert_eq!(got.number, want.number);
        assert_eq!(got.start, want.start);
        assert_eq!(got.size, want.size);
        assert_eq!(got.type_id, want.type_id);
        assert_eq!(got.name, want.name);
        assert_eq!(got.uuid, want.uuid);
    }
    let names: Vec<_> = table.partitions.iter().map(|p| p.type_name).collect();
    assert_eq!(
        names,
        [
            Some("EFI System"),
            Some("Linux filesystem"),
            Some("Linux filesystem"),
            Some("Linux swap"),
            Some("Linux LVM")
        ]
    );
}

fn gpt_bytes() -> Vec<u8> {
    std::fs::read(gpt_disk().unwrap()).unwrap()
}

#[test]
fn gpt_backup_header_is_used_when_the_primary_is_damaged() {
    let expected = gpt::parse(&*mem(gpt_bytes()), &Limits::default())
        .unwrap()
        .unwrap();
    // Primary header zeroed.
    let mut zeroed = gpt_bytes();
    zeroed[512..1024].fill(0);
    // Primary entry array corrupted (CRC mismatch).
    let mut bad_array = gpt_bytes();
    bad_array[1024 + 60] ^= 0xff;
    for (what, bytes) in [("zeroed header", zeroed), ("bad array", bad_array)] {
        let table = gpt::parse(&*mem(bytes), &Limits::default())
            .unwrap()
            .unwrap_or_else(|| panic!("{what}: no table"));
        assert_eq!(table.partitions, expected.partitions, "{what}");
        assert!(
            table
                .warnings
                .iter()
                .any(|w| w.contains("using the backup header")),
            "{what}: {:?}",
            table.warnings
        );
    }
}

#[test]
fn gpt_with_both_headers_damaged_is_a_corrupt_error() {
    let mut bytes = gpt_bytes();
    bytes[512 + 20] ^= 0x01; // primary header CRC fails
    let len = bytes.len();
    bytes[len - 512 + 20] ^= 0x01; // backup header CRC fails
    let err = gpt::parse(&*mem(bytes), &Limits::default()).unwrap_err();
    assert!(matches!(err, DiskError::Corrupt { .. }), "{err}");
    let msg = err.to_string();
    assert!(
        msg.contains("test-disk") && msg.contains("gpt") && msg.contains("CRC"),
        "{msg}"
    );
}

#[test]
fn gpt_claiming_four_billion_entries_is_refused_without_allocating() {
    let mut bytes = gpt_bytes();
    let hdr = 512;
    bytes[hdr + 80..hdr + 84].copy_from_slice(&u32::MAX.to_le_bytes());
    bytes[hdr + 16..hdr + 20].fill(0);
    let crc = crc32(&bytes[hdr..hdr + 92]);
    bytes[hdr + 16..hdr + 20].copy_from_slice(&crc.to_le_bytes());
    let err = gpt::parse(&*mem(bytes), &Limits::default()).unwrap_err();
    assert!(matches!(err, DiskError::LimitExceeded { .. }), "{err}");
    assert!(
        err.to_string().contains("NumberOfPartitionEntries"),
        "{err}"
    );
}

fn crc32(data: &[u8]) -> u32 {
    // Bitwise CRC-32 (IEEE), independent of the implementation under test.
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

#[test]
fn mbr_ebr_loop_is_bounded_and_reported() {
    let mut bytes = std::fs::read(mbr_disk().unwrap()).unwrap();
    let m = mbr::parse(&*mem(bytes.clone()), &Limits::default())
        .unwrap()
        .unwrap();
    let ext = m
        .partitions
        .iter()
        .find(|p| p.kind == PartitionKind::Extended)
        .unwrap();
    // Make the second EBR link back to the first one (relative LBA 0 is
    // "no next", so point the first EBR's link at itself via the second EBR).
    let first_ebr = ext.start as usize;
    let link = first_ebr + 446 + 16;
    let next_rel = u32::from_le_bytes(bytes[link + 8..link + 12].try_into().unwrap());
    let second_ebr = first_ebr + next_rel as usize * 512;
    let second_link = second_ebr + 446 + 16;
    bytes[second_link + 4] = 0x05;
    bytes[second_link + 8..second_link + 12].copy_from_slice(&next_rel.to_le_bytes());
    bytes[second_link + 12..second_link + 16].copy_from_slice(&1u32.to_le_bytes());
    let table = mbr::parse(&*mem(bytes), &Limits::default())
        .unwrap()
        .unwrap();
    assert!(
        table.warnings.iter().any(|w| w.contains("loops")),
        "{:?}",
        table.warnings
    );
}

#[test]
fn a_filesystem_boot_sector_is_not_a_partition_table() {
    let dir = tempfile::tempdir().unwrap();
    let img = dir.path().join("fat.img");
    std::fs::File::create(&img)
        .unwrap()
        .set_len(8 << 20)
        .unwrap();
    common::run("mkfs.vfat", &["-F", "32", common::s(&img)]);
    let dev = common::open(&img);
    assert!(mbr::parse(dev.device.as_ref(), &Limits::default())
        .unwrap()
        .is_none());
    assert!(gpt::parse(dev.device.as_ref(), &Limits::default())
        .unwrap()
        .is_none());
}

#[test]
fn partition_past_the_end_of_the_disk_is_skipped_with_a_warning() {
    let mut bytes = std::fs::read(mbr_disk().unwrap()).unwrap();
    // Partition 2's size becomes enormous.
    let at = 446 + 16 + 12;
    bytes[at..at + 4].copy_from_slice(&0x0fff_ffffu32.to_le_bytes());
    let table = mbr::parse(&*mem(bytes), &Limits::default())
        .unwrap()
        .unwrap();
    assert!(table.partitions.iter().all(|p| p.number != 2));
    assert!(
        table.warnings.iter().any(|w| w.contains("partition 2")),
        "{:?}",
        table.warnings
    );
}
