//! A VM's disks assembled the way the guest would mount them: volumes
//! scanned, filesystems probed, the root found, `/etc/fstab` read and its
//! entries mounted at their places.

use std::sync::Arc;

use guestkit_disk::volume::scan::{scan, Content, Volume, VolumeTree};
use guestkit_disk::{DeviceRef, Limits};
use serde::Serialize;

use crate::detect::{self, MountOptions};
use crate::error::Result;
use crate::fs::{FileSystem, FileType, FsInfo};
use crate::fstab::{self, DeviceSpec, FstabEntry};
use crate::limits::FsLimits;
use crate::tree::GuestTree;

/// Largest `/etc/fstab` read.
const MAX_FSTAB: u64 = 1 << 20;

/// A filesystem found on a volume.
#[derive(Debug, Clone, Serialize)]
pub struct FoundFs {
    /// Volume id (`disk0p2`, `vg0/root`, `md/name`).
    pub volume: String,
    pub info: FsInfo,
    /// GPT partition name / UUID, when the volume is a partition.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub partlabel: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub partuuid: Option<String>,
    /// Where fstab mounts it in the guest, if it does.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mountpoint: Option<String>,
    #[serde(skip)]
    device: DeviceRef,
    #[serde(skip)]
    driver: &'static detect::Driver,
}

/// What a volume holds, as `blkid` would say: a filesystem, or swap, LUKS,
/// an LVM PV, an md member, or nothing recognised (with its first bytes).
#[derive(Debug, Clone, Serialize)]
pub struct ProbedVolume {
    /// Volume id (`disk0p2`, `vg0/root`, `md/name`).
    pub volume: String,
    /// blkid's type name: `ext4`, `btrfs`, `swap`, `crypto_LUKS`,
    /// `LVM2_member`, `linux_raid_member`, or `unknown`.
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uuid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    pub size: u64,
    /// Guest mountpoint, for mounted filesystems.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mountpoint: Option<String>,
    /// First 16 bytes in hex, for unknown content.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub magic: Option<String>,
}

/// What became of one fstab entry.
#[derive(Debug, Clone, Serialize)]
pub struct MountReport {
    pub entry: FstabEntry,
    /// The volume it was resolved to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub volume: Option<String>,
    /// `mounted`, `skipped: <reason>`, or the error.
    pub status: String,
}

/// The assembled guest.
#[derive(Debug)]
pub struct Guest {
    pub volumes: VolumeTree,
    pub filesystems: Vec<FoundFs>,
    /// Volume ids of filesystems that look like an OS root.
    pub root_candidates: Vec<String>,
    /// The tree, when a root was found.
    pub tree: Option<GuestTree>,
    pub mounts: Vec<MountReport>,
    pub warnings: Vec<String>,
}

fn partition_uuid(volume: &Volume, tree: &VolumeTree) -> Option<String> {
    let p = volume.partition.as_ref()?;
    if let Some(u) = &p.uuid {
        return Some(u.to_ascii_lowercase());
    }
    // MBR: the disk signature and the partition number, as blkid reports.
    let parent = tree
        .volumes()
        .into_iter()
        .find(|v| v.children.iter().any(|c| c.id == volume.id))?;
    match &parent.content {
        Content::PartitionTable { disk_id, .. } => Some(format!("{disk_id}-{:02x}", p.number)),
        _ => None,
    }
}

/// Probes every leaf volume for a filesystem.
fn find_filesystems(tree: &VolumeTree, warnings: &mut Vec<String>) -> Vec<FoundFs> {
    let mut out = Vec::new();
    for v in tree.volumes() {
        if !matches!(v.content, Content::Data) {
            continue;
        }
        match detect::probe(v.device.as_ref()) {
            Ok(Some((driver, info))) => {
                if info.size > v.device.size() {
                    warnings.push(format!(
                        "{}: the {} filesystem claims {} bytes but the volume has {}",
                        v.id,
                        info.fs_type,
                        info.size,
                        v.device.size()
                    ));
                }
                out.push(FoundFs {
                    volume: v.id.clone(),
                    info,
                    partlabel: v.partition.as_ref().and_then(|p| p.name.clone()),
                    partuuid: partition_uuid(v, tree),
                    mountpoint: None,
                    device: v.device.clone(),
                    driver,
                })
            }
            Ok(None) => {}
            Err(e) => warnings.push(format!("{}: {e}", v.id)),
        }
    }
    out
}

fn mount_fs(
    found: &FoundFs,
    limits: &FsLimits,
    options: &MountOptions,
) -> Result<Arc<dyn FileSystem>> {
    (found.driver.mount)(found.device.clone(), limits.clone(), options)
}

/// Whether `fs` looks like the root of an operating system.
fn looks_like_root(fs: &dyn FileSystem) -> bool {
    let root = fs.root();
    let is_dir = |name: &[u8]| {
        fs.lookup(root, name)
            .ok()
            .flatten()
            .and_then(|ino| fs.metadata(ino).ok())
            .is_some_and(|m| matches!(m.file_type, FileType::Directory | FileType::Symlink))
    };
    (is_dir(b"etc") && (is_dir(b"bin") || is_dir(b"usr") || is_dir(b"sbin")))
        || is_dir(b"Windows")
        || is_dir(b"WINDOWS")
}

fn resolve_spec<'a>(
    spec: &DeviceSpec,
    found: &'a [FoundFs],
    tree: &VolumeTree,
) -> Option<&'a FoundFs> {
    let by_volume = |id: &str| found.iter().find(|f| f.volume == id);
    match spec {
        DeviceSpec::Uuid(u) => found.iter().find(|f| {
            f.info
                .uuid
                .as_deref()
                .is_some_and(|x| x.eq_ignore_ascii_case(u))
        }),
        DeviceSpec::Label(l) => found.iter().find(|f| f.info.label.as_deref() == Some(l)),
        DeviceSpec::PartUuid(u) => found.iter().find(|f| {
            f.partuuid
                .as_deref()
                .is_some_and(|x| x.eq_ignore_ascii_case(u))
        }),
        DeviceSpec::PartLabel(l) => found.iter().find(|f| f.partlabel.as_deref() == Some(l)),
        DeviceSpec::LogicalVolume { vg, lv } => by_volume(&format!("{vg}/{lv}")),
        DeviceSpec::DiskPartition { disk, partition } => match partition {
            Some(n) => by_volume(&format!("disk{disk}p{n}")),
            None => by_volume(&format!("disk{disk}")),
        },
        DeviceSpec::Md(name) => {
            let array = tree.md_arrays.iter().enumerate().find(|(i, a)| {
                a.name
                    .as_deref()
                    .is_some_and(|n| n == name || n.rsplit(':').next() == Some(name.as_str()))
                    || name.parse::<usize>().ok() == Some(*i) && a.name.is_none()
            })?;
            by_volume(&array.1.volume.as_ref()?.id)
        }
        DeviceSpec::Other(_) => None,
    }
}

/// Mounts `root_fs` (filesystem `root_index`) at `/` and every entry of its
/// `/etc/fstab` at its place; records each entry's outcome and each
/// filesystem's mountpoint.
fn assemble(
    root_index: usize,
    root_fs: Arc<dyn FileSystem>,
    filesystems: &mut [FoundFs],
    volumes: &VolumeTree,
    limits: &FsLimits,
    os_root: bool,
    warnings: &mut Vec<String>,
) -> (GuestTree, Vec<MountReport>) {
    let mut tree = GuestTree::new(
        root_fs,
        filesystems[root_index].volume.clone(),
        limits.clone(),
    );
    let mut mounts = Vec::new();
    let entries = match tree.read_file(b"/etc/fstab", MAX_FSTAB) {
        Ok(text) => {
            let (entries, w) = fstab::parse(&String::from_utf8_lossy(&text));
            warnings.extend(w);
            entries
        }
        Err(e) => {
            // Windows (and other roots without /etc) has no fstab to miss.
            let unix_root = tree.metadata(b"/etc").is_ok();
            if os_root && unix_root {
                warnings.push(format!("/etc/fstab: {e}"));
            }
            Vec::new()
        }
    };
    // Parents before children: mount in order of mount point depth.
    let mut ordered: Vec<FstabEntry> = entries;
    ordered.sort_by_key(|e| e.mountpoint.split('/').filter(|c| !c.is_empty()).count());
    for entry in ordered {
        let report = |volume: Option<String>, status: String| MountReport {
            entry: entry.clone(),
            volume,
            status,
        };
        if let Some(skip) = entry.skip {
            mounts.push(report(None, format!("skipped: {skip:?}").to_lowercase()));
            continue;
        }
        let Some(target) = resolve_spec(&entry.device, filesystems, volumes) else {
            let msg = format!(
                "/etc/fstab line {}: {} matches no filesystem found",
                entry.line, entry.spec
            );
            warnings.push(msg.clone());
            mounts.push(report(None, msg));
            continue;
        };
        let volume = target.volume.clone();
        if entry.mountpoint == "/" {
            let status = if volume == filesystems[root_index].volume {
                "mounted".to_string()
            } else {
                format!(
                    "root is {} (fstab names {volume})",
                    filesystems[root_index].volume
                )
            };
            mounts.push(report(Some(volume), status));
            continue;
        }
        let options = MountOptions {
            subvol: entry.option("subvol").map(str::to_string),
            subvolid: entry.option("subvolid").and_then(|v| v.parse().ok()),
        };
        let result = mount_fs(target, limits, &options)
            .and_then(|fs| tree.mount(entry.mountpoint.as_bytes(), fs, volume.clone()));
        match result {
            Ok(()) => {
                if let Some(f) = filesystems.iter_mut().find(|f| f.volume == volume) {
                    f.mountpoint.get_or_insert_with(|| entry.mountpoint.clone());
                }
                mounts.push(report(Some(volume), "mounted".into()));
            }
            Err(e) => {
                let msg = format!("{} on {}: {e}", volume, entry.mountpoint);
                warnings.push(msg.clone());
                mounts.push(report(Some(volume), msg));
            }
        }
    }
    (tree, mounts)
}

/// Assembles the guest on `disks` (the VM's disks, in order).
pub fn open_guest(disks: &[DeviceRef], disk_limits: &Limits, limits: &FsLimits) -> Guest {
    let volumes = scan(disks, disk_limits);
    let mut warnings = volumes.warnings.clone();
    let mut filesystems = find_filesystems(&volumes, &mut warnings);
    let mut root_candidates = Vec::new();
    let mut root: Option<(usize, Arc<dyn FileSystem>)> = None;
    for (i, f) in filesystems.iter_mut().enumerate() {
        match mount_fs(f, limits, &MountOptions::default()) {
            Ok(fs) => {
                // A mounted filesystem knows more than its superblock (an
                // NTFS label lives in $Volume).
                f.info = fs.info().clone();
                if looks_like_root(fs.as_ref()) {
                    root_candidates.push(f.volume.clone());
                    if root.is_none() {
                        root = Some((i, fs));
                    }
                }
            }
            Err(e) => warnings.push(format!("{}: mount: {e}", f.volume)),
        }
    }
    // A data disk has no OS root; when it holds exactly one filesystem, that
    // filesystem is the tree.
    if root.is_none() && filesystems.len() == 1 {
        match mount_fs(&filesystems[0], limits, &MountOptions::default()) {
            Ok(fs) => {
                warnings.push(format!(
                    "no operating-system root found; {} ({}) is mounted at /",
                    filesystems[0].volume, filesystems[0].info.fs_type
                ));
                root = Some((0, fs));
            }
            Err(e) => warnings.push(format!("{}: mount: {e}", filesystems[0].volume)),
        }
    }
    let Some((root_index, root_fs)) = root else {
        return Guest {
            volumes,
            filesystems,
            root_candidates,
            tree: None,
            mounts: Vec::new(),
            warnings,
        };
    };
    filesystems[root_index].mountpoint = Some("/".into());
    let os_root = !root_candidates.is_empty();
    let (tree, mounts) = assemble(
        root_index,
        root_fs,
        &mut filesystems,
        &volumes,
        limits,
        os_root,
        &mut warnings,
    );
    Guest {
        volumes,
        filesystems,
        root_candidates,
        tree: Some(tree),
        mounts,
        warnings,
    }
}

/// Another operating-system root of the VM, assembled on its own.
#[derive(Debug)]
pub struct OtherRoot {
    /// Volume id of its root filesystem.
    pub volume: String,
    pub tree: GuestTree,
    pub mounts: Vec<MountReport>,
    pub warnings: Vec<String>,
}

impl Guest {
    /// Every root candidate after the first (the one [`Guest::tree`]
    /// holds), each mounted with its own fstab: a VM with several operating
    /// systems (dual boot, a Windows and a Linux disk) has them all.
    pub fn other_roots(&self, limits: &FsLimits) -> Vec<OtherRoot> {
        let first = self
            .tree
            .as_ref()
            .and_then(|t| t.mounts().first().map(|m| m.source.clone()));
        let mut out = Vec::new();
        for volume in self
            .root_candidates
            .iter()
            .filter(|v| Some(*v) != first.as_ref())
        {
            let mut filesystems = self.filesystems.clone();
            for f in filesystems.iter_mut() {
                f.mountpoint = None;
            }
            let Some(index) = filesystems.iter().position(|f| &f.volume == volume) else {
                continue;
            };
            let mut warnings = Vec::new();
            let root_fs = match mount_fs(&filesystems[index], limits, &MountOptions::default()) {
                Ok(fs) => fs,
                Err(e) => {
                    warnings.push(format!("{volume}: mount: {e}"));
                    continue;
                }
            };
            let (tree, mounts) = assemble(
                index,
                root_fs,
                &mut filesystems,
                &self.volumes,
                limits,
                true,
                &mut warnings,
            );
            out.push(OtherRoot {
                volume: volume.clone(),
                tree,
                mounts,
                warnings,
            });
        }
        out
    }

    /// Every leaf volume with what it holds, like `blkid` on each device.
    pub fn probed_volumes(&self) -> Vec<ProbedVolume> {
        let mut out = Vec::new();
        for v in self.volumes.volumes() {
            let base = ProbedVolume {
                volume: v.id.clone(),
                kind: String::new(),
                uuid: None,
                label: None,
                size: v.device.size(),
                mountpoint: None,
                magic: None,
            };
            let probed = match &v.content {
                Content::PartitionTable { .. } | Content::Extended => continue,
                Content::LvmPv { pv_uuid, vg_name } => ProbedVolume {
                    kind: "LVM2_member".into(),
                    uuid: Some(pv_uuid.clone()),
                    label: vg_name.clone(),
                    ..base
                },
                Content::MdMember(m) => ProbedVolume {
                    kind: "linux_raid_member".into(),
                    uuid: Some(m.array_uuid.clone()),
                    label: m.name.clone(),
                    ..base
                },
                Content::Luks(l) => ProbedVolume {
                    kind: "crypto_LUKS".into(),
                    uuid: Some(l.uuid.clone()),
                    label: l.label.clone(),
                    ..base
                },
                Content::Swap(sw) => ProbedVolume {
                    kind: "swap".into(),
                    uuid: sw.uuid.clone(),
                    label: sw.label.clone(),
                    ..base
                },
                Content::Data => match self.filesystems.iter().find(|f| f.volume == v.id) {
                    Some(f) => ProbedVolume {
                        kind: f.info.fs_type.clone(),
                        uuid: f.info.uuid.clone(),
                        label: f.info.label.clone(),
                        mountpoint: f.mountpoint.clone(),
                        ..base
                    },
                    None => {
                        let mut head = [0u8; 16];
                        let len = v.device.size().min(16) as usize;
                        let magic = match v.device.read_at(&mut head[..len], 0) {
                            Ok(()) => head[..len].iter().map(|b| format!("{b:02x}")).collect(),
                            Err(e) => format!("unreadable: {e}"),
                        };
                        ProbedVolume {
                            kind: "unknown".into(),
                            magic: Some(magic),
                            ..base
                        }
                    }
                },
            };
            out.push(probed);
        }
        out
    }
}
