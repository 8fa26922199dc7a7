//! Any bytes as a Red Hat and a SUSE `ifcfg-*` file, a SUSE routes file
//! and a Red Hat `route-*` file.
#![no_main]

use guestkit_inspect::network::ifcfg::{self, Flavour};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = ifcfg::parse_ifcfg(
        &text,
        "/etc/sysconfig/network-scripts/ifcfg-eth0",
        Flavour::RedHat,
    );
    let _ = ifcfg::parse_ifcfg(&text, "/etc/sysconfig/network/ifcfg-eth0.5", Flavour::Suse);
    let _ = ifcfg::parse_suse_routes(&text);
    let _ = ifcfg::parse_rhel_routes(&text);
});
