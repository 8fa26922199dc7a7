//! Any bytes as an NTFS volume: probe, mount, then walk the tree
//! (directories, lookups, links, file reads), bounded. Inputs starting with
//! `SPRS` are sparse images (see `shared/sparse_input.rs`); seeds are small
//! `mkntfs` volumes filled by `ntfscp`, in sparse form.
#![no_main]

use std::sync::Arc;

use guestkit_disk::MemDevice;
use guestkit_fs::{ntfs, FileSystem, FsLimits};
use libfuzzer_sys::fuzz_target;

#[path = "shared/sparse_input.rs"]
mod sparse_input;

#[path = "shared/fs_walk.rs"]
mod fs_walk;

fuzz_target!(|data: &[u8]| {
    let dev = sparse_input::device(data, "fuzz-ntfs.img");
    let size = dev.size();
    if size > 16 << 20 {
        return;
    }
    let mut img = vec![0u8; size as usize];
    if dev.read_at(&mut img, 0).is_err() {
        return;
    }
    let dev = Arc::new(MemDevice::new(img, "fuzz-ntfs.img"));
    let _ = ntfs::probe(dev.as_ref());
    let limits = FsLimits {
        max_dir_entries: 4096,
        max_cache_bytes: 1 << 20,
        ..FsLimits::default()
    };
    let Ok(fs) = ntfs::mount(dev, limits) else { return };
    let mut budget = 400;
    fs_walk::walk(&fs, fs.root(), 0, &mut budget);
});
