//! The body shared by the filesystem fuzz targets whose inputs need no
//! re-stamping: bytes (plain, or a sparse `SPRS` image) probed and mounted
//! under small limits, then the tree walked.

use std::sync::Arc;

use guestkit_disk::{BlockDevice, DeviceRef, MemDevice};
use guestkit_fs::{FileSystem, FsInfo, FsLimits};

#[path = "sparse_input.rs"]
mod sparse_input;

#[path = "fs_walk.rs"]
mod fs_walk;

/// A driver's probe.
pub type Probe = fn(&dyn BlockDevice) -> guestkit_fs::Result<Option<FsInfo>>;
/// A driver's mount, as a trait object.
pub type Mount = fn(DeviceRef, FsLimits) -> guestkit_fs::Result<Arc<dyn FileSystem>>;

/// Probes, mounts and walks `data` as one filesystem type.
pub fn run(data: &[u8], name: &str, probe: Probe, mount: Mount) {
    let dev = sparse_input::device(data, name);
    let size = dev.size();
    if size > 16 << 20 {
        return;
    }
    let mut img = vec![0u8; size as usize];
    if dev.read_at(&mut img, 0).is_err() {
        return;
    }
    let dev: DeviceRef = Arc::new(MemDevice::new(img, name));
    let _ = probe(dev.as_ref());
    let limits = FsLimits {
        max_dir_entries: 4096,
        max_cache_bytes: 1 << 20,
        ..FsLimits::default()
    };
    let Ok(fs) = mount(dev, limits) else { return };
    let mut budget = 400;
    fs_walk::walk(fs.as_ref(), fs.root(), 0, &mut budget);
}
