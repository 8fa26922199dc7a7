//! `/etc/fstab`: parsed entries, and what each one asks to mount.

use serde::Serialize;

/// How an fstab entry names its device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum DeviceSpec {
    Uuid(String),
    Label(String),
    PartUuid(String),
    PartLabel(String),
    /// `/dev/mapper/VG-LV` or `/dev/VG/LV` (names unescaped).
    LogicalVolume {
        vg: String,
        lv: String,
    },
    /// `/dev/sdXN`, `/dev/vdXN`, `/dev/hdXN`, `/dev/xvdXN`, `/dev/nvmeNnXpN`:
    /// disk index (0 = first disk) and partition number (None = whole disk).
    DiskPartition {
        disk: usize,
        partition: Option<u32>,
    },
    /// `/dev/md/NAME` or `/dev/mdN`.
    Md(String),
    /// Anything else (a network share, `none`, a path).
    Other(String),
}

/// Why an entry is listed but not mounted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Skip {
    Swap,
    NoAuto,
    Bind,
    Network,
    Pseudo,
}

/// One fstab line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FstabEntry {
    /// 1-based line number.
    pub line: usize,
    pub spec: String,
    pub device: DeviceSpec,
    pub mountpoint: String,
    pub fs_type: String,
    pub options: Vec<String>,
    /// Set when the entry is not to be mounted by an inspector.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skip: Option<Skip>,
}

impl FstabEntry {
    /// The value of option `name=value`, if present.
    pub fn option(&self, name: &str) -> Option<&str> {
        self.options
            .iter()
            .find_map(|o| o.strip_prefix(name).and_then(|r| r.strip_prefix('=')))
    }
}

const NETWORK: &[&str] = &[
    "nfs",
    "nfs4",
    "cifs",
    "smbfs",
    "smb3",
    "sshfs",
    "fuse.sshfs",
    "glusterfs",
    "ceph",
    "9p",
    "davfs",
    "afs",
    "ncpfs",
];
const PSEUDO: &[&str] = &[
    "proc",
    "sysfs",
    "tmpfs",
    "devpts",
    "devtmpfs",
    "cgroup",
    "cgroup2",
    "debugfs",
    "securityfs",
    "mqueue",
    "hugetlbfs",
    "pstore",
    "efivarfs",
    "binfmt_misc",
    "configfs",
    "fusectl",
    "tracefs",
    "ramfs",
    "none",
];

/// Undoes fstab's octal escapes (`\040` for a space).
fn unescape(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes.get(i).copied().unwrap_or(0);
        if b == b'\\' {
            let oct = bytes
                .get(i + 1..i + 4)
                .and_then(|o| std::str::from_utf8(o).ok());
            if let Some(v) = oct.and_then(|o| u8::from_str_radix(o, 8).ok()) {
                out.push(v);
                i += 4;
                continue;
            }
        }
        out.push(b);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Unescapes a device-mapper name part (`--` stands for `-`).
fn dm_unescape(s: &str) -> String {
    s.replace("--", "-")
}

/// Splits `VG-LV` as device-mapper writes it: the first `-` not part of `--`.
fn split_mapper(name: &str) -> Option<(String, String)> {
    let b = name.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b.get(i) == Some(&b'-') {
            if b.get(i + 1) == Some(&b'-') {
                i += 2;
                continue;
            }
            let (vg, lv) = (name.get(..i)?, name.get(i + 1..)?);
            if vg.is_empty() || lv.is_empty() {
                return None;
            }
            return Some((dm_unescape(vg), dm_unescape(lv)));
        }
        i += 1;
    }
    None
}

/// `sda` → 0, `vdb` → 1, `xvdaa` → 26.
fn disk_letters(s: &str) -> Option<usize> {
    if s.is_empty() || !s.bytes().all(|c| c.is_ascii_lowercase()) || s.len() > 3 {
        return None;
    }
    let mut n = 0usize;
    for c in s.bytes() {
        n = n * 26 + usize::from(c - b'a') + 1;
    }
    Some(n - 1)
}

fn disk_partition(name: &str) -> Option<DeviceSpec> {
    for prefix in ["sd", "vd", "hd", "xvd"] {
        if let Some(rest) = name.strip_prefix(prefix) {
            let split = rest
                .find(|c: char| c.is_ascii_digit())
                .unwrap_or(rest.len());
            let (letters, digits) = rest.split_at(split);
            let disk = disk_letters(letters)?;
            let partition = if digits.is_empty() {
                None
            } else {
                Some(digits.parse().ok()?)
            };
            return Some(DeviceSpec::DiskPartition { disk, partition });
        }
    }
    // nvme<ctrl>n<ns>[p<part>]: disks in controller order.
    let rest = name.strip_prefix("nvme")?;
    let (ctrl, rest) = rest.split_once('n')?;
    let (ns, part) = match rest.split_once('p') {
        Some((ns, p)) => (ns, Some(p.parse().ok()?)),
        None => (rest, None),
    };
    let ctrl: usize = ctrl.parse().ok()?;
    let ns: usize = ns.parse().ok()?;
    Some(DeviceSpec::DiskPartition {
        disk: ctrl + ns.saturating_sub(1),
        partition: part,
    })
}

/// Classifies the device field of an fstab line.
pub fn parse_device(spec: &str) -> DeviceSpec {
    let tagged = |tag: &str| {
        spec.strip_prefix(tag)
            .map(|v| v.trim_matches('"').to_string())
    };
    if let Some(v) = tagged("UUID=") {
        return DeviceSpec::Uuid(v.to_ascii_lowercase());
    }
    if let Some(v) = tagged("LABEL=") {
        return DeviceSpec::Label(v);
    }
    if let Some(v) = tagged("PARTUUID=") {
        return DeviceSpec::PartUuid(v.to_ascii_lowercase());
    }
    if let Some(v) = tagged("PARTLABEL=") {
        return DeviceSpec::PartLabel(v);
    }
    for (dir, make) in [
        (
            "/dev/disk/by-uuid/",
            DeviceSpec::Uuid as fn(String) -> DeviceSpec,
        ),
        ("/dev/disk/by-label/", DeviceSpec::Label),
        ("/dev/disk/by-partuuid/", DeviceSpec::PartUuid),
        ("/dev/disk/by-partlabel/", DeviceSpec::PartLabel),
    ] {
        if let Some(v) = spec.strip_prefix(dir) {
            let v = unescape(&v.replace("\\x2d", "-").replace("\\x20", " "));
            let v = if dir.contains("uuid") {
                v.to_ascii_lowercase()
            } else {
                v
            };
            return make(v);
        }
    }
    if let Some(name) = spec.strip_prefix("/dev/mapper/") {
        if let Some((vg, lv)) = split_mapper(name) {
            return DeviceSpec::LogicalVolume { vg, lv };
        }
    }
    if let Some(name) = spec.strip_prefix("/dev/md/") {
        return DeviceSpec::Md(name.to_string());
    }
    if let Some(name) = spec.strip_prefix("/dev/") {
        if let Some(n) = name
            .strip_prefix("md")
            .filter(|n| n.bytes().all(|c| c.is_ascii_digit()) && !n.is_empty())
        {
            return DeviceSpec::Md(n.to_string());
        }
        if let Some(d) = disk_partition(name) {
            return d;
        }
        let parts: Vec<&str> = name.split('/').collect();
        if let [vg, lv] = parts.as_slice() {
            if !vg.is_empty() && !lv.is_empty() {
                return DeviceSpec::LogicalVolume {
                    vg: vg.to_string(),
                    lv: lv.to_string(),
                };
            }
        }
    }
    DeviceSpec::Other(spec.to_string())
}

/// Parses fstab text. Malformed lines (fewer than three fields) are returned
/// as warnings naming the line.
pub fn parse(text: &str) -> (Vec<FstabEntry>, Vec<String>) {
    let mut entries = Vec::new();
    let mut warnings = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = line.split_whitespace().collect();
        let (Some(spec), Some(point), Some(fs_type)) =
            (fields.first(), fields.get(1), fields.get(2))
        else {
            warnings.push(format!(
                "/etc/fstab line {}: fewer than three fields",
                i + 1
            ));
            continue;
        };
        let spec = unescape(spec);
        let fs_type = unescape(fs_type);
        let options: Vec<String> = fields
            .get(3)
            .map(|o| o.split(',').map(unescape).collect())
            .unwrap_or_default();
        let skip = if fs_type == "swap" {
            Some(Skip::Swap)
        } else if options.iter().any(|o| o == "noauto") {
            Some(Skip::NoAuto)
        } else if options.iter().any(|o| o == "bind" || o == "rbind")
            || fs_type == "none" && options.iter().any(|o| o.contains("bind"))
        {
            Some(Skip::Bind)
        } else if NETWORK.contains(&fs_type.as_str())
            || spec.contains(":/")
            || spec.starts_with("//")
        {
            Some(Skip::Network)
        } else if PSEUDO.contains(&fs_type.as_str()) {
            Some(Skip::Pseudo)
        } else {
            None
        };
        entries.push(FstabEntry {
            line: i + 1,
            device: parse_device(&spec),
            spec,
            mountpoint: unescape(point),
            fs_type,
            options,
            skip,
        });
    }
    (entries, warnings)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_specs() {
        let cases = [
            ("UUID=ABCD-1234", DeviceSpec::Uuid("abcd-1234".into())),
            ("LABEL=root", DeviceSpec::Label("root".into())),
            ("PARTUUID=5e2a-01", DeviceSpec::PartUuid("5e2a-01".into())),
            (
                "PARTLABEL=EFI\\040system",
                DeviceSpec::PartLabel("EFI\\040system".into()),
            ),
            (
                "/dev/disk/by-uuid/0F1E-2D3C",
                DeviceSpec::Uuid("0f1e-2d3c".into()),
            ),
            (
                "/dev/mapper/vg0-root",
                DeviceSpec::LogicalVolume {
                    vg: "vg0".into(),
                    lv: "root".into(),
                },
            ),
            (
                "/dev/mapper/my--vg-my--lv",
                DeviceSpec::LogicalVolume {
                    vg: "my-vg".into(),
                    lv: "my-lv".into(),
                },
            ),
            (
                "/dev/vg0/home",
                DeviceSpec::LogicalVolume {
                    vg: "vg0".into(),
                    lv: "home".into(),
                },
            ),
            (
                "/dev/sda1",
                DeviceSpec::DiskPartition {
                    disk: 0,
                    partition: Some(1),
                },
            ),
            (
                "/dev/vdb3",
                DeviceSpec::DiskPartition {
                    disk: 1,
                    partition: Some(3),
                },
            ),
            (
                "/dev/xvda",
                DeviceSpec::DiskPartition {
                    disk: 0,
                    partition: None,
                },
            ),
            (
                "/dev/hdc2",
                DeviceSpec::DiskPartition {
                    disk: 2,
                    partition: Some(2),
                },
            ),
            (
                "/dev/nvme0n1p2",
                DeviceSpec::DiskPartition {
                    disk: 0,
                    partition: Some(2),
                },
            ),
            (
                "/dev/nvme1n1",
                DeviceSpec::DiskPartition {
                    disk: 1,
                    partition: None,
                },
            ),
            ("/dev/md0", DeviceSpec::Md("0".into())),
            ("/dev/md/data", DeviceSpec::Md("data".into())),
            ("server:/export", DeviceSpec::Other("server:/export".into())),
        ];
        for (spec, want) in cases {
            assert_eq!(parse_device(spec), want, "{spec}");
        }
    }

    #[test]
    fn entries_and_skips() {
        let text = "# comment\n\
            UUID=1 / ext4 errors=remount-ro 0 1\n\
            /dev/sda2 none swap sw 0 0\n\
            proc /proc proc defaults 0 0\n\
            srv:/x /mnt/x nfs defaults 0 0\n\
            /data /srv/data none bind 0 0\n\
            LABEL=usb /media/usb vfat noauto 0 0\n\
            /dev/vg0/home /home\\040dir btrfs subvol=@home,compress=zstd 0 2\n\
            broken-line\n";
        let (entries, warnings) = parse(text);
        assert_eq!(warnings, ["/etc/fstab line 9: fewer than three fields"]);
        let skips: Vec<Option<Skip>> = entries.iter().map(|e| e.skip).collect();
        assert_eq!(
            skips,
            [
                None,
                Some(Skip::Swap),
                Some(Skip::Pseudo),
                Some(Skip::Network),
                Some(Skip::Bind),
                Some(Skip::NoAuto),
                None
            ]
        );
        let home = &entries[6];
        assert_eq!(home.mountpoint, "/home dir");
        assert_eq!(home.option("subvol"), Some("@home"));
        assert_eq!(home.line, 8);
    }
}
