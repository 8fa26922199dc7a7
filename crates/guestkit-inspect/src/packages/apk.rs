//! apk's `/lib/apk/db/installed`: one record per package, blank lines
//! between records, each line a one-letter key, `:` and the value.

use super::{paragraphs, Package, Parsed};

/// Where apk keeps its installed database.
pub const INSTALLED_PATH: &str = "/lib/apk/db/installed";

/// Installed packages of an apk database; records without `P:` or `V:`
/// are skipped with a warning naming their line.
pub fn parse(bytes: &[u8]) -> Parsed {
    let text = String::from_utf8_lossy(bytes);
    let mut out = Parsed::default();
    for (line, record) in paragraphs(&text) {
        let get = |key: &str| {
            record
                .iter()
                .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
                .map(str::trim)
        };
        let Some(name) = get("P") else {
            out.warnings
                .push(format!("line {line}: a record without P: (name), skipped"));
            continue;
        };
        // apk counts a named record as installed even without a version:
        // it is reported, with the gap named.
        let version = get("V").unwrap_or_else(|| {
            out.warnings
                .push(format!("line {line}: package {name} has no V: (version)"));
            ""
        });
        out.packages.push(Package {
            name: name.to_string(),
            version: version.to_string(),
            arch: get("A").map(str::to_string),
            source_name: get("o").map(str::to_string),
            source_version: get("o").map(|_| version.to_string()),
            summary: get("T").map(str::to_string),
            license: get("L").map(str::to_string),
            vendor: get("m").map(str::to_string),
            installed_size: get("I").and_then(|s| s.parse().ok()),
            install_time: get("t").and_then(|s| s.parse().ok()),
            ..Package::default()
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records() {
        let p =
            parse(b"C:Q1x\nP:musl\nV:1.2.3-r0\nA:x86_64\no:musl\nI:622592\n\nP:noversion\n\nV:1\n");
        assert_eq!(p.packages.len(), 2);
        assert_eq!(p.packages[0].installed_size, Some(622592));
        assert_eq!(p.packages[1].version, "");
        assert_eq!(p.warnings.len(), 2, "{:?}", p.warnings);
    }
}
