//! systemd's unit files, read the way `systemctl` reads them offline: the
//! unit search path in precedence order (a name found in an earlier
//! directory hides the later ones), `*.wants/` and `*.requires/` links
//! (enablement), links to `/dev/null` (masks), links to other unit names
//! (aliases), drop-ins, and the default target.

use std::collections::{BTreeMap, BTreeSet};

use guestkit_fs::{FileType, FsError};

use super::unit_file::{self, UnitFile};
use super::SECTION;
use crate::files::GuestFiles;

/// The unit search path of the system manager, highest precedence first.
/// `/run` is usually empty in an image; `/lib` is often a link to
/// `usr/lib` and is then searched once.
pub const UNIT_DIRS: [&str; 5] = [
    "/etc/systemd/system",
    "/run/systemd/system",
    "/usr/local/lib/systemd/system",
    "/usr/lib/systemd/system",
    "/lib/systemd/system",
];

/// Unit-name suffixes (`systemd.unit(5)`).
const UNIT_SUFFIXES: [&str; 11] = [
    ".service",
    ".socket",
    ".target",
    ".timer",
    ".path",
    ".mount",
    ".automount",
    ".swap",
    ".slice",
    ".scope",
    ".device",
];

/// Most entries read from one directory.
const MAX_DIR_ENTRIES: usize = 20_000;
/// Most unit files parsed in all.
const MAX_UNITS: usize = 20_000;
/// Longest alias chain followed for the default target.
const MAX_ALIAS_CHAIN: usize = 8;

/// What `systemctl is-enabled` would say about a unit file. Generated
/// and transient units do not exist in an image at rest, so those states
/// never appear.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum UnitState {
    /// A `*.wants`/`*.requires` link in `/etc` or `/run` names it.
    Enabled,
    /// Has an `[Install]` section and nothing enables it.
    #[default]
    Disabled,
    /// No `[Install]` section: only pulled in by other units.
    Static,
    /// Its name is linked to `/dev/null`.
    Masked,
    /// Its name is a link to a unit file of another name.
    Alias,
    /// Its name is a link to a same-named file outside the search path.
    Linked,
    /// Its `[Install]` section has only `Also=`.
    Indirect,
    /// Its name is a link to nothing.
    Bad,
}

/// Where a dependency link sits and what it means.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum LinkState {
    /// Made by `systemctl enable` (in `/etc` or `/run`).
    #[default]
    Enabled,
    /// Shipped by a package in a vendor directory (`/usr/lib`).
    Static,
    /// The unit it names is masked: it will not start.
    Masked,
    /// The link points at nothing.
    Broken,
}

/// One link in a `X.wants/` or `X.requires/` directory.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct DependencyLink {
    /// The unit pulled in, as the link is named (`getty@tty1.service`).
    pub unit: String,
    /// The template of an instance (`getty@.service`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub template: Option<String>,
    /// The unit that wants it (`multi-user.target`).
    pub wanted_by: String,
    /// `wants` or `requires`.
    pub dependency: String,
    /// Where the link is.
    pub link: String,
    /// What the link says (`/lib/systemd/system/ssh.service`).
    pub target: String,
    /// The unit file the link leads to, resolved inside the guest.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unit_path: Option<String>,
    pub state: LinkState,
}

/// A unit masked by a link to `/dev/null`.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct MaskedUnit {
    pub name: String,
    /// The link (`/etc/systemd/system/apt-daily.timer`).
    pub link: String,
}

/// One unit name known from the search path, with what its file says.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct SystemdUnit {
    /// `ssh.service`, `getty@.service`.
    pub name: String,
    /// The name's entry in the search path (a link for aliases and masks).
    pub path: String,
    /// The file read, when `path` is a link to one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    pub state: UnitState,
    /// For an alias: the unit it stands for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alias_of: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub exec_start: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// `[Install] WantedBy=`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub wanted_by: Vec<String>,
    /// `[Install] RequiredBy=`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub required_by: Vec<String>,
    /// `[Install] Alias=`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    /// `[Install] DefaultInstance=` of a template.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_instance: Option<String>,
    /// Drop-in files applied, in the order applied.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub drop_ins: Vec<String>,
}

/// systemd's view of the guest.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct SystemdServices {
    /// The target booted into (`graphical.target`), after following the
    /// `default.target` alias chain.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_target: Option<String>,
    /// The links followed to get there (`path -> target`).
    pub default_target_chain: Vec<String>,
    /// The unit directories searched, after removing duplicates.
    pub unit_dirs: Vec<String>,
    /// Every unit name, sorted.
    pub units: Vec<SystemdUnit>,
    /// Every dependency link (enabled, static, masked or broken).
    pub dependencies: Vec<DependencyLink>,
    pub masked: Vec<MaskedUnit>,
}

impl SystemdServices {
    /// The unit named `name`.
    pub fn unit(&self, name: &str) -> Option<&SystemdUnit> {
        self.units.iter().find(|u| u.name == name)
    }

    /// Names of the units enabled by links in `/etc` or `/run`.
    pub fn enabled_units(&self) -> BTreeSet<&str> {
        self.dependencies
            .iter()
            .filter(|d| d.state == LinkState::Enabled)
            .map(|d| d.unit.as_str())
            .collect()
    }
}

/// Whether `name` ends in a unit type suffix.
pub fn is_unit_name(name: &str) -> bool {
    UNIT_SUFFIXES
        .iter()
        .any(|s| name.len() > s.len() && name.ends_with(s))
}

/// The template of an instance name: `getty@tty1.service` →
/// `getty@.service`.
pub fn template_of(name: &str) -> Option<String> {
    let (prefix, rest) = name.split_once('@')?;
    let dot = rest.rfind('.')?;
    let (instance, suffix) = rest.split_at(dot);
    if instance.is_empty() {
        return None;
    }
    Some(format!("{prefix}@{suffix}"))
}

fn basename(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// A directory of the search path.
struct UnitDir {
    path: String,
    admin: bool,
    names: Vec<String>,
}

/// The search-path directories that exist, duplicates (through links)
/// removed.
fn unit_dirs(files: &GuestFiles) -> Vec<UnitDir> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for dir in UNIT_DIRS {
        let canonical = match files.tree().resolve(dir.as_bytes()) {
            Ok(r) => String::from_utf8_lossy(&r.path).into_owned(),
            Err(FsError::NotFound { .. }) => continue,
            Err(e) => {
                files.warn(SECTION, dir, e.to_string());
                continue;
            }
        };
        if !seen.insert(canonical) || !files.is_dir(dir) {
            continue;
        }
        let mut names = files.list_dir(SECTION, dir);
        if names.len() > MAX_DIR_ENTRIES {
            files.warn(
                SECTION,
                dir,
                format!(
                    "{} entries: only the first {MAX_DIR_ENTRIES} read",
                    names.len()
                ),
            );
            names.truncate(MAX_DIR_ENTRIES);
        }
        out.push(UnitDir {
            path: dir.to_string(),
            admin: dir.starts_with("/etc/") || dir.starts_with("/run/"),
            names,
        });
    }
    out
}

/// What a name in the search path is.
enum Entry {
    File(String),
    Link { target: String, resolved: String },
    Masked { target: String },
    Broken { target: String },
    Other,
}

fn entry(files: &GuestFiles, path: &str) -> Entry {
    let tree = files.tree();
    let md = match tree.symlink_metadata(path.as_bytes()) {
        Ok(m) => m,
        Err(e) => {
            files.warn(SECTION, path, e.to_string());
            return Entry::Other;
        }
    };
    match md.file_type {
        FileType::Regular => Entry::File(path.to_string()),
        FileType::Symlink => {
            let target = match tree.read_link(path.as_bytes()) {
                Ok(t) => String::from_utf8_lossy(&t).into_owned(),
                Err(e) => {
                    files.warn(SECTION, path, e.to_string());
                    return Entry::Other;
                }
            };
            if target == "/dev/null" {
                return Entry::Masked { target };
            }
            match tree.resolve(path.as_bytes()) {
                Ok(r) => {
                    let resolved = String::from_utf8_lossy(&r.path).into_owned();
                    match tree.metadata_of(r.node).map(|m| m.file_type) {
                        Ok(FileType::Regular) => Entry::Link { target, resolved },
                        // /dev/null reached through another link.
                        Ok(FileType::CharDevice) if resolved == "/dev/null" => {
                            Entry::Masked { target }
                        }
                        _ => Entry::Broken { target },
                    }
                }
                Err(FsError::NotFound { .. }) => Entry::Broken { target },
                Err(e) => {
                    files.warn(SECTION, path, e.to_string());
                    Entry::Broken { target }
                }
            }
        }
        _ => Entry::Other,
    }
}

fn parse_file(files: &GuestFiles, path: &str) -> UnitFile {
    let Some(text) = files.read_text(SECTION, path) else {
        return UnitFile::default();
    };
    let (unit, warnings) = unit_file::parse(&text);
    for w in warnings {
        files.warn(SECTION, path, w);
    }
    unit
}

/// Reads systemd's configuration; `None` when no unit directory exists.
pub fn inspect(files: &GuestFiles) -> Option<SystemdServices> {
    let dirs = unit_dirs(files);
    if dirs.is_empty() {
        return None;
    }
    let mut out = SystemdServices {
        unit_dirs: dirs.iter().map(|d| d.path.clone()).collect(),
        ..SystemdServices::default()
    };
    // Drop-ins: unit name → conf file name → path, earlier directories
    // hiding same-named files of later ones.
    let mut drop_ins: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for dir in &dirs {
        for name in &dir.names {
            let Some(unit) = name.strip_suffix(".d").filter(|u| is_unit_name(u)) else {
                continue;
            };
            let path = format!("{}/{name}", dir.path);
            if !files.is_dir(&path) {
                continue;
            }
            let confs = drop_ins.entry(unit.to_string()).or_default();
            for conf in files
                .list_dir(SECTION, &path)
                .into_iter()
                .take(MAX_DIR_ENTRIES)
            {
                if conf.ends_with(".conf") {
                    confs
                        .entry(conf.clone())
                        .or_insert_with(|| format!("{path}/{conf}"));
                }
            }
        }
    }
    let mut units: BTreeMap<String, (SystemdUnit, UnitFile)> = BTreeMap::new();
    for dir in &dirs {
        for name in &dir.names {
            if !is_unit_name(name) || units.contains_key(name) {
                continue;
            }
            if units.len() >= MAX_UNITS {
                files.warn(
                    SECTION,
                    &dir.path,
                    format!("more than {MAX_UNITS} units: the rest not read"),
                );
                break;
            }
            let path = format!("{}/{name}", dir.path);
            let mut unit = SystemdUnit {
                name: name.clone(),
                path: path.clone(),
                ..SystemdUnit::default()
            };
            let mut parsed = UnitFile::default();
            match entry(files, &path) {
                Entry::File(p) => parsed = parse_file(files, &p),
                Entry::Masked { .. } => {
                    unit.state = UnitState::Masked;
                    out.masked.push(MaskedUnit {
                        name: name.clone(),
                        link: path.clone(),
                    });
                }
                Entry::Link { resolved, .. } => {
                    let real = basename(&resolved).to_string();
                    if &real != name {
                        unit.state = UnitState::Alias;
                        unit.alias_of = Some(real);
                    } else {
                        unit.state = UnitState::Linked;
                        parsed = parse_file(files, &resolved);
                    }
                    unit.file = Some(resolved);
                }
                Entry::Broken { target } => {
                    files.warn(
                        SECTION,
                        &path,
                        format!("unit link to {target}, which does not exist"),
                    );
                    unit.state = UnitState::Bad;
                }
                // A directory or device named like a unit: nothing to read.
                Entry::Other => continue,
            }
            units.insert(name.clone(), (unit, parsed));
        }
    }
    let masked: BTreeSet<String> = out.masked.iter().map(|m| m.name.clone()).collect();
    out.dependencies = dependency_links(files, &dirs, &masked);
    let enabled: BTreeSet<String> = out
        .dependencies
        .iter()
        .filter(|d| d.state == LinkState::Enabled)
        .flat_map(|d| {
            let mut names = vec![d.unit.clone()];
            names.extend(d.template.clone());
            names.extend(d.unit_path.as_deref().map(|p| basename(p).to_string()));
            names
        })
        .collect();
    for (name, (mut unit, mut parsed)) in units {
        if matches!(
            unit.state,
            UnitState::Masked | UnitState::Alias | UnitState::Bad
        ) {
            out.units.push(unit);
            continue;
        }
        if let Some(confs) = drop_ins.get(&name) {
            for path in confs.values() {
                parsed.extend(parse_file(files, path));
                unit.drop_ins.push(path.clone());
            }
        }
        unit.description = parsed.single("Unit", "Description").map(str::to_string);
        unit.exec_start = parsed.list("Service", "ExecStart");
        unit.user = parsed.single("Service", "User").map(str::to_string);
        unit.wanted_by = parsed.words("Install", "WantedBy");
        unit.required_by = parsed.words("Install", "RequiredBy");
        unit.aliases = parsed.words("Install", "Alias");
        unit.default_instance = parsed
            .single("Install", "DefaultInstance")
            .map(str::to_string);
        if unit.state != UnitState::Linked {
            unit.state = if enabled.contains(&name) {
                UnitState::Enabled
            } else if !parsed.has_install_info() {
                UnitState::Static
            } else if unit.wanted_by.is_empty()
                && unit.required_by.is_empty()
                && unit.aliases.is_empty()
                && parsed.words("Install", "UpheldBy").is_empty()
            {
                UnitState::Indirect
            } else {
                UnitState::Disabled
            };
        }
        out.units.push(unit);
    }
    default_target(files, &dirs, &mut out);
    Some(out)
}

/// The links of every `X.wants/` and `X.requires/` directory.
fn dependency_links(
    files: &GuestFiles,
    dirs: &[UnitDir],
    masked: &BTreeSet<String>,
) -> Vec<DependencyLink> {
    let mut out = Vec::new();
    for dir in dirs {
        for name in &dir.names {
            let (wanted_by, dependency) = if let Some(u) = name.strip_suffix(".wants") {
                (u, "wants")
            } else if let Some(u) = name.strip_suffix(".requires") {
                (u, "requires")
            } else {
                continue;
            };
            let sub = format!("{}/{name}", dir.path);
            if !files.is_dir(&sub) {
                continue;
            }
            for unit in files
                .list_dir(SECTION, &sub)
                .into_iter()
                .take(MAX_DIR_ENTRIES)
            {
                let link = format!("{sub}/{unit}");
                let template = template_of(&unit);
                let is_masked =
                    masked.contains(&unit) || template.as_ref().is_some_and(|t| masked.contains(t));
                let (target, unit_path, broken) = match entry(files, &link) {
                    Entry::Link { target, resolved } => (target, Some(resolved), false),
                    Entry::File(p) => (p.clone(), Some(p), false),
                    Entry::Masked { target } => (target, None, false),
                    Entry::Broken { target } => {
                        files.warn(
                            SECTION,
                            &link,
                            format!("{dependency} link to {target}, which does not exist"),
                        );
                        (target, None, true)
                    }
                    Entry::Other => continue,
                };
                let state = if broken {
                    LinkState::Broken
                } else if is_masked || target == "/dev/null" {
                    LinkState::Masked
                } else if dir.admin {
                    LinkState::Enabled
                } else {
                    LinkState::Static
                };
                out.push(DependencyLink {
                    unit,
                    template,
                    wanted_by: wanted_by.to_string(),
                    dependency: dependency.to_string(),
                    link,
                    target,
                    unit_path,
                    state,
                });
            }
        }
    }
    out
}

/// Follows `default.target` through its aliases, first directory first.
fn default_target(files: &GuestFiles, dirs: &[UnitDir], out: &mut SystemdServices) {
    let mut name = "default.target".to_string();
    for _ in 0..MAX_ALIAS_CHAIN {
        let Some(dir) = dirs.iter().find(|d| d.names.contains(&name)) else {
            if name != "default.target" {
                files.warn(
                    SECTION,
                    dirs.first()
                        .map_or("/etc/systemd/system", |d| d.path.as_str()),
                    format!("the default target {name} has no unit file"),
                );
                out.default_target = Some(name);
            }
            return;
        };
        let path = format!("{}/{name}", dir.path);
        let target = match files.tree().symlink_metadata(path.as_bytes()) {
            Ok(m) if m.file_type == FileType::Symlink => files
                .tree()
                .read_link(path.as_bytes())
                .map(|t| String::from_utf8_lossy(&t).into_owned()),
            Ok(_) => {
                out.default_target = Some(name);
                return;
            }
            Err(e) => Err(e),
        };
        let target = match target {
            Ok(t) => t,
            Err(e) => {
                files.warn(SECTION, &path, e.to_string());
                return;
            }
        };
        out.default_target_chain.push(format!("{path} -> {target}"));
        if target == "/dev/null" {
            files.warn(SECTION, &path, "the default target is masked");
            return;
        }
        name = basename(&target).to_string();
    }
    files.warn(
        SECTION,
        "/etc/systemd/system/default.target",
        format!("alias chain longer than {MAX_ALIAS_CHAIN} links"),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(
            template_of("getty@tty1.service").as_deref(),
            Some("getty@.service")
        );
        assert_eq!(template_of("getty@.service"), None);
        assert_eq!(template_of("ssh.service"), None);
        assert!(is_unit_name("a.timer"));
        assert!(!is_unit_name(".service"));
        assert!(!is_unit_name("multi-user.target.wants"));
    }
}
