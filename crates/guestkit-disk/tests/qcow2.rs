//! qcow2 reader against images built by qemu-img / qemu-io, compared byte for
//! byte with `qemu-img convert -O raw`, plus crafted bad images.

mod common;

use std::path::{Path, PathBuf};

use common::*;
use guestkit_disk::{open_image, DiskError, ImageFormat, Layer, OpenOptions};

/// Size of the pattern disk the variants are converted from.
const PATTERN_SIZE: u64 = 24 << 20;

/// A pattern raw disk converted to qcow2 with extra `qemu-img convert` options.
fn convert_variant(dir: &Path, name: &str, opts: &[&str]) -> PathBuf {
    let raw = dir.join("pattern.raw");
    if !raw.exists() {
        pattern_raw(&raw, PATTERN_SIZE);
    }
    let img = dir.join(name);
    let mut args = vec!["convert", "-O", "qcow2"];
    args.extend_from_slice(opts);
    args.push(s(&raw));
    args.push(s(&img));
    qemu_img(&args);
    img
}

fn qemu_io(img: &Path, cmd: &str) {
    run("qemu-io", &["-f", "qcow2", "-c", cmd, s(img)]);
}

fn open_err(path: &Path) -> DiskError {
    match open_image(path, &OpenOptions::default()) {
        Ok(_) => panic!("{} opened but should not have", path.display()),
        Err(e) => e,
    }
}

/// Asserts that an error's message names the file and the qcow2 layer.
fn assert_names(err: &DiskError, file: &str) {
    let msg = err.to_string();
    assert!(msg.contains(file), "message {msg:?} does not name {file}");
    assert!(
        msg.contains("qcow2"),
        "message {msg:?} does not name the layer"
    );
}

fn patch(path: &Path, at: u64, bytes: &[u8]) {
    use std::os::unix::fs::FileExt;
    let f = std::fs::OpenOptions::new().write(true).open(path).unwrap();
    f.write_all_at(bytes, at).unwrap();
}

fn read_be64(path: &Path, at: u64) -> u64 {
    use std::os::unix::fs::FileExt;
    let f = std::fs::File::open(path).unwrap();
    let mut b = [0u8; 8];
    f.read_exact_at(&mut b, at).unwrap();
    u64::from_be_bytes(b)
}

#[test]
fn v3_default_reads_like_qemu() {
    let dir = tempfile::tempdir().unwrap();
    let img = convert_variant(dir.path(), "v3.qcow2", &[]);
    assert_same_as_qemu(&img);
    let info = open(&img).info;
    assert_eq!(info.format, ImageFormat::Qcow2);
    assert_eq!(info.virtual_size, PATTERN_SIZE);
    assert_eq!(info.details["version"], "3");
    assert_eq!(info.details["cluster_size"], "65536");
    assert_eq!(info.details["compression_type"], "zlib");
    assert_eq!(info.details["extended_l2"], "false");
    assert_eq!(info.details["refcount_bits"], "16");
    assert_eq!(info.details["dirty"], "false");
    assert!(info.encrypted.is_none() && info.backing.is_none());
}

#[test]
fn v2_compat_0_10_reads_like_qemu() {
    let dir = tempfile::tempdir().unwrap();
    let img = convert_variant(dir.path(), "v2.qcow2", &["-o", "compat=0.10"]);
    assert_same_as_qemu(&img);
    assert_eq!(open(&img).info.details["version"], "2");
}

#[test]
fn zlib_compressed_reads_like_qemu() {
    let dir = tempfile::tempdir().unwrap();
    let img = convert_variant(dir.path(), "zlib.qcow2", &["-c"]);
    assert_same_as_qemu(&img);
    assert_eq!(open(&img).info.details["compression_type"], "zlib");
}

#[test]
fn zstd_compressed_reads_like_qemu() {
    let dir = tempfile::tempdir().unwrap();
    let img = convert_variant(
        dir.path(),
        "zstd.qcow2",
        &["-c", "-o", "compression_type=zstd"],
    );
    assert_same_as_qemu(&img);
    assert_eq!(open(&img).info.details["compression_type"], "zstd");
}

#[test]
fn extended_l2_reads_like_qemu() {
    let dir = tempfile::tempdir().unwrap();
    let img = convert_variant(dir.path(), "extl2.qcow2", &["-o", "extended_l2=on"]);
    assert_same_as_qemu(&img);
    assert_eq!(open(&img).info.details["extended_l2"], "true");
}

#[test]
fn extended_l2_compressed_reads_like_qemu() {
    let dir = tempfile::tempdir().unwrap();
    let img = convert_variant(
        dir.path(),
        "extl2c.qcow2",
        &["-c", "-o", "extended_l2=on,compression_type=zstd"],
    );
    assert_same_as_qemu(&img);
}

#[test]
fn small_and_large_clusters_read_like_qemu() {
    let dir = tempfile::tempdir().unwrap();
    for (name, opt) in [
        ("c4k.qcow2", "cluster_size=4096"),
        ("c512.qcow2", "cluster_size=512"),
        ("c2m.qcow2", "cluster_size=2M"),
    ] {
        let img = convert_variant(dir.path(), name, &["-o", opt]);
        assert_same_as_qemu(&img);
    }
    let c2m = open(&dir.path().join("c2m.qcow2")).info;
    assert_eq!(c2m.details["cluster_size"], (2u64 << 20).to_string());
}

#[test]
fn two_level_backing_chain_with_relative_paths() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    convert_variant(d, "base.qcow2", &[]);
    let mid = d.join("mid.qcow2");
    let top = d.join("top.qcow2");
    qemu_img(&[
        "create",
        "-f",
        "qcow2",
        "-b",
        "base.qcow2",
        "-F",
        "qcow2",
        s(&mid),
    ]);
    qemu_io(&mid, "write -P 0x5a 1M 64k");
    qemu_io(&mid, "write -P 0x33 5000k 4k");
    qemu_img(&[
        "create",
        "-f",
        "qcow2",
        "-b",
        "mid.qcow2",
        "-F",
        "qcow2",
        s(&top),
    ]);
    qemu_io(&top, "write -P 0x6b 1056k 64k");
    qemu_io(&top, "write -z 8M 192k");
    qemu_io(&top, "write -P 0x7c 20M 1k");
    assert_same_as_qemu(&top);
    let info = open(&top).info;
    let chain = info.chain();
    assert_eq!(chain.len(), 3);
    assert_eq!(chain[1].path, mid.canonicalize().unwrap());
    assert_eq!(chain[2].path, d.join("base.qcow2").canonicalize().unwrap());
    assert_eq!(info.details["backing_file"], "mid.qcow2");
    assert_eq!(info.details["backing_format"], "qcow2");
}

#[test]
fn backing_image_smaller_than_overlay() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let raw = d.join("small.raw");
    pattern_raw(&raw, 3 << 20);
    let base = d.join("small.qcow2");
    qemu_img(&["convert", "-O", "qcow2", s(&raw), s(&base)]);
    let over = d.join("over.qcow2");
    qemu_img(&[
        "create",
        "-f",
        "qcow2",
        "-b",
        "small.qcow2",
        "-F",
        "qcow2",
        s(&over),
        "10M",
    ]);
    qemu_io(&over, "write -P 0x5a 2M 2M");
    qemu_io(&over, "write -P 0x42 7M 64k");
    assert_same_as_qemu(&over);
    // Past the base's end the overlay reads zeros.
    let dev = open(&over).device;
    let mut b = vec![0xffu8; 8192];
    dev.read_at(&mut b, (5 << 20) - 4096).unwrap();
    assert!(b.iter().all(|&x| x == 0));
}

#[test]
fn extended_l2_overlay_reads_subclusters_from_backing() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    convert_variant(d, "base.qcow2", &[]);
    let over = d.join("over.qcow2");
    qemu_img(&[
        "create",
        "-f",
        "qcow2",
        "-o",
        "extended_l2=on",
        "-b",
        "base.qcow2",
        "-F",
        "qcow2",
        s(&over),
    ]);
    qemu_io(&over, "write -P 0x5a 4k 4k");
    qemu_io(&over, "write -z 72k 8k");
    qemu_io(&over, "write -P 0x11 1000k 100k");
    assert_same_as_qemu(&over);
}

#[test]
fn sparse_overlay_with_few_clusters_and_zero_writes() {
    let dir = tempfile::tempdir().unwrap();
    let img = dir.path().join("sparse.qcow2");
    qemu_img(&["create", "-f", "qcow2", s(&img), "24M"]);
    qemu_io(&img, "write -P 0x11 0 192k");
    qemu_io(&img, "write -z 64k 64k");
    qemu_io(&img, "write -P 0x22 10M 512");
    qemu_io(&img, "write -z 23M 1M");
    assert_same_as_qemu(&img);
    let dev = open(&img).device;
    let mut b = vec![0u8; 3 * 65536];
    dev.read_at(&mut b, 0).unwrap();
    assert!(b[..65536].iter().all(|&x| x == 0x11));
    assert!(b[65536..131072].iter().all(|&x| x == 0));
    assert!(b[131072..].iter().all(|&x| x == 0x11));
}

#[test]
fn concurrent_reads_agree() {
    let dir = tempfile::tempdir().unwrap();
    let img = convert_variant(dir.path(), "zlib.qcow2", &["-c", "-o", "cluster_size=4096"]);
    let reference = std::fs::read(qemu_raw_export(&img, dir.path())).unwrap();
    let dev = open(&img).device;
    std::thread::scope(|scope| {
        for t in 0..4u64 {
            let dev = dev.clone();
            let reference = &reference;
            scope.spawn(move || {
                let mut b = vec![0u8; 6000];
                for i in 0..500u64 {
                    let at = (i * 7919 + t * 104_729) * 37 % (PATTERN_SIZE - 6000);
                    dev.read_at(&mut b, at).unwrap();
                    assert!(b[..] == reference[at as usize..at as usize + 6000]);
                }
            });
        }
    });
}

#[test]
fn luks_encrypted_image_opens_but_reads_fail() {
    let dir = tempfile::tempdir().unwrap();
    let img = dir.path().join("enc.qcow2");
    qemu_img(&[
        "create",
        "--object",
        "secret,id=sec0,data=guestkit",
        "-f",
        "qcow2",
        "-o",
        "encrypt.format=luks,encrypt.key-secret=sec0,encrypt.iter-time=10",
        s(&img),
        "4M",
    ]);
    let opened = open(&img);
    assert_eq!(opened.info.encrypted.as_deref(), Some("luks"));
    assert!(opened.info.details.contains_key("crypto_header"));
    let mut b = [0u8; 512];
    let err = opened.device.read_at(&mut b, 0).unwrap_err();
    assert!(
        matches!(
            err,
            DiskError::Encrypted {
                layer: Layer::Qcow2,
                ..
            }
        ),
        "{err}"
    );
    assert_names(&err, "enc.qcow2");
}

#[test]
fn internal_snapshot_is_listed() {
    let dir = tempfile::tempdir().unwrap();
    let img = convert_variant(dir.path(), "snap.qcow2", &[]);
    qemu_img(&["snapshot", "-c", "snap1", s(&img)]);
    qemu_io(&img, "write -P 0x5a 1M 64k");
    qemu_img(&["snapshot", "-c", "second snapshot", s(&img)]);
    let info = open(&img).info;
    assert_eq!(info.snapshots.len(), 2);
    let s1 = &info.snapshots[0];
    assert_eq!((s1.id.as_str(), s1.name.as_str()), ("1", "snap1"));
    assert_eq!(s1.disk_size, Some(PATTERN_SIZE));
    assert_eq!(s1.vm_state_size, 0);
    assert!(s1.date_sec > 1_600_000_000);
    assert_eq!(info.snapshots[1].name, "second snapshot");
    // The active layer (not a snapshot) is what reads return.
    assert_same_as_qemu(&img);
}

#[test]
fn dirty_bit_still_opens_and_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let img = convert_variant(dir.path(), "dirty.qcow2", &[]);
    let features = read_be64(&img, 72);
    patch(&img, 72, &(features | 1 | 2).to_be_bytes());
    let info = open(&img).info;
    assert_eq!(info.details["dirty"], "true");
    assert_eq!(info.details["corrupt"], "true");
    assert_same_as_qemu_force(&img);
}

/// Like `assert_same_as_qemu`, for images qemu-img refuses to open read-write
/// checks on (corrupt bit): the reference is exported with `-U` from a copy
/// whose bits were cleared.
fn assert_same_as_qemu_force(img: &Path) {
    let dir = tempfile::tempdir().unwrap();
    let clean = dir.path().join("clean.qcow2");
    std::fs::copy(img, &clean).unwrap();
    let features = read_be64(&clean, 72);
    patch(&clean, 72, &(features & !3).to_be_bytes());
    let reference = std::fs::read(qemu_raw_export(&clean, dir.path())).unwrap();
    assert_device_equals(open(img).device.as_ref(), &reference, "dirty image");
}

#[test]
fn unknown_incompatible_bit_and_external_data_file_are_unsupported() {
    let dir = tempfile::tempdir().unwrap();
    let img = convert_variant(dir.path(), "future.qcow2", &[]);
    let features = read_be64(&img, 72);
    patch(&img, 72, &(features | 1 << 40).to_be_bytes());
    let err = open_err(&img);
    assert!(matches!(err, DiskError::Unsupported { .. }), "{err}");
    assert!(err.to_string().contains("bit 40"), "{err}");
    assert_names(&err, "future.qcow2");

    let ext = dir.path().join("ext.qcow2");
    let data = dir.path().join("ext.data");
    qemu_img(&[
        "create",
        "-f",
        "qcow2",
        "-o",
        &format!("data_file={}", data.display()),
        s(&ext),
        "1M",
    ]);
    let err = open_err(&ext);
    assert!(matches!(err, DiskError::Unsupported { .. }), "{err}");
    assert!(err.to_string().contains("external data file"), "{err}");
    assert_names(&err, "ext.qcow2");
}

#[test]
fn truncated_files_are_corrupt() {
    let dir = tempfile::tempdir().unwrap();
    let img = convert_variant(dir.path(), "trunc.qcow2", &[]);
    let bytes = std::fs::read(&img).unwrap();
    let short = dir.path().join("short.qcow2");
    std::fs::write(&short, &bytes[..90]).unwrap();
    let err = open_err(&short);
    assert!(
        matches!(err, DiskError::Corrupt { ref field, .. } if field == "header"),
        "{err}"
    );
    assert_names(&err, "short.qcow2");

    // Cut before the L1 table.
    let l1 = read_be64(&img, 40);
    let cut = dir.path().join("cut.qcow2");
    std::fs::write(&cut, &bytes[..l1 as usize]).unwrap();
    let err = open_err(&cut);
    assert!(
        matches!(err, DiskError::Corrupt { ref field, .. } if field == "l1_table_offset"),
        "{err}"
    );
    assert_names(&err, "cut.qcow2");
}

#[test]
fn l1_offset_past_eof_is_corrupt() {
    let dir = tempfile::tempdir().unwrap();
    let img = convert_variant(dir.path(), "l1.qcow2", &[]);
    patch(&img, 40, &(1u64 << 40).to_be_bytes());
    let err = open_err(&img);
    assert!(
        matches!(err, DiskError::Corrupt { offset: 40, ref field, .. } if field == "l1_table_offset"),
        "{err}"
    );
    assert_names(&err, "l1.qcow2");
}

#[test]
fn l2_entry_past_eof_is_corrupt_on_read() {
    let dir = tempfile::tempdir().unwrap();
    let img = convert_variant(dir.path(), "l2.qcow2", &[]);
    let l1 = read_be64(&img, 40);
    let l2 = read_be64(&img, l1) & 0x00ff_ffff_ffff_fe00;
    assert_ne!(l2, 0);
    // Guest cluster 0 holds random data, so its entry is allocated.
    let entry = read_be64(&img, l2);
    assert_ne!(entry & 0x00ff_ffff_ffff_fe00, 0);
    patch(&img, l2, &((1u64 << 63) | (1u64 << 45)).to_be_bytes());
    let dev = open(&img).device;
    let mut b = [0u8; 4096];
    let err = dev.read_at(&mut b, 100).unwrap_err();
    assert!(
        matches!(err, DiskError::Corrupt { offset, ref field, .. } if offset == l2 && field == "L2 entry"),
        "{err}"
    );
    assert_names(&err, "l2.qcow2");
    // Other clusters still read.
    dev.read_at(&mut b, 1 << 20).unwrap();
}

#[test]
fn absurd_virtual_and_l1_sizes_exceed_limits() {
    let dir = tempfile::tempdir().unwrap();
    let img = convert_variant(dir.path(), "vs.qcow2", &[]);
    patch(&img, 24, &(1u64 << 60).to_be_bytes());
    let err = open_err(&img);
    assert!(
        matches!(err, DiskError::LimitExceeded { ref field, .. } if field == "virtual size"),
        "{err}"
    );
    assert_names(&err, "vs.qcow2");

    let img = convert_variant(dir.path(), "l1size.qcow2", &[]);
    patch(&img, 36, &0x1000_0000u32.to_be_bytes());
    let err = open_err(&img);
    assert!(
        matches!(err, DiskError::LimitExceeded { ref field, value, .. }
            if field.starts_with("L1 table bytes") && value == 0x1000_0000 * 8),
        "{err}"
    );
    assert_names(&err, "l1size.qcow2");

    // An L1 table too small for the virtual size.
    let img = convert_variant(dir.path(), "l1small.qcow2", &[]);
    patch(&img, 24, &(1u64 << 40).to_be_bytes());
    let err = open_err(&img);
    assert!(
        matches!(err, DiskError::Corrupt { ref field, .. } if field == "l1_size"),
        "{err}"
    );
}

#[test]
fn backing_paths_outside_the_image_root_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let abs = d.join("abs.qcow2");
    qemu_img(&[
        "create",
        "-f",
        "qcow2",
        "-u",
        "-b",
        "/etc/passwd",
        "-F",
        "raw",
        s(&abs),
        "1M",
    ]);
    let err = open_err(&abs);
    assert!(
        matches!(err, DiskError::PathRefused { ref referenced, layer: Layer::Qcow2, .. }
            if referenced == "/etc/passwd"),
        "{err}"
    );
    assert_names(&err, "abs.qcow2");

    let rel = d.join("rel.qcow2");
    qemu_img(&[
        "create",
        "-f",
        "qcow2",
        "-u",
        "-b",
        "../../../../etc/shadow",
        "-F",
        "raw",
        s(&rel),
        "1M",
    ]);
    let err = open_err(&rel);
    assert!(
        matches!(err, DiskError::PathRefused { ref referenced, .. }
            if referenced == "../../../../etc/shadow"),
        "{err}"
    );
    assert_names(&err, "rel.qcow2");
}

#[test]
fn cyclic_backing_chain_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let a = d.join("a.qcow2");
    let b = d.join("b.qcow2");
    qemu_img(&["create", "-f", "qcow2", s(&a), "1M"]);
    qemu_img(&[
        "create",
        "-f",
        "qcow2",
        "-b",
        "a.qcow2",
        "-F",
        "qcow2",
        s(&b),
    ]);
    qemu_img(&["rebase", "-u", "-b", "b.qcow2", "-F", "qcow2", s(&a)]);
    let err = open_err(&b);
    assert!(matches!(err, DiskError::PathRefused { .. }), "{err}");
    assert!(err.to_string().contains("loops"), "{err}");
    assert_names(&err, "a.qcow2");
}

#[test]
fn too_deep_backing_chain_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    qemu_img(&["create", "-f", "qcow2", s(&d.join("l0.qcow2")), "1M"]);
    for i in 1..=5 {
        let below = format!("l{}.qcow2", i - 1);
        qemu_img(&[
            "create",
            "-f",
            "qcow2",
            "-b",
            &below,
            "-F",
            "qcow2",
            s(&d.join(format!("l{i}.qcow2"))),
        ]);
    }
    let top = d.join("l5.qcow2");
    // The default depth allows it.
    assert_eq!(open(&top).info.chain().len(), 6);
    let mut options = OpenOptions::default();
    options.limits.max_chain_depth = 3;
    let err = open_image(&top, &options).unwrap_err();
    assert!(
        matches!(err, DiskError::LimitExceeded { ref field, layer: Layer::Qcow2, .. }
            if field == "backing chain depth"),
        "{err}"
    );
    assert_names(&err, ".qcow2");
}

#[test]
fn garbage_in_a_compressed_cluster_is_corrupt() {
    let dir = tempfile::tempdir().unwrap();
    let img = convert_variant(dir.path(), "badz.qcow2", &["-c"]);
    let l1 = read_be64(&img, 40);
    let l2 = read_be64(&img, l1) & 0x00ff_ffff_ffff_fe00;
    // The first guest cluster stored compressed (repetitive text).
    let index = (0..8192u64)
        .find(|i| read_be64(&img, l2 + i * 8) & (1 << 62) != 0)
        .expect("a compressed cluster");
    let host = read_be64(&img, l2 + index * 8) & ((1u64 << 54) - 1);
    patch(&img, host, &[0xff; 64]);
    let dev = open(&img).device;
    let mut b = vec![0u8; 65536];
    let err = dev.read_at(&mut b, index << 16).unwrap_err();
    assert!(
        matches!(err, DiskError::Corrupt { offset, ref field, .. }
            if offset == host && field == "compressed cluster"),
        "{err}"
    );
    assert_names(&err, "badz.qcow2");
    // A partial read goes through the cluster cache path and fails the same way.
    let err = dev.read_at(&mut b[..100], (index << 16) + 5).unwrap_err();
    assert!(matches!(err, DiskError::Corrupt { .. }), "{err}");
}

#[test]
fn tiny_l2_cache_still_reads_correctly() {
    let dir = tempfile::tempdir().unwrap();
    // 4 KiB clusters: one L2 table maps 2 MiB, so 12 tables for the disk.
    let img = convert_variant(dir.path(), "c4k.qcow2", &["-o", "cluster_size=4096"]);
    let reference = std::fs::read(qemu_raw_export(&img, dir.path())).unwrap();
    let mut options = OpenOptions::default();
    options.limits.max_cache_bytes = 8192;
    let opened = open_image(&img, &options).unwrap();
    assert_device_equals(opened.device.as_ref(), &reference, "tiny cache");
}
