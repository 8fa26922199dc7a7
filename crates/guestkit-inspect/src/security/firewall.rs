//! Host firewalls: firewalld, ufw, nftables and iptables — installed,
//! enabled at boot, and what their saved rules say.

use serde::Serialize;

use crate::files::GuestFiles;
use crate::os::os_release::KeyValues;

const SECTION: &str = "security";

/// One firewall front end or rule set.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Firewall {
    /// `firewalld`, `ufw`, `nftables`, `iptables`.
    pub kind: String,
    pub installed: bool,
    /// Started at boot (by its service, or ufw's `ENABLED=yes`).
    pub enabled: bool,
    /// The file holding its rules or settings.
    pub config: Option<String>,
    /// Rules in the saved rule set (nftables / iptables), where counted.
    pub rules: Option<usize>,
    /// firewalld's default zone, ufw's default input policy.
    pub default_policy: Option<String>,
}

/// Rule lines of an iptables-save file (`-A CHAIN …`).
fn iptables_rules(text: &str) -> usize {
    text.lines()
        .filter(|l| l.trim_start().starts_with("-A "))
        .count()
}

/// Rule statements of an nftables file: lines in a chain that are not the
/// chain's own `type … hook …; policy …;` header, comments or braces.
pub fn nftables_rules(text: &str) -> usize {
    let mut depth = 0usize;
    let mut in_chain = false;
    let mut chain_depth = 0usize;
    let mut rules = 0;
    for line in text.lines() {
        let l = line.split('#').next().unwrap_or("").trim();
        if l.is_empty() {
            continue;
        }
        if l.starts_with("chain ") && l.ends_with('{') {
            in_chain = true;
            chain_depth = depth + 1;
        } else if in_chain && depth == chain_depth && !l.starts_with('}') {
            let header = l.starts_with("type ") || l.starts_with("policy ");
            if !header {
                rules += 1;
            }
        }
        depth += l.matches('{').count();
        depth = depth.saturating_sub(l.matches('}').count());
        if in_chain && depth < chain_depth {
            in_chain = false;
        }
    }
    rules
}

/// The firewalls of the guest; `enabled(unit)` tells whether a systemd
/// unit is enabled.
pub fn firewalls(files: &GuestFiles, enabled: &dyn Fn(&str) -> bool) -> Vec<Firewall> {
    let mut out = Vec::new();
    let firewalld = ["/usr/sbin/firewalld", "/usr/bin/firewalld"]
        .iter()
        .any(|p| files.is_file(p));
    if firewalld {
        let conf = "/etc/firewalld/firewalld.conf";
        let zone = files
            .read_text(SECTION, conf)
            .and_then(|t| KeyValues::parse(&t).get("DefaultZone").map(str::to_string));
        out.push(Firewall {
            kind: "firewalld".into(),
            installed: true,
            enabled: enabled("firewalld.service"),
            config: files.is_file(conf).then(|| conf.to_string()),
            rules: None,
            default_policy: zone,
        });
    }
    let ufw_conf = "/etc/ufw/ufw.conf";
    if files.is_file("/usr/sbin/ufw") || files.is_file(ufw_conf) {
        let enabled_flag = files.read_text(SECTION, ufw_conf).is_some_and(|t| {
            KeyValues::parse(&t)
                .get("ENABLED")
                .is_some_and(|v| v.eq_ignore_ascii_case("yes"))
        });
        let policy = files.read_text(SECTION, "/etc/default/ufw").and_then(|t| {
            KeyValues::parse(&t)
                .get("DEFAULT_INPUT_POLICY")
                .map(str::to_string)
        });
        out.push(Firewall {
            kind: "ufw".into(),
            installed: true,
            enabled: enabled_flag,
            config: Some(ufw_conf.into()),
            rules: None,
            default_policy: policy,
        });
    }
    let nft_conf = ["/etc/nftables.conf", "/etc/sysconfig/nftables.conf"]
        .into_iter()
        .find(|p| files.is_file(p));
    if files.is_file("/usr/sbin/nft") || nft_conf.is_some() {
        out.push(Firewall {
            kind: "nftables".into(),
            installed: true,
            enabled: enabled("nftables.service"),
            config: nft_conf.map(str::to_string),
            rules: nft_conf
                .and_then(|c| files.read_text(SECTION, c))
                .map(|t| nftables_rules(&t)),
            default_policy: None,
        });
    }
    let ipt = [
        ("/etc/iptables/rules.v4", "netfilter-persistent.service"),
        ("/etc/sysconfig/iptables", "iptables.service"),
    ]
    .into_iter()
    .find(|(p, _)| files.is_file(p));
    if let Some((path, unit)) = ipt {
        out.push(Firewall {
            kind: "iptables".into(),
            installed: true,
            enabled: enabled(unit),
            config: Some(path.into()),
            rules: files.read_text(SECTION, path).map(|t| iptables_rules(&t)),
            default_policy: None,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nftables_rule_count() {
        // Debian's default /etc/nftables.conf: chains, no rules.
        let debian = "#!/usr/sbin/nft -f\n\nflush ruleset\n\ntable inet filter {\n\tchain input {\n\t\ttype filter hook input priority filter;\n\t}\n\tchain forward {\n\t\ttype filter hook forward priority filter;\n\t}\n\tchain output {\n\t\ttype filter hook output priority filter;\n\t}\n}\n";
        assert_eq!(nftables_rules(debian), 0);
        let real = "table inet filter {\n  chain input {\n    type filter hook input priority 0; policy drop;\n    ct state established,related accept\n    iif lo accept # loopback\n    tcp dport 22 accept\n  }\n}\n";
        assert_eq!(nftables_rules(real), 3);
        assert_eq!(iptables_rules("*filter\n:INPUT DROP [0:0]\n-A INPUT -i lo -j ACCEPT\n-A INPUT -p tcp --dport 22 -j ACCEPT\nCOMMIT\n"), 2);
    }
}
