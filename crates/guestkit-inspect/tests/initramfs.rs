//! Initramfs listing against archives written by GNU cpio and compressed
//! by the real gzip, zstd, xz, lzma and lz4 tools, laid out the way
//! initramfs-tools and dracut write them (an uncompressed early archive
//! for microcode, then the compressed main archive).

use std::path::Path;
use std::process::{Command, Stdio};

use guestkit_inspect::initramfs::{self, Compression, InitramfsError, Limits};

fn sh(dir: &Path, script: &str) -> Vec<u8> {
    let out = Command::new("sh")
        .args(["-ec", script])
        .current_dir(dir)
        .stderr(Stdio::inherit())
        .output()
        .expect("sh");
    assert!(out.status.success(), "{script} failed");
    out.stdout
}

fn write(root: &Path, path: &str, data: &[u8]) {
    let p = root.join(path);
    std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
    std::fs::write(p, data).expect("write");
}

/// An early archive and a main archive, as cpio files in `dir`, plus the
/// names `cpio -t` lists for each.
fn archives(dir: &Path) -> (Vec<String>, Vec<String>) {
    let early = dir.join("early");
    write(
        &early,
        "kernel/x86/microcode/GenuineIntel.bin",
        &[0x5a; 3000],
    );
    let main = dir.join("main");
    let m = "usr/lib/modules/6.1.0-25-amd64";
    write(&main, "init", b"#!/bin/sh\nexec /sbin/init\n");
    write(
        &main,
        &format!("{m}/kernel/drivers/block/virtio_blk.ko.xz"),
        &[1; 9000],
    );
    write(
        &main,
        &format!("{m}/kernel/drivers/virtio/virtio_pci.ko"),
        &[2; 70_000],
    );
    write(
        &main,
        &format!("{m}/kernel/drivers/scsi/virtio_scsi.ko.zst"),
        &[3; 5],
    );
    write(
        &main,
        &format!("{m}/kernel/fs/ext4/ext4.ko.xz"),
        &[4; 100_000],
    );
    write(
        &main,
        &format!("{m}/modules.dep"),
        b"kernel/fs/ext4/ext4.ko.xz:\n",
    );
    std::os::unix::fs::symlink("usr/lib", main.join("lib")).expect("symlink");
    // Enough incompressible bytes to span many decoder buffers and lz4
    // blocks.
    let noise: Vec<u8> = (0..3_000_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    write(&main, "usr/lib/firmware/blob.bin", &noise);
    let list = |d: &Path, out: &Path| -> Vec<String> {
        sh(
            d,
            &format!(
                "find . | LC_ALL=C sort | cpio --quiet -o -H newc > {}",
                out.display()
            ),
        );
        let names = sh(dir, &format!("cpio --quiet -it < {}", out.display()));
        String::from_utf8(names)
            .expect("utf8")
            .lines()
            .map(str::to_string)
            .collect()
    };
    let e = list(&early, &dir.join("early.cpio"));
    let m = list(&main, &dir.join("main.cpio"));
    (e, m)
}

fn listed(path: &Path) -> Result<initramfs::Initramfs, InitramfsError> {
    let f = std::fs::File::open(path).expect("open");
    initramfs::list(f, &Limits::default())
}

#[test]
fn every_compression_the_kernel_takes_lists_like_cpio() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path();
    let (early, main) = archives(dir);
    let cases = [
        ("gzip -9 -n -c", Compression::Gzip),
        ("zstd -q -19 -c", Compression::Zstd),
        ("xz --check=crc32 -c", Compression::Xz),
        ("lzma -c", Compression::Lzma),
        ("lz4 -q -l -c", Compression::Lz4Legacy),
        ("lz4 -q -c", Compression::Lz4Frame),
    ];
    for (tool, compression) in cases {
        let img = dir.join("initrd.img");
        sh(
            dir,
            &format!(
                "{{ cat early.cpio; {tool} main.cpio; }} > {}",
                img.display()
            ),
        );
        let got = listed(&img).unwrap_or_else(|e| panic!("{tool}: {e}"));
        assert_eq!(got.segments.len(), 2, "{tool}: {:?}", got.segments);
        assert_eq!(got.segments[0].compression, Compression::None);
        assert_eq!(got.segments[1].compression, compression, "{tool}");
        let names: Vec<String> = got.entries.iter().map(|e| e.path.clone()).collect();
        let want: Vec<String> = early.iter().chain(main.iter()).cloned().collect();
        assert_eq!(names, want, "{tool}");
        assert!(
            got.has_module("virtio_blk") && got.has_module("virtio-pci"),
            "{tool}"
        );
        assert!(
            got.has_module("virtio_scsi") && got.has_module("ext4"),
            "{tool}"
        );
        assert!(
            !got.has_module("virtio_net") && !got.has_module("virtio"),
            "{tool}"
        );
        assert!(got.has_path("/init"));
        let blob = got
            .entries
            .iter()
            .find(|e| e.path.ends_with("blob.bin"))
            .expect("blob");
        assert_eq!(blob.size, 3_000_000);
    }
}

#[test]
fn concatenated_compressed_archives_and_padding() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path();
    let (early, main) = archives(dir);
    // dracut-style: early archive padded to 512 bytes; two compressed
    // members; trailing zeros.
    sh(
        dir,
        "{ cat early.cpio; head -c 300 /dev/zero; zstd -q -c early.cpio; gzip -c main.cpio; head -c 1000 /dev/zero; } > two.img",
    );
    let got = listed(&dir.join("two.img")).expect("list");
    let kinds: Vec<Compression> = got.segments.iter().map(|s| s.compression).collect();
    assert_eq!(
        kinds,
        [Compression::None, Compression::Zstd, Compression::Gzip]
    );
    assert_eq!(got.entries.len(), early.len() * 2 + main.len());
}

#[test]
fn damaged_files_are_errors_that_say_where() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path();
    archives(dir);
    sh(dir, "zstd -q -c main.cpio > main.zst; gzip -c main.cpio > main.gz; bzip2 -c main.cpio > main.bz2 || true");
    // Cut in the middle of the compressed stream.
    let zst = std::fs::read(dir.join("main.zst")).expect("read");
    std::fs::write(dir.join("cut.zst"), &zst[..zst.len() / 2]).expect("write");
    let e = listed(&dir.join("cut.zst")).expect_err("cut zstd");
    assert!(e.to_string().contains("zstd segment at offset 0"), "{e}");
    // Cut an uncompressed archive inside an entry.
    let raw = std::fs::read(dir.join("main.cpio")).expect("read");
    std::fs::write(dir.join("cut.cpio"), &raw[..raw.len() / 2]).expect("write");
    let e = listed(&dir.join("cut.cpio")).expect_err("cut cpio");
    assert!(matches!(e, InitramfsError::Truncated { .. }), "{e}");
    // Garbage after a valid archive.
    let mut g = raw.clone();
    g.extend_from_slice(b"\x01garbage");
    std::fs::write(dir.join("garbage.img"), &g).expect("write");
    let e = listed(&dir.join("garbage.img")).expect_err("garbage");
    assert!(
        e.to_string().contains(&format!("offset {}", raw.len())),
        "{e}"
    );
    // A compression we recognise but do not decode.
    if dir.join("main.bz2").exists()
        && std::fs::metadata(dir.join("main.bz2")).expect("md").len() > 0
    {
        let e = listed(&dir.join("main.bz2")).expect_err("bzip2");
        assert!(
            e.to_string()
                .contains("bzip2 segment at offset 0 is not supported"),
            "{e}"
        );
    }
    // A corrupt header inside the compressed stream.
    let mut bad = raw.clone();
    bad[0] = b'9';
    std::fs::write(dir.join("bad.cpio"), &bad).expect("write");
    sh(dir, "gzip -c bad.cpio > bad.gz");
    let e = listed(&dir.join("bad.gz")).expect_err("bad header");
    assert!(e.to_string().contains("gzip segment at offset 0"), "{e}");
    assert!(e.to_string().contains("decompressed offset 0"), "{e}");
}

#[test]
fn limits_bound_entries_and_decompressed_bytes() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path();
    archives(dir);
    sh(dir, "gzip -c main.cpio > main.gz");
    let f = std::fs::File::open(dir.join("main.gz")).expect("open");
    let e = initramfs::list(
        f,
        &Limits {
            max_decompressed: 1 << 20,
            ..Limits::default()
        },
    )
    .expect_err("byte limit");
    assert!(
        e.to_string()
            .contains("more than 1048576 decompressed bytes"),
        "{e}"
    );
    let f = std::fs::File::open(dir.join("main.cpio")).expect("open");
    let e = initramfs::list(
        f,
        &Limits {
            max_entries: 3,
            ..Limits::default()
        },
    )
    .expect_err("entry limit");
    assert!(e.to_string().contains("more than 3 entries"), "{e}");
}

#[test]
fn list_until_stops_once_satisfied() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path();
    let (early, main) = archives(dir);
    sh(dir, "{ cat early.cpio; gzip -c main.cpio; } > img");
    let f = std::fs::File::open(dir.join("img")).expect("open");
    let mut seen = 0;
    let got = initramfs::list_until(f, &Limits::default(), &mut |e| {
        seen += 1;
        e.module_name().as_deref() == Some("virtio_blk")
    })
    .expect("list");
    assert!(!got.complete);
    assert!(got.has_module("virtio_blk"));
    assert!(
        got.entries.len() < early.len() + main.len(),
        "stopped early"
    );
    let full = listed(&dir.join("img")).expect("list");
    assert!(full.complete);
    assert_eq!(full.entries.len(), early.len() + main.len());
    assert!(seen > 0 && seen <= got.entries.len());
}

/// The initramfs initramfs-tools built inside the mmdebstrap Debian 12
/// guest (a real `linux-image-cloud-amd64` install) lists exactly like
/// `gzip -dc | cpio -t`.
#[test]
fn the_debian_guests_own_initramfs_lists_like_cpio() {
    let root = guestkit_fixtures::debian::debian_tree().expect("Debian guest fixture");
    let boot = root.join("boot");
    let img = std::fs::read_dir(&boot)
        .expect("boot")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("initrd.img-"))
        })
        .expect("an initrd.img in the guest's /boot");
    let head = std::fs::read(&img).expect("read initrd");
    let tool = match head.get(..4) {
        Some([0x1f, 0x8b, ..]) => "gzip -dc",
        Some([0x28, 0xb5, 0x2f, 0xfd]) => "zstd -dc",
        Some([0xfd, b'7', b'z', b'X']) => "xz -dc",
        other => panic!("unexpected initramfs layout, starting {other:02x?}"),
    };
    let want = String::from_utf8(sh(
        &boot,
        &format!("{tool} {} | cpio --quiet -it", img.display()),
    ))
    .expect("utf8");
    let got = listed(&img).expect("list");
    assert!(got.complete);
    let names: Vec<&str> = got.entries.iter().map(|e| e.path.as_str()).collect();
    let want: Vec<&str> = want.lines().collect();
    assert_eq!(names, want);
    assert!(got.entries.len() > 100, "{} entries", got.entries.len());
    for m in ["virtio_blk", "virtio_scsi", "virtio_pci", "virtio_net"] {
        assert!(got.has_module(m), "{m}");
    }
}
