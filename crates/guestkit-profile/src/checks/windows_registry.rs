//! Windows settings read straight from the SOFTWARE and SYSTEM hives
//! (the report does not carry them): UAC, autologon, RDP and NLA, LM
//! hashes, SMBv1 server, firewall profiles, Defender, automatic updates.
//! A value that is absent is not guessed from Windows defaults (which vary
//! by version): the check says not_applicable.

use guestkit_inspect::windows::MAX_HIVE_BYTES;
use guestkit_regf::{Hive, Limits, RegValue};

use super::accounts::tri;
use super::sets::*;
use super::windows::win_check;
use super::{Applies, Check, Ctx, SECTION};
use crate::model::{Evidence, Outcome, Severity};

/// The two hives the checks read.
pub struct Hives {
    pub software: Option<Hive<'static>>,
    pub sam: Option<Hive<'static>>,
    pub system: Option<Hive<'static>>,
    /// `ControlSet001` …, from `Select\Current`.
    pub control_set: Option<String>,
}

impl Hives {
    /// Loads the hives below the system root of `ctx` (problems become
    /// warnings of the guest files).
    pub fn load(ctx: &Ctx<'_>) -> Hives {
        let root = ctx
            .os
            .windows
            .as_ref()
            .and_then(|w| w.system_root.clone())
            .unwrap_or_else(|| "/Windows".into());
        let load = |name: &str| {
            let files = ctx.files?;
            let path = format!("{root}/System32/config/{name}");
            let bytes = files.read_prefix(SECTION, &path, MAX_HIVE_BYTES)?;
            match Hive::from_vec(bytes, Limits::default()) {
                Ok(h) => Some(h),
                Err(e) => {
                    files.warn(SECTION, &path, e.to_string());
                    None
                }
            }
        };
        let system = load("SYSTEM");
        let control_set = system.as_ref().and_then(|h| {
            let key = h.open("Select").ok().flatten()?;
            let v = key.value("Current").ok().flatten()?.data().ok()?.as_u32()?;
            Some(format!("ControlSet{v:03}"))
        });
        Hives {
            software: load("SOFTWARE"),
            sam: load("SAM"),
            system,
            control_set,
        }
    }
}

/// Which hive a value lives in.
#[derive(Clone, Copy)]
enum Root {
    Software,
    /// Below the current control set.
    System,
}

/// A registry value with the full key name for evidence.
struct Found {
    key: String,
    value: Option<RegValue>,
    key_exists: bool,
}

fn read(ctx: &Ctx<'_>, root: Root, path: &str, name: &str) -> Result<Found, Outcome> {
    ctx.files()?;
    let hives = ctx.hives();
    let (hive, full, display) = match root {
        Root::Software => (
            hives.software.as_ref(),
            path.to_string(),
            format!(r"HKLM\SOFTWARE\{path}"),
        ),
        Root::System => {
            let cs = hives
                .control_set
                .as_deref()
                .ok_or_else(|| Outcome::na("no current control set in the SYSTEM hive"))?;
            (
                hives.system.as_ref(),
                format!(r"{cs}\{path}"),
                format!(r"HKLM\SYSTEM\CurrentControlSet\{path}"),
            )
        }
    };
    let hive = hive.ok_or_else(|| Outcome::na("hive not readable"))?;
    let key = hive
        .open(&full)
        .map_err(|e| Outcome::error(format!("{display}: {e}")))?;
    let Some(key) = key else {
        return Ok(Found {
            key: display,
            value: None,
            key_exists: false,
        });
    };
    let value = key
        .value(name)
        .map_err(|e| Outcome::error(format!(r"{display}\{name}: {e}")))?
        .map(|v| v.data())
        .transpose()
        .map_err(|e| Outcome::error(format!(r"{display}\{name}: {e}")))?;
    Ok(Found {
        key: format!(r"{display}\{name}"),
        value,
        key_exists: true,
    })
}

fn show(v: &RegValue) -> String {
    v.as_u32()
        .map(|n| n.to_string())
        .or_else(|| v.as_string().map(str::to_string))
        .unwrap_or_else(|| format!("{v:?}"))
}

/// Pass when the DWORD at `path\name` is `good`, fail when it is another
/// number, not applicable when absent.
fn dword(ctx: &Ctx<'_>, root: Root, path: &str, name: &str, good: u32) -> Outcome {
    let f = tri!(read(ctx, root, path, name));
    match f.value.as_ref().and_then(RegValue::as_u32) {
        Some(n) => {
            let ev = vec![Evidence::field(f.key, n.to_string())];
            if n == good {
                Outcome::pass(ev)
            } else {
                Outcome::fail(ev)
            }
        }
        None => Outcome::na(format!("{} not set", f.key)),
    }
}

fn uac(ctx: &Ctx<'_>) -> Outcome {
    dword(
        ctx,
        Root::Software,
        r"Microsoft\Windows\CurrentVersion\Policies\System",
        "EnableLUA",
        1,
    )
}

fn lm_hash(ctx: &Ctx<'_>) -> Outcome {
    dword(ctx, Root::System, r"Control\Lsa", "NoLMHash", 1)
}

fn smb1_server(ctx: &Ctx<'_>) -> Outcome {
    dword(
        ctx,
        Root::System,
        r"Services\LanmanServer\Parameters",
        "SMB1",
        0,
    )
}

fn autologon(ctx: &Ctx<'_>) -> Outcome {
    let f = tri!(read(
        ctx,
        Root::Software,
        r"Microsoft\Windows NT\CurrentVersion\Winlogon",
        "AutoAdminLogon"
    ));
    if !f.key_exists {
        return Outcome::na("no Winlogon key");
    }
    match &f.value {
        Some(v) if show(v).trim() == "1" => Outcome::fail(vec![Evidence::field(f.key, show(v))]),
        Some(v) => Outcome::pass(vec![Evidence::field(f.key, show(v))]),
        None => Outcome::pass(vec![Evidence::field(f.key, "absent (off)")]),
    }
}

fn rdp_nla(ctx: &Ctx<'_>) -> Outcome {
    let deny = tri!(read(
        ctx,
        Root::System,
        r"Control\Terminal Server",
        "fDenyTSConnections"
    ));
    match deny.value.as_ref().and_then(RegValue::as_u32) {
        Some(1) => Outcome::pass(vec![Evidence::field(deny.key, "1 (RDP off)")]),
        Some(n) => {
            let nla = tri!(read(
                ctx,
                Root::System,
                r"Control\Terminal Server\WinStations\RDP-Tcp",
                "UserAuthentication"
            ));
            let rdp = Evidence::field(deny.key, format!("{n} (RDP on)"));
            match nla.value.as_ref().and_then(RegValue::as_u32) {
                Some(1) => Outcome::pass(vec![rdp, Evidence::field(nla.key, "1")]),
                Some(m) => Outcome::fail(vec![rdp, Evidence::field(nla.key, m.to_string())]),
                None => Outcome::na(format!("RDP on; {} not set", nla.key)),
            }
        }
        None => Outcome::na(format!("{} not set", deny.key)),
    }
}

fn firewall_profiles(ctx: &Ctx<'_>) -> Outcome {
    let mut seen = Vec::new();
    let mut bad = Vec::new();
    for profile in ["DomainProfile", "StandardProfile", "PublicProfile"] {
        let path = format!(r"Services\SharedAccess\Parameters\FirewallPolicy\{profile}");
        let f = tri!(read(ctx, Root::System, &path, "EnableFirewall"));
        if let Some(n) = f.value.as_ref().and_then(RegValue::as_u32) {
            let e = Evidence::field(f.key, n.to_string());
            if n == 1 {
                seen.push(e);
            } else {
                bad.push(e);
            }
        }
    }
    if !bad.is_empty() {
        Outcome::fail(bad)
    } else if seen.is_empty() {
        Outcome::na("no firewall profile settings in the SYSTEM hive")
    } else {
        Outcome::pass(seen)
    }
}

fn defender(ctx: &Ctx<'_>) -> Outcome {
    let a = tri!(read(
        ctx,
        Root::Software,
        r"Policies\Microsoft\Windows Defender",
        "DisableAntiSpyware"
    ));
    let r = tri!(read(
        ctx,
        Root::Software,
        r"Policies\Microsoft\Windows Defender\Real-Time Protection",
        "DisableRealtimeMonitoring"
    ));
    let mut ev = Vec::new();
    let mut off = false;
    for f in [a, r] {
        if let Some(n) = f.value.as_ref().and_then(RegValue::as_u32) {
            off |= n == 1;
            ev.push(Evidence::field(f.key, n.to_string()));
        }
    }
    match (ev.is_empty(), off) {
        (true, _) => Outcome::na("no Defender policy values set"),
        (false, true) => Outcome::fail(ev),
        (false, false) => Outcome::pass(ev),
    }
}

fn automatic_updates(ctx: &Ctx<'_>) -> Outcome {
    dword(
        ctx,
        Root::Software,
        r"Policies\Microsoft\Windows\WindowsUpdate\AU",
        "NoAutoUpdate",
        0,
    )
}

/// The built-in Guest account (RID 501) is disabled: bit 0x0001
/// (ACB_DISABLED) of the account-control flags at offset 0x38 of its
/// SAM `F` value.
fn guest_account(ctx: &Ctx<'_>) -> Outcome {
    tri!(ctx.files());
    let Some(sam) = ctx.hives().sam.as_ref() else {
        return Outcome::na("no readable SAM hive");
    };
    let key = r"SAM\Domains\Account\Users\000001F5";
    let display = format!(r"HKLM\{key}\F");
    let f = match sam.open(key) {
        Ok(Some(k)) => match k.value("F").ok().flatten().map(|v| v.data()) {
            Some(Ok(RegValue::Binary(b))) => b,
            Some(Ok(_)) => return Outcome::error(format!("{display} is not binary")),
            Some(Err(e)) => return Outcome::error(format!("{display}: {e}")),
            None => return Outcome::na(format!("{display} absent")),
        },
        Ok(None) => return Outcome::na("no Guest account (RID 501) in the SAM hive"),
        Err(e) => return Outcome::error(format!("{key}: {e}")),
    };
    let Some(flags) = f
        .get(0x38..0x3a)
        .and_then(|b| <[u8; 2]>::try_from(b).ok())
        .map(u16::from_le_bytes)
    else {
        return Outcome::error(format!("{display}: {} bytes, too short", f.len()));
    };
    let ev = vec![Evidence::field(
        display,
        format!("account control flags 0x{flags:04x}"),
    )];
    if flags & 0x0001 != 0 {
        Outcome::pass(ev)
    } else {
        Outcome::fail(ev)
    }
}

/// The registry checks.
pub const CHECKS: &[Check] = &[
    win_check!(
        "windows.guest-account",
        "The Guest account is disabled",
        "The built-in Guest account (RID 501) allows logons without a personal identity.",
        SEC_COMP,
        High,
        "`net user Guest /active:no`.",
        guest_account
    ),
    win_check!("windows.uac", "User Account Control is on", "EnableLUA = 1: administrators run unelevated until they consent.", SEC_COMP, High, "Set EnableLUA = 1 (Local Security Policy: User Account Control: Run all administrators in Admin Approval Mode).", uac),
    win_check!("windows.autologon", "Automatic logon is off", "AutoAdminLogon = 1 logs an account on at boot, usually with a clear-text DefaultPassword in the registry.", SEC_COMP, High, "Set AutoAdminLogon = 0 and delete DefaultPassword under Winlogon.", autologon),
    win_check!("windows.rdp-nla", "RDP requires Network Level Authentication", "With RDP enabled, UserAuthentication = 1 authenticates before a session is created.", SEC_COMP, High, "Set UserAuthentication = 1 under Terminal Server\\WinStations\\RDP-Tcp (or disable RDP).", rdp_nla),
    win_check!("windows.lm-hash", "LM hashes are not stored", "NoLMHash = 1 stops Windows storing the weak LAN Manager hash.", SEC_COMP, High, "Set Control\\Lsa NoLMHash = 1 and change passwords.", lm_hash),
    win_check!("windows.smb1-server", "The SMBv1 server is disabled", "LanmanServer SMB1 = 0.", SEC_HARD, High, "`Set-SmbServerConfiguration -EnableSMB1Protocol $false` (SMB1 = 0).", smb1_server),
    win_check!("windows.firewall-profiles", "Windows Firewall is on in every profile", "EnableFirewall = 1 for the domain, private and public profiles.", SEC_COMP, High, "Turn the firewall on for every profile (`Set-NetFirewallProfile -All -Enabled True`).", firewall_profiles),
    win_check!("windows.defender-policy", "No policy turns Microsoft Defender off", "DisableAntiSpyware / DisableRealtimeMonitoring policies set to 1 turn protection off.", SEC_COMP, High, "Remove the policies or set them to 0.", defender),
    win_check!("windows.automatic-updates", "No policy turns automatic updates off", "WindowsUpdate\\AU NoAutoUpdate = 1 stops automatic updates.", SEC_COMP, Medium, "Set NoAutoUpdate = 0 (or remove it) and configure AUOptions.", automatic_updates),
];
