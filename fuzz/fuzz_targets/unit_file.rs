//! Any bytes as a systemd unit file: sections, continuations, and the
//! settings read from it.
#![no_main]

use guestkit_inspect::services::unit_file;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (u, _warnings) = unit_file::parse(&text);
    let _ = u.single("Unit", "Description");
    let _ = u.list("Service", "ExecStart");
    let _ = u.words("Install", "WantedBy");
    let _ = u.has_install_info();
    for a in &u.assignments {
        let _ = guestkit_inspect::services::systemd::template_of(&a.value);
    }
});
