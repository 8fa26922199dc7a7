//! Any bytes as a NetworkManager keyfile profile and as NetworkManager.conf.
#![no_main]

use guestkit_inspect::network::nm;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = nm::parse_keyfile(
        &text,
        "/etc/NetworkManager/system-connections/x.nmconnection",
    );
    let mut conf = nm::NmConf::default();
    let _ = nm::apply_conf(&mut conf, &text);
});
