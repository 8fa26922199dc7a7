//! Kernel parameters the guest sets at boot (sysctl.d with systemd's and
//! procps' precedence) and core dumps.
//!
//! Precedence: the `*.conf` files of `/etc/sysctl.d`, `/run/sysctl.d`,
//! `/usr/local/lib/sysctl.d`, `/usr/lib/sysctl.d` and `/lib/sysctl.d`; a
//! name in an earlier directory hides the same name in a later one (so
//! `/etc` overrides `/usr/lib`); the files are applied sorted by name, a
//! later assignment overriding an earlier one; `/etc/sysctl.conf` comes
//! last (procps `sysctl --system`) unless a drop-in links to it. An
//! explicit key wins over glob patterns (`net.ipv4.conf.*.rp_filter`).

use std::collections::BTreeMap;

use guestkit_inspect::GuestFiles;

use super::accounts::tri;
use super::sets::*;
use super::{Applies, Check, Ctx, SECTION};
use crate::model::{Evidence, Outcome, Severity};

/// Drop-in directories, highest precedence first.
pub const SYSCTL_DIRS: &[&str] = &[
    "/etc/sysctl.d",
    "/run/sysctl.d",
    "/usr/local/lib/sysctl.d",
    "/usr/lib/sysctl.d",
    "/lib/sysctl.d",
];
/// Most drop-in files read.
pub const MAX_FILES: usize = 512;

/// One `key = value` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignment {
    /// Dotted key (slashes turned into dots); may hold `*` globs.
    pub key: String,
    pub value: String,
    pub file: String,
    pub line: usize,
}

/// The assignments in the order the kernel receives them.
#[derive(Debug, Clone, Default)]
pub struct Sysctl {
    pub assignments: Vec<Assignment>,
    /// Files applied, in order.
    pub files: Vec<String>,
}

/// Whether `key` matches the glob `pattern` (`*` matches any run of
/// characters; no other metacharacter is used in sysctl.d).
fn glob(pattern: &str, key: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let k: Vec<char> = key.chars().collect();
    let (mut pi, mut ki) = (0usize, 0usize);
    let (mut star, mut mark) = (None, 0usize);
    while ki < k.len() {
        match p.get(pi) {
            Some('*') => {
                star = Some(pi);
                mark = ki;
                pi += 1;
            }
            Some(c) if Some(c) == k.get(ki) => {
                pi += 1;
                ki += 1;
            }
            _ => match star {
                Some(s) => {
                    pi = s + 1;
                    mark += 1;
                    ki = mark;
                }
                None => return false,
            },
        }
    }
    p.get(pi..)
        .is_some_and(|rest| rest.iter().all(|c| *c == '*'))
}

/// Parses one sysctl.d file.
pub fn parse(text: &str, file: &str) -> Vec<Assignment> {
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate().take(100_000) {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        let line = line.strip_prefix('-').unwrap_or(line);
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        let k = k.trim();
        // systemd: a key whose first separator is '/' uses '/' for '.'.
        let key = match (k.find('/'), k.find('.')) {
            (Some(s), Some(d)) if s < d => k
                .chars()
                .map(|c| match c {
                    '/' => '.',
                    '.' => '/',
                    c => c,
                })
                .collect(),
            (Some(_), None) => k.replace('/', "."),
            _ => k.to_string(),
        };
        out.push(Assignment {
            key,
            value: v.trim().to_string(),
            file: file.to_string(),
            line: i + 1,
        });
    }
    out
}

impl Sysctl {
    /// Reads the guest's sysctl configuration.
    pub fn read(files: &GuestFiles<'_>) -> Sysctl {
        let mut by_name: BTreeMap<String, String> = BTreeMap::new();
        for dir in SYSCTL_DIRS {
            for name in files.list_dir(SECTION, dir) {
                if name.ends_with(".conf") && by_name.len() < MAX_FILES {
                    by_name
                        .entry(name.clone())
                        .or_insert(format!("{dir}/{name}"));
                }
            }
        }
        let mut paths: Vec<String> = by_name.into_values().collect();
        let links_main = paths.iter().any(|p| {
            files
                .link_target(p)
                .is_some_and(|t| t == "../sysctl.conf" || t == "/etc/sysctl.conf")
        });
        if !links_main {
            paths.push("/etc/sysctl.conf".to_string());
        }
        let mut s = Sysctl::default();
        for path in paths {
            if let Some(text) = files.read_text(SECTION, &path) {
                s.assignments.extend(parse(&text, &path));
                s.files.push(path);
            }
        }
        s
    }

    /// The assignment in effect for `key`: the last explicit one, else the
    /// last glob matching it.
    pub fn get(&self, key: &str) -> Option<&Assignment> {
        self.assignments
            .iter()
            .rev()
            .find(|a| a.key == key)
            .or_else(|| {
                self.assignments
                    .iter()
                    .rev()
                    .find(|a| a.key.contains('*') && glob(&a.key, key))
            })
    }
}

/// Passes when `key` is one of `good`; an unset key takes the upstream
/// kernel default `default`.
fn expect(ctx: &Ctx<'_>, key: &str, good: &[&str], default: &str) -> Outcome {
    let s = tri!(ctx.sysctl());
    let (value, ev) = match s.get(key) {
        Some(a) => (
            a.value.as_str(),
            Evidence::file(
                a.file.clone(),
                Some(a.line),
                format!("{} = {}", a.key, a.value),
            ),
        ),
        None => (
            default,
            Evidence::field(
                if s.files.is_empty() {
                    "sysctl.d (no files)".to_string()
                } else {
                    s.files.join(", ")
                },
                format!("{key} unset: kernel default {default}"),
            ),
        ),
    };
    if good.contains(&value) {
        Outcome::pass(vec![ev])
    } else {
        Outcome::fail(vec![ev])
    }
}

macro_rules! sysctl_checks {
    ($( $fn:ident, $id:literal, $key:literal, [$good0:literal $(, $good:literal)*], $default:literal, $sev:ident, $title:literal, [$($r:literal),*]; )*) => {
        $( fn $fn(ctx: &Ctx<'_>) -> Outcome { expect(ctx, $key, &[$good0 $(, $good)*], $default) } )*
        /// The kernel-parameter checks.
        pub const SYSCTL_CHECKS: &[Check] = &[ $( Check {
            id: $id,
            title: $title,
            description: concat!("sysctl ", $key, " as set at boot (sysctl.d, sysctl.conf; unset: kernel default ", $default, ")."),
            profiles: SEC_COMP_HARD,
            severity: Severity::$sev,
            applies: Applies::LINUX,
            remediation: concat!("Set `", $key, " = ", $good0, "` in a file of /etc/sysctl.d (e.g. 60-hardening.conf)."),
            references: &[$($r),*],
            run: $fn,
        }, )* ];
    };
}

sysctl_checks! {
    ip_forward, "sysctl.ip-forward", "net.ipv4.ip_forward", ["0"], "0", Medium,
        "IPv4 forwarding is off", ["xccdf_org.ssgproject.content_rule_sysctl_net_ipv4_ip_forward"];
    rp_filter, "sysctl.rp-filter", "net.ipv4.conf.all.rp_filter", ["1"], "0", Medium,
        "Reverse-path filtering is strict", ["xccdf_org.ssgproject.content_rule_sysctl_net_ipv4_conf_all_rp_filter"];
    accept_redirects, "sysctl.accept-redirects", "net.ipv4.conf.all.accept_redirects", ["0"], "1", Medium,
        "ICMP redirects are not accepted", ["xccdf_org.ssgproject.content_rule_sysctl_net_ipv4_conf_all_accept_redirects"];
    ipv6_accept_redirects, "sysctl.ipv6-accept-redirects", "net.ipv6.conf.all.accept_redirects", ["0"], "1", Medium,
        "IPv6 ICMP redirects are not accepted", ["xccdf_org.ssgproject.content_rule_sysctl_net_ipv6_conf_all_accept_redirects"];
    send_redirects, "sysctl.send-redirects", "net.ipv4.conf.all.send_redirects", ["0"], "1", Medium,
        "ICMP redirects are not sent", ["xccdf_org.ssgproject.content_rule_sysctl_net_ipv4_conf_all_send_redirects"];
    accept_source_route, "sysctl.accept-source-route", "net.ipv4.conf.all.accept_source_route", ["0"], "0", Medium,
        "Source-routed packets are refused", ["xccdf_org.ssgproject.content_rule_sysctl_net_ipv4_conf_all_accept_source_route"];
    tcp_syncookies, "sysctl.tcp-syncookies", "net.ipv4.tcp_syncookies", ["1"], "1", Medium,
        "TCP SYN cookies are on", ["xccdf_org.ssgproject.content_rule_sysctl_net_ipv4_tcp_syncookies"];
    randomize_va_space, "sysctl.randomize-va-space", "kernel.randomize_va_space", ["2"], "2", High,
        "Address-space layout randomisation is full", ["xccdf_org.ssgproject.content_rule_sysctl_kernel_randomize_va_space"];
    dmesg_restrict, "sysctl.dmesg-restrict", "kernel.dmesg_restrict", ["1"], "0", Low,
        "The kernel log is root-only", ["xccdf_org.ssgproject.content_rule_sysctl_kernel_dmesg_restrict"];
    kptr_restrict, "sysctl.kptr-restrict", "kernel.kptr_restrict", ["1", "2"], "0", Low,
        "Kernel pointers are hidden", ["xccdf_org.ssgproject.content_rule_sysctl_kernel_kptr_restrict"];
    suid_dumpable, "sysctl.suid-dumpable", "fs.suid_dumpable", ["0"], "0", Medium,
        "setuid programs do not dump core", ["xccdf_org.ssgproject.content_rule_sysctl_fs_suid_dumpable"];
}

/// `* hard core 0` in limits.conf or limits.d (the last matching line of
/// the files in order wins).
fn core_dumps(ctx: &Ctx<'_>) -> Outcome {
    let files = tri!(ctx.files());
    let mut paths = vec!["/etc/security/limits.conf".to_string()];
    paths.extend(
        files
            .list_dir(SECTION, "/etc/security/limits.d")
            .into_iter()
            .filter(|n| n.ends_with(".conf"))
            .map(|n| format!("/etc/security/limits.d/{n}")),
    );
    let mut last = None;
    for path in &paths {
        let Some(text) = files.read_text(SECTION, path) else {
            continue;
        };
        for (i, line) in text.lines().enumerate() {
            let w: Vec<&str> = line
                .split('#')
                .next()
                .unwrap_or("")
                .split_whitespace()
                .collect();
            if let [domain, kind, "core", value] = w.as_slice() {
                if *domain == "*" && (*kind == "hard" || *kind == "-") {
                    last = Some((
                        *value == "0",
                        Evidence::file(path.clone(), Some(i + 1), w.join(" ")),
                    ));
                }
            }
        }
    }
    match last {
        Some((true, ev)) => Outcome::pass(vec![ev]),
        Some((false, ev)) => Outcome::fail(vec![ev]),
        None => Outcome::fail(vec![Evidence::field(
            paths.join(", "),
            "no `* hard core 0` line",
        )]),
    }
}

/// The core-dump check.
pub const CHECKS: &[Check] = &[Check {
    id: "kernel.core-dumps-restricted",
    title: "Core dumps are disabled for users",
    description: "A hard core limit of 0 for everyone keeps secrets in memory out of core files.",
    profiles: SEC_COMP_HARD,
    severity: Severity::Low,
    applies: Applies::LINUX,
    remediation: "Add `* hard core 0` to /etc/security/limits.conf (and `fs.suid_dumpable = 0`).",
    references: &["xccdf_org.ssgproject.content_rule_disable_users_coredumps"],
    run: core_dumps,
}];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match() {
        assert!(glob(
            "net.ipv4.conf.*.rp_filter",
            "net.ipv4.conf.all.rp_filter"
        ));
        assert!(!glob(
            "net.ipv4.conf.*.rp_filter",
            "net.ipv4.conf.all.accept_redirects"
        ));
        assert!(glob("*", "x"));
        assert!(!glob("a", "ab"));
    }

    #[test]
    fn parse_handles_slashes_dashes_and_comments() {
        let a = parse("# c\n; c\n-net/ipv4/ip_forward = 1\nkernel.x=  2 \n", "/f");
        assert_eq!(a.len(), 2);
        assert_eq!(
            (a[0].key.as_str(), a[0].value.as_str(), a[0].line),
            ("net.ipv4.ip_forward", "1", 3)
        );
        assert_eq!(a[1].key, "kernel.x");
    }

    #[test]
    fn explicit_beats_glob_and_later_beats_earlier() {
        let mut s = Sysctl::default();
        s.assignments
            .extend(parse("net.ipv4.conf.all.rp_filter = 0\n", "/a"));
        s.assignments
            .extend(parse("net.ipv4.conf.*.rp_filter = 2\n", "/b"));
        assert_eq!(s.get("net.ipv4.conf.all.rp_filter").unwrap().value, "0");
        assert_eq!(s.get("net.ipv4.conf.eth0.rp_filter").unwrap().value, "2");
        s.assignments
            .extend(parse("net.ipv4.conf.all.rp_filter = 1\n", "/c"));
        assert_eq!(s.get("net.ipv4.conf.all.rp_filter").unwrap().file, "/c");
    }
}
