//! systemd-networkd: `*.network` files (systemd.network(5)) and the
//! `*.netdev` files (systemd.netdev(5)) that create bonds, bridges and
//! VLANs, with their drop-ins.

use super::addr::{is_ipv6, normalize_mac};
use super::ini::{self, Ini};
use super::model::{Interface, InterfaceKind, Method, Route, Source, StartMode, System};
use super::{dropins, glob, SECTION};
use crate::files::GuestFiles;

/// Administrator and runtime directories, highest precedence first.
pub const LOCAL_DIRS: [&str; 2] = ["/etc/systemd/network", "/run/systemd/network"];
/// Vendor directories, after the local ones.
pub const VENDOR_DIRS: [&str; 3] = [
    "/usr/local/lib/systemd/network",
    "/usr/lib/systemd/network",
    "/lib/systemd/network",
];

/// What the networkd files define.
#[derive(Debug, Clone, Default)]
pub struct Networkd {
    pub interfaces: Vec<Interface>,
    pub files: Vec<String>,
}

/// A `.netdev` file's device.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NetDev {
    pub name: String,
    pub kind: String,
    pub vlan_id: Option<u32>,
    pub mac: Option<String>,
    pub mtu: Option<u32>,
}

/// Parses a `.netdev` text (after its drop-ins were appended).
pub fn parse_netdev(text: &str) -> (Option<NetDev>, Vec<String>) {
    let ini = ini::parse(text, true);
    let mut warnings = ini.warnings.clone();
    let Some(name) = ini.get("NetDev", "Name") else {
        warnings.push("no [NetDev] Name=".into());
        return (None, warnings);
    };
    let dev = NetDev {
        name: name.to_string(),
        kind: ini.get("NetDev", "Kind").unwrap_or("").to_string(),
        vlan_id: ini.get("VLAN", "Id").and_then(|v| v.parse().ok()),
        mac: ini.get("NetDev", "MACAddress").and_then(normalize_mac),
        mtu: ini.get("NetDev", "MTUBytes").and_then(|v| v.parse().ok()),
    };
    (Some(dev), warnings)
}

fn yes(v: &str) -> bool {
    matches!(v, "yes" | "true" | "1" | "on")
}

/// Parses a `.network` text into an interface sourced at `path`.
pub fn parse_network(text: &str, path: &str) -> (Interface, Vec<String>) {
    let ini = ini::parse(text, true);
    let mut warnings = ini.warnings.clone();
    let mut i = Interface {
        source: Source {
            system: Some(System::SystemdNetworkd),
            path: path.to_string(),
            line: ini.sections("Match").next().map(|s| s.line),
            also_in: Vec::new(),
        },
        id: path.rsplit('/').next().map(str::to_string),
        start_mode: Some(StartMode::Auto),
        ..Interface::default()
    };
    for sec in ini.sections("Match") {
        for (k, v, line) in &sec.entries {
            if v.is_empty() {
                continue;
            }
            match k.as_str() {
                "Name" => {
                    let names: Vec<&str> = v.split_whitespace().collect();
                    if let [one] = names.as_slice() {
                        if !glob::has_wildcard(one) && !one.starts_with('!') {
                            i.name = Some(one.to_string());
                            continue;
                        }
                    }
                }
                "MACAddress" | "PermanentMACAddress" => {
                    let first = v.split_whitespace().next().unwrap_or("");
                    match normalize_mac(first) {
                        Some(m) => i.mac_address = Some(m),
                        None => warnings.push(format!(
                            "line {line}: {k}={} is not a MAC address",
                            ini::clip(v)
                        )),
                    }
                }
                "Type" => {
                    i.kind = match v.as_str() {
                        "ether" => Some(InterfaceKind::Ethernet),
                        "wlan" => Some(InterfaceKind::Wifi),
                        "loopback" => Some(InterfaceKind::Loopback),
                        "bond" => Some(InterfaceKind::Bond),
                        "bridge" => Some(InterfaceKind::Bridge),
                        "vlan" => Some(InterfaceKind::Vlan),
                        _ => i.kind,
                    }
                }
                _ => {}
            }
            i.match_rules.push(format!("{k}={v}"));
        }
    }
    if let Some((v, line)) = ini.get_at("Link", "MTUBytes") {
        match v.parse() {
            Ok(m) => i.mtu = Some(m),
            Err(_) => warnings.push(format!(
                "line {line}: MTUBytes={} is not a number",
                ini::clip(v)
            )),
        }
    }
    if let Some(m) = ini.get("Link", "MACAddress").and_then(normalize_mac) {
        i.mac_address.get_or_insert(m);
    }
    if ini.get("Link", "Unmanaged").is_some_and(yes)
        || ini.get("Link", "ActivationPolicy") == Some("manual")
    {
        i.start_mode = Some(StartMode::Manual);
    }
    network_section(&ini, &mut i, &mut warnings);
    (i, warnings)
}

fn network_section(ini: &Ini, i: &mut Interface, warnings: &mut Vec<String>) {
    let mut v4_static = false;
    let mut v6_static = false;
    let mut add_address = |i: &mut Interface, a: &str| {
        if is_ipv6(a) {
            i.ipv6.addresses.push(a.to_string());
            v6_static = true;
        } else {
            i.ipv4.addresses.push(a.to_string());
            v4_static = true;
        }
    };
    for sec in ini.sections("Network") {
        for (k, v, line) in &sec.entries {
            match k.as_str() {
                "Address" => v.split_whitespace().for_each(|a| add_address(i, a)),
                "Gateway" => {
                    for g in v.split_whitespace() {
                        if is_ipv6(g) {
                            i.ipv6.gateway = Some(g.to_string());
                        } else {
                            i.ipv4.gateway = Some(g.to_string());
                        }
                    }
                }
                "DNS" => i
                    .dns_servers
                    .extend(v.split_whitespace().map(str::to_string)),
                "Domains" => i
                    .dns_search
                    .extend(v.split_whitespace().map(str::to_string)),
                "DHCP" => match v.as_str() {
                    "yes" | "true" | "both" => {
                        i.ipv4.method = Some(Method::Dhcp);
                        i.ipv6.method = Some(Method::Dhcp);
                    }
                    "ipv4" => i.ipv4.method = Some(Method::Dhcp),
                    "ipv6" => i.ipv6.method = Some(Method::Dhcp),
                    "no" | "false" | "" => {}
                    other => warnings.push(format!(
                        "line {line}: DHCP={} not understood",
                        ini::clip(other)
                    )),
                },
                "Bond" | "Bridge" => i.master = Some(v.clone()),
                "VLAN" => i.options.push(("VLAN".into(), v.clone())),
                _ => i.options.push((k.clone(), v.clone())),
            }
        }
    }
    for sec in ini.sections("Address") {
        if let Some(a) = sec.get("Address") {
            add_address(i, a);
        }
    }
    for sec in ini.sections("Route") {
        let to = sec
            .get("Destination")
            .filter(|d| !d.is_empty())
            .unwrap_or("default")
            .to_string();
        let via = sec.get("Gateway").map(str::to_string);
        if to == "default" {
            if let Some(g) = &via {
                if is_ipv6(g) {
                    i.ipv6.gateway = Some(g.clone());
                } else {
                    i.ipv4.gateway = Some(g.clone());
                }
                continue;
            }
        }
        i.routes.push(Route {
            to,
            via,
            metric: sec.get("Metric").and_then(|m| m.parse().ok()),
        });
    }
    if v4_static && i.ipv4.method.is_none() {
        i.ipv4.method = Some(Method::Static);
    }
    if v6_static && i.ipv6.method.is_none() {
        i.ipv6.method = Some(Method::Static);
    }
    if i.ipv6.method.is_none() && ini.get("Network", "IPv6AcceptRA").is_some_and(yes) {
        i.ipv6.method = Some(Method::Auto);
    }
    if i.ipv4.method.is_none()
        && matches!(
            ini.get("Network", "LinkLocalAddressing"),
            Some("ipv4" | "yes" | "both" | "true")
        )
    {
        i.ipv4.method = Some(Method::LinkLocal);
    }
}

/// The text of `path` followed by its drop-ins (`NAME.d/*.conf` in every
/// directory), as systemd reads them.
fn with_dropins(
    files: &GuestFiles,
    dirs: &[&str],
    path: &str,
    read: &mut Vec<String>,
) -> Option<String> {
    let mut text = files.read_text(SECTION, path)?;
    read.push(path.to_string());
    let name = path.rsplit('/').next().unwrap_or("");
    let ddirs: Vec<String> = dirs.iter().map(|d| format!("{d}/{name}.d")).collect();
    let refs: Vec<&str> = ddirs.iter().map(String::as_str).collect();
    for d in dropins(files, &refs, ".conf") {
        if let Some(t) = files.read_text(SECTION, &d) {
            text.push('\n');
            text.push_str(&t);
            read.push(d);
        }
    }
    Some(text)
}

/// Reads networkd's files. Vendor directories (`/usr/lib`, `/lib`) are
/// read only when networkd is enabled: systemd ships example files there
/// that configure nothing unless it runs.
pub fn read(files: &GuestFiles, enabled: bool) -> Networkd {
    let mut dirs: Vec<&str> = LOCAL_DIRS.to_vec();
    if enabled {
        dirs.extend(VENDOR_DIRS);
    }
    let mut out = Networkd::default();
    let mut netdevs = Vec::new();
    for path in dropins(files, &dirs, ".netdev") {
        let Some(text) = with_dropins(files, &dirs, &path, &mut out.files) else {
            continue;
        };
        let (dev, warnings) = parse_netdev(&text);
        for w in warnings {
            files.warn(SECTION, &path, w);
        }
        netdevs.extend(dev.map(|d| (d, path.clone())));
    }
    for path in dropins(files, &dirs, ".network") {
        let Some(text) = with_dropins(files, &dirs, &path, &mut out.files) else {
            continue;
        };
        let (mut iface, warnings) = parse_network(&text, &path);
        for w in warnings {
            files.warn(SECTION, &path, w);
        }
        if let Some((dev, dpath)) = netdevs
            .iter()
            .find(|(d, _)| Some(&d.name) == iface.name.as_ref())
        {
            iface.source.also_in.push(dpath.clone());
            iface.kind = match dev.kind.as_str() {
                "bond" => Some(InterfaceKind::Bond),
                "bridge" => Some(InterfaceKind::Bridge),
                "vlan" => Some(InterfaceKind::Vlan),
                "" => iface.kind,
                _ => Some(InterfaceKind::Other),
            };
            iface.vlan_id = dev.vlan_id.or(iface.vlan_id);
            if iface.mac_address.is_none() {
                iface.mac_address = dev.mac.clone();
            }
            iface.mtu = iface.mtu.or(dev.mtu);
        }
        out.interfaces.push(iface);
    }
    // Membership: a .network with Bond=/Bridge= is a member of that
    // device; one with VLAN=v is v's parent.
    let links: Vec<(Option<String>, Option<String>, Vec<String>)> = out
        .interfaces
        .iter()
        .map(|i| {
            let vlans = i
                .options
                .iter()
                .filter(|(k, _)| k == "VLAN")
                .flat_map(|(_, v)| v.split_whitespace().map(str::to_string))
                .collect();
            (i.name.clone(), i.master.clone(), vlans)
        })
        .collect();
    for iface in &mut out.interfaces {
        let Some(name) = iface.name.clone() else {
            continue;
        };
        for (member, master, vlans) in &links {
            if master.as_deref() == Some(name.as_str()) {
                if let Some(m) = member {
                    iface.members.push(m.clone());
                }
            }
            if vlans.contains(&name) {
                iface.vlan_parent = member.clone();
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn network_with_mac_match() {
        let (i, w) = parse_network(
            "[Match]\nMACAddress=52:54:00:AA:00:01\n\n[Link]\nMTUBytes=9000\n\n[Network]\nAddress=10.0.0.5/24\nAddress=2001:db8::5/64\nGateway=10.0.0.1\nDNS=10.0.0.53 10.0.0.54\nDomains=corp.example\nIPv6AcceptRA=yes\nVLAN=vlan20\nbad line\n\n[Address]\nAddress=10.0.0.6/24\n\n[Route]\nDestination=172.16.0.0/12\nGateway=10.0.0.254\nMetric=50\n\n[Route]\nGateway=2001:db8::1\n",
            "/etc/systemd/network/10-uplink.network",
        );
        assert_eq!(w, ["line 15: not a key=value line: bad line"]);
        assert_eq!(i.name, None);
        assert_eq!(i.match_rules, ["MACAddress=52:54:00:AA:00:01"]);
        assert_eq!(i.mac_address.as_deref(), Some("52:54:00:aa:00:01"));
        assert_eq!(i.mtu, Some(9000));
        assert_eq!(i.ipv4.method, Some(Method::Static));
        assert_eq!(i.ipv4.addresses, ["10.0.0.5/24", "10.0.0.6/24"]);
        assert_eq!(i.ipv4.gateway.as_deref(), Some("10.0.0.1"));
        assert_eq!(i.ipv6.addresses, ["2001:db8::5/64"]);
        assert_eq!(i.ipv6.gateway.as_deref(), Some("2001:db8::1"));
        assert_eq!(i.ipv6.method, Some(Method::Static));
        assert_eq!(i.dns_servers, ["10.0.0.53", "10.0.0.54"]);
        assert_eq!(i.dns_search, ["corp.example"]);
        assert_eq!(
            i.routes,
            [Route {
                to: "172.16.0.0/12".into(),
                via: Some("10.0.0.254".into()),
                metric: Some(50)
            }]
        );
        assert_eq!(i.source.line, Some(1));
    }

    #[test]
    fn dhcp_and_names() {
        let (i, w) = parse_network("[Match]\nName=en*\n[Network]\nDHCP=ipv4\n", "/x");
        assert!(w.is_empty());
        assert_eq!(i.name, None);
        assert_eq!(i.match_rules, ["Name=en*"]);
        assert_eq!(i.ipv4.method, Some(Method::Dhcp));
        assert_eq!(i.ipv6.method, None);
        let (i, w) = parse_network("[Match]\nName=eth0\n[Network]\nDHCP=maybe\n", "/x");
        assert_eq!(i.name.as_deref(), Some("eth0"));
        assert_eq!(w, ["line 4: DHCP=maybe not understood"]);
        let (d, _) = parse_netdev("[NetDev]\nName=vlan20\nKind=vlan\n[VLAN]\nId=20\n");
        assert_eq!(
            d.map(|d| (d.kind, d.vlan_id)),
            Some(("vlan".into(), Some(20)))
        );
    }
}
