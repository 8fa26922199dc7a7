//! The Linux audit daemon: installed, enabled, and its rules.

use serde::Serialize;

use crate::files::GuestFiles;

const SECTION: &str = "security";

/// auditd as configured.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Auditd {
    pub installed: bool,
    pub enabled: bool,
    /// Rule files read (`audit.rules`, `rules.d/*.rules`).
    pub rule_files: Vec<String>,
    /// Watch (`-w`) and syscall (`-a`) rules.
    pub rules: usize,
    /// `-e 2`: the rules are locked until reboot.
    pub immutable: bool,
}

/// auditd of the guest; `enabled(unit)` tells whether a unit is enabled.
pub fn auditd(files: &GuestFiles, enabled: &dyn Fn(&str) -> bool) -> Auditd {
    let installed = ["/sbin/auditd", "/usr/sbin/auditd"]
        .iter()
        .any(|p| files.is_file(p));
    let mut out = Auditd {
        installed,
        enabled: installed && enabled("auditd.service"),
        ..Auditd::default()
    };
    let mut paths: Vec<String> = files
        .list_dir(SECTION, "/etc/audit/rules.d")
        .into_iter()
        .filter(|n| n.ends_with(".rules"))
        .map(|n| format!("/etc/audit/rules.d/{n}"))
        .collect();
    if paths.is_empty() {
        paths.push("/etc/audit/audit.rules".into());
    }
    for path in paths {
        let Some(text) = files.read_text(SECTION, &path) else {
            continue;
        };
        for line in text.lines().map(str::trim) {
            if line.starts_with("-w ") || line.starts_with("-a ") {
                out.rules += 1;
            } else if line.starts_with("-e 2") {
                out.immutable = true;
            }
        }
        out.rule_files.push(path);
    }
    out
}
