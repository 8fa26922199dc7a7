//! The inspection report: one typed value, serialised as JSON or YAML by
//! the tools and as virt-inspector's XML by `guestctl inspect --format xml`.

use serde::Serialize;

use crate::packages::Package;

/// Version of the report's shape; bumped when a field changes meaning or
/// is removed (adding a field does not bump it).
pub const SCHEMA_VERSION: u32 = 1;

/// Everything inspection found in one VM.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub schema_version: u32,
    /// One entry per operating system root found.
    pub operating_systems: Vec<OsReport>,
    /// Problems met on the way, each naming the section and the file.
    pub warnings: Vec<Warning>,
}

/// One operating system of the VM.
#[derive(Debug, Clone, Serialize)]
pub struct OsReport {
    /// The volume holding its root filesystem (`vg0/root`, `disk0p2`), or
    /// the directory inspected.
    pub root: String,
    #[serde(flatten)]
    pub os: OsInfo,
    /// Where its filesystems are mounted, from its fstab.
    pub mountpoints: Vec<Mountpoint>,
    /// The VM's filesystems (every probed volume holding one).
    pub filesystems: Vec<FilesystemEntry>,
    /// Windows specifics, for a Windows root.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub windows: Option<WindowsReport>,
    /// Installed packages, when the packages section was asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub packages: Option<PackageList>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub services: Option<crate::services::ServicesSection>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kernels: Option<crate::kernels::KernelsSection>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub users: Option<crate::users::UsersSection>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub network: Option<crate::network::NetworkSection>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub security: Option<crate::security::SecuritySection>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub storage: Option<crate::storage::StorageSection>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub databases: Option<Vec<crate::databases::DatabaseServer>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub system: Option<crate::system::SystemSection>,
    /// Milliseconds each section took.
    pub timings_ms: Vec<(String, f64)>,
}

/// A mounted filesystem of the OS.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Mountpoint {
    pub path: String,
    pub device: String,
}

/// What only a Windows root has.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct WindowsReport {
    /// `/Windows` (as found in the guest).
    pub system_root: Option<String>,
    /// Drive letters from the SYSTEM hive's `MountedDevices`.
    pub drive_mappings: Vec<crate::windows::DriveMapping>,
}

/// A filesystem of the VM, as probed.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct FilesystemEntry {
    pub device: String,
    #[serde(rename = "type")]
    pub fs_type: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uuid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    pub size: u64,
}

/// What the OS is, with libguestfs's field meanings.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct OsInfo {
    /// `linux`, `windows`, or `unknown`.
    #[serde(rename = "type")]
    pub os_type: String,
    /// Distribution (`debian`, `rhel`, `windows` …).
    pub distro: Option<String>,
    /// libguestfs's product name: the line of the release file the version
    /// came from, or os-release `PRETTY_NAME`, or Windows `ProductName`.
    pub product_name: Option<String>,
    /// os-release `PRETTY_NAME`, when there is one.
    pub pretty_name: Option<String>,
    /// Windows edition or os-release `VARIANT`.
    pub product_variant: Option<String>,
    pub version_major: Option<u32>,
    pub version_minor: Option<u32>,
    /// os-release `VERSION_ID` as written.
    pub version_id: Option<String>,
    /// os-release `ID` as written.
    pub os_release_id: Option<String>,
    /// os-release `ID_LIKE`, split.
    pub id_like: Vec<String>,
    pub build_id: Option<String>,
    /// Architecture of a system binary (`x86_64`, `aarch64`, `i386` …).
    pub arch: Option<String>,
    pub hostname: Option<String>,
    /// libosinfo short id (`debian12`, `rhel9.4`, `win2k22`).
    pub osinfo: Option<String>,
    /// `deb`, `rpm`, `apk`, `pacman` …
    pub package_format: Option<String>,
    /// `apt`, `dnf`, `yum`, `zypper`, `apk`, `pacman` …
    pub package_management: Option<String>,
    /// Guest files the identification was read from, in the order used.
    pub identified_from: Vec<String>,
}

/// Installed packages and where they were read from.
#[derive(Debug, Clone, Serialize)]
pub struct PackageList {
    /// `dpkg`, `rpm-sqlite`, `rpm-bdb`, `rpm-ndb`, `apk`, `pacman`.
    pub database: String,
    /// Guest path of the database.
    pub path: String,
    pub count: usize,
    pub packages: Vec<Package>,
}

/// A problem met during inspection: the answer around it may be partial.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Warning {
    /// Section that met it (`os`, `packages` …).
    pub section: &'static str,
    /// Guest file concerned.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    pub message: String,
}

impl std::fmt::Display for Warning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.path {
            Some(p) => write!(f, "{}: {p}: {}", self.section, self.message),
            None => write!(f, "{}: {}", self.section, self.message),
        }
    }
}
