//! Any bytes as a wicked ifconfig XML file: the tolerant XML reader and
//! the interface walk.
#![no_main]

use guestkit_inspect::network::{wicked, xml_tree};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = wicked::parse(&text, "/etc/wicked/ifconfig/x.xml");
    let _ = xml_tree::decode(&text);
});
