//! Any bytes as `grub.cfg` and as `grubenv`: menu entries, submenus,
//! defaults, and resolving the default against the menu.
#![no_main]

use guestkit_inspect::kernels::grub;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (cfg, _warnings) = grub::parse(&text);
    let env = grub::parse_grubenv(&text);
    if let Some(d) = cfg.effective_default() {
        let _ = grub::resolve_default(&cfg.items, &d.value);
    }
    if let Some(saved) = env.get("saved_entry") {
        let _ = grub::resolve_default(&cfg.items, saved);
    }
    let _ = grub::resolve_default(&cfg.items, "1>0>2");
});
