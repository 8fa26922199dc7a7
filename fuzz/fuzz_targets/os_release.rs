//! Any bytes as an os-release / lsb-release file and as every release file
//! libguestfs's order tries: shell unquoting, version parsing, the parsers.
#![no_main]

use guestkit_inspect::os::os_release::{major_minor, KeyValues};
use guestkit_inspect::os::release_files::{apply, TESTS};
use guestkit_inspect::os::{OsData, OsRelease};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let kv = KeyValues::parse(&text);
    for (_, v) in kv.iter() {
        let _ = major_minor(v);
    }
    let mut os = OsData::default();
    let _ = OsRelease::parse(&text).apply_libguestfs(&mut os);
    for (_, parser) in TESTS {
        let mut data = OsData::default();
        let _ = apply(*parser, &text, &mut data);
    }
});
