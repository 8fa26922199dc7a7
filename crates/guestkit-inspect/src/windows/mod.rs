//! Windows guests, from their registry hives (read by our own regf reader,
//! never by running anything): product, version, build, edition, system
//! root, hostname, drive letters, architecture, installed applications.

pub mod version;

use guestkit_regf::{Hive, Key, Limits, RegValue};

use crate::files::GuestFiles;
use crate::packages::Package;
use crate::report::{OsInfo, PackageList};

const SECTION: &str = "os";

/// Largest hive read (real SOFTWARE hives reach a few hundred MB).
pub const MAX_HIVE_BYTES: u64 = 1 << 30;

/// Candidate system roots, in libguestfs's order.
const SYSTEM_ROOTS: [&str; 4] = ["/Windows", "/WINDOWS", "/WINNT", "/winnt"];

/// The system root of a Windows root filesystem: the first candidate with
/// a `System32/config` directory.
pub fn system_root(files: &GuestFiles) -> Option<&'static str> {
    SYSTEM_ROOTS
        .into_iter()
        .find(|root| files.is_dir(&format!("{root}/System32/config")))
}

/// A drive letter and what the SYSTEM hive's `MountedDevices` ties it to.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DriveMapping {
    /// `C:`.
    pub letter: String,
    /// `mbr:<disk signature>:<byte offset>`, `gpt:<partition GUID>`, or the
    /// raw device path.
    pub device: String,
}

/// What the Windows inspector found.
#[derive(Debug, Default)]
pub struct WindowsFacts {
    pub info: OsInfo,
    pub system_root: Option<String>,
    pub drive_mappings: Vec<DriveMapping>,
    pub applications: Option<PackageList>,
    /// Services and drivers of the current control set, when asked for.
    pub services: Option<crate::services::ServicesSection>,
}

fn load_hive(files: &GuestFiles, path: &str) -> Option<Hive<'static>> {
    let bytes = files.read_prefix(SECTION, path, MAX_HIVE_BYTES)?;
    match Hive::from_vec(bytes, Limits::default()) {
        Ok(h) => {
            if h.is_dirty() {
                files.warn(
                    SECTION,
                    path,
                    "the hive is dirty (its logs were not replayed): read as it is",
                );
            }
            Some(h)
        }
        Err(e) => {
            files.warn(SECTION, path, e.to_string());
            None
        }
    }
}

/// The value `name` of `key` in `hive`, errors kept as warnings.
fn value(files: &GuestFiles, path: &str, key: Option<&Key>, name: &str) -> Option<RegValue> {
    let key = key?;
    match key
        .value(name)
        .and_then(|v| v.map(|v| v.data()).transpose())
    {
        Ok(v) => v,
        Err(e) => {
            files.warn(SECTION, path, format!("{}\\{name}: {e}", key.name()));
            None
        }
    }
}

fn open<'h>(files: &GuestFiles, file: &str, hive: &'h Hive<'static>, key: &str) -> Option<Key<'h>> {
    match hive.open(key) {
        Ok(k) => k,
        Err(e) => {
            files.warn(SECTION, file, format!("{key}: {e}"));
            None
        }
    }
}

fn string(v: Option<RegValue>) -> Option<String> {
    v.and_then(|v| v.as_string().map(str::to_string))
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

/// Inspects the Windows installation of the guest root; the installed
/// applications and the services are read when asked for.
pub fn inspect(files: &GuestFiles, with_applications: bool, with_services: bool) -> WindowsFacts {
    let mut facts = WindowsFacts {
        info: OsInfo {
            os_type: "windows".into(),
            distro: Some("windows".into()),
            ..OsInfo::default()
        },
        ..WindowsFacts::default()
    };
    let Some(root) = system_root(files) else {
        files.warn(
            SECTION,
            "/",
            "a Windows directory without System32/config: no hives to read",
        );
        return facts;
    };
    facts.system_root = Some(root.to_string());
    let software_path = format!("{root}/System32/config/SOFTWARE");
    let system_path = format!("{root}/System32/config/SYSTEM");
    if let Some(software) = load_hive(files, &software_path) {
        facts.info.identified_from.push(software_path.clone());
        read_software(files, &software_path, &software, &mut facts.info);
        if with_applications {
            facts.applications = Some(applications(files, &software_path, &software));
        }
    }
    if let Some(system) = load_hive(files, &system_path) {
        facts.info.identified_from.push(system_path.clone());
        read_system(files, &system_path, &system, &mut facts, with_services);
    }
    let cmd = format!("{root}/System32/cmd.exe");
    if let Some(arch) = files
        .read_head(SECTION, &cmd, 4096)
        .and_then(|head| crate::os::arch::pe_arch(&head))
    {
        facts.info.arch = Some(arch.to_string());
    }
    let i = &mut facts.info;
    if let (Some(major), Some(minor)) = (i.version_major, i.version_minor) {
        let build = i.build_id.as_deref().and_then(|b| b.parse().ok());
        let server = i.product_variant.as_deref() == Some("Server");
        i.osinfo = version::osinfo(major, minor, build, server);
    }
    facts
}

fn read_software(files: &GuestFiles, path: &str, hive: &Hive<'static>, info: &mut OsInfo) {
    let cv = open(files, path, hive, "Microsoft\\Windows NT\\CurrentVersion");
    let cv = cv.as_ref();
    info.product_name = string(value(files, path, cv, "ProductName"));
    info.product_variant = string(value(files, path, cv, "InstallationType"));
    info.build_id = string(value(files, path, cv, "CurrentBuildNumber"))
        .or_else(|| string(value(files, path, cv, "CurrentBuild")));
    // Windows 10 and later keep the version in two DWORDs ("CurrentVersion"
    // stays "6.3" for compatibility); older ones only in the string.
    let major = value(files, path, cv, "CurrentMajorVersionNumber").and_then(|v| v.as_u32());
    let minor = value(files, path, cv, "CurrentMinorVersionNumber").and_then(|v| v.as_u32());
    let (major, minor) = match (major, minor) {
        (Some(a), Some(b)) => (Some(a), Some(b)),
        _ => match string(value(files, path, cv, "CurrentVersion"))
            .as_deref()
            .and_then(crate::os::os_release::major_minor)
        {
            Some((a, b)) => (Some(a), Some(b)),
            None => (None, None),
        },
    };
    info.version_major = major;
    info.version_minor = minor;
    // Windows 11 still says "Windows 10" in ProductName: the build decides.
    if let (Some(name), Some(build)) = (&info.product_name, info.build_id.as_deref()) {
        if name.starts_with("Windows 10") && build.parse::<u32>().is_ok_and(|b| b >= 22000) {
            info.product_name = Some(name.replacen("Windows 10", "Windows 11", 1));
        }
    }
    if let Some(edition) = string(value(files, path, cv, "EditionID")) {
        info.pretty_name = Some(format!(
            "{} ({edition})",
            info.product_name.as_deref().unwrap_or("Windows")
        ));
    }
}

fn read_system(
    files: &GuestFiles,
    path: &str,
    hive: &Hive<'static>,
    facts: &mut WindowsFacts,
    with_services: bool,
) {
    let select = open(files, path, hive, "Select");
    let current = value(files, path, select.as_ref(), "Current")
        .and_then(|v| v.as_u32())
        .unwrap_or(1);
    let set = format!("ControlSet{current:03}");
    if with_services {
        let (section, warnings) = crate::services::windows_section(hive, &set);
        for w in warnings {
            files.warn("services", path, w);
        }
        facts.services = Some(section);
    }
    let name_key = open(
        files,
        path,
        hive,
        &format!("{set}\\Control\\ComputerName\\ComputerName"),
    );
    let tcpip = open(
        files,
        path,
        hive,
        &format!("{set}\\Services\\Tcpip\\Parameters"),
    );
    facts.info.hostname = string(value(files, path, tcpip.as_ref(), "Hostname"))
        .or_else(|| string(value(files, path, name_key.as_ref(), "ComputerName")));
    if facts.info.product_variant.is_none() {
        let options = open(
            files,
            path,
            hive,
            &format!("{set}\\Control\\ProductOptions"),
        );
        facts.info.product_variant = string(value(files, path, options.as_ref(), "ProductType"))
            .map(|t| match t.as_str() {
                "WinNT" => "Client".to_string(),
                "ServerNT" | "LanmanNT" => "Server".to_string(),
                other => other.to_string(),
            });
    }
    if facts.info.arch.is_none() {
        let env = open(
            files,
            path,
            hive,
            &format!("{set}\\Control\\Session Manager\\Environment"),
        );
        facts.info.arch =
            string(value(files, path, env.as_ref(), "PROCESSOR_ARCHITECTURE")).map(|a| {
                match a.as_str() {
                    "AMD64" => "x86_64".to_string(),
                    "x86" => "i386".to_string(),
                    "ARM64" => "aarch64".to_string(),
                    other => other.to_ascii_lowercase(),
                }
            });
    }
    if let Some(mounted) = open(files, path, hive, "MountedDevices") {
        for v in mounted.values().filter_map(Result::ok) {
            let name = v.name();
            let Some(letter) = name.strip_prefix("\\DosDevices\\") else {
                continue;
            };
            let Ok(data) = v.raw_data() else { continue };
            facts.drive_mappings.push(DriveMapping {
                letter: letter.to_string(),
                device: mounted_device(&data),
            });
        }
        facts.drive_mappings.sort_by(|a, b| a.letter.cmp(&b.letter));
    }
}

/// What a `MountedDevices` value points at: an MBR disk signature and
/// partition offset (12 bytes), a GPT partition GUID (`DMIO:ID:` + 16
/// bytes), or a device path in UTF-16.
pub fn mounted_device(data: &[u8]) -> String {
    let le32 = |b: &[u8]| b.try_into().map(u32::from_le_bytes).ok();
    let le64 = |b: &[u8]| b.try_into().map(u64::from_le_bytes).ok();
    if data.len() == 12 {
        if let (Some(sig), Some(off)) =
            (data.get(..4).and_then(le32), data.get(4..12).and_then(le64))
        {
            return format!("mbr:{sig:08x}:{off}");
        }
    }
    if let Some(guid) = data
        .strip_prefix(b"DMIO:ID:")
        .and_then(|g| <&[u8; 16]>::try_from(g).ok())
    {
        return format!("gpt:{}", guestkit_disk::uuid::uuid_mixed(guid));
    }
    let units: Vec<u16> = data
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .take_while(|u| *u != 0)
        .collect();
    String::from_utf16_lossy(&units)
}

/// Installed applications: the Uninstall keys of the 64-bit and 32-bit
/// registry views, entries without a display name skipped as Windows'
/// own list does.
fn applications(files: &GuestFiles, path: &str, hive: &Hive<'static>) -> PackageList {
    let mut packages = Vec::new();
    for view in [
        "Microsoft\\Windows\\CurrentVersion\\Uninstall",
        "WOW6432Node\\Microsoft\\Windows\\CurrentVersion\\Uninstall",
    ] {
        let Some(key) = open(files, path, hive, view) else {
            continue;
        };
        let wow = view.starts_with("WOW6432Node");
        for sub in key.subkeys() {
            let sub = match sub {
                Ok(s) => s,
                Err(e) => {
                    files.warn("packages", path, format!("{view}: {e}"));
                    continue;
                }
            };
            let s = Some(&sub);
            let Some(name) = string(value(files, path, s, "DisplayName")) else {
                continue;
            };
            packages.push(Package {
                name,
                version: string(value(files, path, s, "DisplayVersion")).unwrap_or_default(),
                arch: Some(if wow { "x86" } else { "native" }.to_string()),
                source_name: Some(sub.name()),
                vendor: string(value(files, path, s, "Publisher")),
                summary: string(value(files, path, s, "Comments")),
                installed_size: value(files, path, s, "EstimatedSize")
                    .and_then(|v| v.as_u32())
                    .map(|kib| u64::from(kib) * 1024),
                ..Package::default()
            });
        }
    }
    packages.sort_by(|a, b| (&a.name, &a.version).cmp(&(&b.name, &b.version)));
    PackageList {
        database: "windows-uninstall".into(),
        path: format!("{path}\\Microsoft\\Windows\\CurrentVersion\\Uninstall"),
        count: packages.len(),
        packages,
    }
}
