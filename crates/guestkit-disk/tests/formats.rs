//! Acceptance for the image formats: every variant the fixture factory builds
//! reads, through guestkit, byte for byte like `qemu-img convert -O raw` of the
//! same image — whole disk, holes and backing regions included — and so do
//! 1000 random unaligned reads crossing cluster / grain / block boundaries.

mod common;

use guestkit_disk::ImageFormat;

#[test]
fn every_factory_variant_reads_like_qemu_img() {
    let variants =
        guestkit_fixtures::formats::format_variants().expect("building the format variants");
    assert!(
        variants.len() >= 20,
        "expected every variant, got {}",
        variants.len()
    );
    let mut seen = Vec::new();
    for v in &variants {
        let opened = common::open(&v.path);
        let expected: ImageFormat = v.format.parse().unwrap();
        assert_eq!(opened.info.format, expected, "{}: detected format", v.name);
        let reference = std::fs::read(&v.reference).unwrap();
        common::assert_device_equals(opened.device.as_ref(), &reference, &v.name);
        seen.push(v.name.as_str());
    }
    eprintln!("checked {} variants: {}", seen.len(), seen.join(", "));
}

#[test]
fn factory_snapshots_and_encryption_are_reported() {
    let snap = common::open(&guestkit_fixtures::formats::snapshot_qcow2().unwrap());
    let names: Vec<&str> = snap
        .info
        .snapshots
        .iter()
        .map(|s| s.name.as_str())
        .collect();
    assert_eq!(names, ["clean", "after-write"]);

    let path = guestkit_fixtures::formats::encrypted_qcow2().unwrap();
    let enc = common::open(&path);
    assert_eq!(enc.info.encrypted.as_deref(), Some("luks"));
    let mut buf = [0u8; 512];
    let err = enc.device.read_at(&mut buf, 0).unwrap_err();
    assert!(
        matches!(err, guestkit_disk::DiskError::Encrypted { .. }),
        "{err}"
    );
}

#[test]
fn stated_format_disagreeing_with_content_names_both() {
    let variants = guestkit_fixtures::formats::format_variants().unwrap();
    let vdi = variants.iter().find(|v| v.name == "vdi-dynamic").unwrap();
    let options = guestkit_disk::OpenOptions {
        stated_format: Some(ImageFormat::Qcow2),
        ..Default::default()
    };
    let err = guestkit_disk::open_image(&vdi.path, &options).unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("qcow2") && msg.contains("vdi"), "{msg}");
    assert!(msg.contains("dynamic.vdi"), "{msg}");
}
