//! Installed packages, read from the package manager's own database (never
//! by running a guest binary): dpkg, rpm, apk, pacman.

pub mod apk;
pub mod dpkg;
pub mod pacman;
pub mod rpm;

use serde::Serialize;

use crate::files::{GuestFiles, MAX_TEXT_DATABASE_BYTES};
use crate::report::PackageList;

pub(crate) const SECTION: &str = "packages";

/// One installed package, in the terms of its package manager.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Package {
    pub name: String,
    /// The version as the package manager writes it: dpkg's whole version
    /// (`1:2.36-9+deb12u4`), rpm's `VERSION`, apk's and pacman's
    /// `pkgver-pkgrel`.
    pub version: String,
    /// rpm `RELEASE`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub release: Option<String>,
    /// rpm `EPOCH` (dpkg keeps the epoch inside `version`); `Some(0)` when
    /// the header records 0, `None` when it records none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub epoch: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arch: Option<String>,
    /// Source package (dpkg `Source:`, apk origin, pacman base, rpm
    /// `SOURCERPM`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub license: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vendor: Option<String>,
    /// Installed size in bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub installed_size: Option<u64>,
    /// Seconds since the epoch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub install_time: Option<u64>,
    /// Long description (dpkg's extended description, lines unindented).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Upstream home page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// The database names the source package explicitly (dpkg `Source:`),
    /// rather than it following from the package itself; virt-inspector's
    /// XML lists a source package only then.
    #[serde(skip)]
    pub source_declared: bool,
}

/// A parse result: the packages read and a warning per record skipped.
#[derive(Debug, Default)]
pub struct Parsed {
    pub packages: Vec<Package>,
    pub warnings: Vec<String>,
}

/// The installed packages of the guest, from the first package database
/// found (a guest has one package manager; a second one found is noted).
pub fn inspect(files: &GuestFiles) -> Option<PackageList> {
    let mut found: Vec<PackageList> = Vec::new();
    if let Some(bytes) = files.read_prefix(SECTION, dpkg::STATUS_PATH, MAX_TEXT_DATABASE_BYTES) {
        found.push(list(files, "dpkg", dpkg::STATUS_PATH, dpkg::parse(&bytes)));
    }
    if let Some(bytes) = files.read_prefix(SECTION, apk::INSTALLED_PATH, MAX_TEXT_DATABASE_BYTES) {
        found.push(list(files, "apk", apk::INSTALLED_PATH, apk::parse(&bytes)));
    }
    if let Some((path, database, parsed)) = rpm::read(files) {
        found.push(list(files, database, path, parsed));
    }
    if files.is_dir(pacman::LOCAL_DIR) {
        found.push(list(
            files,
            "pacman",
            pacman::LOCAL_DIR,
            pacman::read_local(files),
        ));
    }
    let mut lists = found.into_iter();
    let first = lists.next()?;
    for other in lists {
        files.warn(
            SECTION,
            &other.path,
            format!(
                "a second package database ({}, {} packages) besides {}: reported {} only",
                other.database, other.count, first.database, first.database
            ),
        );
    }
    Some(first)
}

fn list(files: &GuestFiles, database: &str, path: &str, mut parsed: Parsed) -> PackageList {
    for w in parsed.warnings.drain(..) {
        files.warn(SECTION, path, w);
    }
    parsed
        .packages
        .sort_by(|a, b| (&a.name, &a.arch).cmp(&(&b.name, &b.arch)));
    PackageList {
        database: database.to_string(),
        path: path.to_string(),
        count: parsed.packages.len(),
        packages: parsed.packages,
    }
}

/// Splits RFC-822-style stanzas (dpkg status, apk installed) into
/// paragraphs of lines, blank lines separating them.
pub(crate) fn paragraphs(text: &str) -> impl Iterator<Item = (usize, Vec<&str>)> {
    let mut out = Vec::new();
    let mut current: Vec<&str> = Vec::new();
    let mut start = 1;
    for (i, line) in text.lines().enumerate() {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() {
            if !current.is_empty() {
                out.push((start, std::mem::take(&mut current)));
            }
            start = i + 2;
        } else {
            current.push(line);
        }
    }
    if !current.is_empty() {
        out.push((start, current));
    }
    out.into_iter()
}
