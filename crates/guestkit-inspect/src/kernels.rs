//! Kernels and boot entries: the kernels installed in `/boot` and
//! `/lib/modules`, the boot loader's menu (GRUB 2's `grub.cfg`, Boot Loader
//! Specification entries, systemd-boot), which entry boots by default and
//! why, and that entry's kernel command line.

pub mod bls;
pub mod grub;

use std::collections::{BTreeMap, BTreeSet};

use crate::files::GuestFiles;
use crate::os::os_release::KeyValues;

const SECTION: &str = "kernels";

/// Most names read from `/boot` or a modules directory.
const MAX_DIR_ENTRIES: usize = 10_000;

/// Where GRUB's configuration is, by distribution habit.
const GRUB_DIRS: [&str; 2] = ["/boot/grub2", "/boot/grub"];

/// Directories of BLS entries, with the loader that reads them.
const BLS_DIRS: [&str; 3] = [
    "/boot/loader/entries",
    "/boot/efi/loader/entries",
    "/efi/loader/entries",
];

/// An installed kernel.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Kernel {
    /// `6.1.0-18-cloud-amd64`, `5.14.0-362.el9.x86_64`.
    pub version: String,
    /// The kernel image (`/boot/vmlinuz-<version>`, or
    /// `/usr/lib/modules/<version>/vmlinuz`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// The initial ramdisk, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub initrd: Option<String>,
    /// `/lib/modules/<version>` (or `/usr/lib/modules`), when present.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub modules_dir: Option<String>,
    /// `/boot/config-<version>`, when present.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub config: Option<String>,
}

/// One entry of the boot menu.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct BootEntry {
    pub title: String,
    /// GRUB `--id`, or the BLS file name without `.conf`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// GRUB's menu position (`1>2`), where GRUB shows the entry.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub position: Option<String>,
    /// Enclosing submenu titles.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub submenus: Vec<String>,
    /// Kernel path as written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kernel: Option<String>,
    /// The kernel file in the guest (the path as written, or under `/boot`
    /// for a separate boot filesystem).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kernel_path: Option<String>,
    /// Kernel version (BLS `version`, or from the image name).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub initrd: Vec<String>,
    /// The kernel command line, variables expanded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cmdline: Option<String>,
    /// `grub`, `bls` (GRUB's blscfg) or `systemd-boot`.
    pub kind: String,
    /// The file it is written in, and the line.
    pub source: String,
    pub line: usize,
}

/// The default entry and how it was chosen.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct DefaultEntry {
    /// Index into `boot_entries`.
    pub index: usize,
    pub title: String,
    /// E.g. `grub.cfg line 12: set default="${saved_entry}"; grubenv
    /// saved_entry=...`.
    pub decided_by: String,
}

/// `/etc/default/grub`, the input of `grub-mkconfig`.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct GrubDefaults {
    pub path: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grub_default: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cmdline_linux: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cmdline_linux_default: Option<String>,
}

/// The kernels section of the report.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct KernelsSection {
    /// Installed kernels, newest version first.
    pub kernels: Vec<Kernel>,
    /// `grub2` or `systemd-boot`, when a configuration was found.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bootloader: Option<String>,
    /// The loader configuration read (`/boot/grub/grub.cfg`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub config: Option<String>,
    /// `uefi` or `bios`, from what is installed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub firmware: Option<String>,
    pub firmware_evidence: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grub_defaults: Option<GrubDefaults>,
    /// The menu, in the loader's order.
    pub boot_entries: Vec<BootEntry>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_entry: Option<DefaultEntry>,
    /// The default entry's kernel command line.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_cmdline: Option<String>,
}

/// Kernel image name prefixes in `/boot`.
const IMAGE_PREFIXES: [&str; 4] = ["vmlinuz-", "vmlinux-", "kernel-", "Image-"];

/// The version in a kernel image file name (`vmlinuz-6.1.0` → `6.1.0`).
pub fn image_version(name: &str) -> Option<&str> {
    let base = name.rsplit('/').next().unwrap_or(name);
    IMAGE_PREFIXES
        .iter()
        .find_map(|p| base.strip_prefix(p))
        .filter(|v| !v.is_empty() && !v.ends_with(".hmac"))
}

/// Installed kernels from `/boot` and the modules directories.
fn kernels(files: &GuestFiles) -> Vec<Kernel> {
    let mut by_version: BTreeMap<String, Kernel> = BTreeMap::new();
    for name in files
        .list_dir(SECTION, "/boot")
        .into_iter()
        .take(MAX_DIR_ENTRIES)
    {
        let path = format!("/boot/{name}");
        if name == "Image" && files.is_file(&path) {
            // arm64 images without a version in the name.
            by_version.entry(String::new()).or_default().image = Some(path);
            continue;
        }
        let Some(version) = image_version(&name) else {
            continue;
        };
        if files.is_file(&path) {
            let k = by_version.entry(version.to_string()).or_default();
            k.image.get_or_insert(path);
        }
    }
    let mut seen = BTreeSet::new();
    for dir in ["/usr/lib/modules", "/lib/modules"] {
        match files.tree().resolve(dir.as_bytes()) {
            Ok(r) if seen.insert(r.path.clone()) => {}
            _ => continue,
        }
        for version in files
            .list_dir(SECTION, dir)
            .into_iter()
            .take(MAX_DIR_ENTRIES)
        {
            let mdir = format!("{dir}/{version}");
            if !files.is_dir(&mdir) {
                continue;
            }
            let k = by_version.entry(version.clone()).or_default();
            k.modules_dir.get_or_insert(mdir.clone());
            let image = format!("{mdir}/vmlinuz");
            if k.image.is_none() && files.is_file(&image) {
                k.image = Some(image);
            }
        }
    }
    let mut out: Vec<Kernel> = by_version
        .into_iter()
        .map(|(version, mut k)| {
            if !version.is_empty() {
                let candidates = [
                    format!("/boot/initrd.img-{version}"),
                    format!("/boot/initramfs-{version}.img"),
                    format!("/boot/initrd-{version}"),
                    format!("/boot/initramfs-{version}"),
                    format!("/boot/initrd-{version}.img"),
                ];
                k.initrd = candidates.into_iter().find(|p| files.is_file(p));
                let config = format!("/boot/config-{version}");
                k.config = files.is_file(&config).then_some(config);
            }
            k.version = version;
            k
        })
        .collect();
    out.sort_by(|a, b| bls::vercmp(&b.version, &a.version));
    out
}

/// A loader path in the guest: `(hd0,gpt2)/vmlinuz` → `/vmlinuz`, found
/// as written or under `/boot` (a separate boot filesystem).
fn guest_path(files: &GuestFiles, path: &str) -> Option<String> {
    let path = match path.strip_prefix('(') {
        Some(rest) => rest.split_once(')').map_or(path, |(_, p)| p),
        None => path,
    };
    if !path.starts_with('/') {
        return None;
    }
    [path.to_string(), format!("/boot{path}")]
        .into_iter()
        .find(|p| files.is_file(p))
}

fn firmware(files: &GuestFiles, out: &mut KernelsSection) {
    for esp in ["/boot/efi/EFI", "/efi/EFI", "/boot/EFI"] {
        let dirs = files.list_dir(SECTION, esp);
        if !dirs.is_empty() {
            out.firmware_evidence
                .push(format!("{esp}: {}", dirs.join(", ")));
        }
    }
    for dir in GRUB_DIRS {
        for platform in ["x86_64-efi", "arm64-efi", "i386-pc"] {
            let p = format!("{dir}/{platform}");
            if files.is_dir(&p) {
                out.firmware_evidence.push(format!("{p} exists"));
            }
        }
    }
    let efi = out.firmware_evidence.iter().any(|e| !e.contains("i386-pc"));
    let bios = out.firmware_evidence.iter().any(|e| e.contains("i386-pc"));
    out.firmware = match (efi, bios) {
        (true, false) => Some("uefi".into()),
        (false, true) => Some("bios".into()),
        (true, true) => Some("uefi+bios".into()),
        (false, false) => None,
    };
}

/// BLS entries of `dir`, sorted, with the file each came from.
fn bls_entries(files: &GuestFiles, dir: &str) -> Vec<(bls::BlsEntry, String)> {
    let mut out = Vec::new();
    for name in files
        .list_dir(SECTION, dir)
        .into_iter()
        .take(MAX_DIR_ENTRIES)
    {
        let Some(id) = name.strip_suffix(".conf") else {
            continue;
        };
        let path = format!("{dir}/{name}");
        let Some(text) = files.read_text(SECTION, &path) else {
            continue;
        };
        let (e, warnings) = bls::parse_entry(id, &text);
        for w in warnings {
            files.warn(SECTION, &path, w);
        }
        out.push((e, path));
    }
    let mut entries: Vec<bls::BlsEntry> = out.iter().map(|(e, _)| e.clone()).collect();
    bls::sort(&mut entries);
    entries
        .into_iter()
        .filter_map(|e| {
            let path = out.iter().find(|(o, _)| o.id == e.id)?.1.clone();
            Some((e, path))
        })
        .collect()
}

fn bls_boot_entry(
    files: &GuestFiles,
    e: &bls::BlsEntry,
    source: String,
    kind: &str,
    vars: &BTreeMap<String, String>,
) -> BootEntry {
    let initrd: Vec<String> = e
        .initrd
        .iter()
        .map(|i| bls::expand(i, vars))
        .filter(|i| !i.is_empty())
        .collect();
    BootEntry {
        title: e.title.clone().unwrap_or_else(|| e.id.clone()),
        id: Some(e.id.clone()),
        kernel: e.linux.clone(),
        kernel_path: e.linux.as_deref().and_then(|l| guest_path(files, l)),
        version: e.version.clone().or_else(|| {
            e.linux
                .as_deref()
                .and_then(image_version)
                .map(str::to_string)
        }),
        initrd,
        cmdline: e.options.as_deref().map(|o| bls::expand(o, vars)),
        kind: kind.to_string(),
        source,
        line: 1,
        ..BootEntry::default()
    }
}

/// Reads kernels and the boot configuration of the guest.
pub fn inspect(files: &GuestFiles) -> KernelsSection {
    let mut out = KernelsSection {
        kernels: kernels(files),
        ..KernelsSection::default()
    };
    firmware(files, &mut out);
    if let Some(text) = files.read_text(SECTION, "/etc/default/grub") {
        let kv = KeyValues::parse(&text);
        out.grub_defaults = Some(GrubDefaults {
            path: "/etc/default/grub".into(),
            grub_default: kv.raw("GRUB_DEFAULT").map(str::to_string),
            cmdline_linux: kv.raw("GRUB_CMDLINE_LINUX").map(str::to_string),
            cmdline_linux_default: kv.raw("GRUB_CMDLINE_LINUX_DEFAULT").map(str::to_string),
        });
    }
    if !grub_menu(files, &mut out) {
        systemd_boot_menu(files, &mut out);
    }
    out.default_cmdline = out
        .default_entry
        .as_ref()
        .and_then(|d| out.boot_entries.get(d.index))
        .and_then(|e| e.cmdline.clone());
    out
}

/// GRUB 2's menu; `false` when there is no grub.cfg.
fn grub_menu(files: &GuestFiles, out: &mut KernelsSection) -> bool {
    let Some((dir, path, text)) = GRUB_DIRS.iter().find_map(|d| {
        let p = format!("{d}/grub.cfg");
        files.read_text(SECTION, &p).map(|t| (*d, p, t))
    }) else {
        return false;
    };
    let (cfg, warnings) = grub::parse(&text);
    for w in warnings {
        files.warn(SECTION, &path, w);
    }
    let env_path = format!("{dir}/grubenv");
    let env = files
        .read_text(SECTION, &env_path)
        .map(|t| grub::parse_grubenv(&t))
        .unwrap_or_default();
    out.bootloader = Some("grub2".into());
    out.config = Some(path.clone());
    // BLS entries go where `blscfg` is, shifting later top-level items.
    let bls: Vec<(bls::BlsEntry, String)> = match cfg.blscfg_at {
        Some(_) => bls_entries(files, "/boot/loader/entries"),
        None => Vec::new(),
    };
    let at = cfg.blscfg_at.unwrap_or(usize::MAX);
    let mut items = cfg.items.clone();
    for item in &mut items {
        if let Some(first) = item.position.first_mut() {
            if *first >= at {
                *first = first.saturating_add(bls.len());
            }
        }
    }
    for (i, (e, _)) in bls.iter().enumerate() {
        items.push(grub::MenuItem {
            title: e.title.clone().unwrap_or_else(|| e.id.clone()),
            id: Some(e.id.clone()),
            position: vec![at.saturating_add(i)],
            ..grub::MenuItem::default()
        });
    }
    let position = |p: &[usize]| {
        p.iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(">")
    };
    for item in items.iter().filter(|i| !i.submenu) {
        if let Some((e, source)) = bls
            .iter()
            .find(|(e, _)| Some(&e.id) == item.id.as_ref() && item.line == 0)
        {
            let mut b = bls_boot_entry(files, e, source.clone(), "bls", &env);
            b.position = Some(position(&item.position));
            out.boot_entries.push(b);
            continue;
        }
        out.boot_entries.push(BootEntry {
            title: item.title.clone(),
            id: item.id.clone(),
            position: Some(position(&item.position)),
            submenus: item.parents.clone(),
            kernel: item.kernel.clone(),
            kernel_path: item.kernel.as_deref().and_then(|k| guest_path(files, k)),
            version: item
                .kernel
                .as_deref()
                .and_then(image_version)
                .map(str::to_string),
            initrd: item.initrd.clone(),
            cmdline: item.cmdline.clone(),
            kind: "grub".into(),
            source: path.clone(),
            line: item.line,
        });
    }
    out.boot_entries.sort_by(|a, b| {
        let key = |e: &BootEntry| -> Vec<usize> {
            e.position
                .as_deref()
                .unwrap_or("")
                .split('>')
                .filter_map(|s| s.parse().ok())
                .collect()
        };
        key(a).cmp(&key(b))
    });
    // Which entry: the effective `set default=`, `${saved_entry}` from
    // grubenv, resolved by position, title or id; GRUB falls back to 0.
    let (wanted, mut how) = match cfg.effective_default() {
        Some(d) if matches!(d.value.as_str(), "${saved_entry}" | "$saved_entry") => {
            match env.get("saved_entry").filter(|s| !s.is_empty()) {
                Some(s) => (
                    s.clone(),
                    format!(
                        "{path} line {}: set default=\"{}\"; {env_path} saved_entry={s}",
                        d.line, d.value
                    ),
                ),
                None => (
                    "0".to_string(),
                    format!(
                        "{path} line {}: set default=\"{}\", no saved_entry in {env_path}: first entry",
                        d.line, d.value
                    ),
                ),
            }
        }
        Some(d) => (
            d.value.clone(),
            format!("{path} line {}: set default=\"{}\"", d.line, d.value),
        ),
        None => (
            "0".to_string(),
            format!("{path}: no set default: first entry"),
        ),
    };
    let mut chosen = grub::resolve_default(&items, &wanted);
    if chosen.is_none() {
        files.warn(
            SECTION,
            &path,
            format!("default entry {wanted:?} is not in the menu: GRUB boots the first entry"),
        );
        how.push_str("; not in the menu, first entry");
        chosen = grub::resolve_default(&items, "0");
    }
    // A submenu as default: GRUB opens it; its first entry is what boots
    // unattended.
    let mut chosen_pos = chosen.map(|c| c.position.clone());
    if chosen.is_some_and(|c| c.submenu) {
        if let Some(p) = &mut chosen_pos {
            p.push(0);
        }
    }
    if let Some(p) = chosen_pos {
        let p = position(&p);
        if let Some(index) = out
            .boot_entries
            .iter()
            .position(|e| e.position.as_deref() == Some(p.as_str()))
        {
            out.default_entry = Some(DefaultEntry {
                index,
                title: out
                    .boot_entries
                    .get(index)
                    .map(|e| e.title.clone())
                    .unwrap_or_default(),
                decided_by: how,
            });
        }
    }
    true
}

/// systemd-boot: `loader.conf` and entries on the ESP (or `/boot`).
fn systemd_boot_menu(files: &GuestFiles, out: &mut KernelsSection) {
    let mut seen = BTreeSet::new();
    for dir in BLS_DIRS {
        match files.tree().resolve(dir.as_bytes()) {
            Ok(r) if seen.insert(r.path.clone()) => {}
            _ => continue,
        }
        let entries = bls_entries(files, dir);
        if entries.is_empty() {
            continue;
        }
        let loader_dir = dir.trim_end_matches("/entries");
        let conf_path = format!("{loader_dir}/loader.conf");
        let conf = files.read_text(SECTION, &conf_path);
        out.bootloader = Some("systemd-boot".into());
        out.config = conf.as_ref().map(|_| conf_path.clone());
        let vars = BTreeMap::new();
        let first = out.boot_entries.len();
        for (e, source) in &entries {
            out.boot_entries.push(bls_boot_entry(
                files,
                e,
                source.clone(),
                "systemd-boot",
                &vars,
            ));
        }
        let pattern = conf.as_deref().and_then(|c| {
            c.lines().find_map(|l| {
                let l = l.trim();
                let rest = l.strip_prefix("default")?;
                rest.starts_with(char::is_whitespace)
                    .then(|| rest.trim().to_string())
            })
        });
        let (index, how) = match &pattern {
            Some(p) => match entries.iter().position(|(e, _)| {
                bls::glob_match(p, &e.id) || bls::glob_match(p, &format!("{}.conf", e.id))
            }) {
                Some(i) => (i, format!("{conf_path}: default {p}")),
                None => {
                    files.warn(
                        SECTION,
                        &conf_path,
                        format!("default {p} matches no entry: the first one boots"),
                    );
                    (
                        0,
                        format!("{conf_path}: default {p} matches nothing: first entry"),
                    )
                }
            },
            None => (
                0,
                format!("{dir}: no default set: first entry in sort order"),
            ),
        };
        let index = first.saturating_add(index);
        out.default_entry = out.boot_entries.get(index).map(|e| DefaultEntry {
            index,
            title: e.title.clone(),
            decided_by: how,
        });
        return;
    }
}
