//! Any bytes as a disk: the GPT reader (primary, backup) and the MBR reader
//! (primaries and the EBR chain).
#![no_main]

use guestkit_disk::volume::{gpt, mbr};
use guestkit_disk::{Limits, MemDevice};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let dev = MemDevice::new(data.to_vec(), "fuzz-disk");
    let limits = Limits {
        max_table_bytes: 1 << 20,
        max_entries: 4096,
        ..Limits::default()
    };
    let _ = gpt::parse(&dev, &limits);
    let _ = mbr::parse(&dev, &limits);
});
