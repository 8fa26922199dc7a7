//! Accounts, sudo and the password policy (login.defs, pwquality, PAM).

use guestkit_inspect::security::password_policy::{LoginDefs, LOGIN_DEFS};
use guestkit_inspect::users::{PasswordState, UsersSection, PASSWD_PATH, SHADOW_PATH};

use super::sets::*;
use super::{Applies, Check, Ctx};
use crate::model::{Evidence, Outcome, Severity};

fn users<'a>(ctx: &Ctx<'a>) -> Result<&'a UsersSection, Outcome> {
    let u = ctx
        .os
        .users
        .as_ref()
        .ok_or_else(|| Outcome::na("the report has no users section"))?;
    if u.users.is_empty() {
        return Err(Outcome::error("no accounts could be read from /etc/passwd"));
    }
    Ok(u)
}

macro_rules! tri {
    ($e:expr) => {
        match $e {
            Ok(v) => v,
            Err(o) => return o,
        }
    };
}
pub(crate) use tri;

fn empty_password(ctx: &Ctx<'_>) -> Outcome {
    let u = tri!(users(ctx));
    let bad = u
        .users
        .iter()
        .filter(|u| u.password == PasswordState::Empty)
        .map(|u| {
            let file = if u.password_in_passwd {
                PASSWD_PATH
            } else {
                SHADOW_PATH
            };
            Evidence::file(file, None, format!("{}: empty password field", u.name))
        })
        .collect();
    Outcome::fail_if_any(
        bad,
        Evidence::field(
            "users",
            format!("{} accounts, none with an empty password", u.users.len()),
        ),
    )
}

fn uid0(ctx: &Ctx<'_>) -> Outcome {
    let u = tri!(users(ctx));
    let bad = u
        .users
        .iter()
        .filter(|x| x.uid == 0 && x.name != "root")
        .map(|x| Evidence::file(PASSWD_PATH, Some(x.line), format!("{} has uid 0", x.name)))
        .collect();
    Outcome::fail_if_any(bad, Evidence::field("users.uid0", "root only"))
}

fn duplicate_uids(ctx: &Ctx<'_>) -> Outcome {
    let u = tri!(users(ctx));
    let bad = u
        .duplicate_uids
        .iter()
        .map(|d| {
            Evidence::file(
                PASSWD_PATH,
                None,
                format!("uid {}: {}", d.id, d.names.join(", ")),
            )
        })
        .collect();
    Outcome::fail_if_any(bad, Evidence::field("users.duplicate_uids", "none"))
}

fn duplicate_gids(ctx: &Ctx<'_>) -> Outcome {
    let u = tri!(users(ctx));
    if u.groups.is_empty() {
        return Outcome::error("no groups could be read from /etc/group");
    }
    let bad = u
        .duplicate_gids
        .iter()
        .map(|d| {
            Evidence::file(
                "/etc/group",
                None,
                format!("gid {}: {}", d.id, d.names.join(", ")),
            )
        })
        .collect();
    Outcome::fail_if_any(bad, Evidence::field("users.duplicate_gids", "none"))
}

fn duplicate_names(ctx: &Ctx<'_>) -> Outcome {
    let u = tri!(users(ctx));
    let mut bad: Vec<Evidence> = u
        .duplicate_user_names
        .iter()
        .map(|n| Evidence::file(PASSWD_PATH, None, format!("user {n} listed twice")))
        .collect();
    bad.extend(
        u.duplicate_group_names
            .iter()
            .map(|n| Evidence::file("/etc/group", None, format!("group {n} listed twice"))),
    );
    Outcome::fail_if_any(bad, Evidence::field("users", "no duplicate names"))
}

/// System accounts (uid below UID_MIN, 1000 by default) that keep a
/// login shell. root and the traditional sync/shutdown/halt accounts are
/// exempt.
fn system_login_shell(ctx: &Ctx<'_>) -> Outcome {
    let u = tri!(users(ctx));
    let uid_min = ctx
        .os
        .security
        .as_ref()
        .and_then(|s| setting(&s.password_policy.login_defs, "UID_MIN"))
        .and_then(|(v, _)| v.parse::<u32>().ok())
        .unwrap_or(1000);
    let bad = u
        .users
        .iter()
        .filter(|x| {
            x.uid < uid_min
                && x.login_shell
                && !["root", "sync", "shutdown", "halt"].contains(&x.name.as_str())
        })
        .map(|x| {
            Evidence::file(
                PASSWD_PATH,
                Some(x.line),
                format!("{} (uid {}) has shell {}", x.name, x.uid, x.shell),
            )
        })
        .collect();
    Outcome::fail_if_any(
        bad,
        Evidence::field(
            "users",
            format!("no account below uid {uid_min} has a login shell"),
        ),
    )
}

fn root_authorized_keys(ctx: &Ctx<'_>) -> Outcome {
    let mut bad = Vec::new();
    for path in ["/root/.ssh/authorized_keys", "/root/.ssh/authorized_keys2"] {
        let Some(text) = tri!(ctx.text(path)) else {
            continue;
        };
        for (i, line) in text.lines().enumerate() {
            let l = line.trim();
            if !l.is_empty() && !l.starts_with('#') {
                let short: String = l.chars().take(60).collect();
                bad.push(Evidence::file(path, Some(i + 1), short));
            }
        }
    }
    Outcome::fail_if_any(
        bad,
        Evidence::field("/root/.ssh/authorized_keys", "absent or without keys"),
    )
}

fn nopasswd_all(ctx: &Ctx<'_>) -> Outcome {
    let sec = tri!(ctx.security());
    if !sec.sudoers.present {
        return Outcome::na("no /etc/sudoers");
    }
    let bad = sec
        .sudoers
        .nopasswd_all
        .iter()
        .map(|n| {
            Evidence::file(
                n.at.file.clone(),
                Some(n.at.line),
                format!("{} may run ALL with NOPASSWD", n.users.join(",")),
            )
        })
        .collect();
    Outcome::fail_if_any(
        bad,
        Evidence::field("security.sudoers", "no NOPASSWD: ALL rule"),
    )
}

fn authenticate_disabled(ctx: &Ctx<'_>) -> Outcome {
    let sec = tri!(ctx.security());
    if !sec.sudoers.present {
        return Outcome::na("no /etc/sudoers");
    }
    let bad = sec
        .sudoers
        .authenticate_disabled
        .iter()
        .map(|d| Evidence::file(d.at.file.clone(), Some(d.at.line), "Defaults !authenticate"))
        .collect();
    Outcome::fail_if_any(
        bad,
        Evidence::field("security.sudoers", "authenticate not disabled"),
    )
}

/// The last value of `key` in login.defs with its line.
fn setting<'a>(defs: &'a LoginDefs, key: &str) -> Option<(&'a str, usize)> {
    defs.settings
        .iter()
        .rev()
        .find(|s| s.key == key)
        .map(|s| (s.value.as_str(), s.at.line))
}

/// login.defs `key` parsed as a number and tested with `ok`; unset fails.
fn login_defs_number(ctx: &Ctx<'_>, key: &str, ok: impl Fn(i64) -> bool) -> Outcome {
    let sec = tri!(ctx.security());
    let defs = &sec.password_policy.login_defs;
    if !defs.present {
        return Outcome::na("no /etc/login.defs");
    }
    match setting(defs, key) {
        Some((v, line)) => {
            let ev = vec![Evidence::file(LOGIN_DEFS, Some(line), format!("{key} {v}"))];
            match v.parse::<i64>() {
                Ok(n) if ok(n) => Outcome::pass(ev),
                _ => Outcome::fail(ev),
            }
        }
        None => Outcome::fail(vec![Evidence::file(
            LOGIN_DEFS,
            None,
            format!("{key} unset"),
        )]),
    }
}

fn pass_max_days(ctx: &Ctx<'_>) -> Outcome {
    login_defs_number(ctx, "PASS_MAX_DAYS", |n| (1..=365).contains(&n))
}

fn pass_min_days(ctx: &Ctx<'_>) -> Outcome {
    login_defs_number(ctx, "PASS_MIN_DAYS", |n| n >= 1)
}

fn pass_warn_age(ctx: &Ctx<'_>) -> Outcome {
    login_defs_number(ctx, "PASS_WARN_AGE", |n| n >= 7)
}

fn hash_algorithm(ctx: &Ctx<'_>) -> Outcome {
    let sec = tri!(ctx.security());
    let pp = &sec.password_policy;
    let strong = |h: &str| matches!(h.to_ascii_lowercase().as_str(), "sha512" | "yescrypt");
    let mut ev = Vec::new();
    let mut ok = true;
    let mut decided = false;
    if let Some((v, line)) = setting(&pp.login_defs, "ENCRYPT_METHOD") {
        ev.push(Evidence::file(
            LOGIN_DEFS,
            Some(line),
            format!("ENCRYPT_METHOD {v}"),
        ));
        ok &= strong(v);
        decided = true;
    }
    if let Some(h) = &pp.pam.unix_hash {
        let at = pp
            .pam
            .lines
            .iter()
            .find(|l| l.module == "pam_unix" && l.kind == "password");
        ev.push(match at {
            Some(l) => Evidence::file(l.at.file.clone(), Some(l.at.line), format!("pam_unix {h}")),
            None => Evidence::field("security.password_policy.pam.unix_hash", h.clone()),
        });
        ok &= strong(h);
        decided = true;
    }
    if !decided {
        return Outcome::na("neither login.defs ENCRYPT_METHOD nor a pam_unix hash option is set");
    }
    if ok {
        Outcome::pass(ev)
    } else {
        Outcome::fail(ev)
    }
}

fn password_quality(ctx: &Ctx<'_>) -> Outcome {
    let sec = tri!(ctx.security());
    let pp = &sec.password_policy;
    let Some(module) = &pp.pam.quality_module else {
        let stacks = if pp.pam.files.is_empty() {
            "no PAM password stack read".to_string()
        } else {
            pp.pam.files.join(", ")
        };
        return Outcome::fail(vec![Evidence::field(
            stacks,
            "no pam_pwquality / pam_cracklib / pam_passwdqc in the password stack",
        )]);
    };
    if module == "pam_passwdqc" {
        return Outcome::na("pam_passwdqc's min= classes are not evaluated");
    }
    let line = pp.pam.lines.iter().find(|l| &l.module == module);
    let pam_minlen = line
        .and_then(|l| l.arg("minlen"))
        .and_then(|v| v.parse::<i64>().ok());
    let minlen = pam_minlen.or(pp.pwquality.minlen);
    let mut ev = vec![match line {
        Some(l) => Evidence::file(
            l.at.file.clone(),
            Some(l.at.line),
            format!("{module} {}", l.args.join(" ")),
        ),
        None => Evidence::field("security.password_policy.pam", module.clone()),
    }];
    ev.push(Evidence::field(
        "minlen",
        minlen.map_or("unset (pwquality default 8)".to_string(), |n| n.to_string()),
    ));
    if minlen.unwrap_or(8) >= 14 {
        Outcome::pass(ev)
    } else {
        Outcome::fail(ev)
    }
}

fn lockout(ctx: &Ctx<'_>) -> Outcome {
    let sec = tri!(ctx.security());
    let pam = &sec.password_policy.pam;
    if pam.files.is_empty() {
        return Outcome::na("no PAM stack read");
    }
    match &pam.lockout_module {
        Some(m) => Outcome::pass(vec![Evidence::field(
            "security.password_policy.pam",
            m.clone(),
        )]),
        None => Outcome::fail(vec![Evidence::field(
            pam.files.join(", "),
            "no pam_faillock / pam_tally2 in auth",
        )]),
    }
}

fn nullok(ctx: &Ctx<'_>) -> Outcome {
    let sec = tri!(ctx.security());
    let pam = &sec.password_policy.pam;
    if pam.files.is_empty() {
        return Outcome::na("no PAM stack read");
    }
    let bad = pam
        .nullok
        .iter()
        .map(|l| Evidence::file(l.file.clone(), Some(l.line), "pam_unix nullok"))
        .collect();
    Outcome::fail_if_any(
        bad,
        Evidence::field(pam.files.join(", "), "no pam_unix nullok"),
    )
}

fn umask(ctx: &Ctx<'_>) -> Outcome {
    let sec = tri!(ctx.security());
    let defs = &sec.password_policy.login_defs;
    if !defs.present {
        return Outcome::na("no /etc/login.defs");
    }
    match setting(defs, "UMASK") {
        Some((v, line)) => {
            let ev = vec![Evidence::file(LOGIN_DEFS, Some(line), format!("UMASK {v}"))];
            match u32::from_str_radix(v, 8) {
                Ok(m) if m & 0o027 == 0o027 => Outcome::pass(ev),
                _ => Outcome::fail(ev),
            }
        }
        None => Outcome::fail(vec![Evidence::file(LOGIN_DEFS, None, "UMASK unset (022)")]),
    }
}

/// The account and password-policy checks.
pub const CHECKS: &[Check] = &[
    Check {
        id: "accounts.empty-password",
        title: "No account has an empty password",
        description: "An empty password field lets anyone log in as that account.",
        profiles: SEC_COMP,
        severity: Severity::Critical,
        applies: Applies::LINUX,
        remediation: "Lock the account (`passwd -l NAME`) or set a password.",
        references: &["xccdf_org.ssgproject.content_rule_no_empty_passwords_etc_shadow"],
        run: empty_password,
    },
    Check {
        id: "accounts.uid0-non-root",
        title: "Only root has uid 0",
        description: "Any other uid-0 account is a second root.",
        profiles: SEC_COMP,
        severity: Severity::Critical,
        applies: Applies::LINUX,
        remediation: "Give the account its own uid or remove it.",
        references: &["xccdf_org.ssgproject.content_rule_accounts_no_uid_except_zero"],
        run: uid0,
    },
    Check {
        id: "accounts.duplicate-uids",
        title: "No two accounts share a uid",
        description: "Shared uids make file ownership and auditing ambiguous.",
        profiles: SEC_COMP,
        severity: Severity::Medium,
        applies: Applies::LINUX,
        remediation: "Give each account a unique uid (`usermod -u`).",
        references: &["xccdf_org.ssgproject.content_rule_account_unique_id"],
        run: duplicate_uids,
    },
    Check {
        id: "accounts.duplicate-gids",
        title: "No two groups share a gid",
        description: "Shared gids make group permissions ambiguous.",
        profiles: SEC_COMP,
        severity: Severity::Low,
        applies: Applies::LINUX,
        remediation: "Give each group a unique gid (`groupmod -g`).",
        references: &["xccdf_org.ssgproject.content_rule_group_unique_id"],
        run: duplicate_gids,
    },
    Check {
        id: "accounts.duplicate-names",
        title: "No user or group name is listed twice",
        description: "Duplicate names make it unclear which entry applies.",
        profiles: COMP,
        severity: Severity::Low,
        applies: Applies::LINUX,
        remediation: "Remove or rename the duplicate entry in /etc/passwd or /etc/group.",
        references: &[],
        run: duplicate_names,
    },
    Check {
        id: "accounts.system-login-shell",
        title: "System accounts have no login shell",
        description: "Service accounts (uid below UID_MIN) should not be able to log in interactively.",
        profiles: SEC_HARD,
        severity: Severity::Medium,
        applies: Applies::LINUX,
        remediation: "Set the shell to /usr/sbin/nologin (`usermod -s /usr/sbin/nologin NAME`).",
        references: &["xccdf_org.ssgproject.content_rule_no_shelllogin_for_systemaccounts"],
        run: system_login_shell,
    },
    Check {
        id: "accounts.root-authorized-keys",
        title: "root has no SSH authorized keys",
        description: "Keys in /root/.ssh/authorized_keys give direct root access (when root login is allowed) and are often forgotten.",
        profiles: SEC,
        severity: Severity::Medium,
        applies: Applies::LINUX,
        remediation: "Remove root's authorized keys; log in as a named user and use sudo.",
        references: &[],
        run: root_authorized_keys,
    },
    Check {
        id: "sudo.nopasswd-all",
        title: "No sudo rule grants ALL without a password",
        description: "`NOPASSWD: ALL` turns a stolen user session into root without any further secret.",
        profiles: SEC_COMP_HARD,
        severity: Severity::High,
        applies: Applies::LINUX,
        remediation: "Remove NOPASSWD from the rule, or restrict it to the few commands that need it.",
        references: &["xccdf_org.ssgproject.content_rule_sudo_remove_nopasswd"],
        run: nopasswd_all,
    },
    Check {
        id: "sudo.authenticate-disabled",
        title: "sudo authentication is not disabled",
        description: "`Defaults !authenticate` removes the password prompt for every rule in scope.",
        profiles: SEC_COMP,
        severity: Severity::High,
        applies: Applies::LINUX,
        remediation: "Remove `!authenticate` from the Defaults lines.",
        references: &["xccdf_org.ssgproject.content_rule_sudo_remove_no_authenticate"],
        run: authenticate_disabled,
    },
    Check {
        id: "password.max-days",
        title: "Passwords expire within 365 days",
        description: "login.defs PASS_MAX_DAYS between 1 and 365.",
        profiles: COMP,
        severity: Severity::Medium,
        applies: Applies::LINUX,
        remediation: "Set `PASS_MAX_DAYS 365` (or less) in /etc/login.defs and apply to existing accounts with `chage --maxdays`.",
        references: &["xccdf_org.ssgproject.content_rule_accounts_maximum_age_login_defs"],
        run: pass_max_days,
    },
    Check {
        id: "password.min-days",
        title: "Passwords cannot be changed again at once",
        description: "login.defs PASS_MIN_DAYS at least 1.",
        profiles: COMP,
        severity: Severity::Low,
        applies: Applies::LINUX,
        remediation: "Set `PASS_MIN_DAYS 1` in /etc/login.defs.",
        references: &["xccdf_org.ssgproject.content_rule_accounts_minimum_age_login_defs"],
        run: pass_min_days,
    },
    Check {
        id: "password.warn-age",
        title: "Users are warned 7 days before expiry",
        description: "login.defs PASS_WARN_AGE at least 7.",
        profiles: COMP,
        severity: Severity::Low,
        applies: Applies::LINUX,
        remediation: "Set `PASS_WARN_AGE 7` in /etc/login.defs.",
        references: &["xccdf_org.ssgproject.content_rule_accounts_password_warn_age_login_defs"],
        run: pass_warn_age,
    },
    Check {
        id: "password.hash-algorithm",
        title: "Passwords are hashed with SHA-512 or yescrypt",
        description: "login.defs ENCRYPT_METHOD and pam_unix's hash option name a strong hash.",
        profiles: SEC_COMP,
        severity: Severity::Medium,
        applies: Applies::LINUX,
        remediation: "Set `ENCRYPT_METHOD SHA512` (or YESCRYPT) in /etc/login.defs and `sha512`/`yescrypt` on pam_unix's password line.",
        references: &["xccdf_org.ssgproject.content_rule_set_password_hashing_algorithm_logindefs"],
        run: hash_algorithm,
    },
    Check {
        id: "password.quality",
        title: "Password quality is enforced (minimum length 14)",
        description: "A quality module (pam_pwquality, pam_cracklib, pam_passwdqc) is in the password stack with minlen ≥ 14.",
        profiles: COMP,
        severity: Severity::Medium,
        applies: Applies::LINUX,
        remediation: "Install libpam-pwquality / libpwquality, add pam_pwquality.so to the password stack and set `minlen = 14` in /etc/security/pwquality.conf.",
        references: &["xccdf_org.ssgproject.content_rule_accounts_password_pam_minlen", "PCI-DSS-v4 8.3.6"],
        run: password_quality,
    },
    Check {
        id: "password.lockout",
        title: "Failed logins lock the account",
        description: "pam_faillock (or pam_tally2) is in the auth stack.",
        profiles: COMP,
        severity: Severity::Medium,
        applies: Applies::LINUX,
        remediation: "Add pam_faillock.so (preauth and authfail) to the auth stack with `deny=5`.",
        references: &["PCI-DSS-v4 8.3.4"],
        run: lockout,
    },
    Check {
        id: "password.pam-nullok",
        title: "PAM does not accept empty passwords",
        description: "pam_unix with `nullok` lets accounts with an empty password authenticate.",
        profiles: SEC_COMP,
        severity: Severity::Medium,
        applies: Applies::LINUX,
        remediation: "Remove `nullok` from the pam_unix lines.",
        references: &["xccdf_org.ssgproject.content_rule_no_empty_passwords"],
        run: nullok,
    },
    Check {
        id: "accounts.umask",
        title: "Default umask is 027 or stricter",
        description: "login.defs UMASK removes group write and all other access from new files.",
        profiles: HARD,
        severity: Severity::Low,
        applies: Applies::LINUX,
        remediation: "Set `UMASK 027` in /etc/login.defs.",
        references: &["xccdf_org.ssgproject.content_rule_accounts_umask_etc_login_defs"],
        run: umask,
    },
];
