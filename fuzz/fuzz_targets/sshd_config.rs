//! Any bytes as an OpenSSH version and sshd configuration files (NUL
//! separated: version, sshd_config, two drop-ins, a relative include),
//! read with includes and resolved against the version's defaults.
#![no_main]

use libfuzzer_sys::fuzz_target;

use guestkit_inspect::security::sshd;

#[path = "shared/mem_source.rs"]
mod mem_source;

fuzz_target!(|data: &[u8]| {
    let (source, _) = mem_source::MemSource::new(
        data,
        &[
            "/version",
            "/etc/ssh/sshd_config",
            "/etc/ssh/sshd_config.d/10-a.conf",
            "/etc/ssh/sshd_config.d/20-b.conf",
            "/etc/ssh/extra",
        ],
    );
    let version = source.files.get("/version").cloned();
    let config = sshd::effective_from(&source, version.as_deref());
    for s in &config.settings {
        assert!(!s.keyword.is_empty());
    }
    for text in source.files.values() {
        let _ = sshd::parse_file(text);
        let _ = sshd::resolve_list(text, "a,b,c");
        let _ = sshd::glob::fnmatch(text, "chacha20-poly1305@openssh.com");
    }
});
