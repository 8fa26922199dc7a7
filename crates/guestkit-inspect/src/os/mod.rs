//! Which operating system a guest root holds: os-release first, then the
//! older release files in libguestfs's order, then the architecture of a
//! system binary, the hostname, and what follows from the distribution.

pub mod arch;
pub mod distro;
pub mod os_release;
pub mod release_files;

use crate::files::GuestFiles;
use crate::report::OsInfo;
use os_release::{major_minor, KeyValues};

const SECTION: &str = "os";

/// What the release-file tests build up; they overwrite each other's
/// fields in order, as libguestfs's do.
#[derive(Debug, Default, Clone)]
pub struct OsData {
    pub distro: Option<String>,
    pub product_name: Option<String>,
    pub version: Option<(u32, u32)>,
}

/// What an os-release file says, parsed.
#[derive(Debug, Clone, Default)]
pub struct OsRelease {
    pub values: KeyValues,
}

impl OsRelease {
    /// Parses the text of an os-release file.
    pub fn parse(text: &str) -> Self {
        OsRelease {
            values: KeyValues::parse(text),
        }
    }

    /// `ID`.
    pub fn id(&self) -> Option<&str> {
        self.values.get("ID")
    }

    /// Major and minor version from `VERSION_ID`.
    pub fn version(&self) -> Option<(u32, u32)> {
        self.values.get("VERSION_ID").and_then(major_minor)
    }

    /// Applies libguestfs's os-release test to `data`: `true` when the file
    /// decides alone; otherwise `data` keeps what it learnt and the release
    /// files are tried next.
    pub fn apply_libguestfs(&self, data: &mut OsData) -> bool {
        if let Some(d) = self.id().and_then(distro::libguestfs_distro_of_id) {
            data.distro = Some(d.to_string());
        }
        if let Some(p) = self.values.get("PRETTY_NAME") {
            data.product_name = Some(p.to_string());
        }
        if let Some(v) = self.version() {
            data.version = Some(v);
        }
        let Some(d) = data.distro.as_deref() else {
            return false;
        };
        if data.product_name.is_none() {
            return false;
        }
        match data.version {
            Some((_, 0)) if distro::os_release_version_is_major_only(d) => false,
            None if distro::is_rolling(d) => {
                data.version = Some((0, 0));
                true
            }
            None => false,
            Some(_) => true,
        }
    }
}

/// The os-release file of a root: `/etc/os-release`, else
/// `/usr/lib/os-release` (systemd's fallback).
const OS_RELEASE_PATHS: [&str; 2] = ["/etc/os-release", "/usr/lib/os-release"];

/// System binaries whose ELF header gives the architecture.
const ARCH_BINARIES: [&str; 7] = [
    "/bin/bash",
    "/bin/ls",
    "/bin/echo",
    "/bin/rm",
    "/bin/sh",
    "/usr/bin/env",
    "/usr/bin/true",
];

/// Identifies the Linux (or other Unix-like) OS of the guest root.
pub fn inspect_linux(files: &GuestFiles) -> OsInfo {
    let mut info = OsInfo {
        os_type: "linux".into(),
        ..OsInfo::default()
    };
    let mut data = OsData::default();
    let mut decided = false;
    let mut os_release = None;
    for path in OS_RELEASE_PATHS {
        if let Some(text) = files.read_text(SECTION, path) {
            let rel = OsRelease::parse(&text);
            info.identified_from.push(path.to_string());
            decided = rel.apply_libguestfs(&mut data);
            os_release = Some(rel);
            break;
        }
    }
    // An ID libguestfs does not know but guestkit does: the os-release file
    // is authoritative for it (release files would only say "redhat-based").
    if !decided {
        if let Some(rel) = &os_release {
            let known_elsewhere = rel.id().and_then(distro::libguestfs_distro_of_id).is_some();
            if let (Some(id), false) = (rel.id(), known_elsewhere) {
                data.distro = Some(distro::distro_of_id(id));
                data.product_name = rel.values.get("PRETTY_NAME").map(str::to_string);
                data.version = rel.version();
                decided = data.version.is_some();
            }
        }
    }
    if !decided {
        for (path, parser) in release_files::TESTS {
            if !files.is_file(path) {
                continue;
            }
            let Some(text) = files.read_text(SECTION, path) else {
                continue;
            };
            if !info.identified_from.iter().any(|p| p == path) {
                info.identified_from.push(path.to_string());
            }
            if release_files::apply(*parser, &text, &mut data) {
                decided = true;
                break;
            }
        }
    }
    if !decided && data.distro.is_none() {
        if let Some(id) = os_release.as_ref().and_then(OsRelease::id) {
            data.distro = Some(distro::distro_of_id(id));
        }
    }
    if let Some(rel) = &os_release {
        let v = &rel.values;
        info.os_release_id = v.get("ID").map(str::to_string);
        info.version_id = v.get("VERSION_ID").map(str::to_string);
        info.pretty_name = v.get("PRETTY_NAME").map(str::to_string);
        info.product_variant = v.get("VARIANT").map(str::to_string);
        info.build_id = v.get("BUILD_ID").map(str::to_string);
        info.id_like = v
            .get("ID_LIKE")
            .map(|s| s.split_whitespace().map(str::to_string).collect())
            .unwrap_or_default();
    }
    if data.version.is_none() && data.distro.as_deref().is_some_and(distro::is_rolling) {
        data.version = Some((0, 0));
    }
    info.distro = data.distro;
    info.product_name = data.product_name;
    info.version_major = data.version.map(|v| v.0);
    info.version_minor = data.version.map(|v| v.1);
    info.arch = architecture(files);
    info.hostname = hostname(files);
    if let Some(d) = info.distro.as_deref() {
        let (format, manager) = distro::package_tools(d, info.version_major);
        info.package_format = format.map(str::to_string);
        info.package_management = manager.map(str::to_string);
        info.osinfo = distro::osinfo(d, info.version_major, info.version_minor);
    }
    info
}

/// Architecture from the first readable system binary.
fn architecture(files: &GuestFiles) -> Option<String> {
    ARCH_BINARIES.iter().find_map(|path| {
        if !files.is_file(path) {
            return None;
        }
        let head = files.read_head(SECTION, path, 64)?;
        arch::elf_arch(&head).map(str::to_string)
    })
}

/// Hostname from `/etc/HOSTNAME`, `/etc/hostname`, or
/// `/etc/sysconfig/network`'s `HOSTNAME=`.
pub fn hostname(files: &GuestFiles) -> Option<String> {
    for path in ["/etc/HOSTNAME", "/etc/hostname"] {
        if let Some(text) = files.read_text(SECTION, path) {
            let first = text
                .lines()
                .map(str::trim)
                .find(|l| !l.is_empty() && !l.starts_with('#'));
            if let Some(h) = first {
                return Some(h.to_string());
            }
        }
    }
    let text = files.read_text(SECTION, "/etc/sysconfig/network")?;
    KeyValues::parse(&text).get("HOSTNAME").map(str::to_string)
}
