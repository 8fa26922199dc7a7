//! Any bytes as a netplan YAML file: parsed, merged with itself (netplan's
//! merge rules), walked into interfaces.
#![no_main]

use guestkit_inspect::network::netplan;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let Ok(doc) = netplan::parse_yaml(&text) else {
        return;
    };
    let mut warnings = Vec::new();
    let files_of = |_: &str, _: &str| vec!["/etc/netplan/50.yaml".to_string()];
    let _ = netplan::interfaces(&doc, &files_of, &mut warnings);
    let mut merged = doc.clone();
    netplan::merge(&mut merged, doc, 0);
    let _ = netplan::interfaces(&merged, &files_of, &mut warnings);
});
