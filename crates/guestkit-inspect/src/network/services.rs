//! Whether a network service starts at boot, read from the links an
//! init system keeps: systemd `*.wants/` and alias links (and masks) in
//! `/etc/systemd/system`, SysV `rc?.d` links, OpenRC runlevels.

use guestkit_fs::FileType;

use super::model::ServiceState;
use super::SECTION;
use crate::files::GuestFiles;

const SYSTEMD_ETC: &str = "/etc/systemd/system";
const UNIT_DIRS: [&str; 4] = [
    "/etc/systemd/system",
    "/run/systemd/system",
    "/usr/lib/systemd/system",
    "/lib/systemd/system",
];
const INIT_DIRS: [&str; 2] = ["/etc/init.d", "/etc/rc.d/init.d"];
const RC_DIRS: [&str; 6] = [
    "/etc/rc2.d",
    "/etc/rc3.d",
    "/etc/rc5.d",
    "/etc/rc.d/rc3.d",
    "/etc/rc.d/rc5.d",
    "/etc/rcS.d",
];
const OPENRC_DIRS: [&str; 3] = [
    "/etc/runlevels/boot",
    "/etc/runlevels/default",
    "/etc/runlevels/sysinit",
];
/// Most `*.wants` directories looked into.
const MAX_WANTS_DIRS: usize = 512;

/// The guest's unit links, listed once.
pub struct Units<'a> {
    files: &'a GuestFiles<'a>,
    wants_dirs: Vec<String>,
}

impl<'a> Units<'a> {
    /// Lists `/etc/systemd/system`'s `*.wants` and `*.requires` directories.
    pub fn new(files: &'a GuestFiles<'a>) -> Self {
        let wants_dirs = files
            .list_dir(SECTION, SYSTEMD_ETC)
            .into_iter()
            .filter(|n| n.ends_with(".wants") || n.ends_with(".requires"))
            .take(MAX_WANTS_DIRS)
            .map(|n| format!("{SYSTEMD_ETC}/{n}"))
            .collect();
        Units { files, wants_dirs }
    }

    fn is_link(&self, path: &str) -> bool {
        self.files
            .tree()
            .symlink_metadata(path.as_bytes())
            .is_ok_and(|m| m.file_type == FileType::Symlink)
    }

    fn link_target(&self, path: &str) -> Option<String> {
        if !self.is_link(path) {
            return None;
        }
        self.files
            .tree()
            .read_link(path.as_bytes())
            .ok()
            .map(|t| String::from_utf8_lossy(&t).into_owned())
    }

    /// The state of systemd unit `unit` (`NetworkManager.service`), with
    /// `aliases` that enable it by being linked to it
    /// (`network.service` for wicked), and its SysV/OpenRC script name.
    pub fn state(&self, unit: &str, aliases: &[&str], script: Option<&str>) -> ServiceState {
        let mut st = ServiceState {
            unit: unit.to_string(),
            ..ServiceState::default()
        };
        let etc = format!("{SYSTEMD_ETC}/{unit}");
        let etc_target = self.link_target(&etc);
        // `/etc/systemd/system/U` linked to another unit is an alias
        // (SUSE's network.service -> wicked.service), not U installed.
        let alias_of = etc_target
            .as_deref()
            .filter(|t| *t != "/dev/null" && t.rsplit('/').next() != Some(unit));
        if let Some(t) = alias_of {
            st.evidence.push(format!("{etc} is an alias of {t}"));
        }
        for dir in UNIT_DIRS {
            let p = format!("{dir}/{unit}");
            if dir == SYSTEMD_ETC && alias_of.is_some() {
                continue;
            }
            if self.files.is_file(&p) {
                st.installed = true;
                st.evidence.push(format!("unit file {p}"));
                break;
            }
        }
        if etc_target.as_deref() == Some("/dev/null") {
            st.masked = true;
            st.evidence.push(format!("{etc} -> /dev/null (masked)"));
        }
        for dir in &self.wants_dirs {
            let p = format!("{dir}/{unit}");
            if self.is_link(&p) || self.files.is_file(&p) {
                st.enabled = true;
                st.evidence.push(format!("enabled by {p}"));
            }
        }
        for alias in aliases {
            let p = format!("{SYSTEMD_ETC}/{alias}");
            if let Some(t) = self.link_target(&p) {
                if t.rsplit('/').next() == Some(unit) {
                    st.enabled = true;
                    st.evidence.push(format!("alias {p} -> {t}"));
                }
            }
        }
        if let Some(script) = script {
            for dir in INIT_DIRS {
                let p = format!("{dir}/{script}");
                if self.files.is_file(&p) {
                    st.installed = true;
                    st.evidence.push(format!("init script {p}"));
                    break;
                }
            }
            for dir in RC_DIRS {
                for name in self.files.list_dir(SECTION, dir) {
                    let starts = name.starts_with('S');
                    if starts && name.get(3..) == Some(script) {
                        st.enabled = true;
                        st.evidence.push(format!("rc link {dir}/{name}"));
                    }
                }
            }
            for dir in OPENRC_DIRS {
                let p = format!("{dir}/{script}");
                if self.is_link(&p) {
                    st.enabled = true;
                    st.evidence.push(format!("OpenRC runlevel link {p}"));
                }
            }
        }
        if st.masked {
            st.enabled = false;
        }
        st
    }

    /// Whether the guest looks systemd-managed (has `/etc/systemd/system`).
    pub fn systemd(&self) -> bool {
        self.files.is_dir(SYSTEMD_ETC)
    }
}
