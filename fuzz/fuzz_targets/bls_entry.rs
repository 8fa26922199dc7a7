//! Any bytes as a Boot Loader Specification entry: parsing, `$var`
//! expansion, version sorting and loader.conf glob matching.
#![no_main]

use std::collections::BTreeMap;

use guestkit_inspect::kernels::bls;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (e, _warnings) = bls::parse_entry("fuzz", &text);
    let vars = BTreeMap::from([("kernelopts".to_string(), "root=/dev/sda1 ro".to_string())]);
    if let Some(o) = &e.options {
        let _ = bls::expand(o, &vars);
    }
    // Split the input in two for the version comparison and glob.
    let mid = text.len() / 2;
    let cut = (0..=mid).rev().find(|i| text.is_char_boundary(*i)).unwrap_or(0);
    let (a, b) = text.split_at(cut);
    let _ = bls::vercmp(a, b);
    let _ = bls::glob_match(a, b);
    let mut entries = vec![e.clone(), bls::BlsEntry { id: a.to_string(), version: Some(b.to_string()), ..e }];
    bls::sort(&mut entries);
});
