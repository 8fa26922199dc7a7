//! Security-relevant configuration of a Linux guest: the effective sshd
//! settings, sudo rules and the password policy (login.defs, pwquality,
//! PAM).

pub mod password_policy;
pub mod sshd;
pub mod sudoers;
