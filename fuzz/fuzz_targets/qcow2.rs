//! Any bytes as a qcow2 image: header and extensions, L1/L2 walk, snapshot
//! table, compressed and subcluster decoding, under small limits.
#![no_main]

use std::path::Path;
use std::sync::Arc;

use guestkit_disk::{open_device, ImageFormat, MemDevice, OpenOptions};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let dev = Arc::new(MemDevice::new(data.to_vec(), "fuzz.qcow2"));
    let mut options = OpenOptions::default();
    options.stated_format = Some(ImageFormat::Qcow2);
    options.limits.max_virtual_size = 1 << 40;
    options.limits.max_table_bytes = 1 << 20;
    options.limits.max_cache_bytes = 1 << 20;
    options.limits.max_entries = 1024;
    if let Ok(image) = open_device(dev, Path::new("/nonexistent/fuzz.qcow2"), &options) {
        let size = image.device.size();
        let mut buf = vec![0u8; 70_000];
        for i in 0..16u64 {
            let off = size / 16 * i + (i * 4099) % 512;
            if off >= size {
                continue;
            }
            let len = (size - off).min([512u64, 4096, 70_000][(i % 3) as usize]) as usize;
            let _ = image.device.read_at(&mut buf[..len], off);
        }
    }
});
