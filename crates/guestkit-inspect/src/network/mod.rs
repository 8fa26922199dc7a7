//! Network configuration of a Linux guest, read from every configuration
//! system a distribution uses (ifupdown, netplan, NetworkManager keyfiles,
//! ifcfg, systemd-networkd, wicked), with DNS, `/etc/hosts`, the host and
//! domain names, and which system the evidence says configures the
//! network at boot.

pub mod addr;
pub mod glob;
pub mod hosts;
pub mod ifcfg;
pub mod ifupdown;
pub mod ini;
pub mod model;
pub mod netplan;
pub mod networkd;
pub mod nm;
pub mod resolv;
pub mod services;
pub mod wicked;
pub mod xml_tree;

use std::collections::BTreeMap;

use guestkit_fs::FileType;

pub use model::*;

use crate::files::GuestFiles;

pub(crate) const SECTION: &str = "network";

/// Most entries taken from one configuration directory.
const MAX_DIR_ENTRIES: usize = 4096;

/// Files ending in `suffix` from `dirs` (highest precedence first), one
/// per file name (the highest directory's), sorted by file name: the
/// systemd and NetworkManager drop-in rule. A file linked to `/dev/null`
/// masks the name.
pub(crate) fn dropins(files: &GuestFiles, dirs: &[&str], suffix: &str) -> Vec<String> {
    let mut chosen: BTreeMap<String, Option<String>> = BTreeMap::new();
    for dir in dirs {
        for name in files
            .list_dir(SECTION, dir)
            .into_iter()
            .filter(|n| n.ends_with(suffix) && !n.starts_with('.'))
            .take(MAX_DIR_ENTRIES)
        {
            if chosen.contains_key(&name) {
                continue;
            }
            let path = format!("{dir}/{name}");
            let masked = files
                .tree()
                .symlink_metadata(path.as_bytes())
                .is_ok_and(|m| m.file_type == FileType::Symlink)
                && files
                    .tree()
                    .read_link(path.as_bytes())
                    .is_ok_and(|t| t == b"/dev/null");
            let keep = !masked && files.is_file(&path);
            chosen.insert(name, keep.then_some(path));
        }
    }
    chosen.into_values().flatten().collect()
}

/// Inspects the guest's network configuration.
pub fn inspect(files: &GuestFiles) -> NetworkSection {
    let mut section = NetworkSection {
        hostname: crate::os::hostname(files),
        ..NetworkSection::default()
    };
    let units = services::Units::new(files);
    let nm_service = units.state(
        "NetworkManager.service",
        &["dbus-org.freedesktop.NetworkManager.service"],
        Some("NetworkManager"),
    );
    let networkd_service = units.state(
        "systemd-networkd.service",
        &["dbus-org.freedesktop.network1.service"],
        None,
    );
    let ifupdown_service = units.state("networking.service", &[], Some("networking"));
    let wicked_service = units.state("wicked.service", &["network.service"], None);
    let initscripts_service = units.state("network.service", &[], Some("network"));

    let (ifupdown_ifaces, ifupdown_files) = ifupdown::read(files);
    let netplan = netplan::read(files);
    let (nm_ifaces, nm_files) = nm::read_keyfiles(files);
    let nm_conf = nm::read_conf(files);
    let ifcfg = ifcfg::read(files);
    let networkd = networkd::read(files, networkd_service.enabled);
    let (wicked_ifaces, wicked_files) = wicked::read(files);

    // Which system runs the network, on the evidence.
    let mut systems = Vec::new();
    let netplan_defines = !netplan.interfaces.is_empty();
    {
        let mut s = ConfigSystem {
            system: Some(System::Netplan),
            config_files: netplan.files.clone(),
            ..ConfigSystem::default()
        };
        if netplan_defines {
            s.likely_active = true;
            s.evidence.push(format!(
                "{} interface definition(s) in netplan YAML, rendered at boot for {}",
                netplan.interfaces.len(),
                netplan.renderers.join(" and ")
            ));
        }
        if !s.config_files.is_empty() {
            systems.push(s);
        }
    }
    let netplan_renders = |r: &str| netplan_defines && netplan.renderers.iter().any(|x| x == r);
    systems.push(system_with_service(
        System::Ifupdown,
        ifupdown_files,
        !ifupdown_ifaces
            .iter()
            .all(|i| i.kind == Some(InterfaceKind::Loopback)),
        ifupdown_service,
        units.systemd(),
        None,
    ));
    {
        let mut nm_cfg = nm_files.clone();
        nm_cfg.extend(nm_conf.files.iter().cloned());
        let extra = netplan_renders("NetworkManager")
            .then_some("netplan renders its definitions for NetworkManager");
        let mut s = system_with_service(
            System::NetworkManager,
            nm_cfg,
            !nm_ifaces.is_empty(),
            nm_service.clone(),
            units.systemd(),
            extra,
        );
        if !nm_conf.plugins.is_empty() {
            s.evidence.push(format!(
                "NetworkManager plugins: {}",
                nm_conf.plugins.join(", ")
            ));
        }
        if let Some(m) = nm_conf.ifupdown_managed {
            s.evidence.push(format!(
                "[ifupdown] managed={m}: interfaces in /etc/network/interfaces are {}",
                if m {
                    "managed by NetworkManager"
                } else {
                    "left to ifupdown"
                }
            ));
        }
        systems.push(s);
    }
    {
        let extra = netplan_renders("networkd")
            .then_some("netplan renders its definitions for systemd-networkd");
        systems.push(system_with_service(
            System::SystemdNetworkd,
            networkd.files.clone(),
            !networkd.interfaces.is_empty(),
            networkd_service,
            units.systemd(),
            extra,
        ));
    }
    {
        // ifcfg files are read by NetworkManager (ifcfg-rh), wicked (SUSE)
        // or the legacy network-scripts service.
        let mut s = ConfigSystem {
            system: Some(System::Ifcfg),
            config_files: ifcfg.files.clone(),
            ..ConfigSystem::default()
        };
        let has = !ifcfg.interfaces.is_empty();
        if has {
            let nm_reads_ifcfg =
                nm_conf.plugins.is_empty() || nm_conf.plugins.iter().any(|p| p == "ifcfg-rh");
            if ifcfg.rhel && nm_service.enabled && !nm_reads_ifcfg {
                s.evidence.push(format!(
                    "NetworkManager is enabled but its plugins ({}) leave out ifcfg-rh",
                    nm_conf.plugins.join(", ")
                ));
            }
            if ifcfg.rhel && nm_service.enabled && nm_reads_ifcfg {
                s.likely_active = true;
                s.evidence.push(
                    "Red Hat ifcfg files, read by NetworkManager (enabled) through ifcfg-rh".into(),
                );
            }
            if ifcfg.suse && wicked_service.enabled {
                s.likely_active = true;
                s.evidence
                    .push("SUSE ifcfg files, read by wicked (enabled)".into());
            }
            if ifcfg.suse && nm_service.enabled {
                s.likely_active = true;
                s.evidence
                    .push("SUSE ifcfg files with NetworkManager enabled".into());
            }
            if initscripts_service.enabled {
                s.likely_active = true;
                s.evidence.push(format!(
                    "legacy network-scripts service enabled: {}",
                    initscripts_service.evidence.join("; ")
                ));
            }
            if !s.likely_active {
                s.evidence
                    .push("ifcfg files, but no enabled service reading them".into());
            }
        }
        if initscripts_service.installed || initscripts_service.enabled {
            s.service = Some(initscripts_service);
        }
        if !s.config_files.is_empty() || s.service.is_some() {
            systems.push(s);
        }
    }
    systems.push(system_with_service(
        System::Wicked,
        wicked_files,
        !wicked_ifaces.is_empty(),
        wicked_service,
        units.systemd(),
        None,
    ));
    systems
        .retain(|s| !s.config_files.is_empty() || s.service.as_ref().is_some_and(|v| v.installed));
    section.likely_active = systems
        .iter()
        .filter(|s| s.likely_active)
        .filter_map(|s| s.system)
        .collect();
    section.systems = systems;

    section.interfaces.extend(ifupdown_ifaces);
    section.interfaces.extend(netplan.interfaces);
    section.interfaces.extend(nm_ifaces);
    section.interfaces.extend(ifcfg.interfaces);
    section.interfaces.extend(networkd.interfaces);
    section.interfaces.extend(wicked_ifaces);
    section.routes = ifcfg.routes;

    section.dns = Dns {
        resolv_conf: resolv::read_resolv_conf(files),
        resolved: resolv::read_resolved(files),
        network_manager_dns: nm_conf.dns,
        network_manager_rc_manager: nm_conf.rc_manager,
        network_manager_conf_files: nm_conf.files,
    };
    if let Some(text) = files.read_text(SECTION, hosts::HOSTS_PATH) {
        let (entries, warnings) = hosts::parse(&text);
        for w in warnings {
            files.warn(SECTION, hosts::HOSTS_PATH, w);
        }
        section.hosts = entries;
    }
    names(&mut section);
    section
}

/// The FQDN and domain from the hostname, `/etc/hosts` and resolv.conf.
fn names(section: &mut NetworkSection) {
    let Some(host) = section.hostname.clone() else {
        return;
    };
    if host.contains('.') {
        section.fqdn = Some(host.clone());
        section.name_sources.push("hostname".into());
    } else if let Some((fqdn, line)) = hosts::fqdn_of(&section.hosts, &host) {
        section.fqdn = Some(fqdn);
        section
            .name_sources
            .push(format!("{} line {line}", hosts::HOSTS_PATH));
    }
    section.domain = section
        .fqdn
        .as_deref()
        .and_then(|f| f.split_once('.'))
        .map(|(_, d)| d.to_string())
        .filter(|d| !d.is_empty());
    if section.domain.is_none() {
        if let Some(d) = section
            .dns
            .resolv_conf
            .as_ref()
            .and_then(|r| r.domain.clone())
        {
            section.domain = Some(d);
            section
                .name_sources
                .push(format!("{} domain", resolv::RESOLV_CONF));
        }
    }
}

/// A system with a boot service: likely active when the service is
/// enabled, or (without systemd) when only its configuration is there.
fn system_with_service(
    system: System,
    config_files: Vec<String>,
    defines: bool,
    service: ServiceState,
    systemd: bool,
    extra: Option<&str>,
) -> ConfigSystem {
    let mut s = ConfigSystem {
        system: Some(system),
        config_files,
        ..ConfigSystem::default()
    };
    if service.masked {
        s.evidence.push(format!("{} is masked", service.unit));
    } else if service.enabled {
        s.likely_active = true;
        s.evidence.push(format!(
            "{} enabled ({})",
            service.unit,
            service.evidence.join("; ")
        ));
    } else if service.installed {
        s.evidence
            .push(format!("{} installed but not enabled", service.unit));
    } else if defines && !systemd && system == System::Ifupdown {
        // ifupdown also runs from SysV or OpenRC scripts, or busybox
        // init: without a service manager's links its file decides.
        s.likely_active = true;
        s.evidence.push(format!(
            "configuration present; no systemd unit links to say whether {} runs",
            system.name()
        ));
    }
    if let Some(e) = extra {
        s.likely_active = true;
        s.evidence.push(e.to_string());
    }
    if !defines && !s.config_files.is_empty() {
        s.evidence.push(if system == System::Ifupdown {
            "no interface besides loopback defined".to_string()
        } else {
            "no interface defined".to_string()
        });
    }
    if service.installed || service.enabled || service.masked {
        s.service = Some(service);
    }
    s
}
