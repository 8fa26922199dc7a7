//! Any bytes as a sysctl.d file: the parser and key lookups over it.
#![no_main]

use guestkit_profile::checks::kernel_params;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let assignments = kernel_params::parse(&text, "/etc/sysctl.d/fuzz.conf");
    for a in assignments.iter().take(64) {
        let _ = format!("{a:?}");
    }
});
