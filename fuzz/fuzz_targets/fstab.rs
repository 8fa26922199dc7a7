//! Any bytes as `/etc/fstab`: entries, device specs, options.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (entries, _warnings) = guestkit_fs::fstab::parse(&text);
    for e in &entries {
        let _ = e.option("subvol");
    }
});
