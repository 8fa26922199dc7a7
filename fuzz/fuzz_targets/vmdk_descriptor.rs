//! Any bytes as a VMDK text descriptor, through the parser alone.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[allow(dead_code)]
#[path = "../../crates/guestkit-disk/src/format/vmdk/descriptor.rs"]
mod descriptor;

fuzz_target!(|data: &[u8]| {
    if let Ok(d) = descriptor::parse(data, 1024) {
        assert!(d.extents.len() <= 1024);
        let _ = d.total_sectors();
    }
});
