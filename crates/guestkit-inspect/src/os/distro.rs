//! Distributions: the names guestkit reports (libguestfs's where it has
//! one), how os-release `ID`s and release files map onto them, and what
//! follows from the distribution (package format and manager, osinfo id).

/// Distribution name for an os-release `ID`, as libguestfs maps it
/// (`None` where libguestfs knows no such ID).
pub fn libguestfs_distro_of_id(id: &str) -> Option<&'static str> {
    Some(match id {
        "alpine" => "alpinelinux",
        "altlinux" => "altlinux",
        "arch" => "archlinux",
        "centos" => "centos",
        "circle" => "circle",
        "coreos" => "coreos",
        "debian" => "debian",
        "fedora" => "fedora",
        "frugalware" => "frugalware",
        "gentoo" => "gentoo",
        "kali" => "kalilinux",
        "kylin" => "kylin",
        "mageia" => "mageia",
        "neokylin" => "neokylin",
        "openEuler" => "openeuler",
        "opensuse" => "opensuse",
        s if s.starts_with("opensuse-") => "opensuse",
        "pld" => "pldlinux",
        "rhel" => "rhel",
        "rocky" => "rocky",
        "sles" | "sled" => "sles",
        "ubuntu" => "ubuntu",
        "void" => "voidlinux",
        _ => return None,
    })
}

/// Distribution name for an os-release `ID`: libguestfs's name where it
/// has one, else guestkit's own for the distributions it knows, else the
/// ID itself (lower-cased), so no guest is reported as "unknown" when it
/// says what it is.
pub fn distro_of_id(id: &str) -> String {
    if let Some(d) = libguestfs_distro_of_id(id) {
        return d.to_string();
    }
    let own = match id {
        "amzn" => "amazonlinux",
        "ol" => "oraclelinux",
        "almalinux" => "almalinux",
        "cloudlinux" => "cloudlinux",
        "scientific" => "scientificlinux",
        "mariner" => "mariner",
        "azurelinux" => "azurelinux",
        "photon" => "photon",
        "sl-micro" | "sle-micro" => "slmicro",
        "flatcar" => "flatcar",
        "fedora-coreos" => "fedoracoreos",
        "clear-linux-os" => "clearlinux",
        "nixos" => "nixos",
        "linuxmint" => "linuxmint",
        "raspbian" => "raspbian",
        "manjaro" => "manjaro",
        "buildroot" => "buildroot",
        "slackware" => "slackware",
        "bottlerocket" => "bottlerocket",
        "wolfi" => "wolfi",
        "guix" => "guix",
        "exherbo" => "exherbo",
        _ => "",
    };
    if own.is_empty() {
        id.to_ascii_lowercase()
    } else {
        own.to_string()
    }
}

/// Distributions whose os-release `VERSION_ID` carries only the major
/// version, so libguestfs rejects it when the minor is 0 and reads the
/// version from the older release files instead.
pub fn os_release_version_is_major_only(distro: &str) -> bool {
    matches!(distro, "debian" | "centos" | "rocky" | "circle")
}

/// Rolling-release distributions, reported as version 0.0 when they give
/// none.
pub fn is_rolling(distro: &str) -> bool {
    matches!(distro, "archlinux" | "gentoo" | "voidlinux")
}

/// Package format and manager of a distribution, libguestfs's names.
pub fn package_tools(
    distro: &str,
    version_major: Option<u32>,
) -> (Option<&'static str>, Option<&'static str>) {
    let major = version_major.unwrap_or(0);
    match distro {
        "debian" | "ubuntu" | "linuxmint" | "kalilinux" | "raspbian" => (Some("deb"), Some("apt")),
        "fedora" => (
            Some("rpm"),
            Some(if major >= 22 || major == 0 {
                "dnf"
            } else {
                "yum"
            }),
        ),
        "rhel" | "centos" | "rocky" | "almalinux" | "oraclelinux" | "scientificlinux"
        | "cloudlinux" | "circle" | "redhat-based" | "openeuler" => (
            Some("rpm"),
            Some(if major >= 8 || major == 0 {
                "dnf"
            } else {
                "yum"
            }),
        ),
        "amazonlinux" => (Some("rpm"), Some(if major >= 2022 { "dnf" } else { "yum" })),
        "mariner" | "azurelinux" => (Some("rpm"), Some("tdnf")),
        "photon" => (Some("rpm"), Some("tdnf")),
        "sles" | "opensuse" | "suse-based" | "slmicro" => (Some("rpm"), Some("zypper")),
        "mageia" | "altlinux" => (Some("rpm"), Some("urpmi")),
        "alpinelinux" | "wolfi" => (Some("apk"), Some("apk")),
        "archlinux" | "manjaro" => (Some("pacman"), Some("pacman")),
        "gentoo" => (Some("ebuild"), Some("portage")),
        "voidlinux" => (Some("xbps"), Some("xbps")),
        "pldlinux" => (Some("rpm"), Some("poldek")),
        "frugalware" => (Some("pkgtool"), Some("pacman-g2")),
        "fedoracoreos" => (Some("rpm"), Some("rpm-ostree")),
        "nixos" => (Some("nix"), Some("nix")),
        "clearlinux" => (None, Some("swupd")),
        _ => (None, None),
    }
}

/// The libosinfo short id of a Linux distribution and version (`debian12`,
/// `rhel9.4`, `ubuntu24.04`, `alpinelinux3.19`), as libguestfs builds it.
pub fn osinfo(distro: &str, major: Option<u32>, minor: Option<u32>) -> Option<String> {
    let (major, minor) = (major?, minor.unwrap_or(0));
    Some(match distro {
        "debian" if major >= 4 => format!("debian{major}"),
        "ubuntu" => format!("ubuntu{major}.{minor:02}"),
        "fedora" => format!("fedora{major}"),
        "rhel" | "centos" | "rocky" | "almalinux" | "oraclelinux" | "scientificlinux" => {
            let prefix = match distro {
                "oraclelinux" => "ol",
                "scientificlinux" => "sl",
                d => d,
            };
            if distro == "centos" && major >= 8 {
                format!("centos-stream{major}")
            } else if major >= 7 && distro == "centos" {
                format!("centos{major}.0")
            } else {
                format!("{prefix}{major}.{minor}")
            }
        }
        "alpinelinux" => format!("alpinelinux{major}.{minor}"),
        "opensuse" if major >= 42 || major == 15 => format!("opensuse{major}.{minor}"),
        "opensuse" if major > 20_000_000 => "opensusetumbleweed".to_string(),
        "sles" => {
            if minor == 0 {
                format!("sles{major}")
            } else {
                format!("sles{major}sp{minor}")
            }
        }
        "archlinux" => "archlinux".to_string(),
        "gentoo" => "gentoo".to_string(),
        "mageia" => format!("mageia{major}"),
        "altlinux" => format!("altlinux{major}.{minor}"),
        "amazonlinux" => format!("amzn{major}"),
        "photon" => format!("photon{major}.{minor}"),
        "kalilinux" => "kalilinux-rolling".to_string(),
        "linuxmint" => format!("linuxmint{major}"),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn osinfo_ids() {
        assert_eq!(
            osinfo("debian", Some(12), Some(5)).as_deref(),
            Some("debian12")
        );
        assert_eq!(osinfo("rhel", Some(9), Some(4)).as_deref(), Some("rhel9.4"));
        assert_eq!(
            osinfo("ubuntu", Some(24), Some(4)).as_deref(),
            Some("ubuntu24.04")
        );
        assert_eq!(
            osinfo("sles", Some(15), Some(2)).as_deref(),
            Some("sles15sp2")
        );
        assert_eq!(osinfo("nothing", Some(1), Some(0)), None);
    }

    #[test]
    fn unknown_ids_are_reported_as_themselves() {
        assert_eq!(distro_of_id("Exotic"), "exotic");
        assert_eq!(distro_of_id("opensuse-leap"), "opensuse");
        assert_eq!(distro_of_id("amzn"), "amazonlinux");
    }
}
