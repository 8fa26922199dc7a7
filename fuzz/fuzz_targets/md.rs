//! Any bytes as an md member: every superblock location, then assembly.
#![no_main]

use std::sync::Arc;

use guestkit_disk::volume::md;
use guestkit_disk::{DeviceRef, MemDevice};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let dev: DeviceRef = Arc::new(MemDevice::new(data.to_vec(), "fuzz-member"));
    if let Ok(Some(member)) = md::probe(dev.as_ref()) {
        if let Ok(array) = md::assemble(&[(member, dev)]) {
            let mut buf = [0u8; 512];
            let size = array.size();
            for at in [0, size / 2, size.saturating_sub(512)] {
                let len = (size - at).min(512) as usize;
                let _ = array.read_at(&mut buf[..len], at);
            }
        }
    }
});
