//! VHDX images made by qemu-img, dynamic and fixed, read byte for byte like
//! qemu reads them; damaged headers, region tables, metadata and BATs give
//! typed errors naming the file, the layer and the place.
mod common;

use std::path::{Path, PathBuf};

use common::*;
use guestkit_disk::{open_image, DiskError, ImageFormat, Limits, OpenOptions};

const SIZE: u64 = 24 << 20;
const HEADER1: u64 = 64 << 10;
const HEADER2: u64 = 128 << 10;
const REGIONS1: u64 = 192 << 10;
const REGIONS2: u64 = 256 << 10;

fn build(opts: &[&str]) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let raw = dir.path().join("disk.raw");
    pattern_raw(&raw, SIZE);
    let img = dir.path().join("disk.vhdx");
    let mut args = vec!["convert", "-f", "raw", "-O", "vhdx"];
    args.extend_from_slice(opts);
    args.extend_from_slice(&[s(&raw), s(&img)]);
    qemu_img(&args);
    (dir, img)
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap()
}

fn patch(path: &Path, at: u64, bytes: &[u8]) {
    let mut data = read(path);
    data[at as usize..at as usize + bytes.len()].copy_from_slice(bytes);
    std::fs::write(path, data).unwrap();
}

fn le32(d: &[u8], at: u64) -> u32 {
    u32::from_le_bytes(d[at as usize..at as usize + 4].try_into().unwrap())
}

fn le64(d: &[u8], at: u64) -> u64 {
    u64::from_le_bytes(d[at as usize..at as usize + 8].try_into().unwrap())
}

/// Bitwise CRC-32C, independent of the reader's table version.
fn crc32c(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= b as u32;
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0x82f6_3b78
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// Re-signs the structure of `len` bytes at `at` (checksum at +4).
fn resign(path: &Path, at: u64, len: usize) {
    let mut d = read(path);
    d[at as usize + 4..at as usize + 8].fill(0);
    let crc = crc32c(&d[at as usize..at as usize + len]);
    patch(path, at + 4, &crc.to_le_bytes());
}

/// (offset, length) of the region with the given first GUID bytes, from the
/// first region table.
fn region(d: &[u8], first_guid_bytes: [u8; 4]) -> (u64, u64) {
    let count = le32(d, REGIONS1 + 8) as u64;
    (0..count)
        .map(|i| REGIONS1 + 16 + i * 32)
        .find(|&e| d[e as usize..e as usize + 4] == first_guid_bytes)
        .map(|e| (le64(d, e + 16), le32(d, e + 24) as u64))
        .unwrap()
}

const BAT_GUID: [u8; 4] = [0x66, 0x77, 0xc2, 0x2d];
const META_GUID: [u8; 4] = [0x06, 0xa2, 0x7c, 0x8b];

/// File offset of the data of the metadata item whose GUID starts with `g`.
fn metadata_item(d: &[u8], g: [u8; 4]) -> u64 {
    let (base, _) = region(d, META_GUID);
    let count = u16::from_le_bytes(
        d[base as usize + 10..base as usize + 12]
            .try_into()
            .unwrap(),
    );
    (0..count as u64)
        .map(|i| base + 32 + i * 32)
        .find(|&e| d[e as usize..e as usize + 4] == g)
        .map(|e| base + le32(d, e + 16) as u64)
        .unwrap()
}

fn open_err(path: &Path) -> DiskError {
    open_image(path, &OpenOptions::default()).expect_err("open must fail")
}

fn assert_names(err: &DiskError, path: &Path, needles: &[&str]) {
    let msg = err.to_string();
    assert!(msg.contains(&path.display().to_string()), "{msg}");
    assert!(msg.contains(": vhdx:"), "{msg}");
    for n in needles {
        assert!(msg.contains(n), "{msg:?} lacks {n:?}");
    }
}

#[test]
fn dynamic_vhdx_reads_like_qemu() {
    let (_dir, img) = build(&[]);
    assert_same_as_qemu(&img);
    let info = open(&img).info;
    assert_eq!(info.format, ImageFormat::Vhdx);
    assert_eq!(info.virtual_size, SIZE);
    assert_eq!(info.details["log_needs_replay"], "false");
    assert_eq!(info.details["has_parent"], "false");
    assert_eq!(info.details["leave_blocks_allocated"], "false");
    assert_eq!(info.details["logical_sector_size"], "512");
    assert_eq!(info.details["page83_data"].len(), 36);
}

#[test]
fn fixed_vhdx_reads_like_qemu() {
    let (_dir, img) = build(&["-o", "subformat=fixed"]);
    assert_same_as_qemu(&img);
    let info = open(&img).info;
    assert_eq!(info.details["leave_blocks_allocated"], "true");
}

#[test]
fn small_blocks_read_like_qemu() {
    let (_dir, img) = build(&["-o", "block_size=1M,log_size=1M"]);
    assert_same_as_qemu(&img);
    assert_eq!(open(&img).info.details["block_size"], "1048576");
}

#[test]
fn fixed_vhdx_without_zero_block_state_reads_like_qemu() {
    let (_dir, img) = build(&["-o", "subformat=fixed,block_state_zero=off"]);
    assert_same_as_qemu(&img);
}

/// With 256 MiB blocks the chunk ratio is 16: blocks past the 16th sit after
/// a sector bitmap entry in the BAT.
#[test]
fn sector_bitmap_entries_are_skipped_in_a_large_sparse_disk() {
    let dir = tempfile::tempdir().unwrap();
    let img = dir.path().join("big.vhdx");
    qemu_img(&[
        "create",
        "-q",
        "-f",
        "vhdx",
        "-o",
        "block_size=256M",
        s(&img),
        "5G",
    ]);
    run(
        "qemu-io",
        &[
            "-f",
            "vhdx",
            "-c",
            "write -P 0xab 4700M 1M",
            "-c",
            "write -P 0x5c 100M 64k",
            s(&img),
        ],
    );
    run(
        "qemu-io",
        &["-f", "vhdx", "-r", "-c", "read -P 0xab 4700M 1M", s(&img)],
    );
    let opened = open(&img);
    assert_eq!(opened.info.details["chunk_ratio"], "16");
    assert_eq!(opened.info.details["blocks_allocated"], "2");
    let dev = opened.device;
    let mut buf = vec![0u8; 3 << 20];
    dev.read_at(&mut buf, (4700 << 20) - (1 << 20)).unwrap();
    assert!(buf[..1 << 20].iter().all(|&b| b == 0));
    assert!(buf[1 << 20..2 << 20].iter().all(|&b| b == 0xab));
    assert!(buf[2 << 20..].iter().all(|&b| b == 0));
    let mut small = vec![0u8; 128 << 10];
    dev.read_at(&mut small, (100 << 20) - (32 << 10)).unwrap();
    assert!(small[..32 << 10].iter().all(|&b| b == 0));
    assert!(small[32 << 10..96 << 10].iter().all(|&b| b == 0x5c));
    assert!(small[96 << 10..].iter().all(|&b| b == 0));
}

#[test]
fn header_with_higher_sequence_wins() {
    let (_dir, img) = build(&[]);
    let d = read(&img);
    let (s1, s2) = (le64(&d, HEADER1 + 8), le64(&d, HEADER2 + 8));
    let newer = if s1 > s2 { HEADER1 } else { HEADER2 };
    let older = if s1 > s2 { HEADER2 } else { HEADER1 };
    assert_eq!(open(&img).info.details["header_offset"], newer.to_string());
    // Make the older one newer.
    patch(&img, older + 8, &(s1.max(s2) + 10).to_le_bytes());
    resign(&img, older, 4096);
    assert_eq!(open(&img).info.details["header_offset"], older.to_string());
    // A damaged newest header falls back to the other.
    patch(&img, older + 200, &[1]);
    assert_eq!(open(&img).info.details["header_offset"], newer.to_string());
    assert_same_as_qemu(&img);
}

#[test]
fn both_headers_bad_is_corrupt() {
    let (_dir, img) = build(&[]);
    patch(&img, HEADER1 + 300, &[9]);
    patch(&img, HEADER2 + 300, &[9]);
    let err = open_err(&img);
    assert!(matches!(err, DiskError::Corrupt { .. }), "{err}");
    assert_names(&err, &img, &["header", "offset 65536", "CRC-32C mismatch"]);
}

#[test]
fn region_table_crc_checked_with_fallback_to_the_copy() {
    let (_dir, img) = build(&[]);
    let dir = tempfile::tempdir().unwrap();
    let reference = read(&qemu_raw_export(&img, dir.path()));
    patch(&img, REGIONS1 + 1000, &[3]);
    // The second copy still opens the image (qemu itself gives up here).
    assert_device_equals(open(&img).device.as_ref(), &reference, "region copy");
    patch(&img, REGIONS2 + 1000, &[3]);
    let err = open_err(&img);
    assert!(matches!(err, DiskError::Corrupt { .. }), "{err}");
    assert_names(
        &err,
        &img,
        &["region table checksum", "offset 196612", "CRC-32C"],
    );
}

#[test]
fn truncated_vhdx_is_corrupt() {
    let (_dir, img) = build(&[]);
    let f = std::fs::OpenOptions::new().write(true).open(&img).unwrap();
    f.set_len(150 << 10).unwrap();
    let err = open_err(&img);
    assert!(matches!(err, DiskError::Corrupt { .. }), "{err}");
    assert_names(
        &err,
        &img,
        &["region table", "offset 196608", "153600 bytes"],
    );
}

#[test]
fn region_past_eof_is_corrupt() {
    let (_dir, img) = build(&[]);
    let d = read(&img);
    let count = le32(&d, REGIONS1 + 8) as u64;
    for table in [REGIONS1, REGIONS2] {
        for i in 0..count {
            let e = table + 16 + i * 32;
            if d[e as usize..e as usize + 4] == BAT_GUID {
                patch(&img, e + 16, &(1u64 << 40).to_le_bytes());
            }
        }
        resign(&img, table, 64 << 10);
    }
    let err = open_err(&img);
    assert!(matches!(err, DiskError::Corrupt { .. }), "{err}");
    assert_names(&err, &img, &["region offset", "past the end of the file"]);
}

#[test]
fn bat_entry_out_of_range_is_corrupt() {
    let (_dir, img) = build(&[]);
    let d = read(&img);
    let (bat, _) = region(&d, BAT_GUID);
    // Block 2: FULLY_PRESENT at 1 TiB.
    patch(&img, bat + 16, &((1u64 << 40) | 6).to_le_bytes());
    let err = open_err(&img);
    assert!(matches!(err, DiskError::Corrupt { .. }), "{err}");
    assert_names(
        &err,
        &img,
        &["payload BAT entry", &format!("offset {}", bat + 16)],
    );
}

#[test]
fn partially_present_block_without_parent_is_corrupt() {
    let (_dir, img) = build(&[]);
    let d = read(&img);
    let (bat, _) = region(&d, BAT_GUID);
    patch(&img, bat, &((3u64 << 20) | 7).to_le_bytes());
    let err = open_err(&img);
    assert!(matches!(err, DiskError::Corrupt { .. }), "{err}");
    assert_names(&err, &img, &["PARTIALLY_PRESENT", &format!("offset {bat}")]);
}

#[test]
fn absurd_virtual_size_is_refused() {
    let (_dir, img) = build(&[]);
    let d = read(&img);
    let at = metadata_item(&d, [0x24, 0x42, 0xa5, 0x2f]);
    patch(&img, at, &(1u64 << 60).to_le_bytes());
    let err = open_err(&img);
    assert!(matches!(err, DiskError::Corrupt { .. }), "{err}");
    assert_names(&err, &img, &["virtual disk size", &format!("offset {at}")]);

    patch(&img, at, &(1u64 << 40).to_le_bytes());
    let options = OpenOptions {
        limits: Limits {
            max_virtual_size: 1 << 30,
            ..Limits::default()
        },
        ..OpenOptions::default()
    };
    let err = open_image(&img, &options).unwrap_err();
    assert!(matches!(err, DiskError::LimitExceeded { .. }), "{err}");
    assert_names(&err, &img, &["virtual size"]);

    // 1 TiB needs a BAT bigger than the 1 MiB region qemu wrote.
    let err = open_err(&img);
    assert!(matches!(err, DiskError::Corrupt { .. }), "{err}");
    assert_names(&err, &img, &["BAT region length"]);
}

#[test]
fn bat_larger_than_table_limit_is_refused() {
    let (_dir, img) = build(&[]);
    let options = OpenOptions {
        limits: Limits {
            max_table_bytes: 16,
            ..Limits::default()
        },
        ..OpenOptions::default()
    };
    let err = open_image(&img, &options).unwrap_err();
    assert!(matches!(err, DiskError::LimitExceeded { .. }), "{err}");
    assert_names(&err, &img, &["BAT bytes"]);
}

#[test]
fn bad_block_size_is_corrupt() {
    let (_dir, img) = build(&[]);
    let d = read(&img);
    let at = metadata_item(&d, [0x37, 0x67, 0xa1, 0xca]);
    patch(&img, at, &3000u32.to_le_bytes());
    let err = open_err(&img);
    assert!(matches!(err, DiskError::Corrupt { .. }), "{err}");
    assert_names(&err, &img, &["block size", &format!("offset {at}")]);
}

#[test]
fn differencing_vhdx_is_unsupported() {
    let (_dir, img) = build(&[]);
    let d = read(&img);
    let at = metadata_item(&d, [0x37, 0x67, 0xa1, 0xca]);
    let flags = le32(&d, at + 4) | 2;
    patch(&img, at + 4, &flags.to_le_bytes());
    let err = open_err(&img);
    assert!(matches!(err, DiskError::Unsupported { .. }), "{err}");
    assert_names(&err, &img, &["differencing"]);
}

#[test]
fn log_needing_replay_is_read_as_is() {
    let (_dir, img) = build(&[]);
    let d = read(&img);
    for h in [HEADER1, HEADER2] {
        patch(&img, h + 48, &[0x11; 16]);
        resign(&img, h, 4096);
    }
    let opened = open(&img);
    assert_eq!(opened.info.details["log_needs_replay"], "true");
    // The reader wrote nothing.
    let after = read(&img);
    assert_eq!(after.len(), d.len());
    assert!(after[HEADER1 as usize + 48..HEADER1 as usize + 64] == [0x11; 16]);
    // The data is read as it stands (qemu refuses this image read-only, so
    // compare with the export of the pristine image's content).
    let (_dir2, pristine) = build(&[]);
    let dir = tempfile::tempdir().unwrap();
    let reference = read(&qemu_raw_export(&pristine, dir.path()));
    assert_device_equals(opened.device.as_ref(), &reference, "dirty-log vhdx");
}

#[test]
fn sequential_reads_over_contiguous_blocks_are_one_file_read() {
    let (_dir, img) = build(&["-o", "subformat=fixed,block_size=1M"]);
    let stats = std::sync::Arc::new(guestkit_disk::IoStats::default());
    let opened =
        guestkit_disk::open_image_counted(&img, &OpenOptions::default(), stats.clone()).unwrap();
    let before = stats.reads();
    let mut buf = vec![0u8; 8 << 20];
    opened.device.read_at(&mut buf, 3 << 20).unwrap();
    assert_eq!(stats.reads() - before, 1, "8 blocks in one read");
    assert!(stats.bytes_read() >= 8 << 20);
}
