//! `guestctl inspect`: what is inside a VM (or an unpacked root directory),
//! as JSON, YAML, virt-inspector XML, or a one-screen table for people.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use clap::{Args, ValueEnum};
use guestkit_fs::hostdir::HostDirFs;
use guestkit_fs::{FsLimits, GuestTree};
use guestkit_inspect::{inspect, inspect_guest, InspectOptions, Report, Section};

use crate::guest_cmds::guest;
use crate::ImageArgs;

/// Output formats of `inspect`.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum OutputFormat {
    Json,
    Yaml,
    Table,
    Xml,
}

/// `guestctl inspect` arguments.
#[derive(Debug, Args)]
pub struct InspectArgs {
    /// The VM's disk images, in order; or one directory holding an
    /// unpacked root filesystem.
    #[arg(required = true)]
    pub images: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    pub format: OutputFormat,
    /// Optional sections to include, comma-separated (default: all):
    /// packages, services, users, network, security, kernels, storage, databases,
    /// system.
    #[arg(long, value_delimiter = ',')]
    pub sections: Option<Vec<String>>,
    /// Also walk every file (bounded) for setuid/setgid, world-writable and
    /// unowned files.
    #[arg(long)]
    pub deep_scan: bool,
    #[command(flatten)]
    pub image: ImageArgs,
}

fn options(args: &InspectArgs) -> Result<InspectOptions> {
    let Some(names) = &args.sections else {
        return Ok(InspectOptions {
            deep_scan: args.deep_scan,
            ..InspectOptions::default()
        });
    };
    let mut sections = Vec::new();
    for name in names.iter().filter(|n| !n.is_empty()) {
        match Section::from_name(name) {
            Some(s) => sections.push(s),
            None => {
                let known: Vec<&str> = Section::ALL.iter().map(|s| s.name()).collect();
                bail!("unknown section {name:?} (known: {})", known.join(", "))
            }
        }
    }
    Ok(InspectOptions {
        sections,
        deep_scan: args.deep_scan,
        ..InspectOptions::default()
    })
}

/// Runs `guestctl inspect`.
pub fn run(args: &InspectArgs) -> Result<()> {
    let options = options(args)?;
    let report = match args.images.as_slice() {
        [dir] if dir.is_dir() => {
            let fs = HostDirFs::open(dir, FsLimits::default())
                .with_context(|| format!("{}", dir.display()))?;
            let tree = GuestTree::new(Arc::new(fs), dir.display().to_string(), FsLimits::default());
            inspect(&tree, &dir.display().to_string(), &options)
        }
        images => inspect_guest(&guest(images, &args.image)?, &options),
    };
    let mut out = std::io::stdout().lock();
    match args.format {
        OutputFormat::Json => {
            serde_json::to_writer_pretty(&mut out, &report)?;
            writeln!(out)?;
        }
        OutputFormat::Yaml => serde_yaml_ng::to_writer(&mut out, &report)?,
        OutputFormat::Xml => out.write_all(guestkit_inspect::xml::to_xml(&report).as_bytes())?,
        OutputFormat::Table => table(&mut out, &report)?,
    }
    if !matches!(args.format, OutputFormat::Table) {
        for w in &report.warnings {
            eprintln!("guestctl: warning: {w}");
        }
    }
    Ok(())
}

/// One line per optional section present in `os`.
fn section_rows(os: &guestkit_inspect::OsReport) -> Vec<(&'static str, String)> {
    let mut rows = Vec::new();
    if let Some(s) = &os.services {
        let enabled = match &s.systemd {
            Some(sd) => format!(", {} units enabled", sd.enabled_units().len()),
            None => String::new(),
        };
        let windows = s
            .windows
            .as_ref()
            .map(|w| format!(", {} services and drivers", w.len()))
            .unwrap_or_default();
        rows.push(("init", format!("{}{enabled}{windows}", s.init.name)));
    }
    if let Some(k) = &os.kernels {
        if let Some(newest) = k.kernels.first() {
            rows.push((
                "kernel",
                format!("{} ({} installed)", newest.version, k.kernels.len()),
            ));
        }
    }
    if let Some(u) = &os.users {
        let admins: Vec<&str> = u
            .users
            .iter()
            .filter(|u| u.admin)
            .map(|u| u.name.as_str())
            .collect();
        let login = u.users.iter().filter(|u| u.login_shell).count();
        rows.push((
            "users",
            format!(
                "{} ({login} with a login shell; admins: {})",
                u.users.len(),
                admins.join(", ")
            ),
        ));
    }
    if let Some(net) = &os.network {
        let ifaces: Vec<String> = net
            .interfaces
            .iter()
            .filter(|i| i.kind != Some(guestkit_inspect::network::InterfaceKind::Loopback))
            .map(|i| {
                let name = i
                    .name
                    .clone()
                    .or_else(|| i.id.clone())
                    .unwrap_or_else(|| "?".into());
                let how = match (i.ipv4.addresses.first(), &i.ipv4.method) {
                    (Some(a), _) => a.clone(),
                    (None, Some(m)) => format!("{m:?}").to_lowercase(),
                    (None, None) => "-".into(),
                };
                format!("{name} {how}")
            })
            .collect();
        if !ifaces.is_empty() {
            rows.push(("network", ifaces.join(", ")));
        }
    }
    if let Some(sec) = &os.security {
        let fw: Vec<String> = sec
            .firewalls
            .iter()
            .map(|f| format!("{}{}", f.kind, if f.enabled { "" } else { " (off)" }))
            .collect();
        let mac = match (&sec.selinux.mode, sec.apparmor.enabled) {
            (Some(m), _) => format!("SELinux {m}"),
            (None, true) => format!("AppArmor ({} profiles)", sec.apparmor.profiles),
            (None, false) => "none".into(),
        };
        let fw = if fw.is_empty() {
            "none".to_string()
        } else {
            fw.join(", ")
        };
        rows.push(("security", format!("MAC {mac}; firewall {fw}")));
    }
    if let Some(dbs) = &os.databases {
        if !dbs.is_empty() {
            let list: Vec<String> = dbs
                .iter()
                .map(|d| format!("{} {}", d.kind, d.version.as_deref().unwrap_or("?")))
                .collect();
            rows.push(("databases", list.join(", ")));
        }
    }
    if let Some(sys) = &os.system {
        if let Some(tz) = &sys.timezone {
            rows.push(("timezone", tz.clone()));
        }
    }
    rows
}

/// The one-screen summary.
fn table(out: &mut impl Write, report: &Report) -> Result<()> {
    if report.operating_systems.is_empty() {
        writeln!(out, "no operating system found")?;
    }
    for os in &report.operating_systems {
        let i = &os.os;
        let version = match (i.version_major, i.version_minor) {
            (Some(a), Some(b)) => format!("{a}.{b}"),
            (Some(a), None) => a.to_string(),
            _ => "-".into(),
        };
        let rows: [(&str, String); 9] = [
            ("root", os.root.clone()),
            ("type", i.os_type.clone()),
            ("distro", i.distro.clone().unwrap_or_else(|| "-".into())),
            (
                "product",
                i.pretty_name
                    .clone()
                    .or_else(|| i.product_name.clone())
                    .unwrap_or_else(|| "-".into()),
            ),
            ("version", version),
            ("arch", i.arch.clone().unwrap_or_else(|| "-".into())),
            ("hostname", i.hostname.clone().unwrap_or_else(|| "-".into())),
            ("osinfo", i.osinfo.clone().unwrap_or_else(|| "-".into())),
            (
                "packages",
                match &os.packages {
                    Some(p) => format!("{} ({} at {})", p.count, p.database, p.path),
                    None => "-".into(),
                },
            ),
        ];
        for (k, v) in rows.into_iter().chain(section_rows(os)) {
            writeln!(out, "{k:<12}{v}")?;
        }
        for m in &os.mountpoints {
            writeln!(out, "{:<12}{} on {}", "mount", m.device, m.path)?;
        }
    }
    for w in &report.warnings {
        writeln!(out, "{:<12}{w}", "warning")?;
    }
    Ok(())
}
