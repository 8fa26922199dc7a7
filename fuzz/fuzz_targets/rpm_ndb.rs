//! Any bytes as an ndb `Packages.db` file.
#![no_main]

use guestkit_rpmdb::{read_ndb, Limits};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(list) = read_ndb(data, &Limits::default()) {
        for w in &list.warnings {
            let _ = w.to_string();
        }
    }
});
