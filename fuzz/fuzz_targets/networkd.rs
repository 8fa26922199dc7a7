//! Any bytes as a systemd-networkd `.network` and `.netdev` file (the
//! systemd INI dialect with continuation lines).
#![no_main]

use guestkit_inspect::network::networkd;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = networkd::parse_network(&text, "/etc/systemd/network/10-x.network");
    let _ = networkd::parse_netdev(&text);
});
