//! LUKS and swap signatures, checked against what cryptsetup and mkswap wrote.

mod common;

use guestkit_disk::volume::table::PartitionKind;
use guestkit_disk::volume::{luks, mbr, swap};
use guestkit_disk::{Limits, SliceDevice};
use guestkit_fixtures::disks::{ids, luks_volumes, mbr_disk};

#[test]
fn luks1_and_luks2_headers_are_described_not_unlocked() {
    let (luks2, luks1) = luks_volumes().unwrap();
    for (path, version, uuid) in [(&luks2, 2, ids::LUKS2_UUID), (&luks1, 1, ids::LUKS1_UUID)] {
        let dev = common::open(path);
        let info = luks::probe(dev.device.as_ref())
            .unwrap()
            .expect("a LUKS header");
        assert_eq!(info.version, version);
        assert_eq!(info.uuid, uuid);
        let reported = common::run("cryptsetup", &["luksUUID", common::s(path)]);
        assert_eq!(info.uuid, reported.trim());
        assert!(
            info.cipher.as_deref().unwrap_or("").starts_with("aes-xts"),
            "{info:?}"
        );
        assert!(info.payload_offset > 0 && info.payload_offset < dev.device.size());
        if version == 2 {
            assert_eq!(info.label.as_deref(), Some("secret"));
        }
    }
}

#[test]
fn swap_partition_label_uuid_and_size() {
    let path = mbr_disk().unwrap();
    let disk = common::open(&path);
    let table = mbr::parse(disk.device.as_ref(), &Limits::default())
        .unwrap()
        .unwrap();
    let part = table.partitions.iter().find(|p| p.number == 6).unwrap();
    assert_eq!(part.kind, PartitionKind::Logical);
    let slice = SliceDevice::new(disk.device.clone(), part.start, part.size, "p6").unwrap();
    let info = swap::probe(&slice).unwrap().expect("swap");
    assert_eq!(info.version, 1);
    assert_eq!(info.uuid.as_deref(), Some(ids::MBR_SWAP_UUID));
    assert_eq!(info.label.as_deref(), Some("swap0"));
    assert_eq!(info.pages, part.size / 4096);
    // Nothing else on the disk looks like swap or LUKS.
    assert!(swap::probe(disk.device.as_ref()).unwrap().is_none());
    assert!(luks::probe(disk.device.as_ref()).unwrap().is_none());
}

#[test]
fn a_luks2_header_with_a_broken_json_size_is_a_corrupt_error() {
    let (luks2, _) = luks_volumes().unwrap();
    let mut bytes = std::fs::read(&luks2).unwrap();
    bytes[8..16].copy_from_slice(&u64::MAX.to_be_bytes());
    let dev = guestkit_disk::MemDevice::new(bytes, "luks2-damaged");
    let err = luks::probe(&dev).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("luks2-damaged") && msg.contains("luks") && msg.contains("hdr_size"),
        "{msg}"
    );
}
