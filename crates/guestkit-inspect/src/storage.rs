//! Storage as the guest sees it: every volume (what `blkid` would say),
//! LVM volume groups, md arrays, LUKS, the guest's fstab (with what became
//! of each entry), crypttab and swap.

use guestkit_fs::fstab::{self, FstabEntry};
use guestkit_fs::guest::{Guest, MountReport, ProbedVolume};
use serde::Serialize;

use crate::files::GuestFiles;

const SECTION: &str = "storage";

/// The storage section.
#[derive(Debug, Clone, Default, Serialize)]
pub struct StorageSection {
    /// Every leaf volume and what it holds (empty for a directory tree).
    pub volumes: Vec<ProbedVolume>,
    pub volume_groups: Vec<VolumeGroupSummary>,
    pub md_arrays: Vec<MdArraySummary>,
    /// The guest's fstab entries and what became of each when the guest was
    /// assembled (`mounted`, `skipped: …`, or the error).
    pub fstab: Vec<MountReport>,
    pub crypttab: Vec<CrypttabEntry>,
    /// Swap areas: fstab swap entries and swap volumes.
    pub swap: Vec<SwapArea>,
}

/// An LVM volume group.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct VolumeGroupSummary {
    pub name: String,
    pub uuid: String,
    pub extent_size: u64,
    /// PV uuids with the volume each was found on (`None`: missing).
    pub pvs: Vec<(String, Option<String>)>,
    pub lvs: Vec<LogicalVolumeSummary>,
}

/// An LVM logical volume.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct LogicalVolumeSummary {
    pub name: String,
    pub size: u64,
    /// Segment types in order (`linear`, `striped` …).
    pub segments: Vec<String>,
}

/// An md RAID array.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct MdArraySummary {
    pub uuid: String,
    pub name: Option<String>,
    pub level: i32,
    pub members: Vec<String>,
    /// Whether it could be read (RAID1 through one healthy member).
    pub readable: bool,
}

/// One line of `/etc/crypttab`.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct CrypttabEntry {
    pub line: usize,
    /// Name of the unlocked device (`/dev/mapper/NAME`).
    pub name: String,
    /// The encrypted device (`UUID=…`, `/dev/…`).
    pub device: String,
    /// Key file, `none` or absent (asks for a passphrase).
    pub key: Option<String>,
    pub options: Vec<String>,
}

/// A swap area.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct SwapArea {
    /// `fstab` or `volume`.
    pub source: String,
    /// The fstab device spec, or the volume id.
    pub device: String,
    /// The volume an fstab entry resolves to, when found.
    pub volume: Option<String>,
}

/// Parses `/etc/crypttab`: `name device [key [options]]` per line.
pub fn parse_crypttab(text: &str) -> Vec<CrypttabEntry> {
    text.lines()
        .enumerate()
        .filter_map(|(i, line)| {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                return None;
            }
            let mut fields = line.split_whitespace();
            let name = fields.next()?.to_string();
            let device = fields.next()?.to_string();
            let key = fields.next().map(str::to_string);
            let options = fields
                .next()
                .map(|o| o.split(',').map(str::to_string).collect())
                .unwrap_or_default();
            Some(CrypttabEntry {
                line: i + 1,
                name,
                device,
                key,
                options,
            })
        })
        .collect()
}

fn crypttab(files: &GuestFiles) -> Vec<CrypttabEntry> {
    let Some(text) = files.read_text(SECTION, "/etc/crypttab") else {
        return Vec::new();
    };
    let entries = parse_crypttab(&text);
    for (i, line) in text.lines().enumerate() {
        let t = line.trim();
        if !t.is_empty() && !t.starts_with('#') && t.split_whitespace().count() < 2 {
            files.warn(
                SECTION,
                "/etc/crypttab",
                format!("line {}: fewer than two fields", i + 1),
            );
        }
    }
    entries
}

/// The fstab of a plain directory tree (no volumes to resolve against).
fn fstab_of_tree(files: &GuestFiles) -> Vec<MountReport> {
    let Some(text) = files.read_text(SECTION, "/etc/fstab") else {
        return Vec::new();
    };
    let (entries, warnings) = fstab::parse(&text);
    for w in warnings {
        files.warn(SECTION, "/etc/fstab", w);
    }
    entries
        .into_iter()
        .map(|entry: FstabEntry| MountReport {
            entry,
            volume: None,
            status: "not resolved: inspecting a directory".into(),
        })
        .collect()
}

/// The storage section of a guest assembled from disks, or of a plain
/// tree when `guest` is `None`.
pub fn inspect(files: &GuestFiles, guest: Option<&Guest>) -> StorageSection {
    let mut s = StorageSection {
        crypttab: crypttab(files),
        ..StorageSection::default()
    };
    match guest {
        Some(g) => {
            s.volumes = g.probed_volumes();
            s.fstab = g.mounts.clone();
            s.volume_groups = g
                .volumes
                .volume_groups
                .iter()
                .map(|node| {
                    let vg = &node.group;
                    VolumeGroupSummary {
                        name: vg.name.clone(),
                        uuid: vg.uuid.clone(),
                        extent_size: vg.extent_size,
                        pvs: vg
                            .pvs
                            .iter()
                            .map(|p| (p.uuid.clone(), p.device.clone()))
                            .collect(),
                        lvs: vg
                            .lvs
                            .iter()
                            .map(|lv| LogicalVolumeSummary {
                                name: lv.name.clone(),
                                size: lv.size,
                                segments: lv.segments.iter().map(|seg| seg.kind.clone()).collect(),
                            })
                            .collect(),
                    }
                })
                .collect();
            s.md_arrays = g
                .volumes
                .md_arrays
                .iter()
                .map(|a| MdArraySummary {
                    uuid: a.array_uuid.clone(),
                    name: a.name.clone(),
                    level: a.level,
                    members: a.members.clone(),
                    readable: a.volume.is_some(),
                })
                .collect();
        }
        None => s.fstab = fstab_of_tree(files),
    }
    for m in &s.fstab {
        if m.entry.fs_type == "swap" {
            s.swap.push(SwapArea {
                source: "fstab".into(),
                device: m.entry.spec.clone(),
                volume: m.volume.clone(),
            });
        }
    }
    for v in s.volumes.iter().filter(|v| v.kind == "swap") {
        s.swap.push(SwapArea {
            source: "volume".into(),
            device: v.volume.clone(),
            volume: Some(v.volume.clone()),
        });
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crypttab_lines() {
        let e = parse_crypttab(
            "# comment\ncryptroot UUID=0f3c none luks,discard\nswap /dev/sda3 /dev/urandom swap,cipher=aes-xts-plain64\nlonely\n",
        );
        assert_eq!(e.len(), 2);
        assert_eq!(e[0].name, "cryptroot");
        assert_eq!(e[0].key.as_deref(), Some("none"));
        assert_eq!(e[0].options, ["luks", "discard"]);
        assert_eq!(e[1].options, ["swap", "cipher=aes-xts-plain64"]);
        assert_eq!(e[1].line, 3);
    }
}
