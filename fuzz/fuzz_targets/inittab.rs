//! Any bytes as `/etc/inittab`, and its lines as rc link names.
#![no_main]

use guestkit_inspect::services::sysv;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (_tab, _warnings) = sysv::parse_inittab(&text);
    for line in text.lines().take(1000) {
        let _ = sysv::parse_rc_name(line);
    }
});
