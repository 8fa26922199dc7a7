//! Windows registry checks on a hand-built Windows tree (SOFTWARE and
//! SYSTEM hives written with guestkit-regf's builder): a hardened set of
//! values passes, each weakened value fails exactly its check with the
//! registry key as evidence, and absent values are not guessed.

mod common;

use std::path::Path;

use common::{failing, finding, profile_tree, write};
use guestkit_profile::Status;
use guestkit_regf::write::HiveBuilder;
use guestkit_regf::RegValue;

type Values = Vec<(&'static str, &'static str, RegValue)>;

fn software() -> Values {
    let cv = r"Microsoft\Windows NT\CurrentVersion";
    vec![
        (
            cv,
            "ProductName",
            RegValue::Sz("Windows Server 2022 Datacenter".into()),
        ),
        (cv, "CurrentMajorVersionNumber", RegValue::Dword(10)),
        (cv, "CurrentMinorVersionNumber", RegValue::Dword(0)),
        (cv, "CurrentBuildNumber", RegValue::Sz("20348".into())),
        (cv, "InstallationType", RegValue::Sz("Server".into())),
        (
            r"Microsoft\Windows\CurrentVersion\Policies\System",
            "EnableLUA",
            RegValue::Dword(1),
        ),
        (
            r"Microsoft\Windows NT\CurrentVersion\Winlogon",
            "AutoAdminLogon",
            RegValue::Sz("0".into()),
        ),
        (
            r"Policies\Microsoft\Windows Defender",
            "DisableAntiSpyware",
            RegValue::Dword(0),
        ),
        (
            r"Policies\Microsoft\Windows\WindowsUpdate\AU",
            "NoAutoUpdate",
            RegValue::Dword(0),
        ),
    ]
}

fn system() -> Values {
    let fw = r"ControlSet001\Services\SharedAccess\Parameters\FirewallPolicy";
    vec![
        ("Select", "Current", RegValue::Dword(1)),
        (
            r"ControlSet001\Services\Tcpip\Parameters",
            "Hostname",
            RegValue::Sz("win-hard".into()),
        ),
        (r"ControlSet001\Control\Lsa", "NoLMHash", RegValue::Dword(1)),
        (
            r"ControlSet001\Services\LanmanServer\Parameters",
            "SMB1",
            RegValue::Dword(0),
        ),
        (
            r"ControlSet001\Control\Terminal Server",
            "fDenyTSConnections",
            RegValue::Dword(0),
        ),
        (
            r"ControlSet001\Control\Terminal Server\WinStations\RDP-Tcp",
            "UserAuthentication",
            RegValue::Dword(1),
        ),
        (
            Box::leak(format!(r"{fw}\DomainProfile").into_boxed_str()),
            "EnableFirewall",
            RegValue::Dword(1),
        ),
        (
            Box::leak(format!(r"{fw}\StandardProfile").into_boxed_str()),
            "EnableFirewall",
            RegValue::Dword(1),
        ),
        (
            Box::leak(format!(r"{fw}\PublicProfile").into_boxed_str()),
            "EnableFirewall",
            RegValue::Dword(1),
        ),
    ]
}

fn hive(values: &Values) -> Vec<u8> {
    let mut h = HiveBuilder::new();
    for (key, name, v) in values {
        h.set_value(key, name, v.clone());
    }
    h.build()
}

/// A SAM hive whose Guest account has account-control `flags`.
fn sam(flags: u16) -> Vec<u8> {
    let mut f = vec![0u8; 0x50];
    f[0x30..0x34].copy_from_slice(&501u32.to_le_bytes());
    f[0x38..0x3a].copy_from_slice(&flags.to_le_bytes());
    let mut h = HiveBuilder::new();
    h.set_value(
        r"SAM\Domains\Account\Users\000001F5",
        "F",
        RegValue::Binary(f),
    );
    h.build()
}

fn tree(root: &Path, sw: &Values, sys: &Values) {
    tree_with_sam(root, sw, sys, Some(0x0211));
}

fn tree_with_sam(root: &Path, sw: &Values, sys: &Values, guest_flags: Option<u16>) {
    let config = root.join("Windows/System32/config");
    std::fs::create_dir_all(&config).expect("mkdir");
    if let Some(flags) = guest_flags {
        std::fs::write(config.join("SAM"), sam(flags)).expect("write");
    }
    std::fs::write(config.join("SOFTWARE"), hive(sw)).expect("write");
    std::fs::write(config.join("SYSTEM"), hive(sys)).expect("write");
    std::fs::write(
        root.join("Windows/System32/cmd.exe"),
        guestkit_fixtures::windows::pe_header_x86_64(),
    )
    .expect("write");
    write(root, "/Users/Administrator/Desktop/readme.txt", "x");
}

/// Replaces (or adds) `name` under `key`.
fn set(values: &mut Values, key: &'static str, name: &'static str, v: RegValue) {
    values.retain(|(k, n, _)| !(k.ends_with(key) && *n == name));
    values.push((key, name, v));
}

const REG_IDS: &[&str] = &[
    "windows.guest-account",
    "windows.uac",
    "windows.autologon",
    "windows.rdp-nla",
    "windows.lm-hash",
    "windows.smb1-server",
    "windows.firewall-profiles",
    "windows.defender-policy",
    "windows.automatic-updates",
];

#[test]
fn hardened_registry_passes() {
    let tmp = tempfile::tempdir().expect("tmp");
    tree(tmp.path(), &software(), &system());
    let r = profile_tree(tmp.path());
    for id in REG_IDS {
        assert_eq!(
            finding(&r, id).status,
            Status::Pass,
            "{id}: {:?}",
            finding(&r, id)
        );
    }
    assert!(r.findings.iter().all(|f| f.id.starts_with("windows.")));
}

#[test]
fn each_weakened_value_fails_its_check() {
    type Case = (
        &'static str,
        bool,
        &'static str,
        &'static str,
        RegValue,
        &'static str,
    );
    let cases: Vec<Case> = vec![
        (
            "windows.uac",
            true,
            r"Microsoft\Windows\CurrentVersion\Policies\System",
            "EnableLUA",
            RegValue::Dword(0),
            r"HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\Policies\System\EnableLUA",
        ),
        (
            "windows.autologon",
            true,
            r"Microsoft\Windows NT\CurrentVersion\Winlogon",
            "AutoAdminLogon",
            RegValue::Sz("1".into()),
            "AutoAdminLogon",
        ),
        (
            "windows.rdp-nla",
            false,
            r"ControlSet001\Control\Terminal Server\WinStations\RDP-Tcp",
            "UserAuthentication",
            RegValue::Dword(0),
            r"HKLM\SYSTEM\CurrentControlSet\Control\Terminal Server\WinStations\RDP-Tcp\UserAuthentication",
        ),
        (
            "windows.lm-hash",
            false,
            r"ControlSet001\Control\Lsa",
            "NoLMHash",
            RegValue::Dword(0),
            r"Control\Lsa\NoLMHash",
        ),
        (
            "windows.smb1-server",
            false,
            r"ControlSet001\Services\LanmanServer\Parameters",
            "SMB1",
            RegValue::Dword(1),
            "LanmanServer",
        ),
        (
            "windows.firewall-profiles",
            false,
            r"ControlSet001\Services\SharedAccess\Parameters\FirewallPolicy\PublicProfile",
            "EnableFirewall",
            RegValue::Dword(0),
            "PublicProfile",
        ),
        (
            "windows.defender-policy",
            true,
            r"Policies\Microsoft\Windows Defender",
            "DisableAntiSpyware",
            RegValue::Dword(1),
            "DisableAntiSpyware",
        ),
        (
            "windows.automatic-updates",
            true,
            r"Policies\Microsoft\Windows\WindowsUpdate\AU",
            "NoAutoUpdate",
            RegValue::Dword(1),
            "NoAutoUpdate",
        ),
    ];
    for (id, in_software, key, name, value, evidence) in cases {
        let (mut sw, mut sys) = (software(), system());
        set(
            if in_software { &mut sw } else { &mut sys },
            key,
            name,
            value,
        );
        let tmp = tempfile::tempdir().expect("tmp");
        tree(tmp.path(), &sw, &sys);
        let r = profile_tree(tmp.path());
        let fails: Vec<&str> = failing(&r)
            .into_iter()
            .filter(|f| REG_IDS.contains(f))
            .collect();
        assert_eq!(fails, vec![id]);
        let f = finding(&r, id);
        assert!(
            f.evidence.iter().any(|e| e.source.contains(evidence)),
            "{id}: {:?}",
            f.evidence
        );
    }
}

#[test]
fn enabled_guest_account_fails() {
    let tmp = tempfile::tempdir().expect("tmp");
    tree_with_sam(tmp.path(), &software(), &system(), Some(0x0210));
    let r = profile_tree(tmp.path());
    let fails: Vec<&str> = failing(&r)
        .into_iter()
        .filter(|f| REG_IDS.contains(f))
        .collect();
    assert_eq!(fails, vec!["windows.guest-account"]);
    let f = finding(&r, "windows.guest-account");
    assert_eq!(
        f.evidence[0].source,
        r"HKLM\SAM\Domains\Account\Users\000001F5\F"
    );
    assert_eq!(f.evidence[0].value, "account control flags 0x0210");
}

#[test]
fn absent_values_are_not_guessed() {
    let tmp = tempfile::tempdir().expect("tmp");
    tree_with_sam(
        tmp.path(),
        &software()[..5].to_vec(),
        &system()[..2].to_vec(),
        None,
    );
    let r = profile_tree(tmp.path());
    for id in REG_IDS {
        assert_eq!(finding(&r, id).status, Status::NotApplicable, "{id}");
    }
}
