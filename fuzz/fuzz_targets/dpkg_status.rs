//! Any bytes as dpkg's status database.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = guestkit_inspect::packages::dpkg::parse(data);
});
