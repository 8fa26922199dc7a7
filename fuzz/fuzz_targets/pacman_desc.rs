//! Any bytes as a pacman `desc` file.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = guestkit_inspect::packages::pacman::package_of_desc(&text);
});
