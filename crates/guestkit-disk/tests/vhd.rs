//! VHD (qemu "vpc") images made by qemu-img, fixed and dynamic, with and
//! without `force_size`, read byte for byte like `qemu-img convert -f vpc -O
//! raw`; damaged footers, headers and BATs give typed errors naming the file,
//! the layer and the place.
mod common;

use std::path::{Path, PathBuf};

use common::*;
use guestkit_disk::{open_image, DiskError, ImageFormat, Limits, OpenOptions};

const SIZE: u64 = 24 << 20;

/// Converts a pattern raw disk to VHD with `opts` and returns (dir, image).
fn build(opts: &[&str]) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let raw = dir.path().join("disk.raw");
    pattern_raw(&raw, SIZE);
    let img = dir.path().join("disk.vhd");
    let mut args = vec!["convert", "-f", "raw", "-O", "vpc"];
    args.extend_from_slice(opts);
    args.extend_from_slice(&[s(&raw), s(&img)]);
    qemu_img(&args);
    (dir, img)
}

/// qemu-img's raw export read as vpc (qemu probes a fixed VHD as raw, so the
/// format is stated).
fn qemu_reference(img: &Path) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("ref.raw");
    qemu_img(&["convert", "-f", "vpc", "-O", "raw", s(img), s(&out)]);
    std::fs::read(out).unwrap()
}

fn check_like_qemu(opts: &[&str], subformat: &str, size_from: &str) {
    let (_dir, img) = build(opts);
    let reference = qemu_reference(&img);
    let opened = open(&img);
    assert_eq!(opened.info.format, ImageFormat::Vhd);
    assert_eq!(opened.info.details["subformat"], subformat);
    assert_eq!(opened.info.details["size_from"], size_from);
    assert_device_equals(opened.device.as_ref(), &reference, &format!("vpc {opts:?}"));
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap()
}

fn patch(path: &Path, at: u64, bytes: &[u8]) {
    let mut data = read(path);
    data[at as usize..at as usize + bytes.len()].copy_from_slice(bytes);
    std::fs::write(path, data).unwrap();
}

fn be32(d: &[u8], at: u64) -> u32 {
    u32::from_be_bytes(d[at as usize..at as usize + 4].try_into().unwrap())
}

fn be64(d: &[u8], at: u64) -> u64 {
    u64::from_be_bytes(d[at as usize..at as usize + 8].try_into().unwrap())
}

/// Recomputes the one's-complement checksum of the structure of `len` bytes
/// at `at` whose checksum field is at `at + field`.
fn fix_checksum(path: &Path, at: u64, len: usize, field: usize) {
    let d = read(path);
    let s = &d[at as usize..at as usize + len];
    let sum = s
        .iter()
        .enumerate()
        .filter(|(i, _)| !(field..field + 4).contains(i))
        .fold(0u32, |a, (_, &b)| a.wrapping_add(b as u32));
    patch(path, at + field as u64, &(!sum).to_be_bytes());
}

/// Patches the footer at the end (and the copy at 0 of a dynamic disk) and
/// re-signs both.
fn patch_footers(path: &Path, field: u64, bytes: &[u8]) {
    let len = std::fs::metadata(path).unwrap().len();
    let mut places = vec![len - 512];
    if &read(path)[..8] == b"conectix" {
        places.push(0);
    }
    for at in places {
        patch(path, at + field, bytes);
        fix_checksum(path, at, 512, 64);
    }
}

fn open_err(path: &Path) -> DiskError {
    open_image(path, &OpenOptions::default()).expect_err("open must fail")
}

fn assert_names(err: &DiskError, path: &Path, needles: &[&str]) {
    let msg = err.to_string();
    assert!(msg.contains(&path.display().to_string()), "{msg}");
    assert!(msg.contains(": vhd:"), "{msg}");
    for n in needles {
        assert!(msg.contains(n), "{msg:?} lacks {n:?}");
    }
}

#[test]
fn dynamic_vhd_reads_like_qemu() {
    check_like_qemu(&[], "dynamic", "geometry");
}

#[test]
fn dynamic_vhd_with_force_size_reads_like_qemu() {
    check_like_qemu(&["-o", "force_size=on"], "dynamic", "current_size");
}

#[test]
fn fixed_vhd_reads_like_qemu() {
    check_like_qemu(&["-o", "subformat=fixed"], "fixed", "geometry");
}

#[test]
fn fixed_vhd_with_force_size_reads_like_qemu() {
    check_like_qemu(
        &["-o", "subformat=fixed,force_size=on"],
        "fixed",
        "current_size",
    );
    let (_dir, img) = build(&["-o", "subformat=fixed,force_size=on"]);
    assert_eq!(open(&img).info.virtual_size, SIZE);
}

#[test]
fn clear_sector_bitmap_bits_read_as_zeros() {
    let (_dir, img) = build(&[]);
    let d = read(&img);
    let reference = qemu_reference(&img);
    let header = be64(&d, 16);
    let bat = be64(&d, header + 16);
    let block_size = be32(&d, header + 32) as u64;
    // The first allocated block whose first 16 sectors hold data.
    let (index, sector) = (0..12u64)
        .filter_map(|i| {
            let e = be32(&d, bat + i * 4);
            (e != u32::MAX).then_some((i, e as u64))
        })
        .find(|(i, _)| {
            let start = (i * block_size) as usize;
            reference[start..start + 8192].iter().any(|&b| b != 0)
        })
        .expect("an allocated block starting with data");
    // Clear the bits of sectors 0-15 (bitmap bytes 0 and 1).
    patch(&img, sector * 512, &[0, 0]);
    let mut expected = reference.clone();
    let start = (index * block_size) as usize;
    expected[start..start + 8192].fill(0);
    let opened = open(&img);
    assert_device_equals(opened.device.as_ref(), &expected, "bitmap-cleared vhd");
}

#[test]
fn truncated_dynamic_vhd_is_corrupt() {
    let (_dir, img) = build(&[]);
    let f = std::fs::OpenOptions::new().write(true).open(&img).unwrap();
    f.set_len(700).unwrap();
    let err = open_err(&img);
    assert!(matches!(err, DiskError::Corrupt { .. }), "{err}");
    assert_names(&err, &img, &["data offset", "offset 16", "700 bytes"]);
}

#[test]
fn tiny_file_has_no_footer() {
    let dir = tempfile::tempdir().unwrap();
    let img = dir.path().join("x.vhd");
    std::fs::write(&img, b"conectix").unwrap();
    let err = open_err(&img);
    assert!(matches!(err, DiskError::Corrupt { .. }), "{err}");
    assert_names(&err, &img, &["footer", "8 bytes"]);
}

#[test]
fn bad_footer_checksum_is_corrupt() {
    let (_dir, img) = build(&["-o", "subformat=fixed"]);
    let len = std::fs::metadata(&img).unwrap().len();
    patch(&img, len - 512 + 70, &[0x5a]);
    let err = open_err(&img);
    assert!(matches!(err, DiskError::Corrupt { .. }), "{err}");
    assert_names(
        &err,
        &img,
        &["footer checksum", &format!("offset {}", len - 512 + 64)],
    );
}

#[test]
fn bad_dynamic_header_checksum_is_corrupt() {
    let (_dir, img) = build(&[]);
    patch(&img, 512 + 40, &[0x77]);
    let err = open_err(&img);
    assert!(matches!(err, DiskError::Corrupt { .. }), "{err}");
    assert_names(&err, &img, &["dynamic disk header checksum", "offset 548"]);
}

#[test]
fn header_offset_past_eof_is_corrupt() {
    let (_dir, img) = build(&[]);
    patch_footers(&img, 16, &(1u64 << 40).to_be_bytes());
    let err = open_err(&img);
    assert!(matches!(err, DiskError::Corrupt { .. }), "{err}");
    assert_names(&err, &img, &["data offset", "past the end"]);
}

#[test]
fn bat_offset_past_eof_is_corrupt() {
    let (_dir, img) = build(&[]);
    patch(&img, 512 + 16, &(1u64 << 40).to_be_bytes());
    fix_checksum(&img, 512, 1024, 36);
    let err = open_err(&img);
    assert!(matches!(err, DiskError::Corrupt { .. }), "{err}");
    assert_names(&err, &img, &["table offset", "offset 528"]);
}

#[test]
fn bat_entry_out_of_range_is_corrupt() {
    let (_dir, img) = build(&[]);
    let d = read(&img);
    let bat = be64(&d, 512 + 16);
    patch(&img, bat + 4, &0x00ff_ffffu32.to_be_bytes());
    let err = open_err(&img);
    assert!(matches!(err, DiskError::Corrupt { .. }), "{err}");
    assert_names(&err, &img, &["BAT entry 1", &format!("offset {}", bat + 4)]);
}

#[test]
fn absurd_virtual_size_is_refused() {
    let (_dir, img) = build(&[]);
    patch_footers(&img, 28, b"qem2");
    patch_footers(&img, 48, &(1u64 << 60).to_be_bytes());
    let err = open_err(&img);
    assert!(matches!(err, DiskError::Corrupt { .. }), "{err}");
    assert_names(&err, &img, &["disk size", "2040 GiB"]);

    // Within the format's range but over the caller's limit.
    patch_footers(&img, 48, &(1u64 << 36).to_be_bytes());
    let options = OpenOptions {
        limits: Limits {
            max_virtual_size: 1 << 30,
            ..Limits::default()
        },
        ..OpenOptions::default()
    };
    let err = open_image(&img, &options).unwrap_err();
    assert!(matches!(err, DiskError::LimitExceeded { .. }), "{err}");
    assert_names(&err, &img, &["virtual size", &(1u64 << 36).to_string()]);

    // Within the limit but beyond what the BAT can map.
    let err = open_err(&img);
    assert!(matches!(err, DiskError::Corrupt { .. }), "{err}");
    assert_names(&err, &img, &["max table entries", "offset 540"]);
}

#[test]
fn fixed_disk_larger_than_its_file_is_corrupt() {
    let (_dir, img) = build(&["-o", "subformat=fixed,force_size=on"]);
    patch_footers(&img, 48, &(SIZE * 2).to_be_bytes());
    let err = open_err(&img);
    assert!(matches!(err, DiskError::Corrupt { .. }), "{err}");
    assert_names(&err, &img, &["disk size", "does not fit before the footer"]);
}

#[test]
fn differencing_vhd_is_unsupported() {
    let (_dir, img) = build(&[]);
    patch_footers(&img, 60, &4u32.to_be_bytes());
    let err = open_err(&img);
    assert!(matches!(err, DiskError::Unsupported { .. }), "{err}");
    assert_names(&err, &img, &["differencing"]);
}
