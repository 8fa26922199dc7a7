//! NetworkManager: keyfile connection profiles
//! (`system-connections/*.nmconnection`, nm-settings-keyfile(5)) and the
//! daemon's own configuration (`NetworkManager.conf` and `conf.d`).

use super::addr::{is_ipv6, normalize_mac};
use super::ini::{self, Ini};
use super::model::{Interface, InterfaceKind, IpConfig, Method, Route, Source, StartMode, System};
use super::{dropins, SECTION};
use crate::files::GuestFiles;

/// Connection directories, highest precedence first: a profile in
/// `/run` (in memory) hides one with the same UUID in `/etc`, which hides
/// a vendor one in `/usr/lib`.
pub const CONNECTION_DIRS: [&str; 3] = [
    "/run/NetworkManager/system-connections",
    "/etc/NetworkManager/system-connections",
    "/usr/lib/NetworkManager/system-connections",
];

/// The main configuration file.
pub const CONF_PATH: &str = "/etc/NetworkManager/NetworkManager.conf";
/// Configuration drop-in directories, highest precedence first.
const CONF_DIRS: [&str; 3] = [
    "/etc/NetworkManager/conf.d",
    "/run/NetworkManager/conf.d",
    "/usr/lib/NetworkManager/conf.d",
];

/// Most profiles read per directory.
const MAX_PROFILES: usize = 4096;

/// Whether NetworkManager's keyfile plugin reads a file of this name:
/// it skips hidden, backup and package-manager leftovers.
pub fn is_keyfile_name(name: &str) -> bool {
    const SKIP: [&str; 10] = [
        "~", ".bak", ".orig", ".rej", ".swp", ".tmp", ".rpmnew", ".rpmsave", ".nmmeta", ".old",
    ];
    !name.starts_with('.')
        && !SKIP.iter().any(|s| name.ends_with(s))
        && !name.contains(".dpkg-")
        && (name.ends_with(".nmconnection") || !name.contains('.'))
}

/// One keyfile parsed into an interface, with the profile's UUID.
#[derive(Debug, Clone, Default)]
pub struct Profile {
    pub uuid: Option<String>,
    pub interface: Interface,
    pub warnings: Vec<String>,
}

fn method(v: &str, v6: bool) -> Method {
    match v {
        "auto" if v6 => Method::Auto,
        "auto" => Method::Dhcp,
        "dhcp" => Method::Dhcp,
        "manual" => Method::Static,
        "link-local" => Method::LinkLocal,
        "disabled" => Method::Disabled,
        "shared" => Method::Shared,
        other => Method::Other(other.to_string()),
    }
}

/// Values of a keyfile list (`a;b;` or `a,b`).
fn list(v: &str) -> impl Iterator<Item = String> + '_ {
    v.split([';', ','])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// Applies an `[ipv4]`/`[ipv6]` group to `ip` and the interface's DNS.
fn ip_group(
    ini: &Ini,
    group: &str,
    v6: bool,
    ip: &mut IpConfig,
    iface_dns: (&mut Vec<String>, &mut Vec<String>),
    routes: &mut Vec<Route>,
    warnings: &mut Vec<String>,
) {
    let Some(sec) = ini.sections(group).last() else {
        return;
    };
    if let Some(m) = sec.get("method") {
        ip.method = Some(method(m, v6));
    }
    let mut numbered: Vec<(u32, String, usize)> = Vec::new();
    let mut route_lines: Vec<(u32, String, usize)> = Vec::new();
    for (key, value, line) in &sec.entries {
        if key == "addresses" || key == "address" {
            numbered.push((0, value.clone(), *line));
        } else if let Some(n) = key
            .strip_prefix("addresses")
            .or_else(|| key.strip_prefix("address"))
            .and_then(|n| n.parse::<u32>().ok())
        {
            numbered.push((n, value.clone(), *line));
        } else if let Some(n) = key
            .strip_prefix("routes")
            .or_else(|| key.strip_prefix("route"))
            .and_then(|n| n.parse::<u32>().ok())
        {
            route_lines.push((n, value.clone(), *line));
        }
    }
    numbered.sort_by_key(|(n, _, _)| *n);
    for (_, value, _) in numbered {
        // "ADDR/PREFIX,GATEWAY" (one per key) or "A/P;B/P;" (a list).
        let parts: Vec<&str> = value.split([',', ';']).map(str::trim).collect();
        if value.contains(';') {
            ip.addresses.extend(
                parts
                    .iter()
                    .filter(|p| !p.is_empty())
                    .map(|p| p.to_string()),
            );
        } else {
            if let Some(a) = parts.first().filter(|a| !a.is_empty()) {
                ip.addresses.push(a.to_string());
            }
            if let Some(gw) = parts.get(1).filter(|g| !g.is_empty()) {
                ip.gateway.get_or_insert_with(|| gw.to_string());
            }
        }
    }
    route_lines.sort_by_key(|(n, _, _)| *n);
    for (_, value, line) in route_lines {
        let mut parts = value.split(',').map(str::trim);
        let to = parts.next().unwrap_or("").to_string();
        if to.is_empty() {
            warnings.push(format!("line {line}: a route without a destination"));
            continue;
        }
        let via = parts.next().filter(|v| !v.is_empty()).map(str::to_string);
        let metric = parts.next().and_then(|m| m.parse().ok());
        routes.push(Route { to, via, metric });
    }
    if let Some(gw) = sec.get("gateway").filter(|g| !g.is_empty()) {
        ip.gateway = Some(gw.to_string());
    }
    if let Some(d) = sec.get("dns") {
        iface_dns.0.extend(list(d));
    }
    if let Some(d) = sec.get("dns-search") {
        iface_dns.1.extend(list(d));
    }
    if ip.method == Some(Method::Static) && ip.addresses.is_empty() {
        warnings.push(format!(
            "line {}: [{group}] method=manual without addresses",
            sec.line
        ));
    }
}

/// Parses one keyfile at `path`.
pub fn parse_keyfile(text: &str, path: &str) -> Profile {
    let ini = ini::parse(text, false);
    let mut p = Profile {
        warnings: ini.warnings.clone(),
        ..Profile::default()
    };
    let conn_line = ini.sections("connection").next().map(|s| s.line);
    if conn_line.is_none() {
        p.warnings
            .push("no [connection] group: not a connection profile".into());
    }
    let i = &mut p.interface;
    i.source = Source {
        system: Some(System::NetworkManager),
        path: path.to_string(),
        line: conn_line,
        also_in: Vec::new(),
    };
    i.id = ini.get("connection", "id").map(str::to_string);
    p.uuid = ini.get("connection", "uuid").map(str::to_string);
    i.name = ini
        .get("connection", "interface-name")
        .filter(|n| !n.is_empty())
        .map(str::to_string);
    let ctype = ini.get("connection", "type").unwrap_or("");
    i.kind = Some(match ctype {
        "ethernet" | "802-3-ethernet" => InterfaceKind::Ethernet,
        "wifi" | "802-11-wireless" => InterfaceKind::Wifi,
        "bond" => InterfaceKind::Bond,
        "bridge" => InterfaceKind::Bridge,
        "vlan" => InterfaceKind::Vlan,
        "loopback" => InterfaceKind::Loopback,
        "" => {
            i.kind = None;
            p.warnings.push("[connection] has no type".into());
            return p;
        }
        other => {
            i.options.push(("type".into(), other.to_string()));
            InterfaceKind::Other
        }
    });
    i.start_mode = Some(match ini.get("connection", "autoconnect") {
        Some("false" | "no" | "0") => StartMode::Manual,
        _ => StartMode::Auto,
    });
    i.master = ini
        .get("connection", "controller")
        .or_else(|| ini.get("connection", "master"))
        .map(str::to_string);
    if let Some(t) = ini
        .get("connection", "port-type")
        .or_else(|| ini.get("connection", "slave-type"))
    {
        i.options.push(("port-type".into(), t.to_string()));
    }
    for group in ["ethernet", "802-3-ethernet", "wifi", "802-11-wireless"] {
        if let Some((mac, line)) = ini.get_at(group, "mac-address") {
            match normalize_mac(mac) {
                Some(m) => i.mac_address = Some(m),
                None => p.warnings.push(format!(
                    "line {line}: mac-address {} is not a MAC address",
                    ini::clip(mac)
                )),
            }
        }
        if let Some(mac) = ini.get(group, "cloned-mac-address") {
            i.options
                .push(("cloned-mac-address".into(), mac.to_string()));
        }
        if let Some((mtu, line)) = ini.get_at(group, "mtu") {
            match mtu.parse() {
                Ok(m) => i.mtu = Some(m),
                Err(_) => p.warnings.push(format!(
                    "line {line}: mtu {} is not a number",
                    ini::clip(mtu)
                )),
            }
        }
    }
    if let Some(ssid) = ini.get("wifi", "ssid") {
        i.options.push(("ssid".into(), ssid.to_string()));
    }
    i.vlan_parent = ini.get("vlan", "parent").map(str::to_string);
    i.vlan_id = ini.get("vlan", "id").and_then(|v| v.parse().ok());
    for sec in ["bond", "bridge"] {
        for s in ini.sections(sec) {
            for (k, v, _) in &s.entries {
                i.options.push((format!("{sec}.{k}"), v.clone()));
            }
        }
    }
    ip_group(
        &ini,
        "ipv4",
        false,
        &mut i.ipv4,
        (&mut i.dns_servers, &mut i.dns_search),
        &mut i.routes,
        &mut p.warnings,
    );
    ip_group(
        &ini,
        "ipv6",
        true,
        &mut i.ipv6,
        (&mut i.dns_servers, &mut i.dns_search),
        &mut i.routes,
        &mut p.warnings,
    );
    if let Some(a) = i.ipv4.addresses.iter().find(|a| is_ipv6(a)) {
        let line = ini.sections("ipv4").last().map_or(0, |s| s.line);
        p.warnings
            .push(format!("line {line}: [ipv4] lists the IPv6 address {a}"));
    }
    p
}

/// Reads every keyfile profile, a UUID in a higher-precedence directory
/// hiding the same UUID below. Returns the interfaces and files read.
pub fn read_keyfiles(files: &GuestFiles) -> (Vec<Interface>, Vec<String>) {
    let mut profiles: Vec<Profile> = Vec::new();
    let mut read = Vec::new();
    for dir in CONNECTION_DIRS {
        for name in files
            .list_dir(SECTION, dir)
            .into_iter()
            .filter(|n| is_keyfile_name(n))
            .take(MAX_PROFILES)
        {
            let path = format!("{dir}/{name}");
            if !files.is_file(&path) {
                continue;
            }
            let Some(text) = files.read_text(SECTION, &path) else {
                continue;
            };
            let p = parse_keyfile(&text, &path);
            for w in &p.warnings {
                files.warn(SECTION, &path, w.clone());
            }
            read.push(path.clone());
            let key = p.uuid.clone();
            if key.is_some() && profiles.iter().any(|q| q.uuid == key) {
                files.warn(
                    SECTION,
                    &path,
                    "hidden by a profile with the same UUID in a higher-precedence directory",
                );
                continue;
            }
            if p.interface.kind.is_some() {
                profiles.push(p);
            }
        }
    }
    (profiles.into_iter().map(|p| p.interface).collect(), read)
}

/// What NetworkManager's own configuration says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NmConf {
    /// Files read, in the order applied.
    pub files: Vec<String>,
    /// `[main] dns=`.
    pub dns: Option<String>,
    /// `[main] rc-manager=`.
    pub rc_manager: Option<String>,
    /// `[main] plugins=` (`keyfile`, `ifcfg-rh`, `ifupdown`).
    pub plugins: Vec<String>,
    /// `[ifupdown] managed=`: whether NetworkManager also manages the
    /// interfaces of `/etc/network/interfaces`.
    pub ifupdown_managed: Option<bool>,
}

/// Applies one NetworkManager.conf text.
pub fn apply_conf(conf: &mut NmConf, text: &str) -> Vec<String> {
    let ini = ini::parse(text, false);
    if let Some(v) = ini.get("main", "dns") {
        conf.dns = Some(v.to_string());
    }
    if let Some(v) = ini.get("main", "rc-manager") {
        conf.rc_manager = Some(v.to_string());
    }
    if let Some(v) = ini.get("main", "plugins") {
        conf.plugins = list(v).collect();
    }
    if let Some(v) = ini.get("ifupdown", "managed") {
        conf.ifupdown_managed = Some(matches!(v, "true" | "yes" | "1"));
    }
    ini.warnings
}

/// Reads `NetworkManager.conf` and then its `conf.d` drop-ins by name.
pub fn read_conf(files: &GuestFiles) -> NmConf {
    let mut conf = NmConf::default();
    let mut paths = vec![CONF_PATH.to_string()];
    paths.extend(dropins(files, &CONF_DIRS, ".conf"));
    for path in paths {
        let Some(text) = files.read_text(SECTION, &path) else {
            continue;
        };
        for w in apply_conf(&mut conf, &text) {
            files.warn(SECTION, &path, w);
        }
        conf.files.push(path);
    }
    conf
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rhel9_keyfile() {
        let p = parse_keyfile(
            "[connection]\nid=System eth0\nuuid=5fb06bd0-0bb0-7ffb-45f1-d6edd65f3e03\ntype=ethernet\nautoconnect=true\ninterface-name=eth0\n\n[ethernet]\nmac-address=52:54:00:12:34:56\nmtu=1500\n\n[ipv4]\naddress1=192.168.122.10/24,192.168.122.1\naddress2=192.168.122.11/24\ndns=192.168.122.1;1.1.1.1;\ndns-search=lab.example;\nmethod=manual\nroute1=10.10.0.0/16,192.168.122.254,100\n\n[ipv6]\naddr-gen-mode=eui64\nmethod=auto\n\n[proxy]\n",
            "/etc/NetworkManager/system-connections/eth0.nmconnection",
        );
        assert!(p.warnings.is_empty(), "{:?}", p.warnings);
        let i = &p.interface;
        assert_eq!(i.name.as_deref(), Some("eth0"));
        assert_eq!(i.id.as_deref(), Some("System eth0"));
        assert_eq!(i.kind, Some(InterfaceKind::Ethernet));
        assert_eq!(i.ipv4.method, Some(Method::Static));
        assert_eq!(i.ipv4.addresses, ["192.168.122.10/24", "192.168.122.11/24"]);
        assert_eq!(i.ipv4.gateway.as_deref(), Some("192.168.122.1"));
        assert_eq!(i.ipv6.method, Some(Method::Auto));
        assert_eq!(i.dns_servers, ["192.168.122.1", "1.1.1.1"]);
        assert_eq!(i.dns_search, ["lab.example"]);
        assert_eq!(i.mac_address.as_deref(), Some("52:54:00:12:34:56"));
        assert_eq!(i.mtu, Some(1500));
        assert_eq!(i.start_mode, Some(StartMode::Auto));
        assert_eq!(
            i.routes,
            [Route {
                to: "10.10.0.0/16".into(),
                via: Some("192.168.122.254".into()),
                metric: Some(100)
            }]
        );
        assert_eq!(i.source.line, Some(1));
    }

    #[test]
    fn vlan_bond_port_and_bad_lines() {
        let p = parse_keyfile(
            "[connection]\nid=vlan10\ntype=vlan\nautoconnect=false\n[vlan]\nparent=bond0\nid=10\n[ipv4]\nmethod=auto\nbroken line\n[ethernet]\nmac-address=zz\n",
            "/x",
        );
        let i = &p.interface;
        assert_eq!(i.kind, Some(InterfaceKind::Vlan));
        assert_eq!(i.vlan_parent.as_deref(), Some("bond0"));
        assert_eq!(i.vlan_id, Some(10));
        assert_eq!(i.ipv4.method, Some(Method::Dhcp));
        assert_eq!(i.start_mode, Some(StartMode::Manual));
        assert_eq!(
            p.warnings,
            [
                "line 10: not a key=value line: broken line",
                "line 12: mac-address zz is not a MAC address"
            ]
        );
        let q = parse_keyfile("[connection]\nid=x\n", "/y");
        assert_eq!(q.warnings, ["[connection] has no type"]);
    }

    #[test]
    fn keyfile_names() {
        assert!(is_keyfile_name("eth0.nmconnection"));
        assert!(is_keyfile_name("Wired connection 1"));
        assert!(!is_keyfile_name("eth0.nmconnection~"));
        assert!(!is_keyfile_name(".eth0.nmconnection"));
        assert!(!is_keyfile_name("eth0.nmconnection.rpmnew"));
        assert!(!is_keyfile_name("README.txt"));
    }

    #[test]
    fn conf_layers() {
        let mut c = NmConf::default();
        apply_conf(
            &mut c,
            "[main]\nplugins=ifupdown,keyfile\ndns=default\n[ifupdown]\nmanaged=false\n",
        );
        apply_conf(&mut c, "[main]\ndns=systemd-resolved\n");
        assert_eq!(c.dns.as_deref(), Some("systemd-resolved"));
        assert_eq!(c.plugins, ["ifupdown", "keyfile"]);
        assert_eq!(c.ifupdown_managed, Some(false));
    }
}
