//! pacman's local database: `/var/lib/pacman/local/<name>-<version>/desc`,
//! `%KEY%` header lines each followed by value lines up to a blank line.

use super::{Package, Parsed, SECTION};
use crate::files::{GuestFiles, MAX_CONFIG_BYTES};

/// Where pacman keeps its local database.
pub const LOCAL_DIR: &str = "/var/lib/pacman/local";

/// The fields of one `desc` file: key → value lines.
pub fn parse_desc(text: &str) -> Vec<(String, Vec<String>)> {
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    let mut current: Option<(String, Vec<String>)> = None;
    for line in text.lines() {
        let line = line.trim_end_matches('\r');
        if line.len() > 2 && line.starts_with('%') && line.ends_with('%') {
            if let Some(done) = current.take() {
                out.push(done);
            }
            current = Some((line.trim_matches('%').to_string(), Vec::new()));
        } else if line.is_empty() {
            if let Some(done) = current.take() {
                out.push(done);
            }
        } else if let Some((_, values)) = current.as_mut() {
            values.push(line.to_string());
        }
    }
    if let Some(done) = current {
        out.push(done);
    }
    out
}

/// The package a `desc` file describes, `None` without `%NAME%` or
/// `%VERSION%`.
pub fn package_of_desc(text: &str) -> Option<Package> {
    let fields = parse_desc(text);
    let get = |key: &str| {
        fields
            .iter()
            .find(|(k, _)| k == key)
            .and_then(|(_, v)| v.first())
            .cloned()
    };
    let name = get("NAME")?;
    let version = get("VERSION")?;
    Some(Package {
        name,
        source_name: get("BASE"),
        source_version: get("BASE").map(|_| version.clone()),
        version,
        arch: get("ARCH"),
        summary: get("DESC"),
        license: get("LICENSE"),
        vendor: get("PACKAGER"),
        installed_size: get("SIZE").and_then(|s| s.parse().ok()),
        install_time: get("INSTALLDATE").and_then(|s| s.parse().ok()),
        ..Package::default()
    })
}

/// Every package of the guest's pacman database.
pub fn read_local(files: &GuestFiles) -> Parsed {
    let mut out = Parsed::default();
    for entry in files.list_dir(SECTION, LOCAL_DIR) {
        let dir = format!("{LOCAL_DIR}/{entry}");
        if !files.is_dir(&dir) {
            continue;
        }
        let path = format!("{dir}/desc");
        let Some(bytes) = files.read_prefix(SECTION, &path, MAX_CONFIG_BYTES) else {
            out.warnings.push(format!("{entry}: no desc file"));
            continue;
        };
        match package_of_desc(&String::from_utf8_lossy(&bytes)) {
            Some(p) => out.packages.push(p),
            None => out.warnings.push(format!("{path}: no %NAME% or %VERSION%")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn desc() {
        let p = package_of_desc(
            "%NAME%\ngmp\n\n%VERSION%\n6.2.1-2\n\n%DEPENDS%\ngcc-libs\nsh\n\n%ARCH%\nx86_64\n",
        )
        .unwrap_or_default();
        assert_eq!((p.name.as_str(), p.version.as_str()), ("gmp", "6.2.1-2"));
        assert_eq!(p.arch.as_deref(), Some("x86_64"));
        assert!(package_of_desc("%NAME%\n").is_none());
    }
}
