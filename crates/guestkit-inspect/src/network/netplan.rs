//! netplan: `*.yaml` in `/lib/netplan`, `/etc/netplan` and `/run/netplan`
//! (a name in `/run` shadows `/etc`, which shadows `/lib`), merged in
//! file-name order as netplan-generate(8) says: later scalars override,
//! sequences are concatenated, mappings merge.

use std::collections::BTreeMap;

use serde_yaml_ng::{Mapping, Value};

use super::addr::{is_ipv6, normalize_mac};
use super::model::{Interface, InterfaceKind, Method, Route, Source, StartMode, System};
use super::{dropins, glob, SECTION};
use crate::files::GuestFiles;

/// Netplan directories, highest precedence first.
pub const DIRS: [&str; 4] = [
    "/run/netplan",
    "/etc/netplan",
    "/lib/netplan",
    "/usr/lib/netplan",
];

/// Most definitions read (real configurations have a handful).
const MAX_DEFINITIONS: usize = 4096;
/// Most warnings reported for the merged files.
const MAX_WARNINGS: usize = 100;

/// Deepest nesting merged (the YAML parser itself stops at 128).
const MAX_DEPTH: usize = 64;

/// Device-type keys under `network:` and the kind each declares.
const TYPES: [(&str, Option<InterfaceKind>); 10] = [
    ("ethernets", Some(InterfaceKind::Ethernet)),
    ("bonds", Some(InterfaceKind::Bond)),
    ("bridges", Some(InterfaceKind::Bridge)),
    ("vlans", Some(InterfaceKind::Vlan)),
    ("wifis", Some(InterfaceKind::Wifi)),
    ("tunnels", Some(InterfaceKind::Other)),
    ("vrfs", Some(InterfaceKind::Other)),
    ("modems", Some(InterfaceKind::Other)),
    ("dummy-devices", Some(InterfaceKind::Other)),
    ("virtual-ethernets", Some(InterfaceKind::Other)),
];

/// What the netplan files define.
#[derive(Debug, Clone, Default)]
pub struct Netplan {
    pub interfaces: Vec<Interface>,
    pub files: Vec<String>,
    /// Renderers the definitions use (`networkd` unless set), sorted.
    pub renderers: Vec<String>,
}

/// Merges `src` into `dst` with netplan's rules.
pub fn merge(dst: &mut Value, src: Value, depth: usize) {
    match (dst, src) {
        (Value::Mapping(d), Value::Mapping(s)) if depth < MAX_DEPTH => {
            for (k, v) in s {
                match d.get_mut(&k) {
                    Some(existing) => merge(existing, v, depth.saturating_add(1)),
                    None => {
                        d.insert(k, v);
                    }
                }
            }
        }
        (Value::Sequence(d), Value::Sequence(s)) => d.extend(s),
        (d, s) => *d = s,
    }
}

/// Parses one YAML text; an error names its line and column.
pub fn parse_yaml(text: &str) -> Result<Value, String> {
    serde_yaml_ng::from_str::<Value>(text).map_err(|e| match e.location() {
        Some(l) => format!("line {}: YAML error: {e}", l.line()),
        None => format!("YAML error: {e}"),
    })
}

fn s(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn truthy(v: Option<&Value>) -> bool {
    match v {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => matches!(s.as_str(), "true" | "yes" | "on" | "y"),
        _ => false,
    }
}

/// Strings of a sequence value; anything else is a warning.
fn strings(v: Option<&Value>, what: &str, warnings: &mut Vec<String>) -> Vec<String> {
    match v {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Sequence(seq)) => seq
            .iter()
            .filter_map(|x| match x {
                // `addresses: - 10.0.0.1/24: {lifetime: 0}`
                Value::Mapping(m) => m.keys().next().and_then(s),
                other => s(other),
            })
            .collect(),
        Some(_) => {
            warnings.push(format!("{what}: not a list"));
            Vec::new()
        }
    }
}

/// Interfaces from a merged netplan document, sourced at `files_of(id)`.
pub fn interfaces(
    doc: &Value,
    files_of: &dyn Fn(&str, &str) -> Vec<String>,
    warnings: &mut Vec<String>,
) -> (Vec<Interface>, Vec<String>) {
    let mut out = Vec::new();
    let mut renderers: Vec<String> = Vec::new();
    let Some(network) = doc.get("network") else {
        if !matches!(doc, Value::Null) {
            warnings.push("no network: key".into());
        }
        return (out, renderers);
    };
    let global_renderer = network.get("renderer").and_then(s);
    for (ty, kind) in TYPES {
        let Some(defs) = network.get(ty) else {
            continue;
        };
        let Some(defs) = defs.as_mapping() else {
            warnings.push(format!("network.{ty}: not a mapping"));
            continue;
        };
        for (id, def) in defs {
            if out.len() >= MAX_DEFINITIONS {
                warnings.push(format!(
                    "more than {MAX_DEFINITIONS} definitions: the rest is skipped"
                ));
                break;
            }
            let Some(id) = s(id) else {
                warnings.push(format!("network.{ty}: a key that is not a name"));
                continue;
            };
            let empty = Mapping::new();
            let def = match def {
                Value::Mapping(m) => m,
                Value::Null => &empty,
                _ => {
                    warnings.push(format!("network.{ty}.{id}: not a mapping"));
                    continue;
                }
            };
            let mut found = files_of(ty, &id).into_iter();
            let source = Source {
                system: Some(System::Netplan),
                path: found.next().unwrap_or_default(),
                line: None,
                also_in: found.collect(),
            };
            let renderer = def
                .get("renderer")
                .and_then(s)
                .or_else(|| global_renderer.clone())
                .unwrap_or_else(|| "networkd".into());
            if !renderers.contains(&renderer) {
                renderers.push(renderer.clone());
            }
            let mut i = definition(ty, &id, def, warnings);
            i.kind = kind;
            i.source = source;
            i.options.insert(0, ("renderer".into(), renderer));
            out.push(i);
        }
    }
    // Bond and bridge members point at their master.
    let mut master_of: BTreeMap<String, String> = BTreeMap::new();
    for i in &out {
        if let Some(id) = &i.id {
            for m in &i.members {
                master_of.entry(m.clone()).or_insert_with(|| id.clone());
            }
        }
    }
    for i in &mut out {
        if let Some(master) = i.id.as_ref().and_then(|id| master_of.get(id)) {
            i.master = Some(master.clone());
        }
    }
    renderers.sort();
    (out, renderers)
}

fn definition(ty: &str, id: &str, def: &Mapping, warnings: &mut Vec<String>) -> Interface {
    let what = format!("network.{ty}.{id}");
    let mut i = Interface {
        id: Some(id.to_string()),
        start_mode: Some(StartMode::Auto),
        ..Interface::default()
    };
    let set_name = def.get("set-name").and_then(s);
    let mut matched_name = None;
    if let Some(m) = def.get("match") {
        match m.as_mapping() {
            Some(m) => {
                for (k, v) in m {
                    let (Some(k), Some(v)) = (s(k), s(v)) else {
                        continue;
                    };
                    match k.as_str() {
                        "name" if !glob::has_wildcard(&v) => matched_name = Some(v.clone()),
                        "macaddress" => match normalize_mac(&v) {
                            Some(mac) => i.mac_address = Some(mac),
                            None => warnings
                                .push(format!("{what}.match.macaddress: {v} is not a MAC address")),
                        },
                        _ => {}
                    }
                    i.match_rules.push(format!("{k}={v}"));
                }
            }
            None => warnings.push(format!("{what}.match: not a mapping")),
        }
    }
    i.name = set_name
        .or(matched_name)
        .or_else(|| def.get("match").is_none().then(|| id.to_string()));
    if let Some(mac) = def.get("macaddress").and_then(s) {
        match normalize_mac(&mac) {
            Some(m) => {
                i.mac_address.get_or_insert(m);
            }
            None => i.options.push(("macaddress".into(), mac)),
        }
    }
    if let Some(v) = def.get("mtu") {
        match s(v).and_then(|m| m.parse().ok()) {
            Some(m) => i.mtu = Some(m),
            None => warnings.push(format!("{what}.mtu: not a number")),
        }
    }
    if truthy(def.get("dhcp4")) {
        i.ipv4.method = Some(Method::Dhcp);
    }
    if truthy(def.get("dhcp6")) {
        i.ipv6.method = Some(Method::Dhcp);
    } else if truthy(def.get("accept-ra")) {
        i.ipv6.method = Some(Method::Auto);
    }
    for a in strings(def.get("addresses"), &format!("{what}.addresses"), warnings) {
        if is_ipv6(&a) {
            i.ipv6.addresses.push(a);
        } else {
            i.ipv4.addresses.push(a);
        }
    }
    if i.ipv4.method.is_none() && !i.ipv4.addresses.is_empty() {
        i.ipv4.method = Some(Method::Static);
    }
    if i.ipv6.method.is_none() && !i.ipv6.addresses.is_empty() {
        i.ipv6.method = Some(Method::Static);
    }
    i.ipv4.gateway = def.get("gateway4").and_then(s);
    i.ipv6.gateway = def.get("gateway6").and_then(s);
    match def.get("routes") {
        None | Some(Value::Null) => {}
        Some(Value::Sequence(routes)) => {
            for r in routes {
                let to = r.get("to").and_then(s).unwrap_or_default();
                let via = r.get("via").and_then(s);
                if to == "default" || to == "0.0.0.0/0" || to == "::/0" {
                    match &via {
                        Some(v) if is_ipv6(v) => i.ipv6.gateway = via.clone(),
                        Some(_) => i.ipv4.gateway = via.clone(),
                        None => {}
                    }
                    if via.is_some() {
                        continue;
                    }
                }
                if to.is_empty() {
                    warnings.push(format!("{what}.routes: a route without to:"));
                    continue;
                }
                i.routes.push(Route {
                    to,
                    via,
                    metric: r.get("metric").and_then(s).and_then(|m| m.parse().ok()),
                });
            }
        }
        Some(_) => warnings.push(format!("{what}.routes: not a list")),
    }
    if let Some(ns) = def.get("nameservers") {
        i.dns_servers = strings(
            ns.get("addresses"),
            &format!("{what}.nameservers.addresses"),
            warnings,
        );
        i.dns_search = strings(
            ns.get("search"),
            &format!("{what}.nameservers.search"),
            warnings,
        );
    }
    i.members = strings(
        def.get("interfaces"),
        &format!("{what}.interfaces"),
        warnings,
    );
    if ty == "vlans" {
        i.vlan_parent = def.get("link").and_then(s);
        i.vlan_id = def.get("id").and_then(s).and_then(|v| v.parse().ok());
    }
    if truthy(def.get("optional")) {
        i.options.push(("optional".into(), "true".into()));
    }
    if let Some(Value::Mapping(params)) = def.get("parameters") {
        for (k, v) in params {
            if let (Some(k), Some(v)) = (s(k), s(v)) {
                i.options.push((format!("parameters.{k}"), v));
            }
        }
    }
    if let Some(Value::Mapping(aps)) = def.get("access-points") {
        for k in aps.keys().filter_map(s) {
            i.options.push(("access-point".into(), k));
        }
    }
    i
}

/// Whether `doc` has the definition a warning (`network.TYPE.ID…`) is
/// about.
fn mentions(doc: &Value, warning: &str) -> bool {
    let Some(Value::Mapping(net)) = doc.get("network") else {
        return false;
    };
    net.iter().any(|(ty, defs)| {
        let (Some(ty), Some(defs)) = (s(ty), defs.as_mapping()) else {
            return false;
        };
        defs.keys()
            .filter_map(s)
            .any(|id| warning.starts_with(&format!("network.{ty}.{id}")))
    })
}

/// Reads and merges the netplan files.
pub fn read(files: &GuestFiles) -> Netplan {
    let mut out = Netplan::default();
    let mut merged = Value::Null;
    let mut docs: Vec<(String, Value)> = Vec::new();
    for path in dropins(files, &DIRS, ".yaml") {
        let Some(text) = files.read_text(SECTION, &path) else {
            continue;
        };
        out.files.push(path.clone());
        match parse_yaml(&text) {
            Ok(v) => {
                if matches!(merged, Value::Null) {
                    merged = v.clone();
                } else {
                    merge(&mut merged, v.clone(), 0);
                }
                docs.push((path, v));
            }
            Err(e) => files.warn(SECTION, &path, format!("{e}: the file is skipped")),
        }
    }
    let files_of = |ty: &str, id: &str| -> Vec<String> {
        docs.iter()
            .filter(|(_, d)| {
                d.get("network")
                    .and_then(|n| n.get(ty))
                    .and_then(|t| t.get(id))
                    .is_some()
            })
            .map(|(p, _)| p.clone())
            .collect()
    };
    let mut warnings = Vec::new();
    let (ifaces, renderers) = interfaces(&merged, &files_of, &mut warnings);
    if warnings.len() > MAX_WARNINGS {
        let more = warnings.len().saturating_sub(MAX_WARNINGS);
        warnings.truncate(MAX_WARNINGS);
        warnings.push(format!("{more} more warnings not shown"));
    }
    for w in warnings {
        // Merged settings have no single file: the warning names the last
        // file with the definition it is about, else the first file read.
        let path = docs
            .iter()
            .rev()
            .find(|(_, d)| mentions(d, &w))
            .map(|(p, _)| p.clone())
            .or_else(|| out.files.first().cloned())
            .unwrap_or_else(|| "/etc/netplan".into());
        files.warn(SECTION, &path, w);
    }
    out.interfaces = ifaces;
    out.renderers = renderers;
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const UBUNTU: &str = r#"
network:
  version: 2
  renderer: networkd
  ethernets:
    eno1:
      match:
        macaddress: "52:54:00:AA:00:01"
      set-name: eno1
      dhcp4: false
    eno2:
      dhcp4: no
  bonds:
    bond0:
      interfaces: [eno1, eno2]
      parameters:
        mode: 802.3ad
        mii-monitor-interval: 100
      addresses: [10.20.0.5/24, "2001:db8:20::5/64"]
      routes:
        - to: default
          via: 10.20.0.1
        - to: 172.16.0.0/12
          via: 10.20.0.254
          metric: 200
      nameservers:
        addresses: [10.20.0.53]
        search: [corp.example]
      mtu: 9000
  vlans:
    vlan30:
      id: 30
      link: bond0
      addresses: [10.30.0.5/24]
      gateway4: 10.30.0.1
"#;

    #[test]
    fn bond_and_vlan() {
        let doc = parse_yaml(UBUNTU).unwrap();
        let mut w = Vec::new();
        let (ifs, renderers) =
            interfaces(&doc, &|_, _| vec!["/etc/netplan/50.yaml".into()], &mut w);
        assert!(w.is_empty(), "{w:?}");
        assert_eq!(renderers, ["networkd"]);
        assert_eq!(ifs.len(), 4);
        let eno1 = &ifs[0];
        assert_eq!(eno1.name.as_deref(), Some("eno1"));
        assert_eq!(eno1.mac_address.as_deref(), Some("52:54:00:aa:00:01"));
        assert_eq!(eno1.match_rules, ["macaddress=52:54:00:AA:00:01"]);
        assert_eq!(eno1.master.as_deref(), Some("bond0"));
        assert_eq!(eno1.ipv4.method, None);
        let bond = &ifs[2];
        assert_eq!(bond.kind, Some(InterfaceKind::Bond));
        assert_eq!(bond.members, ["eno1", "eno2"]);
        assert_eq!(bond.ipv4.addresses, ["10.20.0.5/24"]);
        assert_eq!(bond.ipv6.addresses, ["2001:db8:20::5/64"]);
        assert_eq!(bond.ipv4.gateway.as_deref(), Some("10.20.0.1"));
        assert_eq!(bond.ipv4.method, Some(Method::Static));
        assert_eq!(bond.dns_servers, ["10.20.0.53"]);
        assert_eq!(bond.dns_search, ["corp.example"]);
        assert_eq!(bond.mtu, Some(9000));
        assert_eq!(
            bond.routes,
            [Route {
                to: "172.16.0.0/12".into(),
                via: Some("10.20.0.254".into()),
                metric: Some(200)
            }]
        );
        assert!(bond
            .options
            .contains(&("parameters.mode".into(), "802.3ad".into())));
        let vlan = &ifs[3];
        assert_eq!(vlan.kind, Some(InterfaceKind::Vlan));
        assert_eq!(vlan.vlan_parent.as_deref(), Some("bond0"));
        assert_eq!(vlan.vlan_id, Some(30));
        assert_eq!(vlan.ipv4.gateway.as_deref(), Some("10.30.0.1"));
    }

    #[test]
    fn merge_rules() {
        let mut a = parse_yaml("network:\n  ethernets:\n    eth0:\n      addresses: [10.0.0.1/24]\n      dhcp4: true\n").unwrap();
        let b = parse_yaml("network:\n  renderer: NetworkManager\n  ethernets:\n    eth0:\n      addresses: [10.0.0.2/24]\n      dhcp4: false\n").unwrap();
        merge(&mut a, b, 0);
        let mut w = Vec::new();
        let (ifs, r) = interfaces(&a, &|_, _| Vec::new(), &mut w);
        assert_eq!(r, ["NetworkManager"]);
        assert_eq!(ifs[0].ipv4.addresses, ["10.0.0.1/24", "10.0.0.2/24"]);
        assert_eq!(ifs[0].ipv4.method, Some(Method::Static));
    }

    #[test]
    fn wrong_shapes_warn() {
        let doc = parse_yaml("network:\n  ethernets:\n    eth0:\n      addresses: 10.0.0.1/24\n      mtu: big\n  bonds: [x]\n").unwrap();
        let mut w = Vec::new();
        let (ifs, _) = interfaces(&doc, &|_, _| Vec::new(), &mut w);
        assert_eq!(ifs.len(), 1);
        assert_eq!(
            w,
            [
                "network.ethernets.eth0.mtu: not a number",
                "network.ethernets.eth0.addresses: not a list",
                "network.bonds: not a mapping"
            ]
        );
        let e = parse_yaml("network:\n  ethernets: [\n").unwrap_err();
        assert!(e.starts_with("line "), "{e}");
    }
}
