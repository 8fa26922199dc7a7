//! Any bytes as a VM's disk: the whole volume scan (partition tables, md,
//! LVM, LUKS, swap, nested volumes), then a read of every volume found.
#![no_main]

use std::sync::Arc;

use guestkit_disk::volume::scan::scan;
use guestkit_disk::{DeviceRef, Limits, MemDevice};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let dev: DeviceRef = Arc::new(MemDevice::new(data.to_vec(), "fuzz-vm-disk"));
    let limits = Limits {
        max_table_bytes: 1 << 20,
        max_entries: 4096,
        max_volume_depth: 4,
        ..Limits::default()
    };
    let tree = scan(&[dev], &limits);
    let mut buf = [0u8; 512];
    for v in tree.volumes() {
        let len = v.device.size().min(512) as usize;
        let _ = v.device.read_at(&mut buf[..len], 0);
    }
});
