//! Any bytes as `/etc/passwd`, `/etc/shadow` and `/etc/group` (NUL
//! separated; the first byte says which are cut short), parsed and
//! assembled into the users section.
#![no_main]

use libfuzzer_sys::fuzz_target;

use guestkit_inspect::users::{self, parse, PasswordState};

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(rest);
    let mut parts = text.split('\0');
    let passwd = parse::parse_passwd(parts.next().unwrap_or(""), flags & 1 != 0);
    let shadow = parts
        .next()
        .map(|t| parse::parse_shadow(t, flags & 2 != 0));
    let group = parse::parse_group(parts.next().unwrap_or(""), flags & 4 != 0);
    let section = users::assemble(&passwd, shadow.as_ref(), &group);
    assert_eq!(section.users.len(), passwd.entries.len());
    for u in &section.users {
        let _ = u.password.allows_password_login();
    }
    for field in parts {
        let _ = PasswordState::of_field(field);
    }
});
