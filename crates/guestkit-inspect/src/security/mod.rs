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

use std::collections::BTreeSet;

use serde::Serialize;

use crate::files::GuestFiles;
use crate::services::ServicesSection;

/// The security section of a Linux guest.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SecuritySection {
    pub sshd: sshd::SshdConfig,
    pub sudoers: sudoers::SudoersSection,
    pub password_policy: password_policy::PasswordPolicy,
    pub selinux: mac::Selinux,
    pub apparmor: mac::Apparmor,
    pub firewalls: Vec<firewall::Firewall>,
    pub auditd: audit::Auditd,
    /// The bounded whole-tree scan, when a deep scan was asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file_scan: Option<filescan::FileScan>,
}

/// What the security inspectors need from the other sections.
#[derive(Debug, Default, Clone, Copy)]
pub struct Context<'a> {
    /// Which units start at boot.
    pub services: Option<&'a ServicesSection>,
    /// Kernel command line of the default boot entry.
    pub cmdline: Option<&'a str>,
    /// Installed OpenSSH server version (package version).
    pub openssh_version: Option<&'a str>,
    /// Uids of the guest's accounts (for unowned files).
    pub known_uids: Option<&'a BTreeSet<u32>>,
    pub deep_scan: bool,
}

/// Inspects the security configuration of a Linux guest.
pub fn inspect(files: &GuestFiles, ctx: Context<'_>) -> SecuritySection {
    let enabled = |unit: &str| {
        ctx.services
            .and_then(|s| s.is_enabled(unit))
            .unwrap_or(false)
    };
    let apparmor_service = ctx.services.and_then(|s| s.is_enabled("apparmor.service"));
    SecuritySection {
        sshd: sshd::effective_sshd_config(files, ctx.openssh_version),
        sudoers: sudoers::sudoers(files),
        password_policy: password_policy::password_policy(files),
        selinux: mac::selinux(files, ctx.cmdline),
        apparmor: mac::apparmor(files, apparmor_service, ctx.cmdline),
        firewalls: firewall::firewalls(files, &enabled),
        auditd: audit::auditd(files, &enabled),
        file_scan: ctx.deep_scan.then(|| {
            let known = |uid: u32| ctx.known_uids.is_none_or(|u| u.contains(&uid));
            filescan::scan(files, filescan::ScanLimits::default(), &known)
        }),
    }
}
