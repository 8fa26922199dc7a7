//! Services of the guest: which init system boots it, and what that init
//! system is configured to start — systemd units, System V rc links,
//! OpenRC runlevels, or (for Windows) the SYSTEM hive's service keys.
//! Everything is read from configuration files and links, never by
//! running the guest's tools.

pub mod openrc;
pub mod systemd;
pub mod sysv;
pub mod unit_file;
pub mod windows;

pub use openrc::OpenRcServices;
pub use systemd::SystemdServices;
pub use sysv::SysvServices;
pub use windows::{windows_services, WindowsService};

use crate::files::GuestFiles;

pub(crate) const SECTION: &str = "services";

/// The init system that boots the guest, and why we think so.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct InitSystem {
    /// `systemd`, `openrc`, `sysvinit`, `windows` or `unknown`.
    pub name: String,
    /// The files that decided it (`/sbin/init -> /lib/systemd/systemd`).
    pub evidence: Vec<String>,
}

/// The services section of the report. Every init configuration found is
/// reported (a systemd guest often keeps System V rc links for
/// compatibility); `init` says which one runs.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ServicesSection {
    pub init: InitSystem,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub systemd: Option<SystemdServices>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sysv: Option<SysvServices>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub openrc: Option<OpenRcServices>,
    /// Windows services and drivers (filled from the SYSTEM hive by
    /// [`windows_services`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub windows: Option<Vec<WindowsService>>,
}

impl ServicesSection {
    /// Whether the init system that boots the guest starts `unit` (a
    /// systemd unit name such as `sshd.service`; for System V and OpenRC
    /// the name without `.service`) in its default boot: `None` when the
    /// init system is unknown.
    pub fn is_enabled(&self, unit: &str) -> Option<bool> {
        let script = unit.strip_suffix(".service").unwrap_or(unit);
        match self.init.name.as_str() {
            "systemd" => Some(self.systemd.as_ref()?.enabled_units().contains(unit)),
            "sysvinit" => {
                let sysv = self.sysv.as_ref()?;
                let level = sysv.default_runlevel.as_deref().unwrap_or("2");
                Some(
                    sysv.started_in(level).contains(&script)
                        || sysv.started_in("S").contains(&script),
                )
            }
            "openrc" => {
                let rc = self.openrc.as_ref()?;
                Some(
                    ["boot", "default", "sysinit"]
                        .iter()
                        .any(|l| rc.in_runlevel(l).contains(&script)),
                )
            }
            "windows" => self.windows.as_ref().map(|services| {
                services.iter().any(|s| {
                    s.name.eq_ignore_ascii_case(script)
                        && s.start_mode.as_deref().is_some_and(|m| {
                            m.starts_with("automatic") || m == "boot" || m == "system"
                        })
                })
            }),
            _ => None,
        }
    }
}

/// The services of a Linux (or other Unix) guest.
pub fn inspect(files: &GuestFiles) -> ServicesSection {
    ServicesSection {
        init: detect_init(files),
        systemd: systemd::inspect(files),
        sysv: sysv::inspect(files),
        openrc: openrc::inspect(files),
        windows: None,
    }
}

/// The services section of a Windows guest from its SYSTEM hive.
pub fn windows_section(
    hive: &guestkit_regf::Hive<'_>,
    control_set: &str,
) -> (ServicesSection, Vec<String>) {
    let (services, warnings) = windows_services(hive, control_set);
    let section = ServicesSection {
        init: InitSystem {
            name: "windows".into(),
            evidence: vec![format!("SYSTEM hive {control_set}\\Services")],
        },
        windows: Some(services),
        ..ServicesSection::default()
    };
    (section, warnings)
}

fn link_target(files: &GuestFiles, path: &str) -> Option<String> {
    files.link_target(path)
}

/// A runlevel entry (System V rc link, OpenRC runlevel link): its link
/// target, and whether the script it names is there — a warning naming
/// the entry when it is not.
pub(crate) fn runlevel_entry(files: &GuestFiles, path: &str, kind: &str) -> (Option<String>, bool) {
    let target = files.link_target(path);
    let present = files.is_file(path);
    if !present {
        files.warn(
            SECTION,
            path,
            format!(
                "{kind} to {}, which is not a file",
                target.as_deref().unwrap_or("?")
            ),
        );
    }
    (target, present)
}

fn exists(files: &GuestFiles, path: &str) -> bool {
    files.tree().metadata(path.as_bytes()).is_ok()
}

/// Which init system `/sbin/init` is: a link to systemd (or
/// `/lib/systemd/systemd` with no `/sbin/init` at all) is systemd;
/// `/sbin/openrc` (or `openrc-init`) is OpenRC; an `/etc/inittab` or a
/// plain `/sbin/init` is System V init.
pub fn detect_init(files: &GuestFiles) -> InitSystem {
    let mut evidence = Vec::new();
    let mut init_link = None;
    let mut init_present = false;
    for init in ["/sbin/init", "/usr/sbin/init"] {
        if let Some(target) = link_target(files, init) {
            evidence.push(format!("{init} -> {target}"));
            init_link = Some(target);
            init_present = true;
            break;
        }
        if files.is_file(init) {
            evidence.push(format!("{init} is a file"));
            init_present = true;
            break;
        }
    }
    let name = |n: &str| n.rsplit('/').next().unwrap_or(n).to_string();
    let decided = match init_link.as_deref().map(name).as_deref() {
        Some("systemd") => Some("systemd"),
        Some("openrc-init") => Some("openrc"),
        _ => None,
    };
    let decided = decided.or_else(|| {
        for openrc in ["/sbin/openrc", "/usr/sbin/openrc", "/sbin/openrc-init"] {
            if exists(files, openrc) {
                evidence.push(format!("{openrc} exists"));
                return Some("openrc");
            }
        }
        if !init_present {
            for systemd in ["/lib/systemd/systemd", "/usr/lib/systemd/systemd"] {
                if exists(files, systemd) {
                    evidence.push(format!("no /sbin/init, {systemd} exists"));
                    return Some("systemd");
                }
            }
        }
        if files.is_file("/etc/inittab") {
            evidence.push("/etc/inittab exists".into());
            return Some("sysvinit");
        }
        init_present.then_some("sysvinit")
    });
    InitSystem {
        name: decided.unwrap_or("unknown").to_string(),
        evidence,
    }
}
