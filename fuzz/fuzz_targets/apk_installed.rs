//! Any bytes as apk's installed database.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = guestkit_inspect::packages::apk::parse(data);
});
