//! Services and daemons: firewall, mandatory access control, insecure
//! services, audit, logging, time synchronisation, cron.

use guestkit_fs::FileType;

use super::accounts::tri;
use super::sets::*;
use super::{Applies, Check, Ctx, Family, OsKind, SECTION};
use crate::model::{Evidence, Outcome, Severity};

/// The services section is there and knows the init system, or the
/// outcome to return.
fn known_init(ctx: &Ctx<'_>) -> Result<(), Outcome> {
    match &ctx.os.services {
        None => Err(Outcome::na("the report has no services section")),
        Some(s) if !ctx.init_known() => Err(Outcome::na(format!(
            "init system {:?}: which services start at boot is unknown",
            s.init.name
        ))),
        Some(_) => Ok(()),
    }
}

fn firewall_enabled(ctx: &Ctx<'_>) -> Outcome {
    let sec = tri!(ctx.security());
    let ev: Vec<Evidence> = sec
        .firewalls
        .iter()
        .map(|f| {
            Evidence::field(
                f.config
                    .clone()
                    .unwrap_or_else(|| format!("security.firewalls.{}", f.kind)),
                format!(
                    "{}: installed {}, enabled {}",
                    f.kind, f.installed, f.enabled
                ),
            )
        })
        .collect();
    if sec.firewalls.iter().any(|f| f.installed && f.enabled) {
        Outcome::pass(ev)
    } else if ev.is_empty() {
        Outcome::fail(vec![Evidence::field(
            "security.firewalls",
            "no firewalld, ufw, nftables or iptables found",
        )])
    } else {
        Outcome::fail(ev)
    }
}

fn firewall_rules(ctx: &Ctx<'_>) -> Outcome {
    let sec = tri!(ctx.security());
    let enabled: Vec<_> = sec
        .firewalls
        .iter()
        .filter(|f| f.installed && f.enabled)
        .collect();
    if enabled.is_empty() {
        return Outcome::na("no firewall is enabled (see firewall.enabled)");
    }
    let ev = |f: &guestkit_inspect::security::firewall::Firewall| {
        Evidence::field(
            f.config.clone().unwrap_or_else(|| f.kind.clone()),
            format!(
                "{}: {} rules, default policy {}",
                f.kind,
                f.rules.map_or("uncounted".into(), |n| n.to_string()),
                f.default_policy.as_deref().unwrap_or("-")
            ),
        )
    };
    // firewalld and ufw are configured by zones/policies, not counted rules.
    let good: Vec<_> = enabled
        .iter()
        .filter(|f| f.rules.is_none_or(|n| n > 0))
        .collect();
    if good.is_empty() {
        Outcome::fail(enabled.iter().map(|f| ev(f)).collect())
    } else {
        Outcome::pass(good.iter().map(|f| ev(f)).collect())
    }
}

fn selinux_enforcing(ctx: &Ctx<'_>) -> Outcome {
    let sec = tri!(ctx.security());
    let s = &sec.selinux;
    if !s.configured {
        return Outcome::fail(vec![Evidence::file("/etc/selinux/config", None, "absent")]);
    }
    let ev = vec![Evidence::file(
        "/etc/selinux/config",
        None,
        format!(
            "SELINUX={} (effective {}), SELINUXTYPE={}",
            s.config_mode.as_deref().unwrap_or("unset"),
            s.mode.as_deref().unwrap_or("unknown"),
            s.policy.as_deref().unwrap_or("unset")
        ),
    )];
    if s.mode.as_deref() == Some("enforcing") && s.policy_installed {
        Outcome::pass(ev)
    } else {
        Outcome::fail(ev)
    }
}

fn apparmor_enabled(ctx: &Ctx<'_>) -> Outcome {
    let sec = tri!(ctx.security());
    let a = &sec.apparmor;
    let ev = vec![Evidence::field(
        "security.apparmor",
        format!(
            "installed {}, enabled {}, {} profiles, {} in complain mode",
            a.installed,
            a.enabled,
            a.profiles,
            a.complain.len()
        ),
    )];
    if a.installed && a.enabled && a.profiles > 0 {
        Outcome::pass(ev)
    } else {
        Outcome::fail(ev)
    }
}

/// Fails when any of `units` starts at boot or an uncommented inetd.conf
/// line names one of `inetd_names`.
fn not_enabled(ctx: &Ctx<'_>, units: &[&str], inetd_names: &[&str]) -> Outcome {
    tri!(known_init(ctx));
    let mut bad: Vec<Evidence> = units
        .iter()
        .filter(|u| ctx.enabled(u) == Some(true))
        .map(|u| Evidence::field("services", format!("{u} enabled")))
        .collect();
    if !inetd_names.is_empty() {
        if let Some(text) = tri!(ctx.text("/etc/inetd.conf")) {
            for (i, line) in text.lines().enumerate() {
                let first = line.split_whitespace().next().unwrap_or("");
                if !first.starts_with('#') && inetd_names.contains(&first) {
                    bad.push(Evidence::file("/etc/inetd.conf", Some(i + 1), line.trim()));
                }
            }
        }
    }
    if !inetd_names.is_empty() && ctx.enabled("xinetd.service") == Some(true) {
        bad.extend(tri!(xinetd_services(ctx, inetd_names)));
    }
    Outcome::fail_if_any(
        bad,
        Evidence::field("services", format!("none of {} enabled", units.join(", "))),
    )
}

/// `service NAME { … }` blocks of /etc/xinetd.d naming one of `names`
/// and not turned off (`disable = yes`; xinetd runs a service whose block
/// does not say so).
fn xinetd_services(ctx: &Ctx<'_>, names: &[&str]) -> Result<Vec<Evidence>, Outcome> {
    let files = ctx.files()?;
    let mut out = Vec::new();
    for file in files.list_dir(SECTION, "/etc/xinetd.d") {
        let path = format!("/etc/xinetd.d/{file}");
        let Some(text) = files.read_text(SECTION, &path) else {
            continue;
        };
        let mut current: Option<(String, usize, bool)> = None;
        for (i, line) in text.lines().enumerate() {
            let l = line.split('#').next().unwrap_or("").trim();
            if let Some(name) = l.strip_prefix("service ") {
                current = Some((name.trim().to_string(), i + 1, false));
            } else if let Some((k, v)) = l.split_once('=') {
                if k.trim() == "disable" && v.trim() == "yes" {
                    if let Some(c) = current.as_mut() {
                        c.2 = true;
                    }
                }
            } else if l == "}" {
                if let Some((name, line, disabled)) = current.take() {
                    if !disabled && names.contains(&name.as_str()) {
                        out.push(Evidence::file(
                            path.clone(),
                            Some(line),
                            format!("xinetd service {name} enabled"),
                        ));
                    }
                }
            }
        }
    }
    Ok(out)
}

fn telnet(ctx: &Ctx<'_>) -> Outcome {
    not_enabled(
        ctx,
        &["telnet.socket", "telnetd.service", "telnet"],
        &["telnet"],
    )
}

fn rsh(ctx: &Ctx<'_>) -> Outcome {
    not_enabled(
        ctx,
        &[
            "rsh.socket",
            "rlogin.socket",
            "rexec.socket",
            "rsh",
            "rlogin",
            "rexec",
        ],
        &["shell", "login", "exec"],
    )
}

fn tftp(ctx: &Ctx<'_>) -> Outcome {
    not_enabled(
        ctx,
        &[
            "tftp.socket",
            "tftp.service",
            "tftpd-hpa.service",
            "tftpd-hpa",
        ],
        &["tftp"],
    )
}

fn inetd(ctx: &Ctx<'_>) -> Outcome {
    not_enabled(
        ctx,
        &[
            "xinetd.service",
            "inetd.service",
            "openbsd-inetd.service",
            "inetutils-inetd.service",
            "xinetd",
            "inetd",
            "openbsd-inetd",
        ],
        &[],
    )
}

fn avahi(ctx: &Ctx<'_>) -> Outcome {
    not_enabled(ctx, &["avahi-daemon.service", "avahi-daemon.socket"], &[])
}

/// vsftpd with anonymous logins (`anonymous_enable` defaults to YES in
/// vsftpd itself).
fn vsftpd_anonymous(ctx: &Ctx<'_>) -> Outcome {
    for path in ["/etc/vsftpd.conf", "/etc/vsftpd/vsftpd.conf"] {
        let Some(text) = tri!(ctx.text(path)) else {
            continue;
        };
        let setting = text.lines().enumerate().filter_map(|(i, l)| {
            let (k, v) = l.trim().split_once('=')?;
            (k.trim() == "anonymous_enable").then(|| (i + 1, v.trim().to_ascii_uppercase()))
        });
        let ev = match setting.last() {
            Some((line, v)) => {
                let e = Evidence::file(path, Some(line), format!("anonymous_enable={v}"));
                if v == "NO" {
                    return Outcome::pass(vec![e]);
                }
                e
            }
            None => Evidence::file(path, None, "anonymous_enable unset (vsftpd default YES)"),
        };
        return Outcome::fail(vec![ev]);
    }
    Outcome::na("vsftpd is not configured")
}

fn auditd_enabled(ctx: &Ctx<'_>) -> Outcome {
    let sec = tri!(ctx.security());
    let a = &sec.auditd;
    let ev = vec![Evidence::field(
        "security.auditd",
        format!("installed {}, enabled {}", a.installed, a.enabled),
    )];
    if a.installed && a.enabled {
        Outcome::pass(ev)
    } else {
        Outcome::fail(ev)
    }
}

fn audit_rules(ctx: &Ctx<'_>) -> Outcome {
    let sec = tri!(ctx.security());
    let a = &sec.auditd;
    if !a.installed {
        return Outcome::na("auditd is not installed (see audit.auditd-enabled)");
    }
    let ev = vec![Evidence::field(
        if a.rule_files.is_empty() {
            "/etc/audit/rules.d".to_string()
        } else {
            a.rule_files.join(", ")
        },
        format!("{} rules, immutable {}", a.rules, a.immutable),
    )];
    if a.rules > 0 {
        Outcome::pass(ev)
    } else {
        Outcome::fail(ev)
    }
}

/// Log forwarding: rsyslog/syslog-ng forwarding lines, or
/// systemd-journal-upload enabled.
fn remote_logging(ctx: &Ctx<'_>) -> Outcome {
    let files = tri!(ctx.files());
    let mut paths = vec![
        "/etc/rsyslog.conf".to_string(),
        "/etc/syslog-ng/syslog-ng.conf".to_string(),
    ];
    for dir in ["/etc/rsyslog.d", "/etc/syslog-ng/conf.d"] {
        paths.extend(
            files
                .list_dir(SECTION, dir)
                .into_iter()
                .filter(|n| n.ends_with(".conf"))
                .map(|n| format!("{dir}/{n}")),
        );
    }
    for path in &paths {
        let Some(text) = files.read_text(SECTION, path) else {
            continue;
        };
        for (i, line) in text.lines().enumerate() {
            let l = line.trim();
            if l.starts_with('#') {
                continue;
            }
            let words: Vec<&str> = l.split_whitespace().collect();
            let classic = words.len() >= 2
                && words
                    .last()
                    .is_some_and(|w| w.starts_with('@') && w.len() > 1);
            if classic
                || l.contains("omfwd")
                || (l.starts_with("destination")
                    && (l.contains("network(") || l.contains("tcp(") || l.contains("udp(")))
            {
                return Outcome::pass(vec![Evidence::file(path.clone(), Some(i + 1), l)]);
            }
        }
    }
    if ctx.enabled("systemd-journal-upload.service") == Some(true) {
        return Outcome::pass(vec![Evidence::field(
            "services",
            "systemd-journal-upload.service enabled",
        )]);
    }
    Outcome::fail(vec![Evidence::field(
        paths.join(", "),
        "no log forwarding configured",
    )])
}

fn time_sync(ctx: &Ctx<'_>) -> Outcome {
    tri!(known_init(ctx));
    const UNITS: &[&str] = &[
        "chronyd.service",
        "chrony.service",
        "systemd-timesyncd.service",
        "ntpd.service",
        "ntp.service",
        "ntpsec.service",
        "openntpd.service",
        "chronyd",
        "ntpd",
        "openntpd",
    ];
    match UNITS.iter().find(|u| ctx.enabled(u) == Some(true)) {
        Some(u) => Outcome::pass(vec![Evidence::field("services", format!("{u} enabled"))]),
        None => Outcome::fail(vec![Evidence::field(
            "services",
            "no chrony, systemd-timesyncd, ntpd or openntpd enabled",
        )]),
    }
}

/// /etc/crontab 0600 and the cron directories 0700, root-owned.
fn cron_permissions(ctx: &Ctx<'_>) -> Outcome {
    let files = tri!(ctx.files());
    let tree = files.tree();
    let mut seen = Vec::new();
    let mut bad = Vec::new();
    let items: &[(&str, FileType, u32)] = &[
        ("/etc/crontab", FileType::Regular, 0o077),
        ("/etc/cron.hourly", FileType::Directory, 0o077),
        ("/etc/cron.daily", FileType::Directory, 0o077),
        ("/etc/cron.weekly", FileType::Directory, 0o077),
        ("/etc/cron.monthly", FileType::Directory, 0o077),
        ("/etc/cron.d", FileType::Directory, 0o077),
    ];
    for (path, kind, forbidden) in items {
        let Ok(md) = tree.metadata(path.as_bytes()) else {
            continue;
        };
        if md.file_type != *kind {
            continue;
        }
        let e = Evidence::file(
            *path,
            None,
            format!("mode {:04o} uid {}", md.mode & 0o7777, md.uid),
        );
        if md.uid != 0 || md.mode & forbidden != 0 {
            bad.push(e);
        } else {
            seen.push(e);
        }
    }
    if bad.is_empty() && seen.is_empty() {
        return Outcome::na("no /etc/crontab or cron directories");
    }
    if bad.is_empty() {
        Outcome::pass(seen)
    } else {
        Outcome::fail(bad)
    }
}

macro_rules! unneeded_services {
    ($( $fn:ident, $id:literal, $what:literal, [$($unit:literal),+]; )*) => {
        $( fn $fn(ctx: &Ctx<'_>) -> Outcome { not_enabled(ctx, &[$($unit),+], &[]) } )*
        /// Services a server rarely needs (CIS "ensure … is not in use").
        pub const UNNEEDED_SERVICE_CHECKS: &[Check] = &[ $( Check {
            id: $id,
            title: concat!($what, " is not enabled"),
            description: concat!($what, " starts at boot; disable it unless the machine provides that service."),
            profiles: HARD,
            severity: Severity::Low,
            applies: Applies::LINUX,
            remediation: concat!("Disable (`systemctl disable --now ", $($unit, " ",)+ "`) or remove it."),
            references: &[],
            run: $fn,
        }, )* ];
    };
}

unneeded_services! {
    cups, "services.cups", "The CUPS print server", ["cups.service", "cups.socket", "cups.path"];
    rpcbind, "services.rpcbind", "rpcbind", ["rpcbind.service", "rpcbind.socket"];
    nfs_server, "services.nfs-server", "The NFS server", ["nfs-server.service", "nfs-kernel-server.service"];
    snmpd, "services.snmpd", "The SNMP daemon", ["snmpd.service"];
    nis_server, "services.nis-server", "The NIS server", ["ypserv.service"];
    dhcp_server, "services.dhcp-server", "A DHCP server", ["isc-dhcp-server.service", "dhcpd.service", "kea-dhcp4-server.service"];
    samba, "services.samba", "The Samba file server", ["smbd.service", "smb.service"];
    rsync_daemon, "services.rsyncd", "The rsync daemon", ["rsync.service", "rsyncd.service"];
}

const RHEL: Applies = Applies {
    os: OsKind::Linux,
    families: &[Family::Rhel],
};
const APPARMOR_FAMILIES: Applies = Applies {
    os: OsKind::Linux,
    families: &[Family::Debian, Family::Suse],
};

/// The service checks.
pub const CHECKS: &[Check] = &[
    Check {
        id: "firewall.enabled",
        title: "A host firewall is installed and enabled",
        description: "firewalld, ufw, nftables or iptables starts at boot.",
        profiles: SEC_COMP,
        severity: Severity::High,
        applies: Applies::LINUX,
        remediation: "Install and enable a firewall (`systemctl enable nftables` with a ruleset, or firewalld/ufw).",
        references: &["PCI-DSS-v4 1.2.1"],
        run: firewall_enabled,
    },
    Check {
        id: "firewall.rules",
        title: "The enabled firewall has rules",
        description: "An enabled nftables/iptables service with an empty saved ruleset filters nothing.",
        profiles: SEC_COMP,
        severity: Severity::High,
        applies: Applies::LINUX,
        remediation: "Write a ruleset with a default-drop input policy (/etc/nftables.conf, /etc/sysconfig/iptables).",
        references: &[],
        run: firewall_rules,
    },
    Check {
        id: "mac.selinux-enforcing",
        title: "SELinux is enforcing",
        description: "On the RHEL family SELinux is the mandatory access control; it must be enforcing with a policy installed.",
        profiles: SEC_COMP_HARD,
        severity: Severity::High,
        applies: RHEL,
        remediation: "Set `SELINUX=enforcing` and `SELINUXTYPE=targeted` in /etc/selinux/config, install the policy, relabel (`touch /.autorelabel`).",
        references: &["xccdf_org.ssgproject.content_rule_selinux_state"],
        run: selinux_enforcing,
    },
    Check {
        id: "mac.apparmor-enabled",
        title: "AppArmor is enabled",
        description: "On Debian, Ubuntu and SUSE AppArmor is the mandatory access control; it must be installed, enabled and have profiles.",
        profiles: SEC_COMP_HARD,
        severity: Severity::Medium,
        applies: APPARMOR_FAMILIES,
        remediation: "Install apparmor and apparmor-profiles, enable apparmor.service, keep `apparmor=0` off the kernel command line.",
        references: &["xccdf_org.ssgproject.content_rule_apparmor_configured"],
        run: apparmor_enabled,
    },
    Check {
        id: "services.telnet",
        title: "No telnet server is enabled",
        description: "telnet sends passwords in clear text.",
        profiles: SEC_COMP_HARD,
        severity: Severity::High,
        applies: Applies::LINUX,
        remediation: "Disable and remove the telnet server; use SSH.",
        references: &["xccdf_org.ssgproject.content_rule_package_telnet-server_removed"],
        run: telnet,
    },
    Check {
        id: "services.rsh",
        title: "No rsh/rlogin/rexec server is enabled",
        description: "The r-services authenticate by host and send data in clear text.",
        profiles: SEC_COMP_HARD,
        severity: Severity::High,
        applies: Applies::LINUX,
        remediation: "Disable and remove rsh-server; use SSH.",
        references: &["xccdf_org.ssgproject.content_rule_package_rsh-server_removed"],
        run: rsh,
    },
    Check {
        id: "services.tftp",
        title: "No TFTP server is enabled",
        description: "TFTP has no authentication.",
        profiles: SEC_HARD,
        severity: Severity::Medium,
        applies: Applies::LINUX,
        remediation: "Disable the TFTP server unless the machine is a boot server.",
        references: &["xccdf_org.ssgproject.content_rule_package_tftp-server_removed"],
        run: tftp,
    },
    Check {
        id: "services.inetd",
        title: "No inetd/xinetd super-server is enabled",
        description: "inetd and xinetd start legacy network services on demand.",
        profiles: SEC_HARD,
        severity: Severity::Medium,
        applies: Applies::LINUX,
        remediation: "Disable xinetd/inetd and the services they launch.",
        references: &["xccdf_org.ssgproject.content_rule_package_xinetd_removed"],
        run: inetd,
    },
    Check {
        id: "services.avahi",
        title: "Avahi (mDNS) is not enabled",
        description: "Zero-configuration service discovery is rarely needed on servers.",
        profiles: HARD,
        severity: Severity::Low,
        applies: Applies::LINUX,
        remediation: "`systemctl disable avahi-daemon.service avahi-daemon.socket`.",
        references: &["xccdf_org.ssgproject.content_rule_service_avahi-daemon_disabled"],
        run: avahi,
    },
    Check {
        id: "services.vsftpd-anonymous",
        title: "vsftpd refuses anonymous logins",
        description: "vsftpd allows anonymous FTP unless anonymous_enable=NO.",
        profiles: SEC,
        severity: Severity::High,
        applies: Applies::LINUX,
        remediation: "Set `anonymous_enable=NO` in vsftpd.conf.",
        references: &[],
        run: vsftpd_anonymous,
    },
    Check {
        id: "audit.auditd-enabled",
        title: "auditd is installed and enabled",
        description: "The Linux audit daemon records security-relevant events.",
        profiles: COMP,
        severity: Severity::Medium,
        applies: Applies::LINUX,
        remediation: "Install auditd and `systemctl enable auditd`.",
        references: &["xccdf_org.ssgproject.content_rule_service_auditd_enabled", "PCI-DSS-v4 10.2.1"],
        run: auditd_enabled,
    },
    Check {
        id: "audit.rules",
        title: "Audit rules are configured",
        description: "auditd without rules records almost nothing.",
        profiles: COMP,
        severity: Severity::Medium,
        applies: Applies::LINUX,
        remediation: "Add rules under /etc/audit/rules.d (identity, logins, privileged commands, time changes).",
        references: &["PCI-DSS-v4 10.2.1"],
        run: audit_rules,
    },
    Check {
        id: "logging.remote",
        title: "Logs are sent to a remote host",
        description: "rsyslog/syslog-ng forwarding or systemd-journal-upload.",
        profiles: COMP,
        severity: Severity::Low,
        applies: Applies::LINUX,
        remediation: "Forward logs (`*.* @@loghost:514` in /etc/rsyslog.d, or systemd-journal-upload).",
        references: &["PCI-DSS-v4 10.3.3"],
        run: remote_logging,
    },
    Check {
        id: "time.sync",
        title: "Time synchronisation is enabled",
        description: "chrony, systemd-timesyncd, ntpd or openntpd starts at boot.",
        profiles: COMP,
        severity: Severity::Medium,
        applies: Applies::LINUX,
        remediation: "Install and enable chrony (or systemd-timesyncd).",
        references: &["PCI-DSS-v4 10.6.1"],
        run: time_sync,
    },
    Check {
        id: "cron.permissions",
        title: "cron configuration is root-only",
        description: "/etc/crontab 0600 and /etc/cron.{d,hourly,daily,weekly,monthly} 0700, owned by root.",
        profiles: COMP_HARD,
        severity: Severity::Low,
        applies: Applies::LINUX,
        remediation: "`chmod 0600 /etc/crontab; chmod 0700 /etc/cron.d /etc/cron.hourly /etc/cron.daily /etc/cron.weekly /etc/cron.monthly`.",
        references: &["xccdf_org.ssgproject.content_rule_file_permissions_crontab"],
        run: cron_permissions,
    },
];
