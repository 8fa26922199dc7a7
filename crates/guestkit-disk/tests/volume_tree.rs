//! The volume tree of whole VMs: partitions, LVM across several disks, swap
//! and LUKS, as `guestctl disk info` shows them.

mod common;

use std::sync::Arc;

use guestkit_disk::volume::scan::{scan, Content, VolumeTree};
use guestkit_disk::{DeviceRef, Limits};

fn tree_of(paths: &[std::path::PathBuf]) -> VolumeTree {
    let devices: Vec<DeviceRef> = paths.iter().map(|p| common::open(p).device).collect();
    scan(&devices, &Limits::default())
}

#[test]
fn demo_image_has_partitions_swap_and_an_lvm_root() {
    let demo = guestkit_fixtures::demo::committed_demo();
    let tree = tree_of(&[demo]);
    assert!(tree.warnings.is_empty(), "{:?}", tree.warnings);
    let disk = &tree.disks[0];
    assert!(matches!(disk.content, Content::PartitionTable { .. }));
    let ids: Vec<&str> = disk.children.iter().map(|v| v.id.as_str()).collect();
    assert_eq!(ids, ["disk0p1", "disk0p2", "disk0p3", "disk0p4"]);
    assert!(
        matches!(&disk.children[2].content, Content::Swap(s) if s.label.as_deref() == Some("swap"))
    );
    assert!(
        matches!(&disk.children[3].content, Content::LvmPv { vg_name: Some(vg), .. } if vg == "demo")
    );
    let vg = &tree.volume_groups[0];
    assert_eq!(vg.group.name, "demo");
    let sizes: Vec<(&str, u64)> = vg
        .group
        .lvs
        .iter()
        .map(|lv| (lv.name.as_str(), lv.size))
        .collect();
    assert_eq!(
        sizes,
        [("root", 12 << 20), ("var", 4 << 20), ("home", 16 << 20)]
    );
    // The root LV holds the ext4 filesystem the recipe wrote: its magic.
    let root = tree.find("demo/root").expect("root LV volume");
    let mut magic = [0u8; 2];
    root.device.read_at(&mut magic, 1024 + 0x38).unwrap();
    assert_eq!(magic, [0x53, 0xef]);
}

#[test]
fn a_volume_group_spanning_two_disks_reads_its_striped_and_linear_lvs() {
    let dir = guestkit_fixtures::lvm::standard().unwrap();
    let spec = guestkit_fixtures::lvm::standard_spec(&dir);
    let tree = tree_of(&[dir.join("disk0.raw"), dir.join("disk1.raw")]);
    assert!(tree.warnings.is_empty(), "{:?}", tree.warnings);
    assert!(matches!(tree.disks[0].content, Content::LvmPv { .. }));
    assert!(matches!(
        tree.disks[1].children[0].content,
        Content::LvmPv { .. }
    ));
    let vg = &tree.volume_groups[0].group;
    assert_eq!(vg.name, "vg0");
    for lv in &spec.lvs {
        let size = spec.lv_size(&lv.name);
        let want = guestkit_fixtures::lvm::lv_pattern(&lv.name, size as usize);
        let volume = tree.find(&format!("vg0/{}", lv.name)).expect("LV volume");
        common::assert_device_equals(volume.device.as_ref(), &want, &lv.name);
    }
}

#[test]
fn a_missing_disk_leaves_its_lvs_without_device_and_says_so() {
    let dir = guestkit_fixtures::lvm::standard().unwrap();
    let tree = tree_of(&[dir.join("disk0.raw")]);
    let vg = &tree.volume_groups[0].group;
    let data = vg.lvs.iter().find(|lv| lv.name == "data").unwrap();
    assert!(data.device.is_none());
    let root = vg.lvs.iter().find(|lv| lv.name == "root").unwrap();
    assert!(root.device.is_some(), "root lives on the present disk only");
    assert!(
        tree.warnings.iter().any(|w| w.contains("missing")),
        "{:?}",
        tree.warnings
    );
}

#[test]
fn mbr_disk_tree_has_logical_partitions_and_swap() {
    let tree = tree_of(&[guestkit_fixtures::disks::mbr_disk().unwrap()]);
    let disk = &tree.disks[0];
    let ids: Vec<&str> = disk.children.iter().map(|v| v.id.as_str()).collect();
    assert_eq!(
        ids,
        ["disk0p1", "disk0p2", "disk0p3", "disk0p5", "disk0p6", "disk0p7"]
    );
    assert!(matches!(disk.children[2].content, Content::Extended));
    assert!(
        matches!(&disk.children[4].content, Content::Swap(s) if s.label.as_deref() == Some("swap0"))
    );
}

#[test]
fn luks_volume_is_reported_as_encrypted() {
    let (luks2, _) = guestkit_fixtures::disks::luks_volumes().unwrap();
    let tree = tree_of(&[luks2]);
    assert!(matches!(&tree.disks[0].content, Content::Luks(l) if l.version == 2));
}

#[test]
fn nesting_is_bounded() {
    // A partition table whose partition 1 starts at sector 0 holds the same
    // table again: each level finds the table anew until the depth limit.
    let mut disk = vec![0u8; 1 << 20];
    for (s, sector) in disk.chunks_exact_mut(512).enumerate() {
        let remaining = 2048 - s as u32;
        if remaining < 2 {
            break;
        }
        sector[446 + 4] = 0x83;
        sector[446 + 8..446 + 12].copy_from_slice(&1u32.to_le_bytes());
        sector[446 + 12..446 + 16].copy_from_slice(&(remaining - 1).to_le_bytes());
        sector[510] = 0x55;
        sector[511] = 0xaa;
    }
    let dev: DeviceRef = Arc::new(guestkit_disk::MemDevice::new(disk, "nested"));
    let limits = Limits::default();
    let tree = scan(&[dev], &limits);
    let depth = tree.disks[0].walk().len();
    assert!(depth <= limits.max_volume_depth + 2, "{depth}");
    assert!(
        tree.warnings.iter().any(|w| w.contains("nesting")),
        "{:?}",
        tree.warnings
    );
}
