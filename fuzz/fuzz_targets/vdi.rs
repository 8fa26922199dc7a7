//! Any bytes as a vdi image: the vdi reader under small limits, then reads
//! spread over the virtual disk (block boundaries, the end, unaligned runs).
//! Inputs starting with `SPRS` are sparse images (see `sparse_input.rs`).
#![no_main]

use std::path::Path;

use guestkit_disk::{open_device, ImageFormat, OpenOptions};
use libfuzzer_sys::fuzz_target;

#[path = "shared/sparse_input.rs"]
mod sparse_input;

fuzz_target!(|data: &[u8]| {
    let dev = sparse_input::device(data, "fuzz.vdi");
    let mut options = OpenOptions::default();
    options.stated_format = Some(ImageFormat::Vdi);
    options.limits.max_table_bytes = 1 << 20;
    options.limits.max_cache_bytes = 1 << 16;
    options.limits.max_virtual_size = 1 << 40;
    if let Ok(image) = open_device(dev, Path::new("/nonexistent/fuzz.vdi"), &options) {
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
    }
});
