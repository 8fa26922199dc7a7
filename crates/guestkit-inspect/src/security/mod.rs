//! Security posture of a guest: the effective sshd settings, sudo rules,
//! the password policy (login.defs, pwquality, PAM), mandatory access
//! control, firewalls, audit, and a bounded scan for setuid/setgid and
//! world-writable files.

pub mod audit;
pub mod filescan;
pub mod firewall;
pub mod mac;
pub mod password_policy;
pub mod sshd;
pub mod sudoers;
