//! Debian's ifupdown: `/etc/network/interfaces` with its `source` and
//! `source-directory` includes, `auto`/`allow-*` lines and `iface`
//! stanzas (interfaces(5); ifupdown2 and ifupdown-ng read the same file).

use std::collections::{BTreeMap, BTreeSet};

use super::addr::{netmask_prefix, normalize_mac, with_prefix};
use super::glob;
use super::ini::clip;
use super::model::{Interface, InterfaceKind, IpConfig, Method, Source, StartMode, System};
use super::SECTION;
use crate::files::GuestFiles;

/// The main file.
pub const INTERFACES_PATH: &str = "/etc/network/interfaces";

/// Deepest `source` nesting followed.
const MAX_DEPTH: usize = 8;
/// Most files read through includes.
const MAX_FILES: usize = 256;
/// Longest run of continuation lines joined into one.
const MAX_CONTINUATIONS: usize = 256;

/// One `iface` stanza.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stanza {
    pub name: String,
    /// `inet`, `inet6`, … (empty for ifupdown2's bare `iface NAME`).
    pub family: String,
    pub method: String,
    pub line: usize,
    /// `(option, value, line)` in order.
    pub options: Vec<(String, String, usize)>,
}

/// One thing a file says, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    Iface(Stanza),
    /// `auto`, `allow-hotplug`, `allow-CLASS`: the class and the names.
    Allow {
        class: String,
        names: Vec<String>,
    },
    /// `source PATTERN` (`directory` false) or `source-directory DIR`.
    Include {
        pattern: String,
        directory: bool,
        line: usize,
    },
}

/// One file parsed: its items and a warning per line not understood.
#[derive(Debug, Clone, Default)]
pub struct FileParse {
    pub items: Vec<Item>,
    pub warnings: Vec<String>,
}

/// Where option lines are going.
enum Current {
    None,
    Iface,
    Mapping,
}

/// Parses one interfaces file (includes are returned, not followed).
pub fn parse(text: &str) -> FileParse {
    let mut out = FileParse::default();
    let mut current = Current::None;
    let mut lines = text.lines().enumerate();
    while let Some((i, raw)) = lines.next() {
        let line_no = i.saturating_add(1);
        let mut line = raw.trim().to_string();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut joined = 0;
        while line.ends_with('\\') && joined < MAX_CONTINUATIONS {
            line.pop();
            match lines.next() {
                Some((_, next)) => line.push_str(next.trim_end()),
                None => break,
            }
            joined += 1;
        }
        let mut words = line.split_whitespace();
        let Some(first) = words.next() else { continue };
        let rest: Vec<String> = words.map(str::to_string).collect();
        match first {
            "iface" | "interface" => {
                let Some(name) = rest.first() else {
                    out.warnings
                        .push(format!("line {line_no}: iface without an interface name"));
                    current = Current::None;
                    continue;
                };
                out.items.push(Item::Iface(Stanza {
                    name: name.clone(),
                    family: rest.get(1).cloned().unwrap_or_default(),
                    method: rest.get(2).cloned().unwrap_or_default(),
                    line: line_no,
                    options: Vec::new(),
                }));
                current = Current::Iface;
            }
            "mapping" => current = Current::Mapping,
            "auto" | "allow-auto" => {
                out.items.push(Item::Allow {
                    class: "auto".into(),
                    names: rest,
                });
                current = Current::None;
            }
            "source" | "source-directory" | "source-dir" => {
                let directory = first != "source";
                match rest.first() {
                    Some(p) => out.items.push(Item::Include {
                        pattern: p.clone(),
                        directory,
                        line: line_no,
                    }),
                    None => out
                        .warnings
                        .push(format!("line {line_no}: {first} without a path")),
                }
                current = Current::None;
            }
            "rename" | "no-auto-down" | "no-scripts" | "template" => current = Current::None,
            other if other.starts_with("allow-") => {
                let class = other.trim_start_matches("allow-").to_string();
                out.items.push(Item::Allow { class, names: rest });
                current = Current::None;
            }
            option => match current {
                Current::Iface => {
                    // The value as written (commands keep their spacing).
                    let value = line
                        .trim_start()
                        .get(option.len()..)
                        .unwrap_or("")
                        .trim()
                        .to_string();
                    if let Some(Item::Iface(s)) = out.items.last_mut() {
                        s.options.push((option.to_string(), value, line_no));
                    }
                }
                Current::Mapping => {}
                Current::None => out.warnings.push(format!(
                    "line {line_no}: an option outside any iface stanza: {}",
                    clip(&line)
                )),
            },
        }
    }
    out
}

/// Method keywords of interfaces(5) as report methods.
fn method(family: &str, m: &str) -> Option<Method> {
    Some(match m {
        "" => return None,
        "static" => Method::Static,
        "dhcp" => Method::Dhcp,
        "manual" => Method::Manual,
        "loopback" => Method::Loopback,
        "auto" if family == "inet6" => Method::Auto,
        "ipv4ll" => Method::LinkLocal,
        other => Method::Other(other.to_string()),
    })
}

/// Turns the stanzas and allow lines of every file read into interfaces:
/// the stanzas of one name (inet and inet6, or repeated) make one
/// interface, sourced at its first stanza.
pub fn assemble(items: &[(String, Item)], warnings: &mut Vec<(String, String)>) -> Vec<Interface> {
    let mut out: Vec<Interface> = Vec::new();
    // Name → allow classes, and name → index in `out`: one pass each.
    let mut allow: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (_, item) in items {
        if let Item::Allow { class, names } = item {
            for n in names {
                allow.entry(n.as_str()).or_default().push(class.as_str());
            }
        }
    }
    let mut index: BTreeMap<&str, usize> = BTreeMap::new();
    for (path, item) in items {
        let Item::Iface(st) = item else { continue };
        let idx = match index.get(st.name.as_str()) {
            Some(i) => *i,
            None => {
                out.push(Interface {
                    name: Some(st.name.clone()),
                    source: Source {
                        system: Some(System::Ifupdown),
                        path: path.clone(),
                        line: Some(st.line),
                        also_in: Vec::new(),
                    },
                    ..Interface::default()
                });
                let i = out.len().saturating_sub(1);
                index.insert(st.name.as_str(), i);
                i
            }
        };
        let Some(iface) = out.get_mut(idx) else {
            continue;
        };
        if iface.source.path != *path && !iface.source.also_in.contains(path) {
            iface.source.also_in.push(path.clone());
        }
        apply_stanza(iface, st, path, warnings);
    }
    for iface in &mut out {
        let name = iface.name.clone().unwrap_or_default();
        let classes: Vec<&str> = allow.get(name.as_str()).cloned().unwrap_or_default();
        iface.start_mode = Some(if classes.contains(&"auto") {
            StartMode::Auto
        } else if classes.contains(&"hotplug") {
            StartMode::Hotplug
        } else if let Some(c) = classes.first() {
            StartMode::Other(format!("allow-{c}"))
        } else {
            StartMode::Manual
        });
        if iface.kind.is_none() {
            iface.kind = kind_of(iface);
        }
    }
    out
}

fn apply_stanza(
    iface: &mut Interface,
    st: &Stanza,
    path: &str,
    warnings: &mut Vec<(String, String)>,
) {
    let v6 = st.family == "inet6";
    let family_known = matches!(st.family.as_str(), "inet" | "inet6" | "");
    if !family_known {
        iface
            .options
            .push(("family".into(), format!("{} {}", st.family, st.method)));
    }
    let mut ip = IpConfig::default();
    if family_known {
        ip.method = method(&st.family, &st.method);
    }
    if st.method == "loopback" {
        iface.kind = Some(InterfaceKind::Loopback);
    }
    let mut prefix = None;
    let mut bare: Vec<String> = Vec::new();
    for (key, value, line) in &st.options {
        let v = value.trim();
        match key.as_str() {
            "address" => bare.extend(v.split_whitespace().map(str::to_string)),
            "netmask" => match netmask_prefix(v) {
                Some(p) => prefix = Some(p),
                None => warnings.push((
                    path.to_string(),
                    format!("line {line}: netmask {v} is not a netmask or prefix length"),
                )),
            },
            "gateway" => ip.gateway = Some(v.to_string()),
            "dns-nameservers" | "dns-nameserver" => {
                iface
                    .dns_servers
                    .extend(v.split_whitespace().map(str::to_string));
            }
            "dns-search" | "dns-domain" => {
                iface
                    .dns_search
                    .extend(v.split_whitespace().map(str::to_string));
            }
            "mtu" => match v.parse::<u32>() {
                Ok(m) => iface.mtu = Some(m),
                Err(_) => warnings.push((
                    path.to_string(),
                    format!("line {line}: mtu {v} is not a number"),
                )),
            },
            "hwaddress" | "hwaddr" => {
                let mac = v.split_whitespace().last().unwrap_or("");
                match normalize_mac(mac) {
                    Some(m) => iface.mac_address = Some(m),
                    None => iface.options.push((key.clone(), value.clone())),
                }
            }
            "bond-slaves" | "bond_slaves" | "bond-ports" => {
                iface.kind = Some(InterfaceKind::Bond);
                iface.members.extend(
                    v.split_whitespace()
                        .filter(|m| *m != "none")
                        .map(str::to_string),
                );
            }
            "bond-master" | "bond_master" => iface.master = Some(v.to_string()),
            "bridge_ports" | "bridge-ports" => {
                iface.kind = Some(InterfaceKind::Bridge);
                iface.members.extend(
                    v.split_whitespace()
                        .filter(|m| *m != "none")
                        .map(str::to_string),
                );
            }
            "vlan-raw-device" | "vlan_raw_device" => {
                iface.kind = Some(InterfaceKind::Vlan);
                iface.vlan_parent = Some(v.to_string());
            }
            "vlan-id" | "vlan_id" => iface.vlan_id = v.parse().ok(),
            k if k.starts_with("wpa-") || k.starts_with("wireless-") => {
                iface.kind = Some(InterfaceKind::Wifi);
                iface.options.push((key.clone(), value.clone()));
            }
            _ => {
                if key.starts_with("bond-") || key.starts_with("bond_") {
                    iface.kind = Some(InterfaceKind::Bond);
                }
                iface.options.push((key.clone(), value.clone()));
            }
        }
    }
    ip.addresses = bare.iter().map(|a| with_prefix(a, prefix)).collect();
    let target = if v6 { &mut iface.ipv6 } else { &mut iface.ipv4 };
    if target.method.is_none() {
        target.method = ip.method;
    }
    target.addresses.extend(ip.addresses);
    if ip.gateway.is_some() {
        target.gateway = ip.gateway;
    }
}

/// The kind the name says when options did not: `lo`, `eth0.100`,
/// `vlan100`.
fn kind_of(iface: &mut Interface) -> Option<InterfaceKind> {
    let name = iface.name.as_deref()?;
    if name == "lo" {
        return Some(InterfaceKind::Loopback);
    }
    if let Some((parent, id)) = name.rsplit_once('.') {
        if let Ok(id) = id.parse::<u32>() {
            iface.vlan_parent.get_or_insert_with(|| parent.to_string());
            iface.vlan_id.get_or_insert(id);
            return Some(InterfaceKind::Vlan);
        }
    }
    if let Some(id) = name
        .strip_prefix("vlan")
        .and_then(|n| n.parse::<u32>().ok())
    {
        iface.vlan_id.get_or_insert(id);
        return Some(InterfaceKind::Vlan);
    }
    None
}

/// Whether a `source-directory` entry name is one run-parts would take.
fn run_parts_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// The directory part of a guest path.
fn parent_dir(path: &str) -> &str {
    match path.rsplit_once('/') {
        Some(("", _)) => "/",
        Some((d, _)) => d,
        None => "/",
    }
}

/// Expands a glob path inside the guest, component by component, sorted.
fn expand(files: &GuestFiles, pattern: &str, budget: &mut usize) -> Vec<String> {
    let mut paths = vec![String::new()];
    for comp in pattern.split('/').filter(|c| !c.is_empty()) {
        let mut next = Vec::new();
        for base in &paths {
            if glob::has_wildcard(comp) {
                let dir = if base.is_empty() { "/" } else { base.as_str() };
                for name in files.list_dir(SECTION, dir) {
                    if *budget == 0 {
                        break;
                    }
                    if glob::matches(comp, &name) {
                        *budget = budget.saturating_sub(1);
                        next.push(format!("{base}/{name}"));
                    }
                }
            } else {
                next.push(format!("{base}/{comp}"));
            }
        }
        paths = next;
    }
    paths.sort();
    paths
}

/// Reads `/etc/network/interfaces` and what it includes. Returns the
/// interfaces and every file read.
pub fn read(files: &GuestFiles) -> (Vec<Interface>, Vec<String>) {
    let mut items: Vec<(String, Item)> = Vec::new();
    let mut read: Vec<String> = Vec::new();
    let mut seen: BTreeSet<String> = BTreeSet::new();
    let mut budget = MAX_FILES;
    read_file(
        files,
        INTERFACES_PATH,
        0,
        &mut items,
        &mut read,
        &mut seen,
        &mut budget,
    );
    let mut warnings = Vec::new();
    let ifaces = assemble(&items, &mut warnings);
    for (path, w) in warnings {
        files.warn(SECTION, &path, w);
    }
    (ifaces, read)
}

fn read_file(
    files: &GuestFiles,
    path: &str,
    depth: usize,
    items: &mut Vec<(String, Item)>,
    read: &mut Vec<String>,
    seen: &mut BTreeSet<String>,
    budget: &mut usize,
) {
    if !seen.insert(path.to_string()) {
        files.warn(
            SECTION,
            path,
            "sourced again (an include loop or a repeated include): skipped",
        );
        return;
    }
    if *budget == 0 {
        files.warn(
            SECTION,
            path,
            format!("more than {MAX_FILES} included files: skipped"),
        );
        return;
    }
    *budget = budget.saturating_sub(1);
    let Some(text) = files.read_text(SECTION, path) else {
        return;
    };
    read.push(path.to_string());
    let parsed = parse(&text);
    for w in parsed.warnings {
        files.warn(SECTION, path, w);
    }
    for item in parsed.items {
        let Item::Include {
            pattern,
            directory,
            line,
        } = &item
        else {
            items.push((path.to_string(), item));
            continue;
        };
        if depth >= MAX_DEPTH {
            files.warn(
                SECTION,
                path,
                format!("line {line}: includes nested deeper than {MAX_DEPTH}: {pattern} skipped"),
            );
            continue;
        }
        let full = if pattern.starts_with('/') {
            pattern.clone()
        } else {
            format!("{}/{pattern}", parent_dir(path).trim_end_matches('/'))
        };
        let targets = expand(files, &full, budget);
        for target in targets {
            if *directory {
                for name in files.list_dir(SECTION, &target) {
                    let p = format!("{target}/{name}");
                    if run_parts_name(&name) && files.is_file(&p) {
                        read_file(
                            files,
                            &p,
                            depth.saturating_add(1),
                            items,
                            read,
                            seen,
                            budget,
                        );
                    }
                }
            } else if files.is_file(&target) {
                read_file(
                    files,
                    &target,
                    depth.saturating_add(1),
                    items,
                    read,
                    seen,
                    budget,
                );
            } else if !glob::has_wildcard(&full) {
                files.warn(
                    SECTION,
                    path,
                    format!("line {line}: source {pattern}: no such file"),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(text: &str) -> (Vec<Interface>, Vec<String>) {
        let p = parse(text);
        let items: Vec<(String, Item)> = p
            .items
            .into_iter()
            .map(|i| ("/etc/network/interfaces".to_string(), i))
            .collect();
        let mut w = Vec::new();
        let ifaces = assemble(&items, &mut w);
        let mut all = p.warnings;
        all.extend(w.into_iter().map(|(_, m)| m));
        (ifaces, all)
    }

    #[test]
    fn stanzas_families_and_modes() {
        let (ifs, w) = one(
            "auto lo\niface lo inet loopback\n\nauto bond0\niface bond0 inet static\n  address 10.1.0.5\n  netmask 255.255.0.0\n  gateway 10.1.0.1\n  bond-slaves eth0 eth1\n  bond-mode 802.3ad\n  mtu 9000\n  pre-up echo \\\n    hi\niface bond0 inet6 static\n  address 2001:db8::5/64\n  gateway 2001:db8::1\n\nallow-hotplug eth0.100\niface eth0.100 inet dhcp\n  hwaddress ether 52:54:00:AA:BB:CC\n\nallow-ovs br9\niface br9 inet manual\n  bridge_ports none\n\niface wlan0 inet dhcp\n  wpa-ssid home\n  netmask bogus\n",
        );
        assert_eq!(
            w,
            ["line 28: netmask bogus is not a netmask or prefix length"]
        );
        assert_eq!(ifs.len(), 5);
        let lo = &ifs[0];
        assert_eq!(lo.kind, Some(InterfaceKind::Loopback));
        assert_eq!(lo.ipv4.method, Some(Method::Loopback));
        let bond = &ifs[1];
        assert_eq!(bond.kind, Some(InterfaceKind::Bond));
        assert_eq!(bond.ipv4.addresses, ["10.1.0.5/16"]);
        assert_eq!(bond.ipv4.gateway.as_deref(), Some("10.1.0.1"));
        assert_eq!(bond.ipv6.addresses, ["2001:db8::5/64"]);
        assert_eq!(bond.ipv6.gateway.as_deref(), Some("2001:db8::1"));
        assert_eq!(bond.members, ["eth0", "eth1"]);
        assert_eq!(bond.mtu, Some(9000));
        assert_eq!(bond.start_mode, Some(StartMode::Auto));
        assert!(bond
            .options
            .contains(&("pre-up".into(), "echo     hi".into())));
        assert!(bond
            .options
            .contains(&("bond-mode".into(), "802.3ad".into())));
        assert_eq!(bond.source.line, Some(5));
        let vlan = &ifs[2];
        assert_eq!(vlan.kind, Some(InterfaceKind::Vlan));
        assert_eq!(vlan.vlan_parent.as_deref(), Some("eth0"));
        assert_eq!(vlan.vlan_id, Some(100));
        assert_eq!(vlan.start_mode, Some(StartMode::Hotplug));
        assert_eq!(vlan.mac_address.as_deref(), Some("52:54:00:aa:bb:cc"));
        let br = &ifs[3];
        assert_eq!(br.kind, Some(InterfaceKind::Bridge));
        assert!(br.members.is_empty());
        assert_eq!(br.start_mode, Some(StartMode::Other("allow-ovs".into())));
        let wl = &ifs[4];
        assert_eq!(wl.kind, Some(InterfaceKind::Wifi));
        assert_eq!(wl.start_mode, Some(StartMode::Manual));
    }

    #[test]
    fn bad_lines_warn_with_line_numbers() {
        let (ifs, w) = one("address 1.2.3.4\niface\nsource\niface eth0 inet dhcp\n");
        assert_eq!(ifs.len(), 1);
        assert_eq!(
            w,
            [
                "line 1: an option outside any iface stanza: address 1.2.3.4",
                "line 2: iface without an interface name",
                "line 3: source without a path"
            ]
        );
    }
}
