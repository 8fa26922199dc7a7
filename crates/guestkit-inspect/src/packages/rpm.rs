//! rpm's installed-package database, wherever the distribution keeps it and
//! in whichever format (SQLite, Berkeley DB hash, SUSE ndb), read by
//! guestkit-rpmdb.

use guestkit_rpmdb::{read_database, read_sqlite_with_wal, DbKind, Limits, RpmPackage};

use super::{Package, Parsed, SECTION};
use crate::files::{GuestFiles, MAX_DATABASE_BYTES};

/// Database files, newest layout first: rpm ≥ 4.16 keeps its database
/// under `/usr/lib/sysimage/rpm` (with `/var/lib/rpm` often a link to it).
pub const PATHS: [&str; 6] = [
    "/usr/lib/sysimage/rpm/rpmdb.sqlite",
    "/usr/lib/sysimage/rpm/Packages.db",
    "/usr/lib/sysimage/rpm/Packages",
    "/var/lib/rpm/rpmdb.sqlite",
    "/var/lib/rpm/Packages.db",
    "/var/lib/rpm/Packages",
];

fn package(p: RpmPackage) -> Package {
    let (source_name, source_version) = match p.sourcerpm.as_deref().and_then(split_sourcerpm) {
        Some((n, v)) => (Some(n), Some(v)),
        None => (None, None),
    };
    let source_declared = p.sourcerpm.is_some();
    Package {
        name: p.name,
        version: p.version,
        release: Some(p.release),
        epoch: p.epoch,
        arch: p.arch,
        source_name,
        source_version,
        summary: p.summary,
        license: p.license,
        vendor: p.vendor,
        installed_size: p.size,
        install_time: p.install_time,
        source_declared,
        ..Package::default()
    }
}

/// `SOURCERPM` (`NAME-VERSION-RELEASE.src.rpm`, or `.nosrc.rpm`) split
/// into the source package name and `VERSION-RELEASE`.
pub fn split_sourcerpm(s: &str) -> Option<(String, String)> {
    let stem = s
        .strip_suffix(".src.rpm")
        .or_else(|| s.strip_suffix(".nosrc.rpm"))?;
    let (rest, release) = stem.rsplit_once('-')?;
    let (name, version) = rest.rsplit_once('-')?;
    if name.is_empty() || version.is_empty() || release.is_empty() {
        return None;
    }
    Some((name.to_string(), format!("{version}-{release}")))
}

/// The first rpm database found: its path, format name and packages.
pub fn read(files: &GuestFiles) -> Option<(&'static str, &'static str, Parsed)> {
    let path = PATHS.into_iter().find(|p| files.is_file(p))?;
    let bytes = files.read_prefix(SECTION, path, MAX_DATABASE_BYTES)?;
    let mut parsed = Parsed::default();
    let Some(kind) = DbKind::detect(&bytes) else {
        parsed
            .warnings
            .push("not an rpm database (no SQLite, ndb or Berkeley DB hash header)".into());
        return Some((path, "rpm", parsed));
    };
    let name = match kind {
        DbKind::Sqlite => "rpm-sqlite",
        DbKind::Bdb => "rpm-bdb",
        DbKind::Ndb => "rpm-ndb",
    };
    // A SQLite database of a running system may hold its newest
    // transactions only in its write-ahead log, next to it.
    let read = match kind {
        DbKind::Sqlite => {
            let wal = files.read_prefix(SECTION, &format!("{path}-wal"), MAX_DATABASE_BYTES);
            read_sqlite_with_wal(&bytes, wal.as_deref(), &Limits::default())
        }
        DbKind::Bdb | DbKind::Ndb => read_database(kind, &bytes),
    };
    match read {
        Ok(list) => {
            parsed.warnings = list.warnings.iter().map(|w| w.to_string()).collect();
            parsed.packages = list.packages.into_iter().map(package).collect();
        }
        Err(e) => parsed.warnings.push(e.to_string()),
    }
    Some((path, name, parsed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sourcerpm() {
        assert_eq!(
            split_sourcerpm("util-linux-2.32.1-42.el8_8.src.rpm"),
            Some(("util-linux".into(), "2.32.1-42.el8_8".into()))
        );
        assert_eq!(split_sourcerpm("nope.rpm"), None);
        assert_eq!(split_sourcerpm("-1-2.src.rpm"), None);
    }
}
