//! The network section's types: what each configuration system declares,
//! in one shape for all of them, each item naming the file (and line) it
//! came from.

use serde::Serialize;

/// Everything the guest's files say about its network.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct NetworkSection {
    /// Hostname (`/etc/hostname`, `/etc/HOSTNAME` or
    /// `/etc/sysconfig/network`), as the os section reads it.
    pub hostname: Option<String>,
    /// Fully qualified name: the hostname itself when it has a dot, else
    /// the canonical (first) name of the `/etc/hosts` line naming the
    /// hostname, as `hostname -f` would resolve it offline.
    pub fqdn: Option<String>,
    /// DNS domain: the part of the FQDN after the first dot, else
    /// resolv.conf's `domain`.
    pub domain: Option<String>,
    /// Where `fqdn` and `domain` were read (`/etc/hosts line 2` …).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub name_sources: Vec<String>,
    /// Every configuration system with files or a service in the guest,
    /// with the evidence for whether it is the one in use.
    pub systems: Vec<ConfigSystem>,
    /// Names of the systems judged likely to configure the network at boot
    /// (each one's `evidence` says why); empty when nothing says so.
    pub likely_active: Vec<System>,
    /// Interface definitions, from every system, in the order read.
    pub interfaces: Vec<Interface>,
    /// Routes declared outside any interface definition
    /// (`/etc/sysconfig/network` `GATEWAY=`, SUSE `routes`).
    pub routes: Vec<GlobalRoute>,
    /// Resolver configuration.
    pub dns: Dns,
    /// `/etc/hosts` entries, in file order.
    pub hosts: Vec<HostsEntry>,
}

/// A network configuration system.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum System {
    /// Debian's ifupdown (`/etc/network/interfaces`).
    Ifupdown,
    /// Ubuntu's netplan (`/etc/netplan/*.yaml`), rendered for networkd or
    /// NetworkManager.
    Netplan,
    /// NetworkManager keyfiles and configuration.
    NetworkManager,
    /// Red Hat and SUSE `ifcfg-*` files.
    Ifcfg,
    /// systemd-networkd (`*.network`, `*.netdev`).
    SystemdNetworkd,
    /// SUSE's wicked (its own XML; it also reads SUSE ifcfg files).
    Wicked,
}

impl System {
    /// The name used in the report.
    pub fn name(self) -> &'static str {
        match self {
            System::Ifupdown => "ifupdown",
            System::Netplan => "netplan",
            System::NetworkManager => "network-manager",
            System::Ifcfg => "ifcfg",
            System::SystemdNetworkd => "systemd-networkd",
            System::Wicked => "wicked",
        }
    }
}

/// One configuration system found in the guest.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ConfigSystem {
    pub system: Option<System>,
    /// Configuration files read for it.
    pub config_files: Vec<String>,
    /// Its service, when it has one, and the state the unit links give it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service: Option<ServiceState>,
    /// Whether it likely configures the network at boot.
    pub likely_active: bool,
    /// Why (or why not): the facts behind `likely_active`, in words.
    pub evidence: Vec<String>,
}

/// A boot service and whether the guest starts it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ServiceState {
    /// Unit or init-script name (`NetworkManager.service`, `networking`).
    pub unit: String,
    /// Whether the unit (or init script) is installed.
    pub installed: bool,
    /// Enabled: a `*.wants/` link, an alias link, an rc or runlevel link.
    pub enabled: bool,
    /// Masked (linked to `/dev/null` in `/etc/systemd/system`).
    pub masked: bool,
    /// The links and files the state was read from.
    pub evidence: Vec<String>,
}

/// Where a definition was read.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Source {
    pub system: Option<System>,
    /// Guest path of the file.
    pub path: String,
    /// 1-based line of the definition's start, where the format has lines
    /// we track (netplan's YAML has none here).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    /// Further files adding to the same definition (netplan merges, drop-ins).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub also_in: Vec<String>,
}

/// What kind of link an interface definition is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum InterfaceKind {
    Ethernet,
    Bond,
    Bridge,
    Vlan,
    Wifi,
    Loopback,
    /// Declared, but of a kind this report does not name (tun, team, …).
    Other,
}

/// How addresses of one family are obtained.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Method {
    /// Addresses listed in the configuration.
    Static,
    Dhcp,
    /// IPv6 autoconfiguration (SLAAC, router advertisements).
    Auto,
    LinkLocal,
    /// The link is brought up; addresses are left to something else.
    Manual,
    Loopback,
    /// The family is switched off.
    Disabled,
    /// NetworkManager's `shared` (connection sharing).
    Shared,
    /// Any other method, as written (`ppp`, `tunnel`, `bootp`, …).
    Other(String),
}

/// When an interface is brought up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum StartMode {
    /// At boot (`auto`, `ONBOOT=yes`, `autoconnect=true`, netplan and
    /// networkd definitions).
    Auto,
    /// When the device appears (`allow-hotplug`, `STARTMODE=hotplug`).
    Hotplug,
    /// Only by hand (no `auto` line, `ONBOOT=no`, `autoconnect=false`).
    Manual,
    /// Another mode as written (`allow-CLASS`, `STARTMODE=nfsroot`, …).
    Other(String),
}

/// The configuration of one address family.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct IpConfig {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub method: Option<Method>,
    /// Addresses as CIDR strings (`192.0.2.10/24`); an address given
    /// without any prefix is kept bare.
    pub addresses: Vec<String>,
    /// Default gateway.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gateway: Option<String>,
}

/// A route of an interface.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Route {
    /// Destination in CIDR form, or `default`.
    pub to: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub via: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metric: Option<u32>,
}

/// A route declared outside interface definitions.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct GlobalRoute {
    pub to: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub via: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interface: Option<String>,
    pub source: Source,
}

/// One interface definition (or connection profile) of one system.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Interface {
    /// Device name, when the definition names one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The definition's own name where it differs from a device name:
    /// netplan's id, NetworkManager's connection `id`, networkd's file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// How the definition selects its device when not (only) by name:
    /// `MACAddress=52:54:00:12:34:56`, `Name=en*`, `driver=virtio_net` …
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub match_rules: Vec<String>,
    pub source: Source,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<InterfaceKind>,
    pub ipv4: IpConfig,
    pub ipv6: IpConfig,
    /// DNS servers declared with the interface.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dns_servers: Vec<String>,
    /// DNS search domains declared with the interface.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dns_search: Vec<String>,
    /// MAC address the definition is tied to (matched or set): a
    /// migration moves it to a NIC with another MAC.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mac_address: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mtu: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_mode: Option<StartMode>,
    /// Bond slaves or bridge ports.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub members: Vec<String>,
    /// The bond or bridge this interface belongs to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub master: Option<String>,
    /// A VLAN's parent device.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vlan_parent: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vlan_id: Option<u32>,
    /// Non-default routes.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub routes: Vec<Route>,
    /// Every other option as written (`pre-up`, `bond-mode`, `renderer`,
    /// …), in file order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<(String, String)>,
}

/// Resolver configuration from resolv.conf, systemd-resolved and
/// NetworkManager.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Dns {
    /// `/etc/resolv.conf`, when present (as a file or a link).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolv_conf: Option<ResolvConf>,
    /// systemd-resolved's configuration, when any file of it exists.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolved: Option<ResolvedConf>,
    /// NetworkManager's `[main] dns=` mode (`default`, `dnsmasq`,
    /// `systemd-resolved`, `none`) and where it was set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub network_manager_dns: Option<String>,
    /// NetworkManager's `[main] rc-manager=`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub network_manager_rc_manager: Option<String>,
    /// NetworkManager configuration files read, in the order applied.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub network_manager_conf_files: Vec<String>,
}

/// What `/etc/resolv.conf` says.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ResolvConf {
    /// The link target when resolv.conf is a symlink, as written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub symlink_target: Option<String>,
    /// Who manages it, judged from the link target or the file's header
    /// (`systemd-resolved-stub`, `systemd-resolved`, `network-manager`,
    /// `resolvconf`, `netconfig`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub managed_by: Option<String>,
    /// Whether the contents could be read (a link into `/run` points at a
    /// file that only exists while the guest runs).
    pub readable: bool,
    pub nameservers: Vec<String>,
    /// The effective search list (the last `search` or `domain` line wins).
    pub search: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<String>,
}

/// systemd-resolved's `[Resolve]` settings after its drop-ins.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ResolvedConf {
    /// Files read, in the order applied.
    pub files: Vec<String>,
    pub dns: Vec<String>,
    pub fallback_dns: Vec<String>,
    pub domains: Vec<String>,
    /// Other `[Resolve]` keys (`DNSSEC`, `DNSOverTLS`, `DNSStubListener`…).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<(String, String)>,
}

/// One line of `/etc/hosts`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct HostsEntry {
    pub address: String,
    pub names: Vec<String>,
    pub line: usize,
}
