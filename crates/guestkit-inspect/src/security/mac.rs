//! Mandatory access control: SELinux (mode and policy from
//! `/etc/selinux/config`, overridden by the kernel command line) and
//! AppArmor (installed, enabled, profiles and their modes).

use serde::Serialize;

use crate::files::GuestFiles;
use crate::os::os_release::KeyValues;

const SECTION: &str = "security";

/// Most AppArmor profile files read.
const MAX_PROFILES: usize = 2000;

/// SELinux as configured.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Selinux {
    /// `/etc/selinux/config` exists.
    pub configured: bool,
    /// `enforcing`, `permissive` or `disabled`, after the kernel command
    /// line (`selinux=0`, `enforcing=0`).
    pub mode: Option<String>,
    /// `SELINUX=` as the file says it.
    pub config_mode: Option<String>,
    /// `SELINUXTYPE=` (`targeted`, `mls` …).
    pub policy: Option<String>,
    /// A compiled policy of that type is present.
    pub policy_installed: bool,
}

/// AppArmor as configured.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Apparmor {
    /// `apparmor_parser` present.
    pub installed: bool,
    /// Installed, its service enabled (where known), and not turned off on
    /// the kernel command line (`apparmor=0`).
    pub enabled: bool,
    /// Profile files in `/etc/apparmor.d`.
    pub profiles: usize,
    /// Profiles in complain mode (`flags=(complain)`).
    pub complain: Vec<String>,
}

fn cmdline_value<'a>(cmdline: Option<&'a str>, key: &str) -> Option<&'a str> {
    cmdline?
        .split_whitespace()
        .filter_map(|w| w.strip_prefix(key)?.strip_prefix('='))
        .next_back()
}

/// SELinux from the guest's files and the default kernel command line.
pub fn selinux(files: &GuestFiles, cmdline: Option<&str>) -> Selinux {
    let Some(text) = files.read_text(SECTION, "/etc/selinux/config") else {
        return Selinux::default();
    };
    let kv = KeyValues::parse(&text);
    let config_mode = kv.get("SELINUX").map(str::to_ascii_lowercase);
    let policy = kv.get("SELINUXTYPE").map(str::to_string);
    let policy_installed = policy.as_deref().is_some_and(|p| {
        !files
            .list_dir(SECTION, &format!("/etc/selinux/{p}/policy"))
            .is_empty()
    });
    let mode = if cmdline_value(cmdline, "selinux") == Some("0") {
        Some("disabled".to_string())
    } else if cmdline_value(cmdline, "enforcing") == Some("0")
        && config_mode.as_deref() == Some("enforcing")
    {
        Some("permissive".to_string())
    } else {
        config_mode.clone()
    };
    Selinux {
        configured: true,
        mode,
        config_mode,
        policy,
        policy_installed,
    }
}

/// AppArmor; `service_enabled` is what the services section says of
/// `apparmor.service` (`None` where the init system has no such notion).
pub fn apparmor(
    files: &GuestFiles,
    service_enabled: Option<bool>,
    cmdline: Option<&str>,
) -> Apparmor {
    let installed = ["/sbin/apparmor_parser", "/usr/sbin/apparmor_parser"]
        .iter()
        .any(|p| files.is_file(p));
    let mut out = Apparmor {
        installed,
        enabled: installed
            && service_enabled != Some(false)
            && cmdline_value(cmdline, "apparmor") != Some("0"),
        ..Apparmor::default()
    };
    for name in files
        .list_dir(SECTION, "/etc/apparmor.d")
        .into_iter()
        .take(MAX_PROFILES)
    {
        let path = format!("/etc/apparmor.d/{name}");
        if !files.is_file(&path) {
            continue;
        }
        out.profiles += 1;
        if let Some(text) = files.read_text(SECTION, &path) {
            let complain = text.lines().any(|l| {
                let l = l.split('#').next().unwrap_or("");
                l.contains("flags=") && l.contains("complain")
            });
            if complain {
                out.complain.push(path);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_command_line() {
        let c = Some("BOOT_IMAGE=/vmlinuz ro selinux=1 enforcing=0 quiet");
        assert_eq!(cmdline_value(c, "enforcing"), Some("0"));
        assert_eq!(cmdline_value(c, "selinux"), Some("1"));
        assert_eq!(cmdline_value(c, "apparmor"), None);
        assert_eq!(cmdline_value(None, "apparmor"), None);
    }
}
