//! OpenRC: `/etc/runlevels/<level>/<service>` links (to
//! `/etc/init.d/<service>`) say which services start in which runlevel;
//! `default` is the runlevel booted into unless the kernel command line
//! says `softlevel=`.

use super::SECTION;
use crate::files::GuestFiles;

/// The runlevel OpenRC enters after `boot`.
pub const DEFAULT_RUNLEVEL: &str = "default";

/// Most runlevels and most services per runlevel read.
const MAX_DIR_ENTRIES: usize = 10_000;

/// A service added to a runlevel.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct RunlevelService {
    /// `sysinit`, `boot`, `default`, `shutdown`, `nonetwork`, or a
    /// stacked/custom runlevel.
    pub runlevel: String,
    pub service: String,
    pub path: String,
    /// What the link says (`/etc/init.d/sshd`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// Whether the init script exists.
    pub script_present: bool,
}

/// OpenRC's view of the guest.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct OpenRcServices {
    /// Always `default` (the kernel command line may override it).
    pub default_runlevel: String,
    /// The runlevel directories present.
    pub runlevels: Vec<String>,
    pub services: Vec<RunlevelService>,
    /// Names in `/etc/init.d`.
    pub scripts: Vec<String>,
}

impl OpenRcServices {
    /// Services of `runlevel`, sorted.
    pub fn in_runlevel(&self, runlevel: &str) -> Vec<&str> {
        self.services
            .iter()
            .filter(|s| s.runlevel == runlevel)
            .map(|s| s.service.as_str())
            .collect()
    }
}

/// Reads `/etc/runlevels`; `None` when absent.
pub fn inspect(files: &GuestFiles) -> Option<OpenRcServices> {
    if !files.is_dir("/etc/runlevels") {
        return None;
    }
    let mut out = OpenRcServices {
        default_runlevel: DEFAULT_RUNLEVEL.to_string(),
        ..OpenRcServices::default()
    };
    for level in files
        .list_dir(SECTION, "/etc/runlevels")
        .into_iter()
        .take(MAX_DIR_ENTRIES)
    {
        let dir = format!("/etc/runlevels/{level}");
        if !files.is_dir(&dir) {
            continue;
        }
        out.runlevels.push(level.clone());
        for service in files
            .list_dir(SECTION, &dir)
            .into_iter()
            .take(MAX_DIR_ENTRIES)
        {
            let path = format!("{dir}/{service}");
            let (target, script_present) = super::runlevel_entry(files, &path, "runlevel link");
            out.services.push(RunlevelService {
                runlevel: level.clone(),
                service,
                path,
                target,
                script_present,
            });
        }
    }
    if !out.runlevels.iter().any(|l| l == DEFAULT_RUNLEVEL) {
        files.warn(
            SECTION,
            "/etc/runlevels",
            "no default runlevel directory: OpenRC would start nothing after boot",
        );
    }
    out.scripts = files
        .list_dir(SECTION, "/etc/init.d")
        .into_iter()
        .filter(|n| !n.starts_with('.'))
        .take(MAX_DIR_ENTRIES)
        .collect();
    Some(out)
}
