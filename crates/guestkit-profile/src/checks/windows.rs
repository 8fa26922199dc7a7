//! Windows guests, from what the report reads of the registry: the
//! computer name, installed applications and service start modes.

use guestkit_inspect::services::WindowsService;

use super::accounts::tri;
use super::sets::*;
use super::{Applies, Check, Ctx};
use crate::model::{Evidence, Outcome, Severity};

const SERVICES_KEY: &str = r"HKLM\SYSTEM\CurrentControlSet\Services";

fn services<'a>(ctx: &Ctx<'a>) -> Result<&'a [WindowsService], Outcome> {
    match ctx.os.services.as_ref().and_then(|s| s.windows.as_deref()) {
        Some(list) if !list.is_empty() => Ok(list),
        _ => Err(Outcome::na("no services read from the SYSTEM hive")),
    }
}

fn find<'a>(list: &'a [WindowsService], name: &str) -> Option<&'a WindowsService> {
    list.iter().find(|s| s.name.eq_ignore_ascii_case(name))
}

fn start_evidence(s: &WindowsService) -> Evidence {
    Evidence::field(
        format!(r"{SERVICES_KEY}\{}\Start", s.name),
        format!(
            "{} ({})",
            s.start.map_or("-".into(), |n| n.to_string()),
            s.start_mode.as_deref().unwrap_or("unknown")
        ),
    )
}

fn automatic(s: &WindowsService) -> bool {
    s.start_mode
        .as_deref()
        .is_some_and(|m| m.starts_with("automatic") || m == "boot" || m == "system")
}

/// Fails when the service `name` exists and starts automatically.
fn must_not_autostart(ctx: &Ctx<'_>, name: &str) -> Outcome {
    let list = tri!(services(ctx));
    match find(list, name) {
        Some(s) if automatic(s) => Outcome::fail(vec![start_evidence(s)]),
        Some(s) => Outcome::pass(vec![start_evidence(s)]),
        None => Outcome::pass(vec![Evidence::field(
            format!(r"{SERVICES_KEY}\{name}"),
            "absent",
        )]),
    }
}

/// Fails when the service `name` is absent or does not start
/// automatically.
fn must_autostart(ctx: &Ctx<'_>, name: &str) -> Outcome {
    let list = tri!(services(ctx));
    match find(list, name) {
        Some(s) if automatic(s) => Outcome::pass(vec![start_evidence(s)]),
        Some(s) => Outcome::fail(vec![start_evidence(s)]),
        None => Outcome::fail(vec![Evidence::field(
            format!(r"{SERVICES_KEY}\{name}"),
            "absent",
        )]),
    }
}

fn remote_registry(ctx: &Ctx<'_>) -> Outcome {
    must_not_autostart(ctx, "RemoteRegistry")
}
fn telnet(ctx: &Ctx<'_>) -> Outcome {
    must_not_autostart(ctx, "TlntSvr")
}
fn snmp(ctx: &Ctx<'_>) -> Outcome {
    must_not_autostart(ctx, "SNMP")
}
fn firewall(ctx: &Ctx<'_>) -> Outcome {
    must_autostart(ctx, "MpsSvc")
}
fn defender(ctx: &Ctx<'_>) -> Outcome {
    must_autostart(ctx, "WinDefend")
}
fn event_log(ctx: &Ctx<'_>) -> Outcome {
    must_autostart(ctx, "EventLog")
}

/// The SMBv1 client driver (mrxsmb10) must be disabled (Start = 4).
fn smb1_client(ctx: &Ctx<'_>) -> Outcome {
    let list = tri!(services(ctx));
    match find(list, "mrxsmb10") {
        Some(s) if s.start_mode.as_deref() != Some("disabled") => {
            Outcome::fail(vec![start_evidence(s)])
        }
        Some(s) => Outcome::pass(vec![start_evidence(s)]),
        None => Outcome::pass(vec![Evidence::field(
            format!(r"{SERVICES_KEY}\mrxsmb10"),
            "absent",
        )]),
    }
}

fn windows_update(ctx: &Ctx<'_>) -> Outcome {
    let list = tri!(services(ctx));
    match find(list, "wuauserv") {
        Some(s) if s.start_mode.as_deref() == Some("disabled") => {
            Outcome::fail(vec![start_evidence(s)])
        }
        Some(s) => Outcome::pass(vec![start_evidence(s)]),
        None => Outcome::fail(vec![Evidence::field(
            format!(r"{SERVICES_KEY}\wuauserv"),
            "absent",
        )]),
    }
}

fn hostname(ctx: &Ctx<'_>) -> Outcome {
    let key = r"HKLM\SYSTEM\CurrentControlSet\Services\Tcpip\Parameters\Hostname";
    match ctx.os.os.hostname.as_deref() {
        Some(h) if !h.trim().is_empty() => Outcome::pass(vec![Evidence::field(key, h)]),
        _ => Outcome::fail(vec![Evidence::field(key, "unset")]),
    }
}

fn installed_apps(ctx: &Ctx<'_>) -> Outcome {
    match &ctx.os.packages {
        Some(list) => Outcome::pass(vec![Evidence::field(
            r"HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\Uninstall",
            format!("{} applications", list.count),
        )]),
        None => Outcome::na("no application list in the report"),
    }
}

/// A Windows check entry: every Windows check (report- or registry-based)
/// applies to Windows only and carries no references.
macro_rules! win_check {
    ($id:literal, $title:literal, $desc:literal, $profiles:ident, $sev:ident, $fix:literal, $run:ident) => {
        Check {
            id: $id,
            title: $title,
            description: $desc,
            profiles: $profiles,
            severity: Severity::$sev,
            applies: Applies::WINDOWS,
            remediation: $fix,
            references: &[],
            run: $run,
        }
    };
}
pub(super) use win_check;

/// The Windows checks.
pub const CHECKS: &[Check] = &[
    win_check!(
        "windows.smb1-client",
        "The SMBv1 client driver is disabled",
        "mrxsmb10 speaks SMBv1, exploited by WannaCry and NotPetya.",
        SEC_HARD,
        High,
        "Disable SMB1 (`Disable-WindowsOptionalFeature -Online -FeatureName SMB1Protocol`); mrxsmb10 Start = 4.",
        smb1_client
    ),
    win_check!(
        "windows.hostname-set",
        "The computer has a host name",
        "The TCP/IP host name is set in the SYSTEM hive.",
        MIG,
        Info,
        "Set the computer name.",
        hostname
    ),
    win_check!(
        "windows.installed-apps",
        "Installed applications are inventoried",
        "The Uninstall keys list the installed applications.",
        MIG,
        Info,
        "Review the list for software to remove or relicense on the target.",
        installed_apps
    ),
    win_check!(
        "windows.remote-registry",
        "Remote Registry does not start automatically",
        "RemoteRegistry lets the network read and change the registry.",
        SEC_HARD,
        Medium,
        "Set RemoteRegistry's start type to Disabled.",
        remote_registry
    ),
    win_check!(
        "windows.telnet-server",
        "Telnet server does not start automatically",
        "Telnet sends credentials in clear text.",
        SEC_HARD,
        High,
        "Remove the Telnet Server feature.",
        telnet
    ),
    win_check!(
        "windows.snmp",
        "SNMP does not start automatically",
        "SNMP v1/v2 community strings are clear-text passwords.",
        SEC_HARD,
        Medium,
        "Disable or remove the SNMP service.",
        snmp
    ),
    win_check!(
        "windows.firewall-service",
        "Windows Firewall service starts automatically",
        "MpsSvc enforces the host firewall profiles.",
        SEC_COMP,
        High,
        "Set MpsSvc's start type to Automatic.",
        firewall
    ),
    win_check!(
        "windows.defender-service",
        "Microsoft Defender starts automatically",
        "WinDefend provides antimalware protection.",
        SEC_COMP,
        Medium,
        "Enable Microsoft Defender (or install another antimalware product).",
        defender
    ),
    win_check!(
        "windows.update-service",
        "Windows Update is not disabled",
        "wuauserv must be able to run for security updates.",
        SEC_COMP,
        Medium,
        "Set wuauserv's start type to Manual or Automatic.",
        windows_update
    ),
    win_check!(
        "windows.event-log",
        "Event Log starts automatically",
        "The EventLog service records security events.",
        COMP,
        Medium,
        "Set EventLog's start type to Automatic.",
        event_log
    ),
];
