//! Hardening and compliance odds and ends: automatic updates, bootloader
//! password, crypto policy, packages that do not belong on a server,
//! shell timeout, login banners, persistent logging.

use super::accounts::tri;
use super::sets::*;
use super::{Applies, Check, Ctx, Family, OsKind, SECTION};
use crate::model::{Evidence, Outcome, Severity};

/// The last value of `key` (`APT::Periodic::Unattended-Upgrade "1";`) in
/// the apt configuration texts, with where it was set.
fn apt_setting(ctx: &Ctx<'_>, key: &str) -> Result<Option<(String, usize, String)>, Outcome> {
    let files = ctx.files()?;
    let dir = "/etc/apt/apt.conf.d";
    let mut paths: Vec<String> = files
        .list_dir(SECTION, dir)
        .into_iter()
        .map(|n| format!("{dir}/{n}"))
        .collect();
    paths.insert(0, "/etc/apt/apt.conf".into());
    let mut found = None;
    for path in paths {
        let Some(text) = files.read_text(SECTION, &path) else {
            continue;
        };
        for (i, line) in text.lines().enumerate() {
            let l = line.trim();
            if let Some(rest) = l.strip_prefix(key) {
                let v = rest.trim().trim_end_matches(';').trim().trim_matches('"');
                found = Some((path.clone(), i + 1, v.to_string()));
            }
        }
    }
    Ok(found)
}

fn automatic_updates(ctx: &Ctx<'_>) -> Outcome {
    match ctx.family {
        Family::Debian => {
            let key = "APT::Periodic::Unattended-Upgrade";
            match tri!(apt_setting(ctx, key)) {
                Some((path, line, v)) => {
                    let ev = vec![Evidence::file(path, Some(line), format!("{key} \"{v}\""))];
                    if v != "0" && !v.is_empty() {
                        Outcome::pass(ev)
                    } else {
                        Outcome::fail(ev)
                    }
                }
                None => Outcome::fail(vec![Evidence::file(
                    "/etc/apt/apt.conf.d",
                    None,
                    format!("{key} unset"),
                )]),
            }
        }
        Family::Rhel => {
            let timers = [
                "dnf-automatic.timer",
                "dnf-automatic-install.timer",
                "yum-cron.service",
            ];
            match timers.iter().find(|t| ctx.enabled(t) == Some(true)) {
                Some(t) => Outcome::pass(vec![Evidence::field("services", format!("{t} enabled"))]),
                None if !ctx.init_known() => Outcome::na("init system unknown"),
                None => Outcome::fail(vec![Evidence::field(
                    "services",
                    "no dnf-automatic timer or yum-cron enabled",
                )]),
            }
        }
        _ => Outcome::na(format!("no automatic-update check for {}", ctx.describe())),
    }
}

const GRUB_CFGS: &[&str] = &["/boot/grub/grub.cfg", "/boot/grub2/grub.cfg"];

fn grub_password(ctx: &Ctx<'_>) -> Outcome {
    for path in GRUB_CFGS {
        let Some(text) = tri!(ctx.text(path)) else {
            continue;
        };
        let mut users = None;
        let mut password = None;
        for (i, line) in text.lines().enumerate() {
            let l = line.trim();
            if l.starts_with("set superusers") {
                users = Some(Evidence::file(*path, Some(i + 1), l));
            }
            if l.starts_with("password_pbkdf2 ") || l.starts_with("password ") {
                let user = l.split_whitespace().nth(1).unwrap_or("");
                password = Some(Evidence::file(
                    *path,
                    Some(i + 1),
                    format!("password for {user}"),
                ));
            }
        }
        return match (users, password) {
            (Some(u), Some(p)) => Outcome::pass(vec![u, p]),
            _ => Outcome::fail(vec![Evidence::file(
                *path,
                None,
                "no superusers/password_pbkdf2",
            )]),
        };
    }
    Outcome::na("no GRUB configuration")
}

fn crypto_policy(ctx: &Ctx<'_>) -> Outcome {
    let path = "/etc/crypto-policies/config";
    let Some(text) = tri!(ctx.text(path)) else {
        return Outcome::na("no /etc/crypto-policies/config");
    };
    let Some((i, policy)) = text
        .lines()
        .enumerate()
        .map(|(i, l)| (i, l.trim()))
        .find(|(_, l)| !l.is_empty() && !l.starts_with('#'))
    else {
        return Outcome::error(format!("{path} names no policy"));
    };
    let ev = vec![Evidence::file(path, Some(i + 1), policy)];
    let base = policy.split(':').next().unwrap_or("");
    if ["DEFAULT", "FUTURE", "FIPS"].contains(&base) {
        Outcome::pass(ev)
    } else {
        Outcome::fail(ev)
    }
}

/// Fails when any of `names` is installed (package list needed).
fn packages_absent(ctx: &Ctx<'_>, names: &[&str]) -> Outcome {
    let Some(list) = &ctx.os.packages else {
        return Outcome::na("no package list in the report");
    };
    let bad = list
        .packages
        .iter()
        .filter(|p| names.contains(&p.name.as_str()))
        .map(|p| Evidence::file(list.path.clone(), None, format!("{} {}", p.name, p.version)))
        .collect();
    Outcome::fail_if_any(
        bad,
        Evidence::file(
            list.path.clone(),
            None,
            format!("none of {}", names.join(", ")),
        ),
    )
}

fn compilers(ctx: &Ctx<'_>) -> Outcome {
    packages_absent(
        ctx,
        &[
            "gcc",
            "g++",
            "clang",
            "cpp",
            "gcc-c++",
            "build-essential",
            "tcc",
        ],
    )
}

fn insecure_clients(ctx: &Ctx<'_>) -> Outcome {
    packages_absent(
        ctx,
        &[
            "telnet",
            "rsh-client",
            "rsh-redone-client",
            "rsh",
            "talk",
            "nis",
            "ypbind",
            "tftp",
        ],
    )
}

/// `TMOUT=N` (N in 1..=900) in the system-wide shell start-up files.
fn shell_timeout(ctx: &Ctx<'_>) -> Outcome {
    let files = tri!(ctx.files());
    let mut paths = vec![
        "/etc/profile".to_string(),
        "/etc/bash.bashrc".to_string(),
        "/etc/bashrc".to_string(),
    ];
    paths.extend(
        files
            .list_dir(SECTION, "/etc/profile.d")
            .into_iter()
            .filter(|n| n.ends_with(".sh"))
            .map(|n| format!("/etc/profile.d/{n}")),
    );
    let mut seen = None;
    for path in &paths {
        let Some(text) = files.read_text(SECTION, path) else {
            continue;
        };
        for (i, line) in text.lines().enumerate() {
            let l = line.trim();
            if l.starts_with('#') {
                continue;
            }
            let assignment = l
                .split(|c: char| c.is_whitespace() || c == ';')
                .find_map(|w| w.strip_prefix("TMOUT="));
            if let Some(v) = assignment {
                seen = Some((
                    v.trim_matches('"').parse::<u32>().ok(),
                    Evidence::file(path.clone(), Some(i + 1), l),
                ));
            }
        }
    }
    match seen {
        Some((Some(n), ev)) if (1..=900).contains(&n) => Outcome::pass(vec![ev]),
        Some((_, ev)) => Outcome::fail(vec![ev]),
        None => Outcome::fail(vec![Evidence::field(paths.join(", "), "TMOUT unset")]),
    }
}

/// /etc/issue and /etc/issue.net without getty escapes that reveal the
/// OS (`\m`, `\r`, `\s`, `\v`).
fn banner_os_info(ctx: &Ctx<'_>) -> Outcome {
    let mut seen = Vec::new();
    let mut bad = Vec::new();
    for path in ["/etc/issue", "/etc/issue.net"] {
        let Some(text) = tri!(ctx.text(path)) else {
            continue;
        };
        seen.push(Evidence::file(path, None, "no OS information"));
        for (i, line) in text.lines().enumerate() {
            if ["\\m", "\\r", "\\s", "\\v"]
                .iter()
                .any(|e| line.contains(e))
            {
                bad.push(Evidence::file(path, Some(i + 1), line.trim()));
            }
        }
    }
    if seen.is_empty() {
        return Outcome::na("no /etc/issue or /etc/issue.net");
    }
    if bad.is_empty() {
        Outcome::pass(seen)
    } else {
        Outcome::fail(bad)
    }
}

/// Logs survive a reboot: journald Storage=persistent (or auto with
/// /var/log/journal present), or a syslog daemon installed.
fn persistent_logging(ctx: &Ctx<'_>) -> Outcome {
    let files = tri!(ctx.files());
    for d in [
        "/usr/sbin/rsyslogd",
        "/usr/sbin/syslog-ng",
        "/sbin/syslogd",
        "/usr/sbin/syslogd",
    ] {
        if files.is_file(d) {
            return Outcome::pass(vec![Evidence::file(d, None, "syslog daemon installed")]);
        }
    }
    let mut storage = None;
    let mut paths = vec!["/etc/systemd/journald.conf".to_string()];
    paths.extend(
        files
            .list_dir(SECTION, "/etc/systemd/journald.conf.d")
            .into_iter()
            .filter(|n| n.ends_with(".conf"))
            .map(|n| format!("/etc/systemd/journald.conf.d/{n}")),
    );
    for path in &paths {
        let Some(text) = files.read_text(SECTION, path) else {
            continue;
        };
        for (i, l) in text.lines().enumerate() {
            if let Some(v) = l.trim().strip_prefix("Storage=") {
                storage = Some((
                    v.trim().to_string(),
                    Evidence::file(path.clone(), Some(i + 1), l.trim()),
                ));
            }
        }
    }
    let journal_dir = files.is_dir("/var/log/journal");
    match storage {
        Some((v, ev)) if v == "persistent" || (v == "auto" && journal_dir) => {
            Outcome::pass(vec![ev])
        }
        None if journal_dir => Outcome::pass(vec![Evidence::file(
            "/var/log/journal",
            None,
            "present (Storage=auto)",
        )]),
        Some((_, ev)) => Outcome::fail(vec![ev]),
        None => Outcome::fail(vec![Evidence::field(
            "/var/log/journal",
            "absent, Storage unset, no syslog daemon: logs are lost at reboot",
        )]),
    }
}

const RHEL: Applies = Applies {
    os: OsKind::Linux,
    families: &[Family::Rhel],
};

/// The hardening checks.
pub const CHECKS: &[Check] = &[
    Check {
        id: "updates.automatic",
        title: "Security updates install automatically",
        description: "unattended-upgrades (Debian/Ubuntu) or dnf-automatic (RHEL family) is on.",
        profiles: COMP,
        severity: Severity::Low,
        applies: Applies::LINUX,
        remediation: "Debian/Ubuntu: install unattended-upgrades and set `APT::Periodic::Unattended-Upgrade \"1\";`. RHEL: `systemctl enable dnf-automatic-install.timer`.",
        references: &[],
        run: automatic_updates,
    },
    Check {
        id: "boot.grub-password",
        title: "The bootloader is password-protected",
        description: "GRUB superusers with a password_pbkdf2 hash stop editing of kernel parameters at boot.",
        profiles: COMP_HARD,
        severity: Severity::Medium,
        applies: Applies::LINUX,
        remediation: "Create a hash with grub-mkpasswd-pbkdf2, add `set superusers` and `password_pbkdf2` to /etc/grub.d/40_custom, regenerate grub.cfg.",
        references: &["xccdf_org.ssgproject.content_rule_grub2_password"],
        run: grub_password,
    },
    Check {
        id: "crypto.policy",
        title: "The system crypto policy is not LEGACY",
        description: "RHEL-family crypto-policies: DEFAULT, FUTURE or FIPS.",
        profiles: SEC_COMP,
        severity: Severity::Medium,
        applies: RHEL,
        remediation: "`update-crypto-policies --set DEFAULT` (or FUTURE/FIPS).",
        references: &["xccdf_org.ssgproject.content_rule_configure_crypto_policy"],
        run: crypto_policy,
    },
    Check {
        id: "packages.compilers",
        title: "No compilers installed",
        description: "Compilers on a server help an intruder build tools in place.",
        profiles: HARD,
        severity: Severity::Low,
        applies: Applies::LINUX,
        remediation: "Remove gcc, g++, clang and build-essential from production servers.",
        references: &[],
        run: compilers,
    },
    Check {
        id: "packages.insecure-clients",
        title: "No clear-text legacy clients installed",
        description: "telnet, rsh, talk, NIS and tftp clients send credentials or data in clear text.",
        profiles: SEC_HARD,
        severity: Severity::Low,
        applies: Applies::LINUX,
        remediation: "Remove the telnet, rsh-client, talk, nis and tftp packages.",
        references: &[],
        run: insecure_clients,
    },
    Check {
        id: "shell.timeout",
        title: "Idle shells time out (TMOUT ≤ 900)",
        description: "TMOUT in /etc/profile, /etc/profile.d or bash.bashrc logs idle sessions out.",
        profiles: COMP_HARD,
        severity: Severity::Low,
        applies: Applies::LINUX,
        remediation: "Add `readonly TMOUT=900; export TMOUT` to /etc/profile.d/tmout.sh.",
        references: &["xccdf_org.ssgproject.content_rule_accounts_tmout"],
        run: shell_timeout,
    },
    Check {
        id: "banner.os-info",
        title: "Login banners do not reveal the OS",
        description: "/etc/issue and /etc/issue.net without \\m, \\r, \\s or \\v escapes.",
        profiles: HARD,
        severity: Severity::Low,
        applies: Applies::LINUX,
        remediation: "Replace /etc/issue and /etc/issue.net with a plain legal notice.",
        references: &[],
        run: banner_os_info,
    },
    Check {
        id: "logging.persistent",
        title: "Logs persist across reboots",
        description: "journald stores to /var/log/journal, or a syslog daemon writes /var/log.",
        profiles: COMP,
        severity: Severity::Medium,
        applies: Applies::LINUX,
        remediation: "Set `Storage=persistent` in /etc/systemd/journald.conf (or install rsyslog).",
        references: &[],
        run: persistent_logging,
    },
];
