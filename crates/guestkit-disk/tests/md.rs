//! md RAID1 members written by the factory's own superblock writer (checked
//! by `mdadm --examine`), found and assembled by the volume scan.

mod common;

use std::path::Path;
use std::sync::Arc;

use guestkit_disk::volume::md;
use guestkit_disk::volume::scan::{scan, Content};
use guestkit_disk::{DeviceRef, Limits, MemDevice};
use guestkit_fixtures::md::{raid1_pair, write_member, Layout, Member};

fn device(path: &Path) -> DeviceRef {
    common::open(path).device
}

#[test]
fn raid1_pair_assembles_into_the_array_written() {
    let dir = raid1_pair().unwrap();
    let tree = scan(
        &[device(&dir.join("md0.raw")), device(&dir.join("md1.raw"))],
        &Limits::default(),
    );
    assert!(tree.warnings.is_empty(), "{:?}", tree.warnings);
    let array = &tree.md_arrays[0];
    assert_eq!(array.members, ["disk0", "disk1"]);
    assert_eq!(array.level, 1);
    assert_eq!(array.name.as_deref(), Some("guestkit:0"));
    let want = std::fs::read(dir.join("array.img")).unwrap();
    let volume = array.volume.as_ref().expect("assembled");
    common::assert_device_equals(volume.device.as_ref(), &want, "md array");
}

#[test]
fn mdadm_agrees_with_the_superblock_reader() {
    let dir = raid1_pair().unwrap();
    let path = dir.join("md1.raw");
    let examine = common::run("mdadm", &["--examine", common::s(&path)]);
    let member = md::probe(device(&path).as_ref())
        .unwrap()
        .expect("a member");
    assert!(
        examine.contains("Checksum :") && examine.contains("- correct"),
        "{examine}"
    );
    let uuid = member.array_uuid.replace('-', "");
    let mdadm_uuid: String = examine
        .lines()
        .find(|l| l.contains("Array UUID"))
        .unwrap()
        .split(':')
        .skip(1)
        .collect::<String>()
        .trim()
        .to_string();
    assert_eq!(uuid, mdadm_uuid);
    assert!(
        examine.contains(&format!("Events : {}", member.events)),
        "{examine}"
    );
    assert!(examine.contains("Active device 1"));
    assert_eq!(member.device_role, Some(1));
    assert_eq!(member.version, "1.2");
}

#[test]
fn raid1_is_readable_through_one_healthy_member() {
    let dir = raid1_pair().unwrap();
    let want = std::fs::read(dir.join("array.img")).unwrap();
    let zeroed: DeviceRef = Arc::new(MemDevice::new(vec![0u8; 16 << 20], "zeroed-member"));
    let tree = scan(&[zeroed, device(&dir.join("md1.raw"))], &Limits::default());
    let array = &tree.md_arrays[0];
    assert_eq!(array.members, ["disk1"]);
    common::assert_device_equals(
        array.volume.as_ref().unwrap().device.as_ref(),
        &want,
        "degraded",
    );
}

#[test]
fn the_member_with_the_newest_events_wins() {
    let tmp = tempfile::tempdir().unwrap();
    let size = 4u64 << 20;
    let fresh = vec![0x11u8; 64 << 10];
    let stale = vec![0x22u8; 64 << 10];
    for layout in [Layout::V1_0, Layout::V1_1, Layout::V1_2, Layout::V0_90] {
        let a = tmp.path().join(format!("{layout:?}-a.raw"));
        let b = tmp.path().join(format!("{layout:?}-b.raw"));
        let m = |index, events| Member {
            layout,
            index,
            members: 2,
            size,
            events,
        };
        write_member(&a, m(0, 7), &stale).unwrap();
        write_member(&b, m(1, 9), &fresh).unwrap();
        let tree = scan(&[device(&a), device(&b)], &Limits::default());
        assert!(
            matches!(&tree.disks[0].content, Content::MdMember(m) if m.version == format!("{layout:?}").replace('V', "").replace('_', ".")),
            "{layout:?}: {:?}",
            tree.disks[0].content
        );
        let dev = &tree.md_arrays[0].volume.as_ref().unwrap().device;
        let mut got = vec![0u8; fresh.len()];
        dev.read_at(&mut got, 0).unwrap();
        assert_eq!(got, fresh, "{layout:?}");
    }
}

#[test]
fn a_superblock_with_a_bad_checksum_is_reported_not_used() {
    let dir = raid1_pair().unwrap();
    let mut bytes = std::fs::read(dir.join("md0.raw")).unwrap();
    bytes[4096 + 200] ^= 0x01; // events changed, checksum not updated
    let dev: DeviceRef = Arc::new(MemDevice::new(bytes, "md0-damaged"));
    let tree = scan(&[dev], &Limits::default());
    assert!(tree.md_arrays.is_empty());
    let w = tree.warnings.join("\n");
    assert!(
        w.contains("md0-damaged") && w.contains("md") && w.contains("sb_csum"),
        "{w}"
    );
}

#[test]
fn mdadm_reads_our_090_superblock_and_so_do_we() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("old.raw");
    let member = Member {
        layout: Layout::V0_90,
        index: 1,
        members: 2,
        size: 4 << 20,
        events: 5,
    };
    write_member(&path, member, b"data").unwrap();
    let examine = common::run("mdadm", &["--examine", common::s(&path)]);
    assert!(examine.contains("Version : 0.90.00"), "{examine}");
    assert!(examine.contains("- correct"), "{examine}");
    let m = md::probe(device(&path).as_ref())
        .unwrap()
        .expect("0.90 member");
    assert_eq!(
        (m.version.as_str(), m.level, m.events, m.device_role),
        ("0.90", 1, 5, Some(1))
    );
    let uuid = m.array_uuid.replace('-', "");
    let line = examine
        .lines()
        .find(|l| l.trim_start().starts_with("UUID"))
        .unwrap();
    assert_eq!(uuid, line.split(':').skip(1).collect::<String>().trim());
}
