//! The network section on hand-written guest trees, one per configuration
//! system as the distributions lay them out, and on the real Debian 12
//! guest, whose interfaces are also read by the guest's own `ifquery`.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use guestkit_fs::hostdir::HostDirFs;
use guestkit_fs::{FsLimits, GuestTree};
use guestkit_inspect::network::{
    self, Interface, InterfaceKind, Method, NetworkSection, Route, StartMode, System,
};
use guestkit_inspect::{GuestFiles, Warning};

/// A guest tree in a temporary directory.
struct Tree {
    dir: tempfile::TempDir,
}

impl Tree {
    fn new() -> Self {
        Tree {
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    fn host(&self, guest: &str) -> std::path::PathBuf {
        self.dir.path().join(guest.trim_start_matches('/'))
    }

    fn file(&self, guest: &str, text: &str) -> &Self {
        let p = self.host(guest);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
        self
    }

    fn link(&self, guest: &str, target: &str) -> &Self {
        let p = self.host(guest);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::os::unix::fs::symlink(target, p).unwrap();
        self
    }

    /// Enables `unit` the way `systemctl enable` does.
    fn enable(&self, unit: &str, target: &str) -> &Self {
        self.file(&format!("/usr/lib/systemd/system/{unit}"), "[Unit]\n");
        self.link(
            &format!("/etc/systemd/system/{target}.wants/{unit}"),
            &format!("/usr/lib/systemd/system/{unit}"),
        )
    }

    fn inspect(&self) -> (NetworkSection, Vec<Warning>) {
        inspect_dir(self.dir.path())
    }
}

fn inspect_dir(dir: &Path) -> (NetworkSection, Vec<Warning>) {
    let fs = HostDirFs::open(dir, FsLimits::default()).expect("host dir");
    let tree = GuestTree::new(Arc::new(fs), "test", FsLimits::default());
    let files = GuestFiles::new(&tree);
    let section = network::inspect(&files);
    (section, files.take_warnings())
}

fn named<'a>(s: &'a NetworkSection, name: &str) -> &'a Interface {
    s.interfaces
        .iter()
        .find(|i| i.name.as_deref() == Some(name))
        .unwrap_or_else(|| panic!("no interface {name} in {:#?}", s.interfaces))
}

fn warning_texts(w: &[Warning]) -> Vec<String> {
    w.iter().map(|w| w.to_string()).collect()
}

#[test]
fn ubuntu_netplan_bond_and_vlan() {
    let t = Tree::new();
    t.file("/etc/hostname", "web01\n")
        .file(
            "/etc/hosts",
            "127.0.0.1 localhost\n10.20.0.5 web01.corp.example web01\n",
        )
        .file(
            "/etc/netplan/50-cloud-init.yaml",
            r#"network:
  version: 2
  ethernets:
    eno1:
      match:
        macaddress: "52:54:00:aa:00:01"
      set-name: eno1
    eno2:
      match:
        macaddress: "52:54:00:aa:00:02"
      set-name: eno2
  bonds:
    bond0:
      interfaces: [eno1, eno2]
      parameters: {mode: 802.3ad}
      addresses: [10.20.0.5/24]
      routes:
        - to: default
          via: 10.20.0.1
      nameservers:
        addresses: [10.20.0.53]
  vlans:
    bond0.30:
      id: 30
      link: bond0
      addresses: [10.30.0.5/24]
"#,
        )
        // Shadowed by the /etc file of the same name: never read.
        .file(
            "/lib/netplan/50-cloud-init.yaml",
            "network:\n  ethernets:\n    shadowed: {dhcp4: true}\n",
        )
        // A later file adds to bond0: sequences concatenate.
        .file(
            "/etc/netplan/90-dns.yaml",
            "network:\n  bonds:\n    bond0:\n      nameservers:\n        addresses: [10.20.0.54]\n        search: [corp.example]\n",
        )
        .link(
            "/etc/resolv.conf",
            "../run/systemd/resolve/stub-resolv.conf",
        )
        .file(
            "/etc/systemd/resolved.conf",
            "[Resolve]\n#DNS=\nFallbackDNS=9.9.9.9\n",
        )
        .enable("systemd-networkd.service", "multi-user.target")
        .enable("systemd-resolved.service", "multi-user.target");
    let (s, w) = t.inspect();
    assert_eq!(
        warning_texts(&w),
        ["network: /etc/resolv.conf: a link to ../run/systemd/resolve/stub-resolv.conf, which is not in the image (written at run time)"]
    );
    assert_eq!(s.hostname.as_deref(), Some("web01"));
    assert_eq!(s.fqdn.as_deref(), Some("web01.corp.example"));
    assert_eq!(s.domain.as_deref(), Some("corp.example"));
    assert_eq!(s.name_sources, ["/etc/hosts line 2"]);
    assert_eq!(s.likely_active, [System::Netplan, System::SystemdNetworkd]);
    assert_eq!(s.interfaces.len(), 4);
    assert!(s
        .interfaces
        .iter()
        .all(|i| i.source.system == Some(System::Netplan)));
    let bond = named(&s, "bond0");
    assert_eq!(bond.kind, Some(InterfaceKind::Bond));
    assert_eq!(bond.members, ["eno1", "eno2"]);
    assert_eq!(bond.ipv4.addresses, ["10.20.0.5/24"]);
    assert_eq!(bond.ipv4.gateway.as_deref(), Some("10.20.0.1"));
    assert_eq!(bond.dns_servers, ["10.20.0.53", "10.20.0.54"]);
    assert_eq!(bond.dns_search, ["corp.example"]);
    assert_eq!(bond.source.path, "/etc/netplan/50-cloud-init.yaml");
    assert_eq!(bond.source.also_in, ["/etc/netplan/90-dns.yaml"]);
    let eno1 = named(&s, "eno1");
    assert_eq!(eno1.mac_address.as_deref(), Some("52:54:00:aa:00:01"));
    assert_eq!(eno1.master.as_deref(), Some("bond0"));
    let vlan = named(&s, "bond0.30");
    assert_eq!(vlan.kind, Some(InterfaceKind::Vlan));
    assert_eq!(vlan.vlan_parent.as_deref(), Some("bond0"));
    assert_eq!(vlan.vlan_id, Some(30));
    let rc = s.dns.resolv_conf.as_ref().unwrap();
    assert_eq!(
        rc.symlink_target.as_deref(),
        Some("../run/systemd/resolve/stub-resolv.conf")
    );
    assert_eq!(rc.managed_by.as_deref(), Some("systemd-resolved-stub"));
    assert!(!rc.readable);
    let resolved = s.dns.resolved.as_ref().unwrap();
    assert_eq!(resolved.fallback_dns, ["9.9.9.9"]);
    assert!(resolved.dns.is_empty());
    let netplan = s
        .systems
        .iter()
        .find(|x| x.system == Some(System::Netplan))
        .unwrap();
    assert_eq!(
        netplan.config_files,
        [
            "/etc/netplan/50-cloud-init.yaml",
            "/etc/netplan/90-dns.yaml"
        ]
    );
}

#[test]
fn rhel9_keyfile_and_legacy_ifcfg() {
    let t = Tree::new();
    t.file(
        "/etc/NetworkManager/system-connections/ens3.nmconnection",
        "[connection]\nid=ens3\nuuid=0b7e6f3a-1d2c-4e5f-8a9b-0c1d2e3f4a5b\ntype=ethernet\ninterface-name=ens3\n\n[ethernet]\nmac-address=52:54:00:00:00:03\n\n[ipv4]\nmethod=manual\naddress1=198.51.100.7/24,198.51.100.1\ndns=198.51.100.53;\ndns-search=lab.example;\n\n[ipv6]\nmethod=disabled\n",
    )
    // Same UUID in the vendor directory: hidden by /etc.
    .file(
        "/usr/lib/NetworkManager/system-connections/ens3.nmconnection",
        "[connection]\nid=vendor\nuuid=0b7e6f3a-1d2c-4e5f-8a9b-0c1d2e3f4a5b\ntype=ethernet\n[ipv4]\nmethod=auto\n",
    )
    .file(
        "/etc/NetworkManager/system-connections/ens3.nmconnection~",
        "[connection]\nid=backup\ntype=ethernet\n",
    )
    .file(
        "/etc/NetworkManager/NetworkManager.conf",
        "[main]\nplugins=keyfile,ifcfg-rh\n",
    )
    .file(
        "/usr/lib/NetworkManager/conf.d/00-server.conf",
        "[main]\nno-auto-default=*\n",
    )
    .file(
        "/etc/NetworkManager/conf.d/90-dns.conf",
        "[main]\ndns=none\nrc-manager=unmanaged\n",
    )
    .file(
        "/etc/sysconfig/network-scripts/ifcfg-eth1",
        "# legacy\nTYPE=Ethernet\nBOOTPROTO=none\nNAME=eth1\nDEVICE=eth1\nONBOOT=yes\nIPADDR=203.0.113.9\nNETMASK=255.255.255.128\nIPADDR1=203.0.113.10\nPREFIX1=25\nDNS1=203.0.113.53\nDNS2=203.0.113.54\nDOMAIN=\"a.example b.example\"\nHWADDR=52:54:00:00:00:11\nMTU=1450\nIPV6INIT=no\nthis is not an assignment\n",
    )
    .file(
        "/etc/sysconfig/network-scripts/route-eth1",
        "default via 203.0.113.1 dev eth1\n10.9.0.0/16 via 203.0.113.126 metric 20\n",
    )
    .file(
        "/etc/sysconfig/network-scripts/ifcfg-eth1.bak",
        "DEVICE=old\n",
    )
    .file(
        "/etc/sysconfig/network",
        "NETWORKING=yes\nHOSTNAME=db01.lab.example\nGATEWAY=203.0.113.1\n",
    )
    .file("/etc/resolv.conf", "# Generated by NetworkManager\nsearch lab.example\nnameserver 198.51.100.53\n")
    .enable("NetworkManager.service", "multi-user.target");
    let (s, w) = t.inspect();
    assert_eq!(
        warning_texts(&w),
        [
            "network: /usr/lib/NetworkManager/system-connections/ens3.nmconnection: hidden by a profile with the same UUID in a higher-precedence directory",
            "network: /etc/sysconfig/network-scripts/ifcfg-eth1: line 17: not a KEY=value line: this is not an assignment",
        ]
    );
    assert_eq!(s.hostname.as_deref(), Some("db01.lab.example"));
    assert_eq!(s.fqdn.as_deref(), Some("db01.lab.example"));
    assert_eq!(s.domain.as_deref(), Some("lab.example"));
    assert_eq!(s.likely_active, [System::NetworkManager, System::Ifcfg]);
    assert_eq!(s.interfaces.len(), 2);
    let ens3 = named(&s, "ens3");
    assert_eq!(ens3.source.system, Some(System::NetworkManager));
    assert_eq!(ens3.id.as_deref(), Some("ens3"));
    assert_eq!(ens3.ipv4.method, Some(Method::Static));
    assert_eq!(ens3.ipv4.addresses, ["198.51.100.7/24"]);
    assert_eq!(ens3.ipv4.gateway.as_deref(), Some("198.51.100.1"));
    assert_eq!(ens3.ipv6.method, Some(Method::Disabled));
    assert_eq!(ens3.dns_servers, ["198.51.100.53"]);
    assert_eq!(ens3.mac_address.as_deref(), Some("52:54:00:00:00:03"));
    let eth1 = named(&s, "eth1");
    assert_eq!(eth1.source.system, Some(System::Ifcfg));
    assert_eq!(eth1.kind, Some(InterfaceKind::Ethernet));
    assert_eq!(eth1.ipv4.method, Some(Method::Static));
    assert_eq!(eth1.ipv4.addresses, ["203.0.113.9/25", "203.0.113.10/25"]);
    assert_eq!(eth1.ipv4.gateway.as_deref(), Some("203.0.113.1"));
    assert_eq!(eth1.ipv6.method, Some(Method::Disabled));
    assert_eq!(eth1.dns_servers, ["203.0.113.53", "203.0.113.54"]);
    assert_eq!(eth1.dns_search, ["a.example", "b.example"]);
    assert_eq!(eth1.mac_address.as_deref(), Some("52:54:00:00:00:11"));
    assert_eq!(eth1.mtu, Some(1450));
    assert_eq!(eth1.start_mode, Some(StartMode::Auto));
    assert_eq!(
        eth1.routes,
        [Route {
            to: "10.9.0.0/16".into(),
            via: Some("203.0.113.126".into()),
            metric: Some(20)
        }]
    );
    assert_eq!(
        eth1.source.also_in,
        ["/etc/sysconfig/network-scripts/route-eth1"]
    );
    assert_eq!(s.routes.len(), 1);
    assert_eq!(s.routes[0].via.as_deref(), Some("203.0.113.1"));
    assert_eq!(s.routes[0].source.line, Some(3));
    assert_eq!(s.dns.network_manager_dns.as_deref(), Some("none"));
    assert_eq!(
        s.dns.network_manager_rc_manager.as_deref(),
        Some("unmanaged")
    );
    assert_eq!(
        s.dns.network_manager_conf_files,
        [
            "/etc/NetworkManager/NetworkManager.conf",
            "/usr/lib/NetworkManager/conf.d/00-server.conf",
            "/etc/NetworkManager/conf.d/90-dns.conf"
        ]
    );
    let rc = s.dns.resolv_conf.as_ref().unwrap();
    assert_eq!(rc.managed_by.as_deref(), Some("network-manager"));
    assert_eq!(rc.nameservers, ["198.51.100.53"]);
}

#[test]
fn suse_ifcfg_routes_and_wicked() {
    let t = Tree::new();
    t.file("/etc/HOSTNAME", "sles15\n")
        .file(
            "/etc/sysconfig/network/ifcfg-eth0",
            "BOOTPROTO='static'\nSTARTMODE='auto'\nIPADDR='192.168.50.20/24'\nIPADDR_v6='2001:db8:50::20/64'\nLLADDR='52:54:00:50:00:20'\nMTU=''\n",
        )
        .file(
            "/etc/sysconfig/network/ifcfg-eth1",
            "BOOTPROTO='dhcp'\nSTARTMODE='hotplug'\n",
        )
        .file(
            "/etc/sysconfig/network/ifcfg-bond0",
            "BOOTPROTO='none'\nSTARTMODE='auto'\nBONDING_MASTER='yes'\nBONDING_SLAVE_0='eth2'\nBONDING_SLAVE_1='eth3'\nBONDING_MODULE_OPTS='mode=active-backup miimon=100'\n",
        )
        .file(
            "/etc/sysconfig/network/ifcfg-lo",
            "IPADDR=127.0.0.1\nNETMASK=255.0.0.0\nSTARTMODE=nfsroot\nBOOTPROTO=static\n",
        )
        .file(
            "/etc/sysconfig/network/routes",
            "# destination gateway netmask interface\ndefault 192.168.50.1 - -\n10.50.0.0 192.168.50.254 255.255.0.0 eth0\nnonsense 1 2 3\n",
        )
        .file("/etc/sysconfig/network/config", "NETCONFIG_DNS_POLICY='auto'\n")
        .file(
            "/etc/wicked/ifconfig/vlan.xml",
            "<interface>\n  <name>eth0.42</name>\n  <control><mode>boot</mode></control>\n  <vlan><device>eth0</device><tag>42</tag></vlan>\n  <ipv4:static><address><local>10.42.0.2/24</local></address></ipv4:static>\n</interface>\n",
        )
        .file("/usr/lib/systemd/system/wicked.service", "[Unit]\n")
        .link(
            "/etc/systemd/system/network.service",
            "/usr/lib/systemd/system/wicked.service",
        )
        .enable("wicked.service", "multi-user.target");
    let (s, w) = t.inspect();
    assert_eq!(
        warning_texts(&w),
        ["network: /etc/sysconfig/network/routes: line 4: destination nonsense is not an address"]
    );
    assert_eq!(s.hostname.as_deref(), Some("sles15"));
    assert_eq!(s.likely_active, [System::Ifcfg, System::Wicked]);
    let wicked = s
        .systems
        .iter()
        .find(|x| x.system == Some(System::Wicked))
        .unwrap();
    let svc = wicked.service.as_ref().unwrap();
    assert!(svc.enabled);
    assert!(svc.evidence.iter().any(|e| e
        == "alias /etc/systemd/system/network.service -> /usr/lib/systemd/system/wicked.service"));
    let ifcfg = s
        .systems
        .iter()
        .find(|x| x.system == Some(System::Ifcfg))
        .unwrap();
    // network.service is wicked's alias here, not the legacy service.
    assert_eq!(ifcfg.service, None);
    assert_eq!(
        ifcfg.evidence,
        ["SUSE ifcfg files, read by wicked (enabled)"]
    );
    let eth0 = named(&s, "eth0");
    assert_eq!(eth0.ipv4.method, Some(Method::Static));
    assert_eq!(eth0.ipv4.addresses, ["192.168.50.20/24"]);
    assert_eq!(eth0.ipv6.addresses, ["2001:db8:50::20/64"]);
    assert_eq!(eth0.ipv6.method, Some(Method::Static));
    assert_eq!(eth0.mac_address.as_deref(), Some("52:54:00:50:00:20"));
    assert_eq!(eth0.mtu, None);
    assert_eq!(eth0.start_mode, Some(StartMode::Auto));
    let eth1 = named(&s, "eth1");
    assert_eq!(eth1.ipv4.method, Some(Method::Dhcp));
    assert_eq!(eth1.ipv6.method, Some(Method::Dhcp));
    assert_eq!(eth1.start_mode, Some(StartMode::Hotplug));
    let bond = named(&s, "bond0");
    assert_eq!(bond.kind, Some(InterfaceKind::Bond));
    assert_eq!(bond.members, ["eth2", "eth3"]);
    assert_eq!(bond.ipv4.method, Some(Method::Manual));
    let lo = named(&s, "lo");
    assert_eq!(lo.kind, Some(InterfaceKind::Loopback));
    assert_eq!(lo.ipv4.addresses, ["127.0.0.1/8"]);
    assert_eq!(lo.start_mode, Some(StartMode::Other("nfsroot".into())));
    assert_eq!(s.routes.len(), 2);
    assert_eq!(s.routes[0].to, "default");
    assert_eq!(s.routes[0].via.as_deref(), Some("192.168.50.1"));
    assert_eq!(s.routes[0].interface, None);
    assert_eq!(s.routes[1].to, "10.50.0.0/16");
    assert_eq!(s.routes[1].interface.as_deref(), Some("eth0"));
    let vlan = named(&s, "eth0.42");
    assert_eq!(vlan.source.system, Some(System::Wicked));
    assert_eq!(vlan.source.line, Some(1));
    assert_eq!(vlan.kind, Some(InterfaceKind::Vlan));
    assert_eq!(vlan.vlan_parent.as_deref(), Some("eth0"));
    assert_eq!(vlan.vlan_id, Some(42));
    assert_eq!(vlan.ipv4.addresses, ["10.42.0.2/24"]);
}

/// A Debian ifupdown tree with `source-directory`, `source` globs, an
/// include loop and a bad line.
fn debian_includes_tree() -> Tree {
    let t = Tree::new();
    t.file(
        "/etc/network/interfaces",
        "# main\nsource-directory interfaces.d\nsource /etc/network/extra/*.cfg\n\nauto lo\niface lo inet loopback\n",
    )
    .file(
        "/etc/network/interfaces.d/eth1",
        "auto eth1\niface eth1 inet static\n    address 10.1.1.5\n    netmask 255.255.255.0\n    gateway 10.1.1.1\n    dns-nameservers 10.1.1.53 10.1.1.54\n    dns-search example.net\n\niface eth1 inet6 auto\n",
    )
    // run-parts names only: a dot keeps this file out.
    .file(
        "/etc/network/interfaces.d/eth9.disabled",
        "auto eth9\niface eth9 inet dhcp\n",
    )
    .file(
        "/etc/network/extra/br.cfg",
        "auto br0\niface br0 inet dhcp\n    bridge_ports eth2 eth3\n    bridge_stp off\n    hwaddress ether 52:54:00:bb:00:01\n",
    )
    .file(
        "/etc/network/extra/loop.cfg",
        "source loop.cfg\nallow-hotplug eth4\niface eth4 inet dhcp\n",
    )
    .file("/etc/network/extra/zz-bad.cfg", "    mtu 1500\n");
    t
}

#[test]
fn debian_ifupdown_with_includes() {
    let t = debian_includes_tree();
    let (s, w) = t.inspect();
    assert_eq!(
        warning_texts(&w),
        [
            "network: /etc/network/extra/loop.cfg: sourced again (an include loop or a repeated include): skipped",
            "network: /etc/network/extra/zz-bad.cfg: line 1: an option outside any iface stanza: mtu 1500",
        ]
    );
    let names: Vec<&str> = s
        .interfaces
        .iter()
        .filter_map(|i| i.name.as_deref())
        .collect();
    assert_eq!(names, ["eth1", "br0", "eth4", "lo"]);
    let eth1 = named(&s, "eth1");
    assert_eq!(eth1.source.path, "/etc/network/interfaces.d/eth1");
    assert_eq!(eth1.source.line, Some(2));
    assert_eq!(eth1.ipv4.addresses, ["10.1.1.5/24"]);
    assert_eq!(eth1.ipv6.method, Some(Method::Auto));
    assert_eq!(eth1.dns_servers, ["10.1.1.53", "10.1.1.54"]);
    assert_eq!(eth1.dns_search, ["example.net"]);
    let br0 = named(&s, "br0");
    assert_eq!(br0.kind, Some(InterfaceKind::Bridge));
    assert_eq!(br0.members, ["eth2", "eth3"]);
    assert_eq!(br0.mac_address.as_deref(), Some("52:54:00:bb:00:01"));
    assert!(br0
        .options
        .contains(&("bridge_stp".to_string(), "off".to_string())));
    assert_eq!(named(&s, "eth4").start_mode, Some(StartMode::Hotplug));
    // No systemd here: the configuration alone is the evidence.
    assert_eq!(s.likely_active, [System::Ifupdown]);
    let sys = &s.systems[0];
    assert_eq!(
        sys.config_files,
        [
            "/etc/network/interfaces",
            "/etc/network/interfaces.d/eth1",
            "/etc/network/extra/br.cfg",
            "/etc/network/extra/loop.cfg",
            "/etc/network/extra/zz-bad.cfg"
        ]
    );
}

/// ifupdown's own reading of the same tree (the Debian guest's
/// `ifquery`, run on the host against the tree's files) agrees.
#[test]
fn debian_includes_agree_with_ifquery() {
    let Some(ifquery) = guest_ifquery() else {
        return;
    };
    let t = debian_includes_tree();
    // ifquery refuses the loop file; a copy without it is compared.
    std::fs::remove_file(t.host("/etc/network/extra/loop.cfg")).unwrap();
    std::fs::remove_file(t.host("/etc/network/extra/zz-bad.cfg")).unwrap();
    // On the host an absolute guest path would leave the tree: the
    // compared copy sources the same files relatively.
    t.file(
        "/etc/network/interfaces",
        "# main\nsource-directory interfaces.d\nsource extra/*.cfg\n\nauto lo\niface lo inet loopback\n",
    );
    let (s, w) = t.inspect();
    assert!(w.is_empty(), "{w:?}");
    compare_with_ifquery(&ifquery, &t.host("/etc/network/interfaces"), &s);
}

#[test]
fn networkd_match_mac_precedence_and_netdev() {
    let t = Tree::new();
    t.file(
        "/etc/systemd/network/10-uplink.network",
        "[Match]\nMACAddress=52:54:00:cc:00:01\n\n[Network]\nAddress=192.0.2.50/24\nGateway=192.0.2.1\nDNS=192.0.2.53\nDomains=example.com\n",
    )
    .file(
        "/etc/systemd/network/10-uplink.network.d/mtu.conf",
        "[Link]\nMTUBytes=1400\n",
    )
    // Shadowed by /etc's file of the same name.
    .file(
        "/usr/lib/systemd/network/10-uplink.network",
        "[Match]\nName=*\n[Network]\nDHCP=yes\n",
    )
    // Masked.
    .link("/etc/systemd/network/80-wifi.network", "/dev/null")
    .file(
        "/usr/lib/systemd/network/80-wifi.network",
        "[Match]\nType=wlan\n[Network]\nDHCP=yes\n",
    )
    .file(
        "/usr/lib/systemd/network/90-vendor.network",
        "[Match]\nName=ens*\n[Network]\nDHCP=ipv4\n",
    )
    .file(
        "/etc/systemd/network/20-bond.netdev",
        "[NetDev]\nName=bond1\nKind=bond\n",
    )
    .file(
        "/etc/systemd/network/20-bond.network",
        "[Match]\nName=bond1\n[Network]\nDHCP=yes\n",
    )
    .file("/etc/systemd/system/default.target.wants/.keep", "")
    .file(
        "/etc/systemd/network/30-slaves.network",
        "[Match]\nName=eth5\n[Network]\nBond=bond1\n[Link]\nMTUBytes=jumbo\n",
    );
    // Not enabled: vendor files are left out.
    let (s, w) = t.inspect();
    assert_eq!(
        warning_texts(&w),
        ["network: /etc/systemd/network/30-slaves.network: line 6: MTUBytes=jumbo is not a number"]
    );
    assert_eq!(s.interfaces.len(), 3);
    assert_eq!(s.likely_active, Vec::<System>::new());
    let up = &s.interfaces[0];
    assert_eq!(up.source.path, "/etc/systemd/network/10-uplink.network");
    assert_eq!(up.name, None);
    assert_eq!(up.match_rules, ["MACAddress=52:54:00:cc:00:01"]);
    assert_eq!(up.mac_address.as_deref(), Some("52:54:00:cc:00:01"));
    assert_eq!(up.mtu, Some(1400));
    assert_eq!(up.ipv4.addresses, ["192.0.2.50/24"]);
    assert_eq!(up.ipv4.gateway.as_deref(), Some("192.0.2.1"));
    let bond = named(&s, "bond1");
    assert_eq!(bond.kind, Some(InterfaceKind::Bond));
    assert_eq!(bond.members, ["eth5"]);
    assert_eq!(bond.source.also_in, ["/etc/systemd/network/20-bond.netdev"]);
    assert_eq!(named(&s, "eth5").master.as_deref(), Some("bond1"));

    // Enabled: vendor files count, still behind /etc's names and masks.
    t.enable("systemd-networkd.service", "multi-user.target");
    let (s, _) = t.inspect();
    assert_eq!(s.likely_active, [System::SystemdNetworkd]);
    let paths: Vec<&str> = s
        .interfaces
        .iter()
        .map(|i| i.source.path.as_str())
        .collect();
    assert_eq!(
        paths,
        [
            "/etc/systemd/network/10-uplink.network",
            "/etc/systemd/network/20-bond.network",
            "/etc/systemd/network/30-slaves.network",
            "/usr/lib/systemd/network/90-vendor.network"
        ]
    );
}

#[test]
fn hosts_and_resolv_conf_warnings_name_lines() {
    let t = Tree::new();
    t.file("/etc/hostname", "box\n")
        .file(
            "/etc/hosts",
            "127.0.0.1 localhost\nbad-address box\n127.0.1.1 box.home.arpa box\n",
        )
        .file(
            "/etc/resolv.conf",
            "nameserver 10.0.0.1\nnameserver not-an-ip\ndomain home.arpa\nbogus\n",
        );
    let (s, w) = t.inspect();
    assert_eq!(
        warning_texts(&w),
        [
            "network: /etc/resolv.conf: line 2: nameserver not-an-ip is not an IP address",
            "network: /etc/resolv.conf: line 4: unknown keyword bogus",
            "network: /etc/hosts: line 2: bad-address is not an IP address",
        ]
    );
    assert_eq!(s.hosts.len(), 2);
    assert_eq!(s.hosts[1].line, 3);
    assert_eq!(s.fqdn.as_deref(), Some("box.home.arpa"));
    assert_eq!(s.domain.as_deref(), Some("home.arpa"));
    let rc = s.dns.resolv_conf.as_ref().unwrap();
    assert_eq!(rc.nameservers, ["10.0.0.1"]);
    assert_eq!(rc.search, ["home.arpa"]);
    assert!(s.interfaces.is_empty());
    assert!(s.systems.is_empty());
}

/// The Debian guest's `ifquery`, when the fixture is built and the
/// binary runs on this host.
fn guest_ifquery() -> Option<std::path::PathBuf> {
    let root = guestkit_fixtures::debian::debian_tree().expect("Debian guest fixture");
    let bin = root.join("usr/sbin/ifquery");
    let ok = Command::new(&bin)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(ok, "the guest's ifquery does not run on this host");
    Some(bin)
}

fn ifquery(bin: &Path, file: &Path, args: &[&str]) -> String {
    let state = tempfile::tempdir().unwrap();
    let out = Command::new(bin)
        .arg("-i")
        .arg(file)
        .arg(format!("--state-dir={}", state.path().display()))
        .args(args)
        .output()
        .expect("running ifquery");
    assert!(out.status.success(), "ifquery {args:?}: {out:?}");
    String::from_utf8(out.stdout).unwrap()
}

/// Every interface ifquery knows is reported with the same IPv4
/// address, prefix, gateway, DNS servers and start mode.
fn compare_with_ifquery(bin: &Path, file: &Path, s: &NetworkSection) {
    let auto: Vec<String> = ifquery(bin, file, &["--list", "-a"])
        .lines()
        .map(str::to_string)
        .collect();
    let hotplug: Vec<String> = ifquery(bin, file, &["--list", "--allow=hotplug"])
        .lines()
        .map(str::to_string)
        .collect();
    for i in s
        .interfaces
        .iter()
        .filter(|i| i.source.system == Some(System::Ifupdown))
    {
        let name = i.name.as_deref().unwrap();
        let mode = if auto.iter().any(|a| a == name) {
            StartMode::Auto
        } else if hotplug.iter().any(|a| a == name) {
            StartMode::Hotplug
        } else {
            StartMode::Manual
        };
        assert_eq!(i.start_mode.as_ref(), Some(&mode), "{name}");
        let opts = ifquery(bin, file, &[name]);
        let get = |k: &str| {
            opts.lines()
                .find_map(|l| l.strip_prefix(&format!("{k}: ")))
                .map(str::to_string)
        };
        if let Some(addr) = get("address") {
            let prefix = get("netmask")
                .map(|m| {
                    m.split('.')
                        .map(|o| o.parse::<u8>().unwrap().count_ones())
                        .sum::<u32>()
                })
                .unwrap();
            assert_eq!(i.ipv4.addresses, [format!("{addr}/{prefix}")], "{name}");
        } else {
            assert!(i.ipv4.addresses.is_empty(), "{name}");
        }
        assert_eq!(i.ipv4.gateway, get("gateway"), "{name}");
        let dns: Vec<String> = get("dns-nameservers")
            .map(|d| d.split_whitespace().map(str::to_string).collect())
            .unwrap_or_default();
        assert_eq!(i.dns_servers, dns, "{name}");
    }
    let mut ours: Vec<&str> = s
        .interfaces
        .iter()
        .filter(|i| matches!(i.start_mode, Some(StartMode::Auto | StartMode::Hotplug)))
        .filter_map(|i| i.name.as_deref())
        .collect();
    let mut theirs: Vec<&str> = auto
        .iter()
        .chain(hotplug.iter())
        .map(String::as_str)
        .collect();
    ours.sort();
    theirs.sort();
    theirs.dedup();
    assert_eq!(ours, theirs);
}

#[test]
fn debian_guest() {
    let root = guestkit_fixtures::debian::debian_tree().expect("Debian guest fixture");
    let (s, w) = inspect_dir(&root);
    let ours: Vec<&Warning> = w.iter().filter(|w| w.section == "network").collect();
    assert!(ours.is_empty(), "{ours:?}");
    assert_eq!(s.hostname.as_deref(), Some("debian-guest"));
    assert_eq!(s.fqdn.as_deref(), Some("debian-guest.example.org"));
    assert_eq!(s.domain.as_deref(), Some("example.org"));
    assert_eq!(s.name_sources, ["/etc/hosts line 2"]);
    let names: Vec<&str> = s
        .interfaces
        .iter()
        .filter_map(|i| i.name.as_deref())
        .collect();
    assert_eq!(names, ["lo", "ens3", "ens4"]);
    let lo = named(&s, "lo");
    assert_eq!(lo.kind, Some(InterfaceKind::Loopback));
    assert_eq!(lo.ipv4.method, Some(Method::Loopback));
    assert_eq!(lo.start_mode, Some(StartMode::Auto));
    let ens3 = named(&s, "ens3");
    assert_eq!(ens3.ipv4.method, Some(Method::Static));
    assert_eq!(ens3.ipv4.addresses, ["192.0.2.10/24"]);
    assert_eq!(ens3.ipv4.gateway.as_deref(), Some("192.0.2.1"));
    assert_eq!(ens3.dns_servers, ["192.0.2.53"]);
    assert_eq!(ens3.start_mode, Some(StartMode::Auto));
    assert_eq!(ens3.source.path, "/etc/network/interfaces");
    assert_eq!(ens3.source.line, Some(6));
    let ens4 = named(&s, "ens4");
    assert_eq!(ens4.ipv4.method, Some(Method::Dhcp));
    assert_eq!(ens4.start_mode, Some(StartMode::Hotplug));
    let rc = s.dns.resolv_conf.as_ref().unwrap();
    assert_eq!(rc.nameservers, ["192.0.2.53"]);
    assert_eq!(rc.search, ["example.org"]);
    assert_eq!(rc.symlink_target, None);
    assert_eq!(s.hosts.len(), 3);
    let h = s.hosts.iter().find(|h| h.address == "192.0.2.10").unwrap();
    assert_eq!(h.names, ["debian-guest.example.org", "debian-guest"]);
    assert_eq!(h.line, 2);
    // ifupdown is enabled; networkd is installed (systemd ships it) but
    // not enabled, so its vendor example files are not interfaces.
    assert_eq!(s.likely_active, [System::Ifupdown]);
    let ifupdown = &s.systems[0];
    assert_eq!(ifupdown.system, Some(System::Ifupdown));
    let svc = ifupdown.service.as_ref().unwrap();
    assert!(svc.enabled && svc.installed && !svc.masked);
    assert!(svc.evidence.contains(
        &"enabled by /etc/systemd/system/multi-user.target.wants/networking.service".to_string()
    ));
    let networkd = s
        .systems
        .iter()
        .find(|x| x.system == Some(System::SystemdNetworkd))
        .unwrap();
    assert!(!networkd.likely_active);
    assert!(networkd
        .service
        .as_ref()
        .is_some_and(|v| v.installed && !v.enabled));
    // The serialised shape, as reports carry it.
    let json = serde_json::to_value(&s).unwrap();
    assert_eq!(json["likely_active"][0], "ifupdown");
    assert_eq!(json["interfaces"][1]["ipv4"]["method"], "static");
    assert_eq!(json["interfaces"][1]["source"]["system"], "ifupdown");
    assert_eq!(json["interfaces"][2]["start_mode"], "hotplug");
    assert_eq!(json["dns"]["resolv_conf"]["nameservers"][0], "192.0.2.53");
    // The guest's own ifupdown reads its interfaces file the same way.
    let bin = guest_ifquery().unwrap();
    compare_with_ifquery(&bin, &root.join("etc/network/interfaces"), &s);
    // And resolv.conf and hosts say what the test reads from them itself.
    let hosts = std::fs::read_to_string(root.join("etc/hosts")).unwrap();
    let line2 = hosts.lines().nth(1).unwrap();
    assert_eq!(
        line2.split_whitespace().collect::<Vec<_>>(),
        ["192.0.2.10", "debian-guest.example.org", "debian-guest"]
    );
}

#[test]
fn masked_service_is_not_active() {
    let t = Tree::new();
    t.file(
        "/etc/NetworkManager/system-connections/a.nmconnection",
        "[connection]\nid=a\ntype=ethernet\n[ipv4]\nmethod=auto\n",
    )
    .file("/usr/lib/systemd/system/NetworkManager.service", "[Unit]\n")
    .link("/etc/systemd/system/NetworkManager.service", "/dev/null")
    .link(
        "/etc/systemd/system/multi-user.target.wants/NetworkManager.service",
        "/usr/lib/systemd/system/NetworkManager.service",
    );
    let (s, w) = t.inspect();
    assert!(w.is_empty(), "{w:?}");
    assert!(s.likely_active.is_empty());
    let nm = &s.systems[0];
    assert_eq!(nm.system, Some(System::NetworkManager));
    let svc = nm.service.as_ref().unwrap();
    assert!(svc.masked && !svc.enabled);
    assert_eq!(nm.evidence, ["NetworkManager.service is masked"]);
    let a = &s.interfaces[0];
    assert_eq!(a.name, None);
    assert_eq!(a.id.as_deref(), Some("a"));
    assert_eq!(a.ipv4.method, Some(Method::Dhcp));
}

/// A long interfaces file (20 000 stanzas) is read in one pass per
/// stanza, not compared pairwise: this finishes, and keeps every stanza.
#[test]
fn long_interfaces_file() {
    let mut text = String::new();
    for n in 0..20_000 {
        text.push_str(&format!("auto e{n}\niface e{n} inet dhcp\n"));
    }
    let t = Tree::new();
    t.file("/etc/network/interfaces", &text);
    let (s, w) = t.inspect();
    assert!(w.is_empty());
    assert_eq!(s.interfaces.len(), 20_000);
    assert!(s
        .interfaces
        .iter()
        .all(|i| i.start_mode == Some(StartMode::Auto)));
}
