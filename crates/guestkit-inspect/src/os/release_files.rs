//! The pre-os-release files (`redhat-release`, `debian_version`,
//! `SuSE-release`, `lsb-release` …) and the order libguestfs tries them in.

use super::os_release::{major_minor, KeyValues};
use super::OsData;

/// How one release file is read.
#[derive(Debug, Clone, Copy)]
pub enum Parser {
    /// `lsb-release`: `DISTRIB_ID`, `DISTRIB_RELEASE`, `DISTRIB_DESCRIPTION`.
    Lsb,
    /// The first line names the product; a version is taken from it when
    /// it matches, and the test fails when it does not.
    Product {
        distro: &'static str,
        /// Text that must occur before `release N[.M]`.
        marker: &'static str,
        form: VersionForm,
    },
    /// The first line is the product name, the distribution is fixed, the
    /// version is read from it if one is there.
    Generic(&'static str),
    /// The distribution is fixed, the file's content says nothing more.
    Exists(&'static str),
    /// `SuSE-release`: product line, `VERSION =`, `PATCHLEVEL =`.
    Suse,
}

/// Which `release` version forms a [`Parser::Product`] accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VersionForm {
    /// `release N … Update M`.
    Update,
    /// `release N.M`.
    MajorMinor,
    /// `release N`.
    MajorOnly,
}

/// libguestfs's release-file tests after os-release, in order: the first
/// that accepts its file decides.
pub const TESTS: &[(&str, Parser)] = &[
    ("/etc/lsb-release", Parser::Lsb),
    (
        "/etc/oracle-release",
        product("oraclelinux", "Oracle Linux", VersionForm::Update),
    ),
    (
        "/etc/oracle-release",
        product("oraclelinux", "Oracle Linux", VersionForm::MajorMinor),
    ),
    (
        "/etc/oracle-release",
        product("oraclelinux", "Oracle Linux", VersionForm::MajorOnly),
    ),
    (
        "/etc/centos-release",
        product("centos", "CentOS", VersionForm::Update),
    ),
    (
        "/etc/centos-release",
        product("centos", "CentOS", VersionForm::MajorMinor),
    ),
    (
        "/etc/centos-release",
        product("centos", "CentOS", VersionForm::MajorOnly),
    ),
    ("/etc/altlinux-release", Parser::Generic("altlinux")),
    (
        "/etc/rocky-release",
        product("rocky", "Rocky", VersionForm::MajorMinor),
    ),
    (
        "/etc/rocky-release",
        product("rocky", "Rocky", VersionForm::MajorOnly),
    ),
    (
        "/etc/almalinux-release",
        product("almalinux", "AlmaLinux", VersionForm::MajorMinor),
    ),
    (
        "/etc/almalinux-release",
        product("almalinux", "AlmaLinux", VersionForm::MajorOnly),
    ),
    (
        "/etc/redhat-release",
        product("fedora", "Fedora", VersionForm::MajorOnly),
    ),
    (
        "/etc/redhat-release",
        product("rhel", "Red Hat", VersionForm::Update),
    ),
    (
        "/etc/redhat-release",
        product("rhel", "Red Hat", VersionForm::MajorMinor),
    ),
    (
        "/etc/redhat-release",
        product("rhel", "Red Hat", VersionForm::MajorOnly),
    ),
    (
        "/etc/redhat-release",
        product("centos", "CentOS", VersionForm::Update),
    ),
    (
        "/etc/redhat-release",
        product("centos", "CentOS", VersionForm::MajorMinor),
    ),
    (
        "/etc/redhat-release",
        product("centos", "CentOS", VersionForm::MajorOnly),
    ),
    (
        "/etc/redhat-release",
        product("scientificlinux", "Scientific Linux", VersionForm::Update),
    ),
    (
        "/etc/redhat-release",
        product(
            "scientificlinux",
            "Scientific Linux",
            VersionForm::MajorMinor,
        ),
    ),
    (
        "/etc/redhat-release",
        product(
            "scientificlinux",
            "Scientific Linux",
            VersionForm::MajorOnly,
        ),
    ),
    ("/etc/redhat-release", Parser::Generic("redhat-based")),
    ("/etc/redhat-release", Parser::Exists("redhat-based")),
    (
        "/etc/fedora-release",
        product("fedora", "Fedora", VersionForm::MajorOnly),
    ),
    (
        "/etc/system-release",
        product("amazonlinux", "Amazon Linux", VersionForm::MajorMinor),
    ),
    (
        "/etc/system-release",
        product("amazonlinux", "Amazon Linux", VersionForm::MajorOnly),
    ),
    ("/etc/debian_version", Parser::Generic("debian")),
    ("/etc/pardus-release", Parser::Generic("pardus")),
    ("/etc/arch-release", Parser::Exists("archlinux")),
    ("/etc/gentoo-release", Parser::Generic("gentoo")),
    ("/etc/meego-release", Parser::Generic("meego")),
    ("/etc/slackware-version", Parser::Generic("slackware")),
    ("/etc/ttylinux-target", Parser::Generic("ttylinux")),
    ("/etc/SuSE-release", Parser::Suse),
    ("/etc/SuSE-release", Parser::Exists("suse-based")),
    ("/etc/cirros/version", Parser::Generic("cirros")),
    ("/etc/br-version", Parser::Generic("buildroot")),
    ("/etc/alpine-release", Parser::Generic("alpinelinux")),
    ("/etc/photon-release", Parser::Generic("photon")),
    ("/etc/mariner-release", Parser::Generic("mariner")),
];

const fn product(distro: &'static str, marker: &'static str, form: VersionForm) -> Parser {
    Parser::Product {
        distro,
        marker,
        form,
    }
}

/// Reads `digits` at the start of `s`.
fn leading_number(s: &str) -> Option<(u32, &str)> {
    let end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let n = s.get(..end)?.parse().ok()?;
    Some((n, s.get(end..)?))
}

/// The version in `line` after `marker` as `form` reads it: the last
/// `release N` after the marker (the greedy `marker.*release (\d+)` of
/// libguestfs's patterns).
pub fn product_version(line: &str, marker: &str, form: VersionForm) -> Option<(u32, Option<u32>)> {
    let after = line.get(line.find(marker)? + marker.len()..)?;
    let mut found = None;
    let mut rest = after;
    while let Some(i) = rest.find("release ") {
        let tail = rest.get(i + "release ".len()..)?;
        if let Some((major, more)) = leading_number(tail) {
            found = Some((major, more));
        }
        rest = tail;
    }
    let (major, more) = found?;
    match form {
        VersionForm::MajorOnly => Some((major, None)),
        VersionForm::MajorMinor => {
            let (minor, _) = leading_number(more.strip_prefix('.')?)?;
            Some((major, Some(minor)))
        }
        VersionForm::Update => {
            let at = more.rfind("Update ")?;
            let (minor, _) = leading_number(more.get(at + "Update ".len()..)?)?;
            Some((major, Some(minor)))
        }
    }
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or("").trim_end()
}

/// Applies one release-file test to `data`; `true` when it decides.
pub fn apply(parser: Parser, text: &str, data: &mut OsData) -> bool {
    match parser {
        Parser::Lsb => {
            let kv = KeyValues::parse(text);
            let mut ok = false;
            if let Some(id) = kv.get("DISTRIB_ID") {
                let distro = match id {
                    "CoreOS" => Some("coreos"),
                    "LinuxMint" => Some("linuxmint"),
                    "Mageia" => Some("mageia"),
                    "Ubuntu" => Some("ubuntu"),
                    _ => None,
                };
                if let Some(d) = distro {
                    data.distro = Some(d.to_string());
                    ok = true;
                }
            }
            if let Some(v) = kv.get("DISTRIB_RELEASE").and_then(major_minor) {
                data.version = Some(v);
            }
            if let Some(desc) = kv.get("DISTRIB_DESCRIPTION") {
                data.product_name = Some(desc.to_string());
                ok = true;
            }
            ok
        }
        Parser::Product {
            distro,
            marker,
            form,
        } => {
            let line = first_line(text);
            if line.is_empty() {
                return false;
            }
            data.product_name = Some(line.to_string());
            data.distro = Some(distro.to_string());
            match product_version(line, marker, form) {
                Some((major, minor)) => {
                    data.version = Some((major, minor.unwrap_or(0)));
                    true
                }
                None => false,
            }
        }
        Parser::Generic(distro) => {
            let line = first_line(text);
            if line.is_empty() {
                return false;
            }
            data.product_name = Some(line.to_string());
            data.distro = Some(distro.to_string());
            if let Some(v) = major_minor(line) {
                data.version = Some(v);
            }
            true
        }
        Parser::Exists(distro) => {
            data.distro = Some(distro.to_string());
            true
        }
        Parser::Suse => {
            let mut lines = text.lines();
            let Some(product) = lines.next().filter(|l| !l.is_empty()) else {
                return false;
            };
            data.product_name = Some(product.to_string());
            let field = |line: Option<&str>, key: &str| {
                line.and_then(|l| l.strip_prefix(key))
                    .and_then(|v| leading_number(v.trim_start_matches([' ', '=']).trim_start()))
                    .map(|(n, _)| n)
            };
            if product.starts_with("SUSE Linux Enterprise ")
                || product.starts_with("SUSE LINUX Enterprise ")
                || product.starts_with("Novell Linux Desktop ")
            {
                let major = field(lines.next(), "VERSION");
                let minor = field(lines.next(), "PATCHLEVEL");
                data.distro = Some("sles".into());
                data.version = major.map(|m| (m, minor.unwrap_or(0)));
                true
            } else if ["openSUSE ", "SuSE Linux ", "SUSE LINUX "]
                .iter()
                .any(|p| product.starts_with(p))
            {
                if let Some(v) = lines.next().and_then(major_minor) {
                    data.version = Some(v);
                }
                data.distro = Some("opensuse".into());
                true
            } else {
                data.distro.get_or_insert_with(|| "suse-based".into());
                true
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn red_hat_forms() {
        let l = "Red Hat Enterprise Linux Server release 5 (Tikanga Update 4)";
        assert_eq!(
            product_version(l, "Red Hat", VersionForm::Update),
            Some((5, Some(4)))
        );
        let l = "Red Hat Enterprise Linux release 9.4 (Plow)";
        assert_eq!(
            product_version(l, "Red Hat", VersionForm::MajorMinor),
            Some((9, Some(4)))
        );
        assert_eq!(product_version(l, "CentOS", VersionForm::MajorOnly), None);
        let l = "Red Hat Linux release 6.2 (Zoot)";
        assert_eq!(product_version(l, "Red Hat", VersionForm::Update), None);
    }
}
