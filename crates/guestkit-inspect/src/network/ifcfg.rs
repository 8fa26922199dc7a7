//! `ifcfg-*` files: Red Hat's `/etc/sysconfig/network-scripts` (read by
//! NetworkManager's ifcfg-rh plugin or the legacy network service) and
//! SUSE's `/etc/sysconfig/network` (read by wicked), with
//! `/etc/sysconfig/network`'s global `GATEWAY=`, Red Hat `route-*` files
//! and SUSE `routes`/`ifroute-*` files.

use std::collections::BTreeMap;

use super::addr::{is_cidr, is_ipv6, netmask_prefix, normalize_mac, with_prefix};
use super::ini::clip;
use super::model::{
    GlobalRoute, Interface, InterfaceKind, Method, Route, Source, StartMode, System,
};
use super::SECTION;
use crate::files::GuestFiles;
use crate::os::os_release::KeyValues;

/// Red Hat's directory.
pub const RHEL_DIR: &str = "/etc/sysconfig/network-scripts";
/// SUSE's directory.
pub const SUSE_DIR: &str = "/etc/sysconfig/network";
/// Red Hat's global file.
pub const SYSCONFIG_NETWORK: &str = "/etc/sysconfig/network";

/// Most ifcfg files read per directory.
const MAX_FILES: usize = 4096;

/// Which dialect a file is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavour {
    RedHat,
    Suse,
}

/// What the ifcfg files define.
#[derive(Debug, Clone, Default)]
pub struct Ifcfg {
    pub interfaces: Vec<Interface>,
    pub routes: Vec<GlobalRoute>,
    pub files: Vec<String>,
    /// Red Hat ifcfg files were found.
    pub rhel: bool,
    /// SUSE ifcfg files were found.
    pub suse: bool,
}

/// Assignments of a shell `KEY=value` file with their lines; a line that
/// is not an assignment (nor blank nor a comment) gives a warning.
pub fn parse_assignments(text: &str) -> (Vec<(String, String, usize)>, Vec<String>) {
    let mut out = Vec::new();
    let mut warnings = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line_no = i.saturating_add(1);
        let t = line.trim();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        let kv = KeyValues::parse(t);
        let first = kv
            .iter()
            .next()
            .map(|(k, v)| (k.to_string(), v.to_string()));
        match first {
            Some((k, v)) => out.push((k, v, line_no)),
            None => warnings.push(format!("line {line_no}: not a KEY=value line: {}", clip(t))),
        }
    }
    (out, warnings)
}

/// Whether an `ifcfg-*` name is one the readers take (not a backup or
/// package-manager leftover).
pub fn is_ifcfg_name(name: &str) -> bool {
    const SKIP: [&str; 9] = [
        "~", ".bak", ".orig", ".rpmnew", ".rpmorig", ".rpmsave", ".old", ".swp", ".save",
    ];
    name.starts_with("ifcfg-")
        && name.len() > "ifcfg-".len()
        && !SKIP.iter().any(|s| name.ends_with(s))
        && !name.contains(".dpkg-")
}

fn yes(v: &str) -> bool {
    matches!(v.to_ascii_lowercase().as_str(), "yes" | "true" | "1" | "on")
}

/// One ifcfg file as an interface. `file_name` is `ifcfg-NAME`.
pub fn parse_ifcfg(text: &str, path: &str, flavour: Flavour) -> (Interface, Vec<String>) {
    let (kv, mut warnings) = parse_assignments(text);
    // Later assignments win; one map so lookups stay cheap on long files.
    let last: BTreeMap<&str, (&str, usize)> = kv
        .iter()
        .map(|(k, v, l)| (k.as_str(), (v.as_str(), *l)))
        .collect();
    let get = |k: &str| last.get(k).copied();
    let file_name = path.rsplit('/').next().unwrap_or("");
    let from_file = file_name.strip_prefix("ifcfg-").unwrap_or(file_name);
    let mut i = Interface {
        name: Some(
            get("DEVICE")
                .map(|(v, _)| v)
                .filter(|v| !v.is_empty())
                .unwrap_or(from_file)
                .to_string(),
        ),
        id: get("NAME").map(|(v, _)| v.to_string()),
        source: Source {
            system: Some(System::Ifcfg),
            path: path.to_string(),
            line: None,
            also_in: Vec::new(),
        },
        ..Interface::default()
    };
    let name = i.name.clone().unwrap_or_default();
    let proto = get("BOOTPROTO")
        .map(|(v, _)| v.to_ascii_lowercase())
        .unwrap_or_default();
    // Addresses: IPADDR, IPADDRn (Red Hat), IPADDR_x (SUSE), each with
    // the matching PREFIX/PREFIXLEN/NETMASK.
    let mut v4 = Vec::new();
    let mut v6 = Vec::new();
    for (key, value, line) in &kv {
        let Some(suffix) = key.strip_prefix("IPADDR") else {
            continue;
        };
        if value.is_empty() || key.starts_with("IPADDR_START") {
            continue;
        }
        let prefix_of = |k: &str| get(&format!("{k}{suffix}")).map(|(v, _)| v);
        let prefix = prefix_of("PREFIX")
            .or_else(|| prefix_of("PREFIXLEN"))
            .or_else(|| prefix_of("NETMASK"))
            .and_then(netmask_prefix);
        let full = with_prefix(value, prefix);
        if !is_cidr(&full) {
            warnings.push(format!(
                "line {line}: {key}={} is not an address",
                clip(value)
            ));
            continue;
        }
        if is_ipv6(&full) {
            v6.push(full);
        } else {
            v4.push(full);
        }
    }
    i.ipv4.addresses = v4;
    i.ipv6.addresses = v6;
    if let Some((v, _)) = get("IPV6ADDR") {
        i.ipv6.addresses.push(v.to_string());
    }
    if let Some((v, _)) = get("IPV6ADDR_SECONDARIES") {
        i.ipv6
            .addresses
            .extend(v.split_whitespace().map(str::to_string));
    }
    i.ipv4.method = Some(match proto.as_str() {
        "dhcp" | "dhcp4" | "dhcp+autoip" => Method::Dhcp,
        "autoip" => Method::LinkLocal,
        "static" => Method::Static,
        "" | "none" if !i.ipv4.addresses.is_empty() => Method::Static,
        "" | "none" => Method::Manual,
        "dhcp6" => Method::Manual,
        other => Method::Other(other.to_string()),
    });
    if flavour == Flavour::Suse {
        match proto.as_str() {
            "dhcp" | "dhcp6" => i.ipv6.method = Some(Method::Dhcp),
            _ if !i.ipv6.addresses.is_empty() => i.ipv6.method = Some(Method::Static),
            _ => {}
        }
    } else if get("IPV6INIT").is_some_and(|(v, _)| yes(v)) {
        i.ipv6.method = Some(if get("DHCPV6C").is_some_and(|(v, _)| yes(v)) {
            Method::Dhcp
        } else if !i.ipv6.addresses.is_empty() {
            Method::Static
        } else {
            Method::Auto
        });
    } else if get("IPV6INIT").is_some() {
        i.ipv6.method = Some(Method::Disabled);
    }
    i.ipv4.gateway = get("GATEWAY").map(|(v, _)| v.to_string());
    i.ipv6.gateway = get("IPV6_DEFAULTGW").map(|(v, _)| v.to_string());
    let mut dns: Vec<(u32, String)> = kv
        .iter()
        .filter_map(|(k, v, _)| {
            let n = k.strip_prefix("DNS")?.parse::<u32>().ok()?;
            Some((n, v.clone()))
        })
        .collect();
    dns.sort();
    i.dns_servers = dns.into_iter().map(|(_, v)| v).collect();
    if let Some((v, _)) = get("DOMAIN") {
        i.dns_search = v.split_whitespace().map(str::to_string).collect();
    }
    for key in ["HWADDR", "MACADDR", "LLADDR"] {
        if let Some((v, line)) = get(key).filter(|(v, _)| !v.is_empty()) {
            match normalize_mac(v) {
                Some(m) => {
                    i.mac_address.get_or_insert(m);
                }
                None => warnings.push(format!(
                    "line {line}: {key}={} is not a MAC address",
                    clip(v)
                )),
            }
        }
    }
    if let Some((v, line)) = get("MTU").filter(|(v, _)| !v.is_empty()) {
        match v.parse() {
            Ok(m) => i.mtu = Some(m),
            Err(_) => warnings.push(format!("line {line}: MTU={} is not a number", clip(v))),
        }
    }
    i.start_mode = Some(match flavour {
        Flavour::RedHat => match get("ONBOOT") {
            Some((v, _)) if !yes(v) => StartMode::Manual,
            _ => StartMode::Auto,
        },
        Flavour::Suse => match get("STARTMODE").map(|(v, _)| v) {
            Some("auto" | "boot" | "onboot") => StartMode::Auto,
            Some("hotplug" | "ifplugd") => StartMode::Hotplug,
            Some("manual") | None => StartMode::Manual,
            Some(other) => StartMode::Other(other.to_string()),
        },
    });
    kind_and_links(&kv, flavour, &name, &mut i);
    (i, warnings)
}

/// Kind, bond/bridge membership and VLAN from the type keys.
fn kind_and_links(kv: &[(String, String, usize)], flavour: Flavour, name: &str, i: &mut Interface) {
    let last: BTreeMap<&str, &str> = kv
        .iter()
        .map(|(k, v, _)| (k.as_str(), v.as_str()))
        .collect();
    let get = |k: &str| last.get(k).copied();
    let ty = get("TYPE").unwrap_or("").to_ascii_lowercase();
    i.kind = match ty.as_str() {
        "ethernet" => Some(InterfaceKind::Ethernet),
        "bond" => Some(InterfaceKind::Bond),
        "bridge" => Some(InterfaceKind::Bridge),
        "vlan" => Some(InterfaceKind::Vlan),
        "wireless" => Some(InterfaceKind::Wifi),
        "" => None,
        _ => Some(InterfaceKind::Other),
    };
    if name == "lo" {
        i.kind = Some(InterfaceKind::Loopback);
    }
    if get("BONDING_MASTER").is_some_and(yes) || get("BONDING_OPTS").is_some() {
        i.kind = Some(InterfaceKind::Bond);
    }
    if get("VLAN").is_some_and(yes) || get("ETHERDEVICE").is_some() {
        i.kind = Some(InterfaceKind::Vlan);
    }
    if get("WIRELESS_ESSID").is_some() || get("ESSID").is_some() {
        i.kind = Some(InterfaceKind::Wifi);
    }
    match flavour {
        Flavour::RedHat => {
            i.master = get("MASTER").or_else(|| get("BRIDGE")).map(str::to_string);
            i.vlan_parent = get("PHYSDEV").map(str::to_string);
        }
        Flavour::Suse => {
            if get("BRIDGE").is_some_and(yes) {
                i.kind = Some(InterfaceKind::Bridge);
            }
            if let Some(p) = get("BRIDGE_PORTS") {
                i.members.extend(p.split_whitespace().map(str::to_string));
            }
            let mut slaves: Vec<(&str, &str)> = kv
                .iter()
                .filter_map(|(k, v, _)| Some((k.strip_prefix("BONDING_SLAVE")?, v.as_str())))
                .collect();
            slaves.sort();
            i.members
                .extend(slaves.into_iter().map(|(_, v)| v.to_string()));
            i.vlan_parent = get("ETHERDEVICE").map(str::to_string);
        }
    }
    i.vlan_id = get("VLAN_ID").and_then(|v| v.parse().ok());
    if i.kind == Some(InterfaceKind::Vlan) && i.vlan_id.is_none() {
        if let Some((parent, id)) = name.rsplit_once('.') {
            i.vlan_id = id.parse().ok();
            i.vlan_parent.get_or_insert_with(|| parent.to_string());
        }
    }
    for (k, v, _) in kv {
        if matches!(
            k.as_str(),
            "BONDING_OPTS"
                | "BONDING_MODULE_OPTS"
                | "BRIDGING_OPTS"
                | "UUID"
                | "ZONE"
                | "NM_CONTROLLED"
                | "DEFROUTE"
                | "PEERDNS"
                | "USERCTL"
        ) {
            i.options.push((k.clone(), v.clone()));
        }
    }
}

/// A SUSE route: destination (CIDR or `default`), gateway, interface
/// and line.
pub type SuseRoute = (String, Option<String>, Option<String>, usize);

/// A SUSE routes file (`DEST GATEWAY NETMASK INTERFACE …`, `-` for none):
/// `(destination, gateway, interface, line)` per route.
pub fn parse_suse_routes(text: &str) -> (Vec<SuseRoute>, Vec<String>) {
    let mut out = Vec::new();
    let mut warnings = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line_no = i.saturating_add(1);
        let content = line.split_once('#').map_or(line, |(c, _)| c);
        let w: Vec<&str> = content.split_whitespace().collect();
        let Some(dest) = w.first() else { continue };
        let dash = |s: Option<&&str>| s.filter(|s| **s != "-").map(|s| s.to_string());
        let gw = dash(w.get(1));
        let mask = dash(w.get(2));
        let iface = dash(w.get(3));
        let raw = *dest;
        let default = raw == "default" || (raw == "0.0.0.0" && mask.as_deref() == Some("0.0.0.0"));
        let dest = if default {
            "default".to_string()
        } else {
            with_prefix(raw, mask.as_deref().and_then(netmask_prefix))
        };
        if !default && !is_cidr(&dest) {
            warnings.push(format!(
                "line {line_no}: destination {} is not an address",
                clip(raw)
            ));
            continue;
        }
        out.push((dest, gw, iface, line_no));
    }
    (out, warnings)
}

/// A Red Hat `route-IFACE` file, either `ip route` lines
/// (`default via GW`, `NET/P via GW [metric M]`) or `ADDRESSn=`,
/// `NETMASKn=`, `GATEWAYn=` assignments.
pub fn parse_rhel_routes(text: &str) -> (Vec<Route>, Vec<String>) {
    let mut routes = Vec::new();
    let mut warnings = Vec::new();
    if text.lines().any(|l| l.trim_start().starts_with("ADDRESS")) {
        let (kv, w) = parse_assignments(text);
        warnings.extend(w);
        let first: BTreeMap<&str, &str> = kv
            .iter()
            .rev()
            .map(|(k, v, _)| (k.as_str(), v.as_str()))
            .collect();
        let get = |k: String| first.get(k.as_str()).map(|v| v.to_string());
        for n in 0..256u32 {
            let Some(addr) = get(format!("ADDRESS{n}")) else {
                continue;
            };
            let prefix = get(format!("NETMASK{n}"))
                .as_deref()
                .and_then(netmask_prefix);
            routes.push(Route {
                to: with_prefix(&addr, prefix),
                via: get(format!("GATEWAY{n}")),
                metric: get(format!("METRIC{n}")).and_then(|m| m.parse().ok()),
            });
        }
        return (routes, warnings);
    }
    for (i, line) in text.lines().enumerate() {
        let line_no = i.saturating_add(1);
        let t = line.trim();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        let w: Vec<&str> = t.split_whitespace().collect();
        let Some(to) = w.first() else { continue };
        let after = |k: &str| {
            w.iter()
                .position(|x| *x == k)
                .and_then(|p| w.get(p.saturating_add(1)))
        };
        if *to != "default" && !is_cidr(to) {
            warnings.push(format!("line {line_no}: not a route: {}", clip(t)));
            continue;
        }
        routes.push(Route {
            to: to.to_string(),
            via: after("via").map(|s| s.to_string()),
            metric: after("metric").and_then(|m| m.parse().ok()),
        });
    }
    (routes, warnings)
}

/// Reads the ifcfg files of both layouts, the route files and the
/// global gateway.
pub fn read(files: &GuestFiles) -> Ifcfg {
    let mut out = Ifcfg::default();
    for (dir, flavour) in [(RHEL_DIR, Flavour::RedHat), (SUSE_DIR, Flavour::Suse)] {
        // Red Hat's /etc/sysconfig/network is a file, SUSE's a directory.
        if !files.is_dir(dir) {
            continue;
        }
        let names = files.list_dir(SECTION, dir);
        for name in names.iter().filter(|n| is_ifcfg_name(n)).take(MAX_FILES) {
            let path = format!("{dir}/{name}");
            if !files.is_file(&path) {
                continue;
            }
            let Some(text) = files.read_text(SECTION, &path) else {
                continue;
            };
            out.files.push(path.clone());
            let (mut iface, warnings) = parse_ifcfg(&text, &path, flavour);
            for w in warnings {
                files.warn(SECTION, &path, w);
            }
            let suffix = name.strip_prefix("ifcfg-").unwrap_or(name);
            let route_file = match flavour {
                Flavour::RedHat => format!("{dir}/route-{suffix}"),
                Flavour::Suse => format!("{dir}/ifroute-{suffix}"),
            };
            if let Some(text) = files.read_text(SECTION, &route_file) {
                out.files.push(route_file.clone());
                let routes: Vec<Route> = match flavour {
                    Flavour::RedHat => {
                        let (r, w) = parse_rhel_routes(&text);
                        for w in w {
                            files.warn(SECTION, &route_file, w);
                        }
                        r
                    }
                    Flavour::Suse => {
                        let (r, w) = parse_suse_routes(&text);
                        for w in w {
                            files.warn(SECTION, &route_file, w);
                        }
                        r.into_iter()
                            .map(|(to, via, _, _)| Route {
                                to,
                                via,
                                metric: None,
                            })
                            .collect()
                    }
                };
                for r in routes {
                    if r.to == "default" && r.via.is_some() {
                        let gw = r.via.clone();
                        if r.via.as_deref().is_some_and(is_ipv6) {
                            iface.ipv6.gateway = gw;
                        } else {
                            iface.ipv4.gateway = gw;
                        }
                    } else {
                        iface.routes.push(r);
                    }
                }
                iface.source.also_in.push(route_file);
            }
            match flavour {
                Flavour::RedHat => out.rhel = true,
                Flavour::Suse => out.suse = true,
            }
            out.interfaces.push(iface);
        }
    }
    let routes_path = format!("{SUSE_DIR}/routes");
    let suse_routes = files
        .is_dir(SUSE_DIR)
        .then(|| files.read_text(SECTION, &routes_path))
        .flatten();
    if let Some(text) = suse_routes {
        out.files.push(routes_path.clone());
        let (routes, warnings) = parse_suse_routes(&text);
        for w in warnings {
            files.warn(SECTION, &routes_path, w);
        }
        for (to, via, interface, line) in routes {
            out.routes.push(GlobalRoute {
                to,
                via,
                interface,
                source: Source {
                    system: Some(System::Ifcfg),
                    path: routes_path.clone(),
                    line: Some(line),
                    also_in: Vec::new(),
                },
            });
        }
    }
    if files.is_file(SYSCONFIG_NETWORK) {
        if let Some(text) = files.read_text(SECTION, SYSCONFIG_NETWORK) {
            let (kv, _) = parse_assignments(&text);
            if let Some((_, gw, line)) = kv.iter().rev().find(|(k, _, _)| k == "GATEWAY") {
                out.routes.push(GlobalRoute {
                    to: "default".into(),
                    via: Some(gw.clone()),
                    interface: kv
                        .iter()
                        .rev()
                        .find(|(k, _, _)| k == "GATEWAYDEV")
                        .map(|(_, v, _)| v.clone()),
                    source: Source {
                        system: Some(System::Ifcfg),
                        path: SYSCONFIG_NETWORK.into(),
                        line: Some(*line),
                        also_in: Vec::new(),
                    },
                });
            }
        }
    }
    out
}
