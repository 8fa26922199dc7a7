mod common;

use common::*;

#[test]
fn raw_image_reads_like_qemu() {
    let dir = tempfile::tempdir().unwrap();
    let img = dir.path().join("disk.img");
    pattern_raw(&img, 9 << 20);
    assert_same_as_qemu(&img);
    let opened = open(&img);
    assert_eq!(opened.info.format, guestkit_disk::ImageFormat::Raw);
}
