//! dpkg's `/var/lib/dpkg/status`: one stanza per package; the installed
//! ones are those whose `Status:` state is `installed`.

use super::{paragraphs, Package, Parsed};

/// Where dpkg keeps its status database.
pub const STATUS_PATH: &str = "/var/lib/dpkg/status";

/// Fields of one stanza, continuation lines folded away (they only carry
/// long descriptions and lists this reader does not need).
fn fields<'a>(lines: &[&'a str]) -> Vec<(&'a str, &'a str)> {
    lines
        .iter()
        .filter(|l| !l.starts_with([' ', '\t']))
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim(), v.trim()))
        .collect()
}

/// The extended description: the continuation lines after `Description:`,
/// each without its one leading space.
fn long_description(stanza: &[&str]) -> Option<String> {
    let start = stanza.iter().position(|l| l.starts_with("Description:"))?;
    let lines: Vec<&str> = stanza
        .get(start + 1..)?
        .iter()
        .take_while(|l| l.starts_with([' ', '\t']))
        .map(|l| l.get(1..).unwrap_or(""))
        .collect();
    (!lines.is_empty()).then(|| lines.join("\n"))
}

/// Installed packages of a dpkg status file. Stanzas without `Package:`
/// or `Version:` are skipped with a warning naming their line.
pub fn parse(bytes: &[u8]) -> Parsed {
    let text = String::from_utf8_lossy(bytes);
    let mut out = Parsed::default();
    for (line, stanza) in paragraphs(&text) {
        let f = fields(&stanza);
        let get = |key: &str| {
            f.iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(key))
                .map(|(_, v)| *v)
        };
        let Some(name) = get("Package").filter(|n| !n.is_empty()) else {
            out.warnings
                .push(format!("line {line}: a stanza without a Package field"));
            continue;
        };
        let status = get("Status").unwrap_or("");
        if status.split_whitespace().nth(2) != Some("installed") {
            continue;
        }
        let Some(version) = get("Version").filter(|v| !v.is_empty()) else {
            out.warnings
                .push(format!("line {line}: package {name} has no Version"));
            continue;
        };
        // "Source: name" or "Source: name (version)"; absent means the
        // binary package is its own source, at its own version.
        let (source_name, source_version) = match get("Source") {
            Some(src) => match src.split_once('(') {
                Some((n, v)) => (n.trim(), v.trim_end_matches(')').trim()),
                None => (src, version),
            },
            None => (name, version),
        };
        let summary = stanza
            .iter()
            .find_map(|l| l.strip_prefix("Description:"))
            .map(|d| d.trim().to_string());
        let description = long_description(&stanza);
        out.packages.push(Package {
            name: name.to_string(),
            version: version.to_string(),
            arch: get("Architecture").map(str::to_string),
            source_name: Some(source_name.to_string()),
            source_version: Some(source_version.to_string()),
            summary,
            installed_size: get("Installed-Size")
                .and_then(|s| s.parse::<u64>().ok())
                .and_then(|kib| kib.checked_mul(1024)),
            vendor: get("Maintainer").map(str::to_string),
            description,
            url: get("Homepage").map(str::to_string),
            source_declared: get("Source").is_some(),
            ..Package::default()
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stanzas_and_sources() {
        let text = b"Package: fdisk\nStatus: install ok installed\nArchitecture: amd64\nSource: util-linux (2.38.1-5)\nVersion: 2.38.1-5+b1\nDescription: partition\n tables\n\nPackage: gone\nStatus: deinstall ok config-files\nVersion: 1\n\nPackage: bash\nStatus: install ok installed\nVersion: 5.2-2\nArchitecture: amd64\n\nStatus: install ok installed\n\nPackage: nover\nStatus: install ok installed\n";
        let p = parse(text);
        assert_eq!(p.packages.len(), 2);
        let fdisk = &p.packages[0];
        assert_eq!(fdisk.source_name.as_deref(), Some("util-linux"));
        assert_eq!(fdisk.source_version.as_deref(), Some("2.38.1-5"));
        assert_eq!(fdisk.summary.as_deref(), Some("partition"));
        assert_eq!(fdisk.description.as_deref(), Some("tables"));
        assert!(fdisk.source_declared);
        let bash = &p.packages[1];
        assert_eq!(bash.source_name.as_deref(), Some("bash"));
        assert_eq!(bash.source_version.as_deref(), Some("5.2-2"));
        assert_eq!(p.warnings.len(), 2, "{:?}", p.warnings);
    }

    #[test]
    fn garbage_is_not_a_panic() {
        let p = parse(b"\xff\xfe\0\0Package\n::::\n\n\n: x\n");
        assert!(p.packages.is_empty());
    }
}
