//! Any bytes as a Berkeley DB hash `Packages` file.
#![no_main]

use guestkit_rpmdb::{read_bdb, Limits};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(list) = read_bdb(data, &Limits::default()) {
        for w in &list.warnings {
            let _ = w.to_string();
        }
    }
});
