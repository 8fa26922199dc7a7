//! Any bytes as the password policy files (NUL separated: login.defs,
//! pwquality.conf, a pwquality drop-in, common-password, system-auth),
//! parsed and summarised.
#![no_main]

use libfuzzer_sys::fuzz_target;

use guestkit_inspect::security::password_policy;

#[path = "shared/mem_source.rs"]
mod mem_source;

fuzz_target!(|data: &[u8]| {
    let (source, _) = mem_source::MemSource::new(
        data,
        &[
            password_policy::LOGIN_DEFS,
            password_policy::PWQUALITY_CONF,
            "/etc/security/pwquality.conf.d/50-site.conf",
            "/etc/pam.d/common-password",
            "/etc/pam.d/system-auth",
        ],
    );
    let p = password_policy::password_policy_from(&source);
    for l in &p.pam.lines {
        let _ = l.arg("remember");
    }
});
