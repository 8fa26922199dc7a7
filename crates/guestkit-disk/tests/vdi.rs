//! VDI images made by qemu-img, read byte for byte like qemu reads them, and
//! damaged VDI headers giving typed errors that name the file, layer and place.
mod common;

use std::path::{Path, PathBuf};

use common::*;
use guestkit_disk::{open_image, DiskError, ImageFormat, Limits, OpenOptions};

const SIZE: u64 = 24 << 20;

/// Converts a pattern raw disk to VDI with `opts` and returns (dir, image).
fn build(opts: &[&str]) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let raw = dir.path().join("disk.raw");
    pattern_raw(&raw, SIZE);
    let img = dir.path().join("disk.vdi");
    let mut args = vec!["convert", "-f", "raw", "-O", "vdi"];
    args.extend_from_slice(opts);
    args.extend_from_slice(&[s(&raw), s(&img)]);
    qemu_img(&args);
    (dir, img)
}

fn patch(path: &Path, at: u64, bytes: &[u8]) {
    let mut data = std::fs::read(path).unwrap();
    data[at as usize..at as usize + bytes.len()].copy_from_slice(bytes);
    std::fs::write(path, data).unwrap();
}

fn le32(path: &Path, at: usize) -> u32 {
    let d = std::fs::read(path).unwrap();
    u32::from_le_bytes(d[at..at + 4].try_into().unwrap())
}

fn open_err(path: &Path) -> DiskError {
    open_image(path, &OpenOptions::default()).expect_err("open must fail")
}

fn assert_names(err: &DiskError, path: &Path, needles: &[&str]) {
    let msg = err.to_string();
    assert!(msg.contains(&path.display().to_string()), "{msg}");
    assert!(msg.contains(": vdi:"), "{msg}");
    for n in needles {
        assert!(msg.contains(n), "{msg:?} lacks {n:?}");
    }
}

#[test]
fn dynamic_vdi_reads_like_qemu() {
    let (_dir, img) = build(&[]);
    assert_same_as_qemu(&img);
    let opened = open(&img);
    assert_eq!(opened.info.format, ImageFormat::Vdi);
    assert_eq!(opened.info.virtual_size, SIZE);
    assert_eq!(opened.info.details["image_type"], "dynamic");
    assert_eq!(opened.info.details["block_size"], "1048576");
    assert_eq!(opened.info.details["uuid"].len(), 36);
    // A sparse image: fewer blocks stored than the disk has.
    let allocated: u64 = opened.info.details["blocks_allocated"].parse().unwrap();
    assert!(allocated > 0 && allocated < 24, "{allocated}");
}

#[test]
fn static_vdi_reads_like_qemu() {
    let (_dir, img) = build(&["-o", "static=on"]);
    assert_same_as_qemu(&img);
    let opened = open(&img);
    assert_eq!(opened.info.details["image_type"], "static");
    assert_eq!(opened.info.details["blocks_allocated"], "24");
}

#[test]
fn truncated_vdi_is_corrupt() {
    let (_dir, img) = build(&[]);
    let f = std::fs::OpenOptions::new().write(true).open(&img).unwrap();
    f.set_len(300).unwrap();
    let err = open_err(&img);
    assert!(matches!(err, DiskError::Corrupt { .. }), "{err}");
    assert_names(&err, &img, &["header", "offset 0", "300 bytes"]);
}

#[test]
fn truncated_data_area_is_an_out_of_range_block() {
    let (_dir, img) = build(&[]);
    let len = std::fs::metadata(&img).unwrap().len();
    let f = std::fs::OpenOptions::new().write(true).open(&img).unwrap();
    f.set_len(len - 4096).unwrap();
    let err = open_err(&img);
    assert!(matches!(err, DiskError::Corrupt { .. }), "{err}");
    assert_names(&err, &img, &["block map entry", "past the end of the file"]);
}

#[test]
fn block_map_offset_past_eof_is_corrupt() {
    let (_dir, img) = build(&[]);
    patch(&img, 0x154, &0x7fff_0000u32.to_le_bytes());
    let err = open_err(&img);
    assert!(matches!(err, DiskError::Corrupt { .. }), "{err}");
    assert_names(&err, &img, &["block map offset", "offset 340"]);
}

#[test]
fn block_map_entry_out_of_range_is_corrupt() {
    let (_dir, img) = build(&[]);
    let map = le32(&img, 0x154) as u64;
    // Find an allocated entry and point it far away.
    let data = std::fs::read(&img).unwrap();
    let i = (0..24u64)
        .find(|i| {
            let at = (map + i * 4) as usize;
            u32::from_le_bytes(data[at..at + 4].try_into().unwrap()) != u32::MAX
        })
        .unwrap();
    patch(&img, map + i * 4, &1000u32.to_le_bytes());
    let err = open_err(&img);
    assert!(matches!(err, DiskError::Corrupt { .. }), "{err}");
    assert_names(
        &err,
        &img,
        &[
            &format!("block map entry {i}"),
            &format!("offset {}", map + i * 4),
        ],
    );
}

#[test]
fn absurd_virtual_size_is_refused() {
    let (_dir, img) = build(&[]);
    patch(&img, 0x170, &(1u64 << 62).to_le_bytes());
    let err = open_err(&img);
    assert!(matches!(err, DiskError::LimitExceeded { .. }), "{err}");
    assert_names(&err, &img, &["virtual size", &(1u64 << 62).to_string()]);

    // A size inside the limit but larger than the block map can hold.
    patch(&img, 0x170, &(1u64 << 40).to_le_bytes());
    let err = open_err(&img);
    assert!(matches!(err, DiskError::Corrupt { .. }), "{err}");
    assert_names(&err, &img, &["block count", "offset 384"]);
}

#[test]
fn block_map_larger_than_table_limit_is_refused() {
    let (_dir, img) = build(&[]);
    let options = OpenOptions {
        limits: Limits {
            max_table_bytes: 64,
            ..Limits::default()
        },
        ..OpenOptions::default()
    };
    let err = open_image(&img, &options).unwrap_err();
    assert!(matches!(err, DiskError::LimitExceeded { .. }), "{err}");
    assert_names(&err, &img, &["block map bytes", "96"]);
}

#[test]
fn bad_block_size_is_corrupt() {
    let (_dir, img) = build(&[]);
    patch(&img, 0x178, &1000u32.to_le_bytes());
    let err = open_err(&img);
    assert!(matches!(err, DiskError::Corrupt { .. }), "{err}");
    assert_names(&err, &img, &["block size", "offset 376"]);
}

#[test]
fn differencing_vdi_is_unsupported() {
    let (_dir, img) = build(&[]);
    patch(&img, 0x4c, &4u32.to_le_bytes());
    let err = open_err(&img);
    assert!(matches!(err, DiskError::Unsupported { .. }), "{err}");
    assert_names(&err, &img, &["differencing", "UUID"]);
}

#[test]
fn sequential_reads_over_contiguous_blocks_are_one_file_read() {
    let (_dir, img) = build(&["-o", "static=on"]);
    let stats = std::sync::Arc::new(guestkit_disk::IoStats::default());
    let opened =
        guestkit_disk::open_image_counted(&img, &OpenOptions::default(), stats.clone()).unwrap();
    let before = stats.reads();
    let mut buf = vec![0u8; 8 << 20];
    opened.device.read_at(&mut buf, (3 << 20) + 100).unwrap();
    assert_eq!(stats.reads() - before, 1, "9 blocks in one read");
}
