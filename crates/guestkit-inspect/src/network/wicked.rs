//! SUSE wicked's native configuration: `/etc/wicked/ifconfig/*.xml`, one
//! or more `<interface>` elements per file (wicked also reads SUSE ifcfg
//! files; those are the ifcfg module's).

use super::addr::{is_ipv6, normalize_mac};
use super::model::{Interface, InterfaceKind, Method, Route, Source, StartMode, System};
use super::xml_tree::{self, Element};
use super::SECTION;
use crate::files::GuestFiles;

/// wicked's ifconfig directory.
pub const IFCONFIG_DIR: &str = "/etc/wicked/ifconfig";

/// Most files read.
const MAX_FILES: usize = 4096;

fn enabled(e: Option<&Element>) -> Option<bool> {
    let e = e?;
    match e.text_at("enabled") {
        Some("false") => Some(false),
        _ => Some(true),
    }
}

/// Interfaces of one wicked XML text, sourced at `path`.
pub fn parse(text: &str, path: &str) -> (Vec<Interface>, Vec<String>) {
    let (roots, mut warnings) = xml_tree::parse(text);
    let mut out = Vec::new();
    let mut stack: Vec<&Element> = roots.iter().collect();
    let mut budget = xml_tree::MAX_ELEMENTS;
    // <interface> elements anywhere (some files wrap them in <config>).
    let mut found: Vec<&Element> = Vec::new();
    while let Some(e) = stack.pop() {
        budget = budget.saturating_sub(1);
        if budget == 0 {
            break;
        }
        if e.name == "interface" {
            found.push(e);
        } else {
            stack.extend(e.children.iter());
        }
    }
    found.sort_by_key(|e| e.line);
    for e in found {
        match interface(e, path) {
            Some(i) => out.push(i),
            None => warnings.push(format!("line {}: <interface> without a <name>", e.line)),
        }
    }
    (out, warnings)
}

fn interface(e: &Element, path: &str) -> Option<Interface> {
    let name_el = e.child("name")?;
    let mut i = Interface {
        source: Source {
            system: Some(System::Wicked),
            path: path.to_string(),
            line: Some(e.line),
            also_in: Vec::new(),
        },
        ..Interface::default()
    };
    let name = name_el.text.trim();
    if name.is_empty() {
        // <name namespace="ethernet"><permanent-address>MAC</…></name>
        let mac = name_el.text_at("permanent-address")?;
        i.match_rules.push(format!("permanent-address={mac}"));
        i.mac_address = normalize_mac(mac);
    } else {
        i.name = Some(name.to_string());
    }
    i.start_mode = e.text_at("control/mode").map(|m| match m {
        "boot" | "auto" => StartMode::Auto,
        "hotplug" => StartMode::Hotplug,
        "manual" => StartMode::Manual,
        other => StartMode::Other(other.to_string()),
    });
    if let Some(mac) = e
        .text_at("ethernet/address")
        .or_else(|| e.text_at("link/address"))
    {
        if let Some(m) = normalize_mac(mac) {
            i.mac_address.get_or_insert(m);
        }
    }
    i.mtu = e.text_at("link/mtu").and_then(|m| m.parse().ok());
    i.master = e.text_at("link/master").map(str::to_string);
    i.kind = if e.child("bond").is_some() {
        Some(InterfaceKind::Bond)
    } else if e.child("bridge").is_some() {
        Some(InterfaceKind::Bridge)
    } else if e.child("vlan").is_some() {
        Some(InterfaceKind::Vlan)
    } else if e.child("wireless").is_some() {
        Some(InterfaceKind::Wifi)
    } else if e.child("ethernet").is_some() {
        Some(InterfaceKind::Ethernet)
    } else if i.name.as_deref() == Some("lo") {
        Some(InterfaceKind::Loopback)
    } else {
        None
    };
    if let Some(b) = e.child("bond") {
        for s in b
            .children_named("slaves")
            .flat_map(|s| s.children_named("slave"))
        {
            if let Some(d) = s.text_at("device") {
                i.members.push(d.to_string());
            }
        }
        if let Some(m) = b.text_at("mode") {
            i.options.push(("bond.mode".into(), m.to_string()));
        }
    }
    if let Some(b) = e.child("bridge") {
        for p in b
            .children_named("ports")
            .flat_map(|s| s.children_named("port"))
        {
            if let Some(d) = p.text_at("device") {
                i.members.push(d.to_string());
            }
        }
    }
    if let Some(v) = e.child("vlan") {
        i.vlan_parent = v.text_at("device").map(str::to_string);
        i.vlan_id = v.text_at("tag").and_then(|t| t.parse().ok());
    }
    for (family, v6) in [("ipv4", false), ("ipv6", true)] {
        let ip = if v6 { &mut i.ipv6 } else { &mut i.ipv4 };
        if enabled(e.child(family)) == Some(false) {
            ip.method = Some(Method::Disabled);
            continue;
        }
        if let Some(st) = e.child(&format!("{family}:static")) {
            for a in st.children_named("address") {
                if let Some(l) = a.text_at("local") {
                    ip.addresses.push(l.to_string());
                }
            }
            for r in st.children_named("route") {
                let to = r.text_at("destination").unwrap_or("default").to_string();
                let via = r.text_at("nexthop/gateway").map(str::to_string);
                let default = matches!(to.as_str(), "default" | "0.0.0.0/0" | "::/0");
                if default && via.is_some() {
                    ip.gateway = via;
                } else {
                    i.routes.push(Route {
                        to,
                        via,
                        metric: r.text_at("priority").and_then(|p| p.parse().ok()),
                    });
                }
            }
            if !ip.addresses.is_empty() {
                ip.method = Some(Method::Static);
            }
        }
        if enabled(e.child(&format!("{family}:dhcp"))) == Some(true) {
            ip.method = Some(Method::Dhcp);
        }
        if enabled(e.child(&format!("{family}:auto"))) == Some(true) && ip.method.is_none() {
            ip.method = Some(if v6 { Method::Auto } else { Method::LinkLocal });
        }
    }
    // An IPv6 address filed under ipv4:static stays, but only v6 ones move.
    let (v6s, v4s): (Vec<String>, Vec<String>) =
        i.ipv4.addresses.drain(..).partition(|a| is_ipv6(a));
    i.ipv4.addresses = v4s;
    i.ipv6.addresses.extend(v6s);
    Some(i)
}

/// Reads every `*.xml` in wicked's ifconfig directory.
pub fn read(files: &GuestFiles) -> (Vec<Interface>, Vec<String>) {
    let mut out = Vec::new();
    let mut read = Vec::new();
    for name in files
        .list_dir(SECTION, IFCONFIG_DIR)
        .into_iter()
        .filter(|n| n.ends_with(".xml") && !n.starts_with('.'))
        .take(MAX_FILES)
    {
        let path = format!("{IFCONFIG_DIR}/{name}");
        let Some(text) = files.read_text(SECTION, &path) else {
            continue;
        };
        let (ifaces, warnings) = parse(&text, &path);
        for w in warnings {
            files.warn(SECTION, &path, w);
        }
        read.push(path);
        out.extend(ifaces);
    }
    (out, read)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn static_dhcp_and_bond() {
        let (ifs, w) = parse(
            r#"<interface>
  <name>eth0</name>
  <control><mode>boot</mode></control>
  <ethernet><address>52:54:00:12:34:56</address></ethernet>
  <ipv4:static>
    <address><local>192.168.100.10/24</local></address>
    <route><nexthop><gateway>192.168.100.1</gateway></nexthop></route>
  </ipv4:static>
  <ipv6:dhcp><enabled>true</enabled></ipv6:dhcp>
</interface>
<interface>
  <name>bond0</name>
  <control><mode>hotplug</mode></control>
  <bond><mode>active-backup</mode><slaves><slave><device>eth1</device></slave><slave><device>eth2</device></slave></slaves></bond>
  <ipv4:dhcp><enabled>true</enabled></ipv4:dhcp>
  <link><mtu>9000</mtu></link>
</interface>
<interface><control><mode>boot</mode></control></interface>
"#,
            "/etc/wicked/ifconfig/eth0.xml",
        );
        assert_eq!(w, ["line 18: <interface> without a <name>"]);
        assert_eq!(ifs.len(), 2);
        let e = &ifs[0];
        assert_eq!(e.name.as_deref(), Some("eth0"));
        assert_eq!(e.kind, Some(InterfaceKind::Ethernet));
        assert_eq!(e.ipv4.method, Some(Method::Static));
        assert_eq!(e.ipv4.addresses, ["192.168.100.10/24"]);
        assert_eq!(e.ipv4.gateway.as_deref(), Some("192.168.100.1"));
        assert_eq!(e.ipv6.method, Some(Method::Dhcp));
        assert_eq!(e.mac_address.as_deref(), Some("52:54:00:12:34:56"));
        assert_eq!(e.start_mode, Some(StartMode::Auto));
        assert_eq!(e.source.line, Some(1));
        let b = &ifs[1];
        assert_eq!(b.kind, Some(InterfaceKind::Bond));
        assert_eq!(b.members, ["eth1", "eth2"]);
        assert_eq!(b.ipv4.method, Some(Method::Dhcp));
        assert_eq!(b.start_mode, Some(StartMode::Hotplug));
        assert_eq!(b.mtu, Some(9000));
    }
}
