//! The guest's general settings: timezone, locale, machine-id, cloud-init
//! and the hypervisor guest agents installed.

use serde::Serialize;

use crate::files::GuestFiles;
use crate::os::os_release::KeyValues;

const SECTION: &str = "system";

/// Timezone, locale, identity and agents.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct SystemSection {
    /// IANA zone name (`Europe/Berlin`).
    pub timezone: Option<String>,
    /// Where the timezone was read.
    pub timezone_source: Option<String>,
    /// `LANG`.
    pub locale: Option<String>,
    pub locale_source: Option<String>,
    /// `/etc/machine-id`, when initialised.
    pub machine_id: Option<String>,
    pub cloud_init: Option<CloudInit>,
    pub guest_agents: Vec<GuestAgent>,
}

/// cloud-init, when installed.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct CloudInit {
    /// `/etc/cloud/cloud-init.disabled` present.
    pub disabled: bool,
    /// `datasource_list`, from the last configuration file that sets it.
    pub datasources: Vec<String>,
    /// Configuration files read, in order.
    pub config_files: Vec<String>,
}

/// A hypervisor or cloud agent found by its program.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct GuestAgent {
    /// `qemu-guest-agent`, `open-vm-tools`, `hyperv-daemons`, …
    pub name: String,
    /// The file that shows it is installed.
    pub evidence: String,
}

/// Agents and the programs that show them.
const AGENTS: &[(&str, &[&str])] = &[
    (
        "qemu-guest-agent",
        &["/usr/sbin/qemu-ga", "/usr/bin/qemu-ga"],
    ),
    (
        "open-vm-tools",
        &["/usr/bin/vmtoolsd", "/usr/sbin/vmtoolsd"],
    ),
    (
        "hyperv-daemons",
        &["/usr/sbin/hv_kvp_daemon", "/usr/sbin/hypervkvpd"],
    ),
    (
        "virtualbox-guest-additions",
        &["/usr/sbin/VBoxService", "/usr/bin/VBoxService"],
    ),
    (
        "xe-guest-utilities",
        &["/usr/sbin/xe-daemon", "/usr/bin/xe-daemon"],
    ),
    ("walinuxagent", &["/usr/sbin/waagent", "/usr/bin/waagent"]),
    ("google-guest-agent", &["/usr/bin/google_guest_agent"]),
    (
        "amazon-ssm-agent",
        &["/usr/bin/amazon-ssm-agent", "/snap/bin/amazon-ssm-agent"],
    ),
];

/// The zone name in a `/etc/localtime` link target or path.
fn zone_of(target: &str) -> Option<String> {
    let at = target.find("zoneinfo/")?;
    let zone = target.get(at + "zoneinfo/".len()..)?;
    let zone = zone
        .strip_prefix("posix/")
        .or_else(|| zone.strip_prefix("right/"))
        .unwrap_or(zone);
    (!zone.is_empty()).then(|| zone.to_string())
}

fn timezone(files: &GuestFiles) -> (Option<String>, Option<String>) {
    if let Ok(target) = files.tree().read_link(b"/etc/localtime") {
        if let Some(z) = zone_of(&String::from_utf8_lossy(&target)) {
            return (Some(z), Some("/etc/localtime".into()));
        }
    }
    if let Some(text) = files.read_text(SECTION, "/etc/timezone") {
        if let Some(z) = text
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty() && !l.starts_with('#'))
        {
            return (Some(z.to_string()), Some("/etc/timezone".into()));
        }
    }
    if let Some(text) = files.read_text(SECTION, "/etc/sysconfig/clock") {
        let kv = KeyValues::parse(&text);
        if let Some(z) = kv.get("ZONE").or_else(|| kv.get("TIMEZONE")) {
            return (Some(z.to_string()), Some("/etc/sysconfig/clock".into()));
        }
    }
    (None, None)
}

fn locale(files: &GuestFiles) -> (Option<String>, Option<String>) {
    for (path, key) in [
        ("/etc/locale.conf", "LANG"),
        ("/etc/default/locale", "LANG"),
        ("/etc/sysconfig/i18n", "LANG"),
        ("/etc/sysconfig/language", "RC_LANG"),
        ("/etc/env.d/02locale", "LANG"),
    ] {
        if let Some(text) = files.read_text(SECTION, path) {
            if let Some(v) = KeyValues::parse(&text).get(key) {
                return (Some(v.to_string()), Some(path.to_string()));
            }
        }
    }
    (None, None)
}

fn machine_id(files: &GuestFiles) -> Option<String> {
    for path in ["/etc/machine-id", "/var/lib/dbus/machine-id"] {
        let Some(text) = files.read_text(SECTION, path) else {
            continue;
        };
        let id = text.trim();
        if id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Some(id.to_ascii_lowercase());
        }
        if !id.is_empty() && id != "uninitialized" {
            files.warn(SECTION, path, "not a 32-digit hexadecimal machine id");
        }
    }
    None
}

/// `datasource_list` values in a cloud-init YAML file: the flow form
/// `datasource_list: [ NoCloud, None ]` or a block list below the key.
pub fn datasource_list(text: &str) -> Option<Vec<String>> {
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        let Some(rest) = line.trim_start().strip_prefix("datasource_list:") else {
            continue;
        };
        if line.starts_with([' ', '\t']) {
            continue; // nested under another key
        }
        let rest = rest.split('#').next().unwrap_or("").trim();
        let clean = |s: &str| s.trim().trim_matches(['"', '\'']).to_string();
        if let Some(inner) = rest.strip_prefix('[') {
            let inner = inner.split(']').next().unwrap_or("");
            return Some(
                inner
                    .split(',')
                    .map(clean)
                    .filter(|s| !s.is_empty())
                    .collect(),
            );
        }
        let mut out = Vec::new();
        for next in lines.by_ref() {
            match next.trim_start().strip_prefix("- ") {
                Some(item) => out.push(clean(item.split('#').next().unwrap_or(""))),
                None if next.trim().is_empty() || next.trim_start().starts_with('#') => {}
                None => break,
            }
        }
        return Some(out);
    }
    None
}

fn cloud_init(files: &GuestFiles) -> Option<CloudInit> {
    if !files.is_file("/etc/cloud/cloud.cfg") {
        return None;
    }
    let mut ci = CloudInit {
        disabled: files.is_file("/etc/cloud/cloud-init.disabled"),
        ..CloudInit::default()
    };
    let mut paths = vec!["/etc/cloud/cloud.cfg".to_string()];
    paths.extend(
        files
            .list_dir(SECTION, "/etc/cloud/cloud.cfg.d")
            .into_iter()
            .filter(|n| n.ends_with(".cfg"))
            .map(|n| format!("/etc/cloud/cloud.cfg.d/{n}")),
    );
    for path in paths {
        if let Some(text) = files.read_text(SECTION, &path) {
            if let Some(list) = datasource_list(&text) {
                ci.datasources = list;
            }
            ci.config_files.push(path);
        }
    }
    Some(ci)
}

/// The system section of a Linux guest.
pub fn inspect(files: &GuestFiles) -> SystemSection {
    let (timezone, timezone_source) = timezone(files);
    let (locale, locale_source) = locale(files);
    let guest_agents = AGENTS
        .iter()
        .filter_map(|(name, paths)| {
            paths.iter().find(|p| files.is_file(p)).map(|p| GuestAgent {
                name: name.to_string(),
                evidence: p.to_string(),
            })
        })
        .collect();
    SystemSection {
        timezone,
        timezone_source,
        locale,
        locale_source,
        machine_id: machine_id(files),
        cloud_init: cloud_init(files),
        guest_agents,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zones() {
        assert_eq!(
            zone_of("/usr/share/zoneinfo/Europe/Berlin").as_deref(),
            Some("Europe/Berlin")
        );
        assert_eq!(
            zone_of("../usr/share/zoneinfo/posix/UTC").as_deref(),
            Some("UTC")
        );
        assert_eq!(zone_of("/etc/whatever"), None);
    }

    #[test]
    fn datasources() {
        assert_eq!(
            datasource_list("# x\ndatasource_list: [ NoCloud, 'ConfigDrive', None ] # c\n"),
            Some(vec!["NoCloud".into(), "ConfigDrive".into(), "None".into()])
        );
        assert_eq!(
            datasource_list("datasource_list:\n  - Ec2\n  # no\n  - None\nother: 1\n"),
            Some(vec!["Ec2".into(), "None".into()])
        );
        assert_eq!(
            datasource_list("system_info:\n  datasource_list: [x]\n"),
            None
        );
    }
}
