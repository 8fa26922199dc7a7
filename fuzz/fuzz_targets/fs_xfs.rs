//! Any bytes as an XFS filesystem: probe, mount, then walk the tree
//! (directories, lookups, links, file reads), bounded. XFS needs at least
//! 300 MB, so seeds are real `mkfs.xfs` images in the sparse `SPRS` form (see
//! `shared/sparse_input.rs`). So that mutations get past it, the target
//! re-stamps the v5 superblock CRC before mounting (the check itself is
//! covered by the driver's tests).
#![no_main]

use std::sync::Arc;

use guestkit_disk::{BlockDevice, DeviceRef, Result as DiskResult};
use guestkit_fs::{xfs, FileSystem, FsLimits};
use libfuzzer_sys::fuzz_target;

#[path = "shared/sparse_input.rs"]
mod sparse_input;

#[path = "shared/fs_walk.rs"]
mod fs_walk;

/// The input device with its first sector replaced.
#[derive(Debug)]
struct Restamped {
    inner: DeviceRef,
    head: Vec<u8>,
}

impl BlockDevice for Restamped {
    fn size(&self) -> u64 {
        self.inner.size()
    }

    fn read_at(&self, buf: &mut [u8], offset: u64) -> DiskResult<()> {
        self.inner.read_at(buf, offset)?;
        for (i, b) in buf.iter_mut().enumerate() {
            if let Some(&h) = usize::try_from(offset + i as u64).ok().and_then(|at| self.head.get(at)) {
                *b = h;
            }
        }
        Ok(())
    }

    fn describe(&self) -> String {
        self.inner.describe()
    }
}

fuzz_target!(|data: &[u8]| {
    let dev = sparse_input::device(data, "fuzz-xfs.img");
    let mut head = vec![0u8; dev.size().min(512) as usize];
    if dev.read_at(&mut head, 0).is_err() {
        return;
    }
    if head.len() == 512 && head.get(100).is_some_and(|v| v & 0xf == 5) {
        head[224..228].fill(0);
        let crc = crc32c::crc32c(&head);
        head[224..228].copy_from_slice(&crc.to_le_bytes());
    }
    let dev: DeviceRef = Arc::new(Restamped { inner: dev, head });
    let _ = xfs::probe(dev.as_ref());
    let limits = FsLimits {
        max_dir_entries: 4096,
        max_cache_bytes: 1 << 20,
        ..FsLimits::default()
    };
    let Ok(fs) = xfs::mount(dev, limits) else { return };
    let mut budget = 400;
    fs_walk::walk(&fs, fs.root(), 0, &mut budget);
});
