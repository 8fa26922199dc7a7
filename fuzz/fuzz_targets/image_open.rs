//! Any bytes as an image file: format detection, then the detected format's
//! reader, then reads spread over the virtual disk.
#![no_main]

use std::path::Path;
use std::sync::Arc;

use guestkit_disk::{open_device, MemDevice, OpenOptions};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let dev = Arc::new(MemDevice::new(data.to_vec(), "fuzz.img"));
    let mut options = OpenOptions::default();
    options.limits.max_table_bytes = 1 << 20;
    options.limits.max_cache_bytes = 1 << 20;
    if let Ok(image) = open_device(dev, Path::new("/nonexistent/fuzz.img"), &options) {
        let size = image.device.size();
        let mut buf = vec![0u8; 4096];
        for i in 0..16u64 {
            let off = size / 16 * i;
            let len = (size - off).min(buf.len() as u64) as usize;
            let _ = image.device.read_at(&mut buf[..len], off);
        }
    }
});
