//! guestkit-inspect: what is inside a guest — operating system, packages
//! and more — read from an assembled [`GuestTree`] without running anything
//! in it. Each section is a small function over the guest's files, testable
//! on a plain directory tree as well as on an image.

pub mod files;
pub mod os;
pub mod packages;
pub mod report;

use std::time::Instant;

use guestkit_fs::GuestTree;

pub use files::GuestFiles;
pub use report::{Mountpoint, OsInfo, OsReport, PackageList, Report, Warning, SCHEMA_VERSION};

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
    let os = if files.is_dir("/Windows") || files.is_dir("/WINDOWS") {
        OsInfo {
            os_type: "windows".into(),
            distro: Some("windows".into()),
            ..OsInfo::default()
        }
    } else {
        os::inspect_linux(&files)
    };
    timings.push(("os".to_string(), ms_since(t)));
    let mut packages = None;
    if options.sections.contains(&Section::Packages) {
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

/// Inspects one guest tree into a whole report.
pub fn inspect(tree: &GuestTree, root: &str, options: &InspectOptions) -> Report {
    let (os, warnings) = inspect_root(tree, root, options);
    Report {
        schema_version: SCHEMA_VERSION,
        operating_systems: vec![os],
        warnings,
    }
}
