//! Any bytes as an rpm header blob.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(pkg) = guestkit_rpmdb::parse_header(data) {
        let _ = pkg.evr();
    }
});
