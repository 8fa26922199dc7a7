//! guestkit-inspect: what is inside a guest — operating system, packages
//! and more — read from an assembled [`GuestTree`] without running anything
//! in it. Each section is a small function over the guest's files, testable
//! on a plain directory tree as well as on an image.

pub mod files;
pub mod network;
pub mod os;
pub mod packages;
pub mod report;
pub mod windows;
pub mod xml;

use std::time::Instant;

use guestkit_fs::guest::Guest;
use guestkit_fs::GuestTree;

pub use files::GuestFiles;
pub use report::{
    FilesystemEntry, Mountpoint, OsInfo, OsReport, PackageList, Report, Warning, WindowsReport,
    SCHEMA_VERSION,
};

/// The report's optional sections.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Section {
    Packages,
}

impl Section {
    /// Every optional section.
    pub const ALL: [Section; 1] = [Section::Packages];

    /// The section's name on the command line and in job options.
    pub fn name(self) -> &'static str {
        match self {
            Section::Packages => "packages",
        }
    }

    /// The section called `name`.
    pub fn from_name(name: &str) -> Option<Section> {
        Section::ALL.into_iter().find(|s| s.name() == name)
    }
}

/// What to inspect.
#[derive(Debug, Clone)]
pub struct InspectOptions {
    pub sections: Vec<Section>,
}

impl Default for InspectOptions {
    fn default() -> Self {
        InspectOptions {
            sections: Section::ALL.to_vec(),
        }
    }
}

fn ms_since(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1000.0
}

/// Inspects the OS whose root is at the top of `tree`; `root` names the
/// volume (or directory) it came from.
pub fn inspect_root(
    tree: &GuestTree,
    root: &str,
    options: &InspectOptions,
) -> (OsReport, Vec<Warning>) {
    let files = GuestFiles::new(tree);
    let mut timings = Vec::new();
    let t = Instant::now();
    let want_packages = options.sections.contains(&Section::Packages);
    let mut packages = None;
    let mut windows = None;
    let os = if windows::system_root(&files).is_some() {
        let facts = windows::inspect(&files, want_packages);
        packages = facts.applications.clone();
        let info = facts.info.clone();
        windows = Some(WindowsReport {
            system_root: facts.system_root,
            drive_mappings: facts.drive_mappings,
        });
        info
    } else {
        os::inspect_linux(&files)
    };
    timings.push(("os".to_string(), ms_since(t)));
    if want_packages && windows.is_none() {
        let t = Instant::now();
        packages = packages::inspect(&files);
        timings.push(("packages".to_string(), ms_since(t)));
    }
    let mountpoints = tree
        .mounts()
        .iter()
        .map(|m| Mountpoint {
            path: mount_path(&m.point),
            device: m.source.clone(),
        })
        .collect();
    let report = OsReport {
        root: root.to_string(),
        os,
        mountpoints,
        filesystems: Vec::new(),
        windows,
        packages,
        timings_ms: timings,
    };
    (report, files.take_warnings())
}

fn mount_path(point: &[Vec<u8>]) -> String {
    if point.is_empty() {
        return "/".into();
    }
    point
        .iter()
        .map(|c| format!("/{}", String::from_utf8_lossy(c)))
        .collect()
}

/// Inspects one guest tree (an unpacked root directory, say) into a whole
/// report.
pub fn inspect(tree: &GuestTree, root: &str, options: &InspectOptions) -> Report {
    let (os, warnings) = inspect_root(tree, root, options);
    Report {
        schema_version: SCHEMA_VERSION,
        operating_systems: vec![os],
        warnings,
    }
}

/// Inspects a VM assembled from its disks. A VM without a recognisable
/// root gives a report with no operating system and a warning saying what
/// filesystems were seen.
pub fn inspect_guest(guest: &Guest, options: &InspectOptions) -> Report {
    let mut warnings: Vec<Warning> = guest
        .warnings
        .iter()
        .map(|w| Warning {
            section: "storage",
            path: None,
            message: w.clone(),
        })
        .collect();
    let filesystems: Vec<FilesystemEntry> = guest
        .filesystems
        .iter()
        .map(|f| FilesystemEntry {
            device: f.volume.clone(),
            fs_type: f.info.fs_type.clone(),
            uuid: f.info.uuid.clone(),
            label: f.info.label.clone(),
            size: f.info.size,
        })
        .collect();
    let mut operating_systems = Vec::new();
    match &guest.tree {
        Some(tree) => {
            let root = tree
                .mounts()
                .first()
                .map(|m| m.source.clone())
                .unwrap_or_default();
            let (mut os, w) = inspect_root(tree, &root, options);
            os.filesystems = filesystems;
            warnings.extend(w);
            operating_systems.push(os);
        }
        None => {
            let seen: Vec<String> = filesystems
                .iter()
                .map(|f| format!("{} ({})", f.device, f.fs_type))
                .collect();
            warnings.push(Warning {
                section: "os",
                path: None,
                message: format!(
                    "no operating-system root found among the filesystems: {}",
                    if seen.is_empty() {
                        "none".to_string()
                    } else {
                        seen.join(", ")
                    }
                ),
            });
        }
    }
    Report {
        schema_version: SCHEMA_VERSION,
        operating_systems,
        warnings,
    }
}
