//! The check registry: one table per area, and the context every check
//! function reads (the OS report, the guest's files, values parsed once).
//!
//! Adding a check: write its function in the area's module and add one
//! [`Check`] entry to that module's `CHECKS` table.

pub mod accounts;
pub mod boot_image;
pub mod filesystem;
pub mod hardening;
pub mod kernel_params;
pub mod migration;
pub mod performance;
pub mod services;
pub mod ssh;
pub mod windows;
pub mod windows_registry;

use std::cell::OnceCell;
use std::sync::OnceLock;

use guestkit_fs::fstab::{self, FstabEntry};
use guestkit_inspect::security::SecuritySection;
use guestkit_inspect::{GuestFiles, OsReport};

use crate::model::{Outcome, Profile, Severity};

/// Section name under which file problems met by checks are recorded.
pub const SECTION: &str = "profile";

/// Operating-system kind a check applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OsKind {
    Linux,
    Windows,
}

/// Distribution families, for checks that differ between them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// RHEL, CentOS, Rocky, AlmaLinux, Oracle Linux, Fedora, Amazon Linux …
    Rhel,
    /// Debian, Ubuntu and derivatives.
    Debian,
    /// SLES, openSUSE.
    Suse,
    Alpine,
    Arch,
    /// Anything else (or unknown).
    Other,
}

const RHEL_IDS: &[&str] = &[
    "rhel",
    "centos",
    "rocky",
    "almalinux",
    "oraclelinux",
    "ol",
    "fedora",
    "amazonlinux",
    "amzn",
    "scientificlinux",
    "scientific",
    "cloudlinux",
    "eurolinux",
    "circle",
    "navy",
];
const DEBIAN_IDS: &[&str] = &[
    "debian",
    "ubuntu",
    "linuxmint",
    "kalilinux",
    "kali",
    "raspbian",
    "pop",
    "devuan",
];
const SUSE_IDS: &[&str] = &["sles", "sled", "opensuse", "suse", "sle_hpc"];
const ALPINE_IDS: &[&str] = &["alpine", "alpinelinux"];
const ARCH_IDS: &[&str] = &["arch", "archlinux", "manjaro", "endeavouros"];

impl Family {
    fn of_id(id: &str) -> Option<Family> {
        let id = id.to_ascii_lowercase();
        let id = id.as_str();
        let base = id.split('-').next().unwrap_or(id);
        [
            (RHEL_IDS, Family::Rhel),
            (DEBIAN_IDS, Family::Debian),
            (SUSE_IDS, Family::Suse),
            (ALPINE_IDS, Family::Alpine),
            (ARCH_IDS, Family::Arch),
        ]
        .into_iter()
        .find(|(ids, _)| ids.contains(&id) || ids.contains(&base))
        .map(|(_, f)| f)
    }

    /// The family of a guest: its distribution, else its os-release ID,
    /// else the first known ID_LIKE entry.
    pub fn of(os: &OsReport) -> Family {
        os.os
            .distro
            .iter()
            .chain(os.os.os_release_id.iter())
            .chain(os.os.id_like.iter())
            .find_map(|id| Family::of_id(id))
            .unwrap_or(Family::Other)
    }
}

/// Where a check applies.
#[derive(Debug, Clone, Copy)]
pub struct Applies {
    pub os: OsKind,
    /// Distribution families (empty: every one).
    pub families: &'static [Family],
}

impl Applies {
    /// Every Linux guest.
    pub const LINUX: Applies = Applies {
        os: OsKind::Linux,
        families: &[],
    };
    /// Every Windows guest.
    pub const WINDOWS: Applies = Applies {
        os: OsKind::Windows,
        families: &[],
    };

    /// Whether the guest of `ctx` is one the check applies to.
    pub fn matches(&self, ctx: &Ctx<'_>) -> bool {
        let kind = match ctx.os.os.os_type.as_str() {
            "linux" => OsKind::Linux,
            "windows" => OsKind::Windows,
            _ => return false,
        };
        kind == self.os && (self.families.is_empty() || self.families.contains(&ctx.family))
    }
}

/// One check: data plus the function deciding it.
#[derive(Debug, Clone, Copy)]
pub struct Check {
    /// Stable id (`ssh.permit-root-login`).
    pub id: &'static str,
    pub title: &'static str,
    pub description: &'static str,
    pub profiles: &'static [Profile],
    pub severity: Severity,
    pub applies: Applies,
    pub remediation: &'static str,
    /// CIS section ids, SCAP Security Guide rule ids, PCI-DSS v4
    /// requirement numbers: only those known to fit.
    pub references: &'static [&'static str],
    /// Decides the check.
    pub run: fn(&Ctx<'_>) -> Outcome,
}

/// Every check, in table order.
pub fn all() -> &'static [Check] {
    static ALL: OnceLock<Vec<Check>> = OnceLock::new();
    ALL.get_or_init(|| {
        [
            ssh::CHECKS,
            accounts::CHECKS,
            filesystem::CHECKS,
            filesystem::MOUNT_OPTION_CHECKS,
            kernel_params::SYSCTL_CHECKS,
            kernel_params::CHECKS,
            services::CHECKS,
            services::UNNEEDED_SERVICE_CHECKS,
            hardening::CHECKS,
            migration::CHECKS,
            performance::CHECKS,
            windows::CHECKS,
            windows_registry::CHECKS,
        ]
        .concat()
    })
}

/// The check with id `id`.
pub fn by_id(id: &str) -> Option<&'static Check> {
    all().iter().find(|c| c.id == id)
}

/// What check functions read.
pub struct Ctx<'a> {
    /// The OS's section of the inspection report.
    pub os: &'a OsReport,
    /// Its files, when the tree is at hand.
    pub files: Option<&'a GuestFiles<'a>>,
    /// Its distribution family.
    pub family: Family,
    fstab: OnceCell<Option<Vec<FstabEntry>>>,
    sysctl: OnceCell<Option<kernel_params::Sysctl>>,
    hives: OnceCell<windows_registry::Hives>,
    boot: OnceCell<Result<boot_image::BootImage, Outcome>>,
}

impl<'a> Ctx<'a> {
    /// The context of `os` with its `files`.
    pub fn new(os: &'a OsReport, files: Option<&'a GuestFiles<'a>>) -> Self {
        Ctx {
            os,
            files,
            family: Family::of(os),
            fstab: OnceCell::new(),
            sysctl: OnceCell::new(),
            hives: OnceCell::new(),
            boot: OnceCell::new(),
        }
    }

    /// `linux (debian)`, for notes.
    pub fn describe(&self) -> String {
        match &self.os.os.distro {
            Some(d) => format!("{} ({d})", self.os.os.os_type),
            None => self.os.os.os_type.clone(),
        }
    }

    /// The security section, or the outcome to return without it.
    pub fn security(&self) -> Result<&'a SecuritySection, Outcome> {
        self.os
            .security
            .as_ref()
            .ok_or_else(|| Outcome::na("the report has no security section"))
    }

    /// The guest's files, or the outcome to return without them.
    pub fn files(&self) -> Result<&'a GuestFiles<'a>, Outcome> {
        self.files
            .ok_or_else(|| Outcome::na("the guest's files are not available"))
    }

    /// The text of a guest file (`Ok(None)` when absent).
    pub fn text(&self, path: &str) -> Result<Option<String>, Outcome> {
        Ok(self.files()?.read_text(SECTION, path))
    }

    /// The guest's `/etc/fstab` entries (`None` when there is no fstab).
    pub fn fstab(&self) -> Result<Option<&[FstabEntry]>, Outcome> {
        let files = self.files()?;
        let parsed = self.fstab.get_or_init(|| {
            files
                .read_text(SECTION, "/etc/fstab")
                .map(|t| fstab::parse(&t).0)
        });
        Ok(parsed.as_deref())
    }

    /// The kernel parameters the guest sets at boot.
    pub fn sysctl(&self) -> Result<&kernel_params::Sysctl, Outcome> {
        let files = self.files()?;
        self.sysctl
            .get_or_init(|| Some(kernel_params::Sysctl::read(files)))
            .as_ref()
            .ok_or_else(|| Outcome::error("sysctl settings unreadable"))
    }

    /// The Windows SOFTWARE and SYSTEM hives (read once).
    pub fn hives(&self) -> &windows_registry::Hives {
        self.hives
            .get_or_init(|| windows_registry::Hives::load(self))
    }

    /// The boot kernel and what it can drive before root is mounted
    /// (read once).
    pub fn boot_image(&self) -> Result<&boot_image::BootImage, Outcome> {
        self.boot
            .get_or_init(|| boot_image::BootImage::read(self, &migration::boot_needs(self)))
            .as_ref()
            .map_err(Clone::clone)
    }

    /// Whether the init system starts `unit` at boot (`None`: unknown).
    pub fn enabled(&self, unit: &str) -> Option<bool> {
        self.os.services.as_ref().and_then(|s| s.is_enabled(unit))
    }

    /// Whether the report knows which services start at boot (a known
    /// init system with its configuration read).
    pub fn init_known(&self) -> bool {
        self.enabled("").is_some()
    }

    /// Whether a package called `name` is installed (`None`: no package
    /// list).
    pub fn package(&self, name: &str) -> Option<bool> {
        self.os
            .packages
            .as_ref()
            .map(|l| l.packages.iter().any(|p| p.name == name))
    }
}

/// The usual profile sets.
pub(crate) mod sets {
    use crate::model::Profile::{self, *};
    pub const SEC: &[Profile] = &[Security];
    pub const SEC_COMP: &[Profile] = &[Security, Compliance];
    pub const SEC_HARD: &[Profile] = &[Security, Hardening];
    pub const COMP: &[Profile] = &[Compliance];
    pub const COMP_HARD: &[Profile] = &[Compliance, Hardening];
    pub const SEC_COMP_HARD: &[Profile] = &[Security, Compliance, Hardening];
    pub const HARD: &[Profile] = &[Hardening];
    pub const MIG: &[Profile] = &[Migration];
    pub const PERF: &[Profile] = &[Performance];
}
