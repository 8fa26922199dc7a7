//! Any bytes as `/etc/network/interfaces`: stanzas, continuation lines,
//! allow lines, options into interfaces; the first two lines also as a
//! `source` glob pattern and a file name.
#![no_main]

use guestkit_inspect::network::{glob, ifupdown};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let parsed = ifupdown::parse(&text);
    let items: Vec<(String, ifupdown::Item)> = parsed
        .items
        .into_iter()
        .map(|i| ("/etc/network/interfaces".to_string(), i))
        .collect();
    let mut warnings = Vec::new();
    let _ = ifupdown::assemble(&items, &mut warnings);
    let mut lines = text.lines();
    if let (Some(p), Some(n)) = (lines.next(), lines.next()) {
        let _ = glob::matches(p, n);
    }
});
