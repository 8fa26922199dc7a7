//! Any bytes as a VMDK (stated format vmdk): sparse header, footer, embedded
//! descriptor, grain directory and tables, compressed grains; then reads
//! spread over the virtual disk, small and grain-crossing.
#![no_main]

use std::path::Path;
use std::sync::Arc;

use guestkit_disk::{open_device, ImageFormat, MemDevice, OpenOptions};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let dev = Arc::new(MemDevice::new(data.to_vec(), "fuzz.vmdk"));
    let mut options = OpenOptions::default();
    options.stated_format = Some(ImageFormat::Vmdk);
    options.limits.max_table_bytes = 1 << 20;
    options.limits.max_cache_bytes = 1 << 20;
    options.limits.max_entries = 1024;
    if let Ok(image) = open_device(dev, Path::new("/nonexistent/fuzz.vmdk"), &options) {
        let size = image.device.size();
        let mut buf = vec![0u8; 256 * 1024];
        for i in 0..16u64 {
            let off = size / 16 * i;
            let len = (size - off).min(4096) as usize;
            let _ = image.device.read_at(&mut buf[..len], off);
        }
        // One larger read that crosses grains and exercises coalescing.
        let len = size.min(buf.len() as u64) as usize;
        let _ = image.device.read_at(&mut buf[..len], 0);
    }
});
