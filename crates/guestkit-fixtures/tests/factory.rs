//! The factory builds every recipe, serves the second request from its cache,
//! and what it builds is what qemu-img says it is.

use std::time::SystemTime;

use guestkit_fixtures::formats::format_variants;
use guestkit_fixtures::tools::{arg, run};

fn mtime(p: &std::path::Path) -> SystemTime {
    std::fs::metadata(p).unwrap().modified().unwrap()
}

#[test]
fn variants_are_cached_and_have_the_stated_format() {
    let first = format_variants().unwrap();
    let stamps: Vec<SystemTime> = first.iter().map(|v| mtime(&v.path)).collect();
    let second = format_variants().unwrap();
    assert_eq!(first.len(), second.len());
    for ((a, b), stamp) in first.iter().zip(&second).zip(&stamps) {
        assert_eq!(a.path, b.path);
        assert_eq!(mtime(&b.path), *stamp, "{} was rebuilt", a.name);
    }
    let gpt = guestkit_fixtures::disks::gpt_disk().unwrap();
    let size = std::fs::metadata(&gpt).unwrap().len();
    for v in &first {
        let qemu_format = if v.format == "vhd" { "vpc" } else { &v.format };
        let info = run(
            "qemu-img",
            &[
                "info",
                "-f",
                qemu_format,
                "--output=json",
                arg(&v.path).unwrap(),
            ],
        )
        .unwrap();
        let info: serde_json::Value = serde_json::from_str(&info).unwrap();
        assert_eq!(info["format"], qemu_format, "{}", v.name);
        let vsize = info["virtual-size"].as_u64().unwrap();
        // VHD rounds the size up to its CHS geometry.
        assert!(
            vsize >= size && vsize < size + (1 << 20),
            "{}: {vsize}",
            v.name
        );
        assert_eq!(
            std::fs::metadata(&v.reference).unwrap().len(),
            vsize,
            "{}",
            v.name
        );
    }
}

#[test]
fn disk_manifests_match_the_recipes() {
    let mbr = guestkit_fixtures::disks::mbr_disk().unwrap();
    let m = guestkit_fixtures::disks::load_manifest(&mbr).unwrap();
    assert_eq!(m.label, "dos");
    let numbers: Vec<u32> = m.partitions.iter().map(|p| p.number).collect();
    assert_eq!(numbers, [1, 2, 3, 5, 6, 7]);
    assert!(m.partitions[0].bootable);
    let gpt = guestkit_fixtures::disks::gpt_disk().unwrap();
    let g = guestkit_fixtures::disks::load_manifest(&gpt).unwrap();
    assert_eq!(g.label, "gpt");
    let names: Vec<&str> = g
        .partitions
        .iter()
        .filter_map(|p| p.name.as_deref())
        .collect();
    assert_eq!(names, ["EFI system", "root", "data", "swap", "lvm"]);
}
