//! Any bytes as an initramfs: segment detection, every decoder and the
//! cpio parser, with small limits so a decompression bomb ends quickly.
#![no_main]

use guestkit_inspect::initramfs::{self, Limits};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limits = Limits {
        max_entries: 10_000,
        max_name_len: 4096,
        max_decompressed: 16 << 20,
    };
    if let Ok(listing) = initramfs::list(data, &limits) {
        let _ = listing.has_module("virtio_blk");
        let _ = listing.has_path("/init");
    }
});
