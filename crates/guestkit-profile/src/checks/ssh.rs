//! sshd: the effective global settings the report resolved (compiled-in
//! defaults for the installed OpenSSH version, `Include` drop-ins and
//! first-match-wins already applied).

use guestkit_inspect::security::sshd::{Origin, SshdSetting};

use super::sets::*;
use super::{Applies, Check, Ctx};
use crate::model::{Evidence, Outcome, Severity};

/// Evidence for an effective setting: the line that set it, or the
/// compiled-in default.
fn evidence(ctx: &Ctx<'_>, s: &SshdSetting) -> Evidence {
    let value = format!("{} {}", s.keyword, s.value.as_deref().unwrap_or("(unset)"));
    match &s.origin {
        Origin::File { file, line, .. } => Evidence::file(file.clone(), Some(*line), value),
        Origin::Default => {
            let version = ctx
                .os
                .security
                .as_ref()
                .map(|s| s.sshd.defaults_version.clone())
                .unwrap_or_default();
            Evidence::field(format!("OpenSSH {version} compiled-in default"), value)
        }
    }
}

/// The effective setting `keyword`, or the outcome to return.
fn setting<'a>(ctx: &Ctx<'a>, keyword: &str) -> Result<&'a SshdSetting, Outcome> {
    let sec = ctx.security()?;
    if !sec.sshd.present {
        return Err(Outcome::na(
            "no /etc/ssh/sshd_config: sshd is not configured",
        ));
    }
    sec.sshd
        .get(keyword)
        .ok_or_else(|| Outcome::error(format!("no effective value for {keyword}")))
}

/// Pass when the effective global value of `keyword` satisfies `ok` and
/// no `Match` block sets it to a value that does not (such a block
/// applies the weaker setting to the connections it matches).
fn value_check(ctx: &Ctx<'_>, keyword: &str, ok: impl Fn(&str) -> bool) -> Outcome {
    let s = match setting(ctx, keyword) {
        Ok(s) => s,
        Err(o) => return o,
    };
    let value = s.value.as_deref().unwrap_or("");
    let global_ok = ok(&value.to_ascii_lowercase());
    let mut ev = vec![evidence(ctx, s)];
    let mut blocks_ok = true;
    for block in ctx
        .security()
        .map(|sec| sec.sshd.match_blocks.as_slice())
        .unwrap_or_default()
    {
        for m in block
            .settings
            .iter()
            .filter(|m| m.keyword.eq_ignore_ascii_case(keyword))
        {
            if !ok(&m.value.to_ascii_lowercase()) {
                blocks_ok = false;
                ev.push(Evidence::file(
                    m.at.file.clone(),
                    Some(m.at.line),
                    format!("Match {}: {} {}", block.criteria, m.keyword, m.value),
                ));
            }
        }
    }
    if global_ok && blocks_ok {
        Outcome::pass(ev)
    } else {
        if global_ok {
            ev.remove(0);
        }
        Outcome::fail(ev)
    }
}

fn permit_root_login(ctx: &Ctx<'_>) -> Outcome {
    value_check(ctx, "PermitRootLogin", |v| v == "no")
}

fn password_authentication(ctx: &Ctx<'_>) -> Outcome {
    value_check(ctx, "PasswordAuthentication", |v| v == "no")
}

fn permit_empty_passwords(ctx: &Ctx<'_>) -> Outcome {
    value_check(ctx, "PermitEmptyPasswords", |v| v == "no")
}

fn x11_forwarding(ctx: &Ctx<'_>) -> Outcome {
    value_check(ctx, "X11Forwarding", |v| v == "no")
}

fn max_auth_tries(ctx: &Ctx<'_>) -> Outcome {
    value_check(ctx, "MaxAuthTries", |v| {
        v.parse::<u32>().is_ok_and(|n| (1..=4).contains(&n))
    })
}

fn ignore_rhosts(ctx: &Ctx<'_>) -> Outcome {
    value_check(ctx, "IgnoreRhosts", |v| v == "yes")
}

fn hostbased(ctx: &Ctx<'_>) -> Outcome {
    value_check(ctx, "HostbasedAuthentication", |v| v == "no")
}

fn permit_user_environment(ctx: &Ctx<'_>) -> Outcome {
    value_check(ctx, "PermitUserEnvironment", |v| v == "no")
}

fn banner(ctx: &Ctx<'_>) -> Outcome {
    value_check(ctx, "Banner", |v| !v.is_empty() && v != "none")
}

fn login_grace_time(ctx: &Ctx<'_>) -> Outcome {
    value_check(ctx, "LoginGraceTime", |v| {
        seconds(v).is_some_and(|n| (1..=60).contains(&n))
    })
}

fn client_alive(ctx: &Ctx<'_>) -> Outcome {
    value_check(ctx, "ClientAliveInterval", |v| {
        seconds(v).is_some_and(|n| n > 0)
    })
}

fn log_level(ctx: &Ctx<'_>) -> Outcome {
    value_check(ctx, "LogLevel", |v| v == "info" || v == "verbose")
}

/// An sshd time value (`90`, `2m`, `1m30s`) in seconds.
fn seconds(v: &str) -> Option<u64> {
    let mut total = 0u64;
    let mut num = String::new();
    for c in v.chars() {
        if c.is_ascii_digit() {
            num.push(c);
            continue;
        }
        let unit = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86400,
            'w' => 604800,
            _ => return None,
        };
        total = total.checked_add(num.parse::<u64>().ok()?.checked_mul(unit)?)?;
        num.clear();
    }
    if !num.is_empty() {
        total = total.checked_add(num.parse::<u64>().ok()?)?;
    }
    Some(total)
}

/// Ciphers CIS lists as weak.
const WEAK_CIPHERS: &[&str] = &[
    "3des-cbc",
    "aes128-cbc",
    "aes192-cbc",
    "aes256-cbc",
    "arcfour",
    "arcfour128",
    "arcfour256",
    "blowfish-cbc",
    "cast128-cbc",
    "rijndael-cbc@lysator.liu.se",
];
/// MACs CIS lists as weak.
const WEAK_MACS: &[&str] = &[
    "hmac-md5",
    "hmac-md5-96",
    "hmac-ripemd160",
    "hmac-sha1-96",
    "umac-64@openssh.com",
    "hmac-md5-etm@openssh.com",
    "hmac-md5-96-etm@openssh.com",
    "hmac-ripemd160-etm@openssh.com",
    "hmac-sha1-96-etm@openssh.com",
    "umac-64-etm@openssh.com",
];
/// Key exchange algorithms CIS lists as weak.
const WEAK_KEX: &[&str] = &[
    "diffie-hellman-group1-sha1",
    "diffie-hellman-group14-sha1",
    "diffie-hellman-group-exchange-sha1",
];

fn weak_list(ctx: &Ctx<'_>, keyword: &str, weak: &[&str]) -> Outcome {
    let s = match setting(ctx, keyword) {
        Ok(s) => s,
        Err(o) => return o,
    };
    let value = s.value.as_deref().unwrap_or("");
    let found: Vec<&str> = value
        .split(',')
        .map(str::trim)
        .filter(|a| weak.iter().any(|w| w.eq_ignore_ascii_case(a)))
        .collect();
    let ev = vec![evidence(ctx, s)];
    if found.is_empty() {
        Outcome::pass(ev)
    } else {
        Outcome::fail(ev).with_note(format!("weak: {}", found.join(",")))
    }
}

fn weak_ciphers(ctx: &Ctx<'_>) -> Outcome {
    weak_list(ctx, "Ciphers", WEAK_CIPHERS)
}

fn weak_macs(ctx: &Ctx<'_>) -> Outcome {
    weak_list(ctx, "MACs", WEAK_MACS)
}

fn weak_kex(ctx: &Ctx<'_>) -> Outcome {
    weak_list(ctx, "KexAlgorithms", WEAK_KEX)
}

/// The sshd checks.
pub const CHECKS: &[Check] = &[
    Check {
        id: "ssh.permit-root-login",
        title: "SSH root login is disabled",
        description: "sshd must not accept logins as root (PermitRootLogin no).",
        profiles: SEC_COMP_HARD,
        severity: Severity::High,
        applies: Applies::LINUX,
        remediation: "Set `PermitRootLogin no` in /etc/ssh/sshd_config (before any Match block, and not overridden by an earlier Include).",
        references: &["xccdf_org.ssgproject.content_rule_sshd_disable_root_login", "PCI-DSS-v4 2.2.6"],
        run: permit_root_login,
    },
    Check {
        id: "ssh.password-authentication",
        title: "SSH password authentication is disabled",
        description: "sshd accepts only key-based (or other non-password) authentication.",
        profiles: SEC_HARD,
        severity: Severity::Medium,
        applies: Applies::LINUX,
        remediation: "Set `PasswordAuthentication no` in /etc/ssh/sshd_config once keys are deployed.",
        references: &[],
        run: password_authentication,
    },
    Check {
        id: "ssh.permit-empty-passwords",
        title: "SSH refuses empty passwords",
        description: "sshd must not let accounts with an empty password log in.",
        profiles: SEC_COMP,
        severity: Severity::High,
        applies: Applies::LINUX,
        remediation: "Set `PermitEmptyPasswords no` in /etc/ssh/sshd_config.",
        references: &["xccdf_org.ssgproject.content_rule_sshd_disable_empty_passwords"],
        run: permit_empty_passwords,
    },
    Check {
        id: "ssh.x11-forwarding",
        title: "SSH X11 forwarding is disabled",
        description: "X11 forwarding exposes the client's display to the server.",
        profiles: SEC_COMP_HARD,
        severity: Severity::Low,
        applies: Applies::LINUX,
        remediation: "Set `X11Forwarding no` in /etc/ssh/sshd_config.",
        references: &["xccdf_org.ssgproject.content_rule_sshd_disable_x11_forwarding"],
        run: x11_forwarding,
    },
    Check {
        id: "ssh.max-auth-tries",
        title: "SSH MaxAuthTries is 4 or less",
        description: "Limits authentication attempts per connection (brute force).",
        profiles: SEC_COMP,
        severity: Severity::Medium,
        applies: Applies::LINUX,
        remediation: "Set `MaxAuthTries 4` in /etc/ssh/sshd_config.",
        references: &["xccdf_org.ssgproject.content_rule_sshd_set_max_auth_tries"],
        run: max_auth_tries,
    },
    Check {
        id: "ssh.ignore-rhosts",
        title: "SSH ignores .rhosts files",
        description: "sshd must not honour .rhosts/.shosts for authentication.",
        profiles: SEC_COMP,
        severity: Severity::Medium,
        applies: Applies::LINUX,
        remediation: "Set `IgnoreRhosts yes` in /etc/ssh/sshd_config.",
        references: &["xccdf_org.ssgproject.content_rule_sshd_disable_rhosts"],
        run: ignore_rhosts,
    },
    Check {
        id: "ssh.hostbased-authentication",
        title: "SSH host-based authentication is disabled",
        description: "Host-based authentication trusts the client host, not the user.",
        profiles: SEC_COMP,
        severity: Severity::Medium,
        applies: Applies::LINUX,
        remediation: "Set `HostbasedAuthentication no` in /etc/ssh/sshd_config.",
        references: &["xccdf_org.ssgproject.content_rule_disable_host_auth"],
        run: hostbased,
    },
    Check {
        id: "ssh.permit-user-environment",
        title: "SSH does not let users set environment options",
        description: "PermitUserEnvironment lets users bypass restrictions (LD_PRELOAD …).",
        profiles: SEC_COMP,
        severity: Severity::Medium,
        applies: Applies::LINUX,
        remediation: "Set `PermitUserEnvironment no` in /etc/ssh/sshd_config.",
        references: &["xccdf_org.ssgproject.content_rule_sshd_do_not_permit_user_env"],
        run: permit_user_environment,
    },
    Check {
        id: "ssh.banner",
        title: "SSH shows a login banner",
        description: "A warning banner before authentication (legal notice).",
        profiles: COMP_HARD,
        severity: Severity::Low,
        applies: Applies::LINUX,
        remediation: "Set `Banner /etc/issue.net` in /etc/ssh/sshd_config and write the notice there.",
        references: &[],
        run: banner,
    },
    Check {
        id: "ssh.login-grace-time",
        title: "SSH LoginGraceTime is 60 seconds or less",
        description: "Unauthenticated connections are dropped quickly.",
        profiles: COMP_HARD,
        severity: Severity::Low,
        applies: Applies::LINUX,
        remediation: "Set `LoginGraceTime 60` in /etc/ssh/sshd_config.",
        references: &[],
        run: login_grace_time,
    },
    Check {
        id: "ssh.client-alive-interval",
        title: "SSH drops idle sessions",
        description: "ClientAliveInterval above 0 (with ClientAliveCountMax) ends idle sessions.",
        profiles: COMP_HARD,
        severity: Severity::Low,
        applies: Applies::LINUX,
        remediation: "Set `ClientAliveInterval 300` and `ClientAliveCountMax 1` in /etc/ssh/sshd_config.",
        references: &["xccdf_org.ssgproject.content_rule_sshd_set_idle_timeout"],
        run: client_alive,
    },
    Check {
        id: "ssh.log-level",
        title: "SSH logs at INFO or VERBOSE",
        description: "Lower levels (QUIET, FATAL, ERROR) lose login records; DEBUG logs private data.",
        profiles: COMP,
        severity: Severity::Low,
        applies: Applies::LINUX,
        remediation: "Set `LogLevel VERBOSE` (or INFO) in /etc/ssh/sshd_config.",
        references: &[],
        run: log_level,
    },
    Check {
        id: "ssh.weak-ciphers",
        title: "SSH offers no weak ciphers",
        description: "CBC-mode, 3DES, arcfour, blowfish and cast128 ciphers are weak.",
        profiles: SEC_COMP,
        severity: Severity::High,
        applies: Applies::LINUX,
        remediation: "Set `Ciphers` to strong algorithms only, e.g. `chacha20-poly1305@openssh.com,aes256-gcm@openssh.com,aes128-gcm@openssh.com,aes256-ctr,aes192-ctr,aes128-ctr`.",
        references: &["PCI-DSS-v4 4.2.1"],
        run: weak_ciphers,
    },
    Check {
        id: "ssh.weak-macs",
        title: "SSH offers no weak MACs",
        description: "MD5, RIPEMD-160, 96-bit SHA-1 and 64-bit UMAC MACs are weak.",
        profiles: SEC_COMP,
        severity: Severity::Medium,
        applies: Applies::LINUX,
        remediation: "Set `MACs` to strong algorithms only, e.g. `hmac-sha2-512-etm@openssh.com,hmac-sha2-256-etm@openssh.com,umac-128-etm@openssh.com`.",
        references: &["PCI-DSS-v4 4.2.1"],
        run: weak_macs,
    },
    Check {
        id: "ssh.weak-kex",
        title: "SSH offers no weak key exchange",
        description: "SHA-1 Diffie-Hellman key exchanges are weak.",
        profiles: SEC_COMP,
        severity: Severity::Medium,
        applies: Applies::LINUX,
        remediation: "Set `KexAlgorithms` without the diffie-hellman-*-sha1 methods.",
        references: &["PCI-DSS-v4 4.2.1"],
        run: weak_kex,
    },
];

#[cfg(test)]
mod tests {
    #[test]
    fn sshd_time_values() {
        assert_eq!(super::seconds("90"), Some(90));
        assert_eq!(super::seconds("2m"), Some(120));
        assert_eq!(super::seconds("1m30s"), Some(90));
        assert_eq!(super::seconds("1x"), None);
    }
}
