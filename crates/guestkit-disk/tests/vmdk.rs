mod common;

use std::path::{Path, PathBuf};

use common::*;
use guestkit_disk::{open_image, DiskError, ImageFormat, Layer, OpenOptions};

const DISK: u64 = 24 << 20;

/// A pattern raw disk converted to the vmdk `subformat` in `dir`.
fn build(dir: &Path, subformat: &str) -> PathBuf {
    let raw = dir.join("pattern.raw");
    if !raw.exists() {
        pattern_raw(&raw, DISK);
    }
    let img = dir.join(format!("{subformat}.vmdk"));
    qemu_img(&[
        "convert",
        "-O",
        "vmdk",
        "-o",
        &format!("subformat={subformat}"),
        s(&raw),
        s(&img),
    ]);
    img
}

fn check_subformat(subformat: &str, extents: usize) {
    let dir = tempfile::tempdir().unwrap();
    let img = build(dir.path(), subformat);
    assert_same_as_qemu(&img);
    let info = open(&img).info;
    assert_eq!(info.format, ImageFormat::Vmdk);
    assert_eq!(info.virtual_size, DISK);
    assert_eq!(info.details["create_type"], subformat);
    assert_eq!(info.details["adapter_type"], "ide");
    assert_eq!(info.details["hw_version"], "4");
    assert!(info.details.contains_key("cid"), "{:?}", info.details);
    assert_eq!(info.extents.len(), extents, "{:?}", info.extents);
    for e in &info.extents {
        assert!(e.exists(), "{}", e.display());
    }
}

#[test]
fn monolithic_sparse_reads_like_qemu() {
    check_subformat("monolithicSparse", 1);
    let dir = tempfile::tempdir().unwrap();
    let info = open(&build(dir.path(), "monolithicSparse")).info;
    assert_eq!(info.details["grain_size"], "65536");
    assert_eq!(info.details["compression"], "none");
}

#[test]
fn stream_optimized_reads_like_qemu() {
    check_subformat("streamOptimized", 1);
    let dir = tempfile::tempdir().unwrap();
    let info = open(&build(dir.path(), "streamOptimized")).info;
    assert_eq!(info.details["compression"], "deflate");
}

#[test]
fn monolithic_flat_reads_like_qemu() {
    check_subformat("monolithicFlat", 1);
}

#[test]
fn two_gb_sparse_reads_like_qemu() {
    check_subformat("twoGbMaxExtentSparse", 1);
}

#[test]
fn two_gb_flat_reads_like_qemu() {
    check_subformat("twoGbMaxExtentFlat", 1);
}

#[test]
fn two_gb_sparse_with_several_extents() {
    // 4.5 GiB of mostly holes: three -s00N extents, data written near the seams.
    let dir = tempfile::tempdir().unwrap();
    let img = dir.path().join("multi.vmdk");
    qemu_img(&[
        "create",
        "-f",
        "vmdk",
        "-o",
        "subformat=twoGbMaxExtentSparse",
        s(&img),
        "4608M",
    ]);
    for (pattern, at) in [
        (0x11, "0"),
        (0x22, "2047M"),
        (0x33, "4095M"),
        (0x44, "4607M"),
    ] {
        run(
            "qemu-io",
            &[
                "-f",
                "vmdk",
                "-c",
                &format!("write -P {pattern} {at} 1M"),
                s(&img),
            ],
        );
    }
    let opened = open(&img);
    assert_eq!(opened.info.extents.len(), 3);
    assert_eq!(opened.info.virtual_size, 4608 << 20);
    // Compare the written windows and a hole against qemu's view.
    let reference = dir.path().join("ref.raw");
    qemu_img(&["convert", "-O", "raw", s(&img), s(&reference)]);
    let reference = std::fs::File::open(&reference).unwrap();
    use std::os::unix::fs::FileExt;
    for at in [
        0u64,
        2047 << 20,
        (2048 << 20) - 4096,
        4095 << 20,
        4607 << 20,
        100 << 20,
    ] {
        let mut want = vec![0u8; 3 << 20];
        let n = want.len().min((opened.info.virtual_size - at) as usize);
        reference.read_exact_at(&mut want[..n], at).unwrap();
        let mut got = vec![0u8; n];
        opened.device.read_at(&mut got, at).unwrap();
        assert!(got == want[..n], "differs at {at}");
    }
}

/// Reads the sparse header fields needed to patch images.
fn le32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
}
fn le64(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().unwrap())
}

/// Byte offset of the first grain table of a sparse file, and of its GD.
fn gd_and_gt(bytes: &[u8]) -> (usize, usize) {
    let gd = le64(bytes, 56) as usize * 512;
    let gt = le32(bytes, gd) as usize * 512;
    (gd, gt)
}

#[test]
fn stream_optimized_with_footer_grain_directory() {
    // Rewrite qemu's streamOptimized output into VMware's layout: the header
    // says GD_AT_END and the real header is in a footer before an EOS marker.
    let dir = tempfile::tempdir().unwrap();
    let img = build(dir.path(), "streamOptimized");
    let mut bytes = std::fs::read(&img).unwrap();
    let header = bytes[..512].to_vec();
    bytes[56..64].copy_from_slice(&u64::MAX.to_le_bytes());
    let mut footer_marker = vec![0u8; 512];
    footer_marker[0..8].copy_from_slice(&1u64.to_le_bytes());
    footer_marker[12..16].copy_from_slice(&3u32.to_le_bytes());
    bytes.extend_from_slice(&footer_marker);
    bytes.extend_from_slice(&header);
    bytes.extend_from_slice(&[0u8; 512]); // EOS marker: all zero
    let patched = dir.path().join("vmware-stream.vmdk");
    std::fs::write(&patched, &bytes).unwrap();
    assert_same_as_qemu(&patched);
}

#[test]
fn zeroed_grain_entries_read_as_zeros() {
    let dir = tempfile::tempdir().unwrap();
    let img = build(dir.path(), "monolithicSparse");
    let mut bytes = std::fs::read(&img).unwrap();
    let flags = le32(&bytes, 8) | 4; // zeroed-grain GTEs in use
    bytes[8..12].copy_from_slice(&flags.to_le_bytes());
    let (_, gt) = gd_and_gt(&bytes);
    assert!(le32(&bytes, gt) > 1, "grain 0 is allocated in the pattern");
    bytes[gt..gt + 4].copy_from_slice(&1u32.to_le_bytes());
    std::fs::write(&img, &bytes).unwrap();
    assert_same_as_qemu(&img);
    let mut first = vec![0xffu8; 65536];
    open(&img).device.read_at(&mut first, 0).unwrap();
    assert!(first.iter().all(|&b| b == 0));
}

#[test]
fn delta_link_reads_parent_for_unallocated_grains() {
    let dir = tempfile::tempdir().unwrap();
    let base = build(dir.path(), "monolithicSparse");
    let child = dir.path().join("child.vmdk");
    qemu_img(&[
        "create",
        "-f",
        "vmdk",
        "-b",
        s(&base),
        "-F",
        "vmdk",
        s(&child),
    ]);
    run(
        "qemu-io",
        &[
            "-f",
            "vmdk",
            "-c",
            "write -P 0x5a 1000000 300000",
            s(&child),
        ],
    );
    assert_same_as_qemu(&child);
    let info = open(&child).info;
    let backing = info.backing.expect("parent opened");
    assert_eq!(backing.path, base.canonicalize().unwrap());
}

fn open_err(path: &Path) -> DiskError {
    match open_image(path, &OpenOptions::default()) {
        Ok(_) => panic!("{} opened but should not", path.display()),
        Err(e) => e,
    }
}

fn assert_names(err: &DiskError, path: &Path) {
    let text = err.to_string();
    assert!(
        text.contains(&path.display().to_string())
            || text.contains(path.file_name().unwrap().to_str().unwrap()),
        "error does not name {}: {text}",
        path.display()
    );
    assert!(
        text.contains("vmdk"),
        "error does not name the layer: {text}"
    );
}

fn descriptor(dir: &Path, name: &str, extent_lines: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(
        &p,
        format!(
            "# Disk DescriptorFile\nversion=1\nCID=12345678\nparentCID=ffffffff\n\
             createType=\"monolithicFlat\"\n\n# Extent description\n{extent_lines}\n\n\
             #DDB\nddb.adapterType = \"ide\"\n"
        ),
    )
    .unwrap();
    p
}

#[test]
fn refuses_extents_outside_the_image_directory() {
    let dir = tempfile::tempdir().unwrap();
    for (name, target) in [
        ("abs.vmdk", "/etc/passwd"),
        ("rel.vmdk", "../../../../etc/shadow"),
    ] {
        let p = descriptor(dir.path(), name, &format!("RW 8 FLAT \"{target}\" 0"));
        let err = open_err(&p);
        match &err {
            DiskError::PathRefused {
                layer, referenced, ..
            } => {
                assert_eq!(*layer, Layer::Vmdk);
                assert_eq!(referenced, target);
            }
            other => panic!("{target}: expected PathRefused, got {other}"),
        }
        assert_names(&err, &p);
        assert!(err.to_string().contains(target), "{err}");
    }
}

#[test]
fn truncated_sparse_file_is_corrupt() {
    let dir = tempfile::tempdir().unwrap();
    let img = build(dir.path(), "monolithicSparse");
    let bytes = std::fs::read(&img).unwrap();
    // Header only: the descriptor and grain directory are gone.
    std::fs::write(&img, &bytes[..4096]).unwrap();
    let err = open_err(&img);
    assert!(
        matches!(
            err,
            DiskError::Corrupt {
                layer: Layer::Vmdk,
                ..
            }
        ),
        "{err}"
    );
    assert_names(&err, &img);
    assert!(
        err.to_string().contains("past the end of the file"),
        "{err}"
    );
    // Shorter than a header.
    std::fs::write(&img, &bytes[..100]).unwrap();
    let err = open_err(&img);
    assert!(matches!(err, DiskError::Corrupt { .. }), "{err}");
    assert!(err.to_string().contains("header"), "{err}");
    // Metadata intact but grains cut off: open works, reading the lost grains fails.
    let (_, gt) = gd_and_gt(&bytes);
    let cut = gt + 4096;
    std::fs::write(&img, &bytes[..cut]).unwrap();
    let opened = open(&img);
    let mut buf = vec![0u8; 4096];
    let err = opened.device.read_at(&mut buf, 0).unwrap_err();
    assert!(matches!(err, DiskError::Corrupt { .. }), "{err}");
    assert_names(&err, &img);
    assert!(err.to_string().contains("grain table entry"), "{err}");
}

#[test]
fn grain_directory_entry_past_eof() {
    let dir = tempfile::tempdir().unwrap();
    let img = build(dir.path(), "monolithicSparse");
    let mut bytes = std::fs::read(&img).unwrap();
    let (gd, _) = gd_and_gt(&bytes);
    bytes[gd..gd + 4].copy_from_slice(&0x00ff_ffffu32.to_le_bytes());
    std::fs::write(&img, &bytes).unwrap();
    let err = open_err(&img);
    match &err {
        DiskError::Corrupt { field, offset, .. } => {
            assert_eq!(field, "grain directory entry");
            assert_eq!(*offset, gd as u64);
        }
        other => panic!("expected Corrupt, got {other}"),
    }
    assert_names(&err, &img);
}

#[test]
fn grain_table_entry_past_eof() {
    let dir = tempfile::tempdir().unwrap();
    let img = build(dir.path(), "monolithicSparse");
    let mut bytes = std::fs::read(&img).unwrap();
    let (_, gt) = gd_and_gt(&bytes);
    bytes[gt + 4..gt + 8].copy_from_slice(&0x00ff_ffffu32.to_le_bytes());
    std::fs::write(&img, &bytes).unwrap();
    let opened = open(&img);
    let mut buf = vec![0u8; 512];
    opened.device.read_at(&mut buf, 0).unwrap();
    let err = opened.device.read_at(&mut buf, 65536).unwrap_err();
    match &err {
        DiskError::Corrupt { field, .. } => assert_eq!(field, "grain table entry"),
        other => panic!("expected Corrupt, got {other}"),
    }
    assert_names(&err, &img);
}

#[test]
fn absurd_capacity_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let img = build(dir.path(), "monolithicSparse");
    let mut bytes = std::fs::read(&img).unwrap();
    bytes[12..20].copy_from_slice(&(u64::MAX / 3).to_le_bytes());
    std::fs::write(&img, &bytes).unwrap();
    let err = open_err(&img);
    // The embedded descriptor no longer agrees; either check must refuse it.
    assert!(
        matches!(
            err,
            DiskError::LimitExceeded { .. } | DiskError::Corrupt { .. }
        ),
        "{err}"
    );
    assert_names(&err, &img);
    // Without the embedded descriptor the capacity limit itself answers.
    bytes[28..44].fill(0);
    std::fs::write(&img, &bytes).unwrap();
    let err = open_err(&img);
    match &err {
        DiskError::LimitExceeded { field, .. } => assert_eq!(field, "capacity"),
        other => panic!("expected LimitExceeded, got {other}"),
    }
    assert_names(&err, &img);
}

#[test]
fn extents_total_must_match() {
    let dir = tempfile::tempdir().unwrap();
    // Embedded descriptor disagreeing with the sparse header.
    let img = build(dir.path(), "monolithicSparse");
    let mut bytes = std::fs::read(&img).unwrap();
    let needle = format!("RW {} SPARSE", DISK / 512);
    let at = bytes
        .windows(needle.len())
        .position(|w| w == needle.as_bytes())
        .unwrap();
    let patched = format!("RW {} SPARSE", DISK / 512 + 8);
    bytes.splice(at..at + needle.len(), patched.bytes());
    bytes.truncate(std::fs::metadata(&img).unwrap().len() as usize);
    std::fs::write(&img, &bytes).unwrap();
    let err = open_err(&img);
    match &err {
        DiskError::Corrupt { field, reason, .. } => {
            assert_eq!(field, "descriptor extents");
            assert!(reason.contains("capacity"), "{reason}");
        }
        other => panic!("expected Corrupt, got {other}"),
    }
    assert_names(&err, &img);
    // A text descriptor whose sparse extent is smaller than the line says.
    let sparse = build(dir.path(), "twoGbMaxExtentSparse");
    let text = std::fs::read_to_string(&sparse).unwrap();
    let text = text.replace(&format!("RW {} SPARSE", DISK / 512), "RW 99999 SPARSE");
    std::fs::write(&sparse, text).unwrap();
    let err = open_err(&sparse);
    assert!(matches!(err, DiskError::Corrupt { .. }), "{err}");
    assert!(err.to_string().contains("99999"), "{err}");
    assert_names(&err, &sparse);
    // A flat extent longer than its file.
    let flat = build(dir.path(), "monolithicFlat");
    let text = std::fs::read_to_string(&flat).unwrap();
    let text = text.replace(
        &format!("RW {} FLAT", DISK / 512),
        &format!("RW {} FLAT", DISK / 256),
    );
    std::fs::write(&flat, text).unwrap();
    let err = open_err(&flat);
    assert!(matches!(err, DiskError::Corrupt { .. }), "{err}");
    assert!(err.to_string().contains("does not fit"), "{err}");
    assert_names(&err, &flat);
}

#[test]
fn ten_million_extent_lines_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("huge.vmdk");
    let mut text = String::from("# Disk DescriptorFile\nversion=1\nCID=1\ncreateType=\"custom\"\n");
    text.push_str(&"RW 1 ZERO\n".repeat(10_000_000));
    std::fs::write(&p, &text).unwrap();
    drop(text);
    let err = open_err(&p);
    match &err {
        DiskError::LimitExceeded { field, .. } => assert!(field.contains("descriptor"), "{field}"),
        other => panic!("expected LimitExceeded, got {other}"),
    }
    assert_names(&err, &p);
    // Within the size cap, the extent count limit answers.
    let small = descriptor(dir.path(), "many.vmdk", &"RW 1 ZERO\n".repeat(1000));
    let options = OpenOptions {
        limits: guestkit_disk::Limits {
            max_entries: 100,
            ..Default::default()
        },
        ..Default::default()
    };
    let err = open_image(&small, &options).unwrap_err();
    match &err {
        DiskError::LimitExceeded { field, limit, .. } => {
            assert_eq!(field, "descriptor extents");
            assert_eq!(*limit, 100);
        }
        other => panic!("expected LimitExceeded, got {other}"),
    }
    assert_names(&err, &small);
}

#[test]
fn garbage_descriptor_syntax_is_corrupt() {
    let dir = tempfile::tempdir().unwrap();
    let p = descriptor(
        dir.path(),
        "garbage.vmdk",
        "RW 8 FLAT \"x\" 0\nthis is not a descriptor line",
    );
    let err = open_err(&p);
    match &err {
        DiskError::Corrupt { field, reason, .. } => {
            assert_eq!(field, "descriptor");
            assert!(reason.contains("line 9"), "{reason}");
        }
        other => panic!("expected Corrupt, got {other}"),
    }
    assert_names(&err, &p);
    let p = descriptor(dir.path(), "badsize.vmdk", "RW lots FLAT \"x\" 0");
    let err = open_err(&p);
    assert!(matches!(err, DiskError::Corrupt { .. }), "{err}");
    assert!(err.to_string().contains("not a number"), "{err}");
    assert_names(&err, &p);
}

#[test]
fn cowd_is_unsupported() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("esx.vmdk");
    let mut bytes = b"COWD".to_vec();
    bytes.resize(4096, 0);
    std::fs::write(&p, &bytes).unwrap();
    let err = open_err(&p);
    assert!(matches!(err, DiskError::Unsupported { .. }), "{err}");
    assert!(err.to_string().contains("COWD"), "{err}");
    assert_names(&err, &p);
}

#[test]
fn zero_extents_and_flat_offsets() {
    // A custom descriptor: a zero extent, then a flat window at an offset.
    let dir = tempfile::tempdir().unwrap();
    let data: Vec<u8> = (0..64 * 1024u32).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(dir.path().join("data.bin"), &data).unwrap();
    let p = descriptor(
        dir.path(),
        "custom.vmdk",
        "RW 16 ZERO\nRDONLY 32 FLAT \"data.bin\" 8",
    );
    // qemu skips ZERO and RDONLY lines, so the reference is built by hand.
    let mut reference = vec![0u8; 16 * 512];
    reference.extend_from_slice(&data[8 * 512..40 * 512]);
    let opened = open(&p);
    assert_eq!(opened.info.virtual_size, 48 * 512);
    assert_device_equals(opened.device.as_ref(), &reference, "custom.vmdk");
}

#[test]
fn sequential_reads_coalesce_contiguous_grains() {
    use guestkit_disk::{open_image_counted, IoStats};
    use std::sync::Arc;
    let dir = tempfile::tempdir().unwrap();
    let img = build(dir.path(), "monolithicSparse");
    let bytes = std::fs::read(&img).unwrap();
    let (_, gt) = gd_and_gt(&bytes);
    let grains = (DISK / 65536) as usize;
    // Runs of allocated grains stored one after the other in the file.
    let mut runs = 0;
    let mut prev = 0u32;
    for i in 0..grains {
        let e = le32(&bytes, gt + 4 * i);
        if e > 1 && (prev <= 1 || e != prev + 128) {
            runs += 1;
        }
        prev = e;
    }
    assert!(runs > 3, "pattern has several data runs");
    let stats = Arc::new(IoStats::default());
    let opened = open_image_counted(&img, &OpenOptions::default(), stats.clone()).unwrap();
    let before = stats.reads();
    let mut buf = vec![0u8; DISK as usize];
    opened.device.read_at(&mut buf, 0).unwrap();
    // One read per run of grains plus the one grain table.
    assert_eq!(stats.reads() - before, runs as u64 + 1);
    // Random 4 KiB reads inside allocated grains: one file read each.
    let allocated: Vec<u64> = (0..grains)
        .filter(|&i| le32(&bytes, gt + 4 * i) > 1)
        .map(|i| i as u64 * 65536)
        .collect();
    let mut small = [0u8; 4096];
    for (k, &g) in allocated.iter().enumerate().take(50) {
        let at = g + (k as u64 * 4096) % 65536;
        let before = stats.reads();
        opened.device.read_at(&mut small, at).unwrap();
        assert_eq!(stats.reads() - before, 1, "read at {at}");
        assert_eq!(&small[..], &buf[at as usize..at as usize + 4096]);
    }
}

#[test]
fn concurrent_reads_of_a_compressed_image() {
    let dir = tempfile::tempdir().unwrap();
    let img = build(dir.path(), "streamOptimized");
    let reference = std::fs::read(qemu_raw_export(&img, dir.path())).unwrap();
    let device = open(&img).device;
    std::thread::scope(|scope| {
        for t in 0..4u64 {
            let device = device.clone();
            let reference = &reference;
            scope.spawn(move || {
                let mut x = 0x9e37_79b9_7f4a_7c15u64 ^ t;
                for _ in 0..300 {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    let len = (x % 100_000) as usize + 1;
                    let at = (x >> 20) % (DISK - len as u64);
                    let mut buf = vec![0u8; len];
                    device.read_at(&mut buf, at).unwrap();
                    assert!(
                        buf[..] == reference[at as usize..at as usize + len],
                        "{at}+{len}"
                    );
                }
            });
        }
    });
}

#[test]
fn many_lines_naming_one_sparse_file_share_the_memory_budget() {
    let dir = tempfile::tempdir().unwrap();
    let sparse = build(dir.path(), "twoGbMaxExtentSparse");
    let extent = "twoGbMaxExtentSparse-s001.vmdk";
    // 200 copies of a 24 MiB sparse extent: fine under default limits, and
    // its file is opened once.
    let lines = format!("RW {} SPARSE \"{extent}\"\n", DISK / 512).repeat(200);
    let p = descriptor(dir.path(), "copies.vmdk", &lines);
    let opened = open(&p);
    assert_eq!(opened.info.virtual_size, 200 * DISK);
    assert_eq!(opened.info.extents.len(), 1);
    let mut a = vec![0u8; 8192];
    let mut b = vec![0u8; 8192];
    opened.device.read_at(&mut a, 5000).unwrap();
    opened.device.read_at(&mut b, 150 * DISK + 5000).unwrap();
    assert_eq!(a, b);
    drop(sparse);
    // The cache budget is split between the 200 extents: each must still
    // hold one 2 KiB grain table.
    let options = OpenOptions {
        limits: guestkit_disk::Limits {
            max_cache_bytes: 100 * 2048,
            ..Default::default()
        },
        ..Default::default()
    };
    let err = match open_image(&p, &options) {
        Ok(_) => panic!("opened with a too small cache budget"),
        Err(e) => e,
    };
    match &err {
        DiskError::LimitExceeded { field, limit, .. } => {
            assert_eq!(field, "grain table bytes");
            assert_eq!(*limit, 1024);
        }
        other => panic!("expected LimitExceeded, got {other}"),
    }
    assert_names(&err, Path::new(extent));
}
