//! A Windows Server 2022 guest for the inspector: SOFTWARE and SYSTEM hives
//! written by guestkit-regf's builder (checked against hivex in its own
//! tests), put on NTFS by `wimapply` (wimlib writes through libntfs-3g into
//! the image file: no mount), on an MBR disk whose signature the hive's
//! `MountedDevices` names — raw and qcow2.

use std::fs;
use std::path::{Path, PathBuf};

use guestkit_regf::write::HiveBuilder;
use guestkit_regf::RegValue;

use crate::disks::{sparse_file, splice};
use crate::tools::{arg, run, run_with_stdin};
use crate::{cached, FixtureError, Result};

const RECIPE: &str = include_str!("windows.rs");

/// MBR disk signature of the fixture disk.
pub const DISK_SIGNATURE: u32 = 0x5EED_2022;
/// Byte offset of the NTFS partition.
pub const PARTITION_OFFSET: u64 = 1 << 20;
/// Hostname the SYSTEM hive gives.
pub const HOSTNAME: &str = "win-guestkit";

/// Applications in the 64-bit Uninstall key: (key, DisplayName,
/// DisplayVersion, Publisher).
pub const APPS_64: &[(&str, &str, &str, &str)] = &[
    (
        "{1D8E6291-B0D5-35EC-8441-6616F567A0F7}",
        "Microsoft Visual C++ 2010  x64 Redistributable - 10.0.40219",
        "10.0.40219",
        "Microsoft Corporation",
    ),
    ("7-Zip", "7-Zip 23.01 (x64)", "23.01", "Igor Pavlov"),
    (
        "PostgreSQL 16",
        "PostgreSQL 16 ",
        "16.2-1",
        "PostgreSQL Global Development Group",
    ),
];
/// Applications in the 32-bit (WOW6432Node) view.
pub const APPS_32: &[(&str, &str, &str, &str)] = &[(
    "Notepad++",
    "Notepad++ (32-bit x86)",
    "8.6.4",
    "Notepad++ Team",
)];

fn io<T>(path: &Path, r: std::io::Result<T>) -> Result<T> {
    r.map_err(|e| FixtureError::io(path, e))
}

fn sz(s: &str) -> RegValue {
    RegValue::Sz(s.to_string())
}

/// The SOFTWARE hive.
pub fn software_hive() -> Vec<u8> {
    let mut h = HiveBuilder::new();
    let cv = "Microsoft\\Windows NT\\CurrentVersion";
    h.set_value(cv, "ProductName", sz("Windows Server 2022 Datacenter"))
        .set_value(cv, "InstallationType", sz("Server"))
        .set_value(cv, "EditionID", sz("ServerDatacenter"))
        .set_value(cv, "CurrentVersion", sz("6.3"))
        .set_value(cv, "CurrentMajorVersionNumber", RegValue::Dword(10))
        .set_value(cv, "CurrentMinorVersionNumber", RegValue::Dword(0))
        .set_value(cv, "CurrentBuildNumber", sz("20348"))
        .set_value(cv, "CurrentBuild", sz("20348"))
        .set_value(cv, "SystemRoot", sz("C:\\Windows"));
    for (view, apps) in [
        ("Microsoft\\Windows\\CurrentVersion\\Uninstall", APPS_64),
        (
            "WOW6432Node\\Microsoft\\Windows\\CurrentVersion\\Uninstall",
            APPS_32,
        ),
    ] {
        for (key, name, version, publisher) in apps {
            let path = format!("{view}\\{key}");
            h.set_value(&path, "DisplayName", sz(name))
                .set_value(&path, "DisplayVersion", sz(version))
                .set_value(&path, "Publisher", sz(publisher))
                .set_value(&path, "EstimatedSize", RegValue::Dword(2048));
        }
    }
    // An update entry without a display name: Windows does not list it.
    h.set_value(
        "Microsoft\\Windows\\CurrentVersion\\Uninstall\\KB5034129",
        "ParentKeyName",
        sz("OperatingSystem"),
    );
    h.build()
}

/// The SYSTEM hive.
pub fn system_hive() -> Vec<u8> {
    let mut h = HiveBuilder::new();
    h.set_value("Select", "Current", RegValue::Dword(1))
        .set_value("Select", "Default", RegValue::Dword(1));
    let set = "ControlSet001";
    h.set_value(
        &format!("{set}\\Control\\ComputerName\\ComputerName"),
        "ComputerName",
        sz("WIN-GUESTKIT"),
    )
    .set_value(
        &format!("{set}\\Services\\Tcpip\\Parameters"),
        "Hostname",
        sz(HOSTNAME),
    )
    .set_value(
        &format!("{set}\\Control\\ProductOptions"),
        "ProductType",
        sz("ServerNT"),
    )
    .set_value(
        &format!("{set}\\Control\\Session Manager\\Environment"),
        "PROCESSOR_ARCHITECTURE",
        sz("AMD64"),
    );
    let mut c_drive = DISK_SIGNATURE.to_le_bytes().to_vec();
    c_drive.extend_from_slice(&PARTITION_OFFSET.to_le_bytes());
    h.set_value(
        "MountedDevices",
        "\\DosDevices\\C:",
        RegValue::Binary(c_drive),
    );
    h.build()
}

/// The first bytes of an x86_64 PE image (DOS stub header and PE header
/// with the machine field): what the inspector reads of `cmd.exe`. Not a
/// working program.
pub fn pe_header_x86_64() -> Vec<u8> {
    let mut pe = vec![0u8; 0x40];
    pe[..2].copy_from_slice(b"MZ");
    pe[0x3c..0x40].copy_from_slice(&0x40u32.to_le_bytes());
    pe.extend_from_slice(b"PE\0\0");
    pe.extend_from_slice(&0x8664u16.to_le_bytes());
    pe.resize(0x200, 0);
    pe
}

fn write(path: &Path, data: &[u8]) -> Result<()> {
    if let Some(parent) = path.parent() {
        io(parent, fs::create_dir_all(parent))?;
    }
    io(path, fs::write(path, data))
}

/// Builds (or finds cached) the Windows guest; returns `(raw, qcow2)`.
pub fn windows_guest() -> Result<(PathBuf, PathBuf)> {
    let dir = cached("windows-guest", RECIPE, |dir| {
        let tree = dir.join("tree");
        let config = tree.join("Windows/System32/config");
        write(&config.join("SOFTWARE"), &software_hive())?;
        write(&config.join("SYSTEM"), &system_hive())?;
        write(&tree.join("Windows/System32/cmd.exe"), &pe_header_x86_64())?;
        write(
            &tree.join("Users/Administrator/Desktop/readme.txt"),
            b"guestkit Windows fixture\r\n",
        )?;
        let ntfs = dir.join("ntfs.img");
        sparse_file(&ntfs, 48 << 20)?;
        run("mkntfs", &["-q", "-F", "-Q", "-L", "Windows", arg(&ntfs)?])?;
        let wim = dir.join("tree.wim");
        run(
            "wimcapture",
            &["--quiet", "--compress=none", arg(&tree)?, arg(&wim)?],
        )?;
        run("wimapply", &["--quiet", arg(&wim)?, "1", arg(&ntfs)?])?;
        io(&wim, fs::remove_file(&wim))?;
        let raw = dir.join("windows.raw");
        sparse_file(&raw, (48 << 20) + PARTITION_OFFSET)?;
        let script = format!(
            "label: dos\nlabel-id: 0x{DISK_SIGNATURE:08x}\nstart={}, type=7, bootable\n",
            PARTITION_OFFSET / 512
        );
        run_with_stdin("sfdisk", &["--quiet", arg(&raw)?], Some(script.as_bytes()))?;
        splice(&ntfs, &raw, PARTITION_OFFSET)?;
        io(&ntfs, fs::remove_file(&ntfs))?;
        run(
            "qemu-img",
            &[
                "convert",
                "-O",
                "qcow2",
                arg(&raw)?,
                arg(&dir.join("windows.qcow2"))?,
            ],
        )?;
        Ok(())
    })?;
    Ok((dir.join("windows.raw"), dir.join("windows.qcow2")))
}
