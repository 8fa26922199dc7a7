//! Any bytes as `/etc/resolv.conf`, `/etc/hosts` (with the FQDN lookup)
//! and systemd-resolved's `resolved.conf`.
#![no_main]

use guestkit_inspect::network::model::ResolvedConf;
use guestkit_inspect::network::{hosts, resolv};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = resolv::parse_resolv_conf(&text);
    let (entries, _) = hosts::parse(&text);
    if let Some(name) = entries.first().and_then(|e| e.names.last()) {
        let _ = hosts::fqdn_of(&entries, name);
    }
    let mut conf = ResolvedConf::default();
    let _ = resolv::apply_resolved(&mut conf, &text);
});
