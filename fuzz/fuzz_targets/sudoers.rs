//! Any bytes as `/etc/sudoers` and files it may include (NUL separated:
//! sudoers, two files of /etc/sudoers.d, one relative include), read with
//! includes, aliases expanded and grants flagged.
#![no_main]

use libfuzzer_sys::fuzz_target;

use guestkit_inspect::security::sudoers;

#[path = "shared/mem_source.rs"]
mod mem_source;

fuzz_target!(|data: &[u8]| {
    let (source, rest) = mem_source::MemSource::new(
        data,
        &[
            "/etc/sudoers",
            "/etc/sudoers.d/10-ops",
            "/etc/sudoers.d/90-admins",
            "/etc/sudoers.local",
        ],
    );
    let s = sudoers::sudoers_from(&source);
    assert!(s.nopasswd_all.len() <= s.rules.len());
    for text in rest {
        let _ = sudoers::parse_text(&text);
    }
});
