//! System V init: `/etc/inittab` (`id:runlevels:action:process`, the
//! `initdefault` entry giving the default runlevel), the `S##name` and
//! `K##name` links of `/etc/rcN.d` (or `/etc/rc.d/rcN.d`) that start and
//! stop services per runlevel, and the scripts of `/etc/init.d`.

use std::collections::BTreeSet;

use super::SECTION;
use crate::files::GuestFiles;

/// Runlevels with an rc directory.
pub const RUNLEVELS: [&str; 8] = ["0", "1", "2", "3", "4", "5", "6", "S"];

/// Most inittab entries kept.
const MAX_ENTRIES: usize = 10_000;
/// Most names read from one rc or init.d directory.
const MAX_DIR_ENTRIES: usize = 10_000;

/// One `/etc/inittab` line.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct InittabEntry {
    pub id: String,
    /// The runlevels it applies to (`2345`), empty for all.
    pub runlevels: String,
    /// `initdefault`, `sysinit`, `respawn`, `wait`, `ctrlaltdel`…
    pub action: String,
    pub process: String,
    pub line: usize,
}

/// A parsed inittab.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Inittab {
    pub entries: Vec<InittabEntry>,
    /// The runlevel of the `initdefault` entry (the last one, as init
    /// reads them all).
    pub default_runlevel: Option<String>,
}

/// Parses inittab text; lines that are not four `:`-separated fields give
/// a warning naming their line.
pub fn parse_inittab(text: &str) -> (Inittab, Vec<String>) {
    let mut out = Inittab::default();
    let mut warnings = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let number = index.saturating_add(1);
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut fields = line.splitn(4, ':');
        let (Some(id), Some(runlevels), Some(action), Some(process)) =
            (fields.next(), fields.next(), fields.next(), fields.next())
        else {
            warnings.push(format!("line {number}: not id:runlevels:action:process"));
            continue;
        };
        if out.entries.len() >= MAX_ENTRIES {
            warnings.push(format!(
                "line {number}: more than {MAX_ENTRIES} entries, the rest ignored"
            ));
            break;
        }
        let action = action.trim().to_string();
        if action == "initdefault" {
            let level = runlevels.trim();
            if level.is_empty() {
                warnings.push(format!("line {number}: initdefault without a runlevel"));
            } else {
                out.default_runlevel = Some(level.to_string());
            }
        }
        out.entries.push(InittabEntry {
            id: id.trim().to_string(),
            runlevels: runlevels.trim().to_string(),
            action,
            process: process.trim().to_string(),
            line: number,
        });
    }
    (out, warnings)
}

/// One `S##name` or `K##name` link of an rc directory.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct RcLink {
    /// `0`–`6` or `S`.
    pub runlevel: String,
    /// `start` (S links) or `stop` (K links).
    pub action: String,
    /// The two-digit order number.
    pub order: u32,
    /// The service (the link name without `S##`).
    pub service: String,
    pub path: String,
    /// What the link says (`../init.d/ssh`), when a link.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// Whether the script it leads to exists.
    pub script_present: bool,
}

/// System V init's view of the guest.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct SysvServices {
    /// From `/etc/inittab`'s `initdefault`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_runlevel: Option<String>,
    pub inittab: Vec<InittabEntry>,
    /// Every rc link, by runlevel then order.
    pub links: Vec<RcLink>,
    /// Names in `/etc/init.d`.
    pub scripts: Vec<String>,
}

impl SysvServices {
    /// Services started in `runlevel`, in start order.
    pub fn started_in(&self, runlevel: &str) -> Vec<&str> {
        self.links
            .iter()
            .filter(|l| l.runlevel == runlevel && l.action == "start")
            .map(|l| l.service.as_str())
            .collect()
    }
}

/// Names in `/etc/init.d` that are not services.
fn is_script_name(name: &str) -> bool {
    !(name.starts_with('.')
        || name == "README"
        || name == "skeleton"
        || name == "functions"
        || name.ends_with(".dpkg-old")
        || name.ends_with(".dpkg-dist")
        || name.ends_with(".rpmsave")
        || name.ends_with(".rpmnew"))
}

/// The `S`/`K` action, order and service of an rc link name.
pub fn parse_rc_name(name: &str) -> Option<(&'static str, u32, &str)> {
    let action = match name.as_bytes().first()? {
        b'S' => "start",
        b'K' => "stop",
        _ => return None,
    };
    let rest = name.get(1..)?;
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        return None;
    }
    let order = rest.get(..digits)?.parse().ok()?;
    let service = rest.get(digits..)?;
    if service.is_empty() {
        return None;
    }
    Some((action, order, service))
}

/// Reads inittab, rc links and init.d; `None` when none of them exists.
pub fn inspect(files: &GuestFiles) -> Option<SysvServices> {
    let mut out = SysvServices::default();
    let mut found = false;
    if let Some(text) = files.read_text(SECTION, "/etc/inittab") {
        found = true;
        let (tab, warnings) = parse_inittab(&text);
        for w in warnings {
            files.warn(SECTION, "/etc/inittab", w);
        }
        out.default_runlevel = tab.default_runlevel;
        out.inittab = tab.entries;
    }
    let mut seen_dirs = BTreeSet::new();
    for level in RUNLEVELS {
        for dir in [
            format!("/etc/rc{level}.d"),
            format!("/etc/rc.d/rc{level}.d"),
        ] {
            let Ok(r) = files.tree().resolve(dir.as_bytes()) else {
                continue;
            };
            if !seen_dirs.insert(r.path) || !files.is_dir(&dir) {
                continue;
            }
            found = true;
            for name in files
                .list_dir(SECTION, &dir)
                .into_iter()
                .take(MAX_DIR_ENTRIES)
            {
                let Some((action, order, service)) = parse_rc_name(&name) else {
                    continue;
                };
                let path = format!("{dir}/{name}");
                let (target, script_present) = super::runlevel_entry(files, &path, "rc link");
                out.links.push(RcLink {
                    runlevel: level.to_string(),
                    action: action.to_string(),
                    order,
                    service: service.to_string(),
                    path,
                    target,
                    script_present,
                });
            }
        }
    }
    for dir in ["/etc/init.d", "/etc/rc.d/init.d"] {
        if files.is_dir(dir) {
            found = true;
            out.scripts = files
                .list_dir(SECTION, dir)
                .into_iter()
                .filter(|n| is_script_name(n))
                .take(MAX_DIR_ENTRIES)
                .collect();
            break;
        }
    }
    found.then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inittab() {
        let text = "# default\nid:3:initdefault:\nsi::sysinit:/etc/init.d/rcS\n\
            l3:3:wait:/etc/init.d/rc 3\n1:2345:respawn:/sbin/getty 38400 tty1\nbroken line\n";
        let (t, w) = parse_inittab(text);
        assert_eq!(t.default_runlevel.as_deref(), Some("3"));
        assert_eq!(t.entries.len(), 4);
        assert_eq!(t.entries[3].process, "/sbin/getty 38400 tty1");
        assert_eq!(t.entries[1].runlevels, "");
        assert_eq!(w, vec!["line 6: not id:runlevels:action:process"]);
    }

    #[test]
    fn rc_names() {
        assert_eq!(parse_rc_name("S01ssh"), Some(("start", 1, "ssh")));
        assert_eq!(
            parse_rc_name("K20nfs-common"),
            Some(("stop", 20, "nfs-common"))
        );
        assert_eq!(parse_rc_name("README"), None);
        assert_eq!(parse_rc_name("S01"), None);
        assert_eq!(parse_rc_name("Sssh"), None);
        assert_eq!(parse_rc_name("S99999999999999ssh"), None);
    }
}
