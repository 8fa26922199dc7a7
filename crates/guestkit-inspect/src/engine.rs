//! Runs the inspectors over a guest: the OS identification, then each
//! section asked for, timing each one, collecting every warning.

use std::collections::BTreeSet;
use std::time::Instant;

use guestkit_fs::guest::Guest;
use guestkit_fs::{FsLimits, GuestTree};

use crate::files::GuestFiles;
use crate::options::{InspectOptions, Section};
use crate::report::{
    FilesystemEntry, Mountpoint, OsReport, Report, Warning, WindowsReport, SCHEMA_VERSION,
};
use crate::{
    databases, kernels, network, os, packages, security, services, storage, system, users, windows,
};

/// Per-section wall times, in milliseconds.
#[derive(Default)]
struct Timings(Vec<(String, f64)>);

impl Timings {
    fn time<T>(&mut self, name: &str, f: impl FnOnce() -> T) -> T {
        let t = Instant::now();
        let out = f();
        self.0
            .push((name.to_string(), t.elapsed().as_secs_f64() * 1000.0));
        out
    }
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

/// Inspects the OS whose root is at the top of `tree`; `root` names the
/// volume (or directory) it came from, `guest` the assembled VM when there
/// is one (for storage).
pub fn inspect_root(
    tree: &GuestTree,
    root: &str,
    guest: Option<&Guest>,
    options: &InspectOptions,
) -> (OsReport, Vec<Warning>) {
    let files = GuestFiles::new(tree);
    let mut timings = Timings::default();
    let want_packages = options.wants(Section::Packages);
    let mut report = OsReport {
        root: root.to_string(),
        os: Default::default(),
        mountpoints: tree
            .mounts()
            .iter()
            .map(|m| Mountpoint {
                path: mount_path(&m.point),
                device: m.source.clone(),
            })
            .collect(),
        filesystems: Vec::new(),
        windows: None,
        packages: None,
        services: None,
        kernels: None,
        users: None,
        network: None,
        security: None,
        storage: None,
        databases: None,
        system: None,
        timings_ms: Vec::new(),
    };
    if windows::system_root(&files).is_some() {
        let want_services = options.wants(Section::Services);
        let facts = timings.time("os", || {
            windows::inspect(&files, want_packages, want_services)
        });
        report.os = facts.info;
        report.packages = facts.applications;
        report.services = facts.services;
        report.windows = Some(WindowsReport {
            system_root: facts.system_root,
            drive_mappings: facts.drive_mappings,
        });
    } else {
        report.os = timings.time("os", || os::inspect_linux(&files));
        if want_packages {
            report.packages = timings.time("packages", || packages::inspect(&files));
        }
        if options.wants(Section::Services) {
            report.services = Some(timings.time("services", || services::inspect(&files)));
        }
        if options.wants(Section::Kernels) {
            report.kernels = Some(timings.time("kernels", || kernels::inspect(&files)));
        }
        if options.wants(Section::Network) {
            report.network = Some(timings.time("network", || network::inspect(&files)));
        }
        let want_security = options.wants(Section::Security);
        if options.wants(Section::Users) || want_security {
            report.users = Some(timings.time("users", || users::inspect(&files)));
        }
        if want_security {
            let known_uids: BTreeSet<u32> = report
                .users
                .iter()
                .flat_map(|u| u.users.iter().map(|u| u.uid))
                .collect();
            let openssh = report.packages.as_ref().and_then(|list| {
                list.packages
                    .iter()
                    .find(|p| p.name == "openssh-server" || p.name == "openssh")
                    .map(|p| p.version.as_str())
            });
            let ctx = security::Context {
                services: report.services.as_ref(),
                cmdline: report
                    .kernels
                    .as_ref()
                    .and_then(|k| k.default_cmdline.as_deref()),
                openssh_version: openssh,
                known_uids: report.users.is_some().then_some(&known_uids),
                deep_scan: options.deep_scan,
            };
            let section = timings.time("security", || security::inspect(&files, ctx));
            report.security = Some(section);
        }
        if !options.wants(Section::Users) {
            report.users = None;
        }
        if options.wants(Section::System) {
            report.system = Some(timings.time("system", || system::inspect(&files)));
        }
        if options.wants(Section::Databases) {
            let pkgs = report.packages.as_ref();
            report.databases = Some(timings.time("databases", || databases::inspect(&files, pkgs)));
        }
    }
    if options.wants(Section::Storage) {
        report.storage = Some(timings.time("storage", || storage::inspect(&files, guest)));
    }
    report.timings_ms = timings.0;
    (report, files.take_warnings())
}

/// Inspects one guest tree (an unpacked root directory, say) into a whole
/// report.
pub fn inspect(tree: &GuestTree, root: &str, options: &InspectOptions) -> Report {
    let (os, warnings) = inspect_root(tree, root, None, options);
    Report {
        schema_version: SCHEMA_VERSION,
        operating_systems: vec![os],
        warnings,
    }
}

/// Inspects a VM assembled from its disks: every operating-system root it
/// holds (the first with the tree `guest` assembled, the others mounted
/// with their own fstab). A VM without a recognisable root gives a report
/// with no operating system and a warning saying what filesystems were
/// seen.
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
            let (mut os, w) = inspect_root(tree, &root, Some(guest), options);
            os.filesystems = filesystems.clone();
            warnings.extend(w);
            operating_systems.push(os);
            for other in guest.other_roots(&FsLimits::default()) {
                warnings.extend(other.warnings.into_iter().map(|message| Warning {
                    section: "storage",
                    path: None,
                    message,
                }));
                let (mut os, w) = inspect_root(&other.tree, &other.volume, Some(guest), options);
                os.filesystems = filesystems.clone();
                if let Some(storage) = os.storage.as_mut() {
                    storage.fstab = other.mounts;
                }
                warnings.extend(w);
                operating_systems.push(os);
            }
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
