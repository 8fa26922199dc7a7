//! Helpers shared by the disk layer's integration tests: build images with the
//! real tools and compare what guestkit reads with what qemu-img exports.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use guestkit_disk::{open_image, BlockDevice, OpenOptions, OpenedImage};
use rand::{Rng, SeedableRng};

/// Runs a tool and panics with its stderr when it fails.
pub fn run(program: &str, args: &[&str]) -> String {
    let out = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `qemu-img ARGS...`.
pub fn qemu_img(args: &[&str]) -> String {
    run("qemu-img", args)
}

/// Path as &str.
pub fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Writes a sparse raw disk of `size` bytes with a mix of content: random
/// (incompressible) runs, repetitive text, isolated bytes, and holes, laid out
/// so that every cluster size from 512 B to 2 MiB sees allocated, partial and
/// empty clusters.
pub fn pattern_raw(path: &Path, size: u64) {
    use std::io::{Seek, SeekFrom, Write};
    let mut f = std::fs::File::create(path).unwrap();
    f.set_len(size).unwrap();
    let mut rng = rand::rngs::StdRng::seed_from_u64(size ^ 0x9e37_79b9);
    let mut off = 0u64;
    let mut i = 0u64;
    while off < size {
        let len = [4096u64, 65536 + 512, 300_000, 1 << 20, 3 << 20][(i % 5) as usize];
        let len = len.min(size - off);
        match i % 4 {
            0 => {
                let mut buf = vec![0u8; len as usize];
                rng.fill(&mut buf[..]);
                f.seek(SeekFrom::Start(off)).unwrap();
                f.write_all(&buf).unwrap();
            }
            1 => {
                let line = format!("guestkit block {i} at {off}\n");
                let buf: Vec<u8> = line.bytes().cycle().take(len as usize).collect();
                f.seek(SeekFrom::Start(off)).unwrap();
                f.write_all(&buf).unwrap();
            }
            2 => {
                // mostly a hole with a few scattered bytes
                for k in 0..8u64 {
                    let at = off + (len / 8) * k + 7;
                    if at < size {
                        f.seek(SeekFrom::Start(at)).unwrap();
                        f.write_all(&[0xa5, k as u8]).unwrap();
                    }
                }
            }
            _ => {} // hole
        }
        off += len + 12_345;
        i += 1;
    }
}

/// Exports `image` with `qemu-img convert -O raw` into `dir` and returns the
/// path. The source format is the one guestkit detects, stated to qemu-img:
/// qemu-img probes a fixed VHD as raw and would export its footer as data.
pub fn qemu_raw_export(image: &Path, dir: &Path) -> PathBuf {
    let out = dir.join(format!(
        "{}.qemu-export.raw",
        image.file_name().unwrap().to_string_lossy()
    ));
    let format = qemu_format_name(open(image).info.format);
    qemu_img(&["convert", "-f", format, "-O", "raw", s(image), s(&out)]);
    out
}

/// qemu's name of a format.
pub fn qemu_format_name(format: guestkit_disk::ImageFormat) -> &'static str {
    match format {
        guestkit_disk::ImageFormat::Vhd => "vpc",
        other => other.name(),
    }
}

/// Opens an image with default options.
pub fn open(path: &Path) -> OpenedImage {
    open_image(path, &OpenOptions::default())
        .unwrap_or_else(|e| panic!("open {}: {e}", path.display()))
}

/// Asserts that the virtual disk read through `dev` equals `reference`
/// byte for byte, and so do 1000 random unaligned reads.
pub fn assert_device_equals(dev: &dyn BlockDevice, reference: &[u8], what: &str) {
    assert_eq!(dev.size(), reference.len() as u64, "{what}: virtual size");
    let mut buf = vec![0u8; 1 << 20];
    let mut off = 0u64;
    while off < dev.size() {
        let n = ((dev.size() - off) as usize).min(buf.len());
        dev.read_at(&mut buf[..n], off)
            .unwrap_or_else(|e| panic!("{what}: read at {off}: {e}"));
        let r = &reference[off as usize..off as usize + n];
        if &buf[..n] != r {
            let first = buf[..n].iter().zip(r).position(|(a, b)| a != b).unwrap();
            panic!("{what}: first difference at byte {}", off + first as u64);
        }
        off += n as u64;
    }
    let mut rng = rand::rngs::StdRng::seed_from_u64(42);
    let size = dev.size();
    for _ in 0..1000 {
        let len = rng.random_range(1..=(200_000u64.min(size))) as usize;
        let at = rng.random_range(0..=size - len as u64);
        let mut b = vec![0u8; len];
        dev.read_at(&mut b, at)
            .unwrap_or_else(|e| panic!("{what}: random read {len} at {at}: {e}"));
        assert!(
            b[..] == reference[at as usize..at as usize + len],
            "{what}: random read of {len} bytes at {at} differs"
        );
    }
}

/// Opens `image` with guestkit and checks it against qemu-img's raw export.
pub fn assert_same_as_qemu(image: &Path) {
    let dir = tempfile::tempdir().unwrap();
    let reference = std::fs::read(qemu_raw_export(image, dir.path())).unwrap();
    let opened = open(image);
    assert_device_equals(
        opened.device.as_ref(),
        &reference,
        &image.display().to_string(),
    );
}
