//! The body shared by the per-format fuzz targets: bytes (plain, or a sparse
//! `SPRS` image) opened as the stated format under small limits, then reads
//! spread over the virtual disk (block boundaries, the end, unaligned runs).

use std::path::Path;

use guestkit_disk::{open_device, ImageFormat, OpenOptions};

#[path = "sparse_input.rs"]
mod sparse_input;

/// Opens `data` as `format` and reads it all over.
pub fn run(data: &[u8], format: ImageFormat) {
    let name = format!("fuzz.{format}");
    let dev = sparse_input::device(data, &name);
    let mut options = OpenOptions::default();
    options.stated_format = Some(format);
    options.limits.max_table_bytes = 1 << 20;
    options.limits.max_cache_bytes = 1 << 16;
    options.limits.max_virtual_size = 1 << 40;
    options.limits.max_entries = 1024;
    let path = Path::new("/nonexistent").join(&name);
    if let Ok(image) = open_device(dev, &path, &options) {
        let size = image.device.size();
        let mut buf = vec![0u8; 70_000];
        for i in 0..24u64 {
            let off = (size / 24).saturating_mul(i).saturating_add(i * 511) % size.max(1);
            let len = (size - off.min(size)).min(buf.len() as u64 >> (i % 4)) as usize;
            let _ = image.device.read_at(&mut buf[..len], off);
        }
        if size > 0 {
            let _ = image.device.read_at(&mut buf[..1], size - 1);
        }
        let _ = image.device.read_at(&mut buf[..2], size.saturating_sub(1));
        // One larger read that crosses clusters / grains / blocks (coalescing).
        let mut big = vec![0u8; size.min(256 * 1024) as usize];
        let _ = image.device.read_at(&mut big, 0);
    }
}
