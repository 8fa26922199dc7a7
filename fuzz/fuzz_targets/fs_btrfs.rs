//! Any bytes as a Btrfs filesystem: mount (default subvolume), list the
//! subvolumes, then walk the tree with bounded depth and entries, looking
//! names up through the hash index, reading links and some file bytes.
//!
//! Inputs starting with `SPRS` are sparse images (see `sparse_input.rs`);
//! seeds are real `mkfs.btrfs` images. So that mutations get past the
//! metadata checksums, the target re-stamps the CRC-32C of the superblock and
//! of every block that looks like a tree node before mounting (the checksum
//! checks themselves are covered by the unit tests).
#![no_main]

use std::sync::Arc;

use guestkit_disk::MemDevice;
use guestkit_fs::btrfs;
use guestkit_fs::{FileSystem, FsLimits};
use libfuzzer_sys::fuzz_target;

#[path = "shared/sparse_input.rs"]
mod sparse_input;

#[path = "shared/fs_walk.rs"]
mod fs_walk;
use fs_walk::walk;

fn crc32c(data: &[u8]) -> u32 {
    static TABLE: std::sync::OnceLock<[u32; 256]> = std::sync::OnceLock::new();
    let table = TABLE.get_or_init(|| {
        let mut t = [0u32; 256];
        for (i, e) in t.iter_mut().enumerate() {
            let mut c = i as u32;
            for _ in 0..8 {
                c = if c & 1 != 0 { (c >> 1) ^ 0x82F6_3B78 } else { c >> 1 };
            }
            *e = c;
        }
        t
    });
    !data
        .iter()
        .fold(!0u32, |c, &b| table[((c ^ u32::from(b)) & 0xff) as usize] ^ (c >> 8))
}

fn restamp(img: &mut [u8]) {
    let Some(sb) = img.get(0x10000..0x11000) else { return };
    let fsid: [u8; 16] = sb[0x20..0x30].try_into().unwrap();
    let nodesize = u32::from_le_bytes(sb[0x94..0x98].try_into().unwrap()) as usize;
    if !(4096..=65536).contains(&nodesize) || !nodesize.is_power_of_two() {
        return;
    }
    let c = crc32c(&img[0x10020..0x11000]);
    img[0x10000..0x10004].copy_from_slice(&c.to_le_bytes());
    let mut at = 0x11000;
    while at + nodesize <= img.len() {
        if img[at + 0x20..at + 0x30] == fsid {
            let c = crc32c(&img[at + 0x20..at + nodesize]);
            img[at..at + 4].copy_from_slice(&c.to_le_bytes());
        }
        at += 4096;
    }
}

fuzz_target!(|data: &[u8]| {
    let dev = sparse_input::device(data, "fuzz-btrfs.img");
    let size = dev.size();
    if size > 16 << 20 {
        return;
    }
    let mut img = vec![0u8; size as usize];
    if dev.read_at(&mut img, 0).is_err() {
        return;
    }
    restamp(&mut img);
    let dev = Arc::new(MemDevice::new(img, "fuzz-btrfs.img"));
    let _ = btrfs::probe(dev.as_ref());
    let limits = FsLimits {
        max_dir_entries: 4096,
        max_cache_bytes: 1 << 20,
        max_tree_depth: 8,
        ..FsLimits::default()
    };
    let Ok(fs) = btrfs::mount(dev, limits) else { return };
    let _ = fs.subvolumes();
    let mut budget = 400;
    walk(&fs, fs.root(), 0, &mut budget);
});
