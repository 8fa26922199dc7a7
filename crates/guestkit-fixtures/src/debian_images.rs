//! The Debian guest ([`crate::debian`]) as disk images: one guest on many
//! layouts and in every container format, for inspection reports that must
//! not differ.

use std::fs;
use std::path::PathBuf;

use crate::debian::debian_tree;
use crate::disks::sparse_file;
use crate::fs_images::{build_disk, check_fits, xfs_protofile_skipping, FsKind, Layout, FS_SIZE};
use crate::tools::{arg, run};
use crate::{cached, FixtureError, Result};

const RECIPE: &str = include_str!("debian_images.rs");

/// File in the images directory listing the paths the XFS image lacks.
pub const XFS_SKIPPED: &str = "xfs-mbr.skipped";

/// One disk image of the Debian guest.
#[derive(Debug, Clone)]
pub struct GuestImage {
    /// `ext4-gpt.qcow2`, `xfs-mbr.qcow2` …
    pub name: String,
    pub path: PathBuf,
}

/// Image formats the ext4 guest is converted to (`qemu-img` names).
const FORMATS: [(&str, &str); 5] = [
    ("qcow2", "qcow2"),
    ("vmdk", "vmdk"),
    ("vdi", "vdi"),
    ("vhdx", "vhdx"),
    ("vpc", "vhd"),
];

/// The Debian guest as disk images: its root filesystem as ext4 on GPT (raw
/// and every container format), XFS on MBR, Btrfs on GPT and ext4 on an
/// LVM logical volume (qcow2) — one guest, many layouts, for reports that
/// must not differ. The XFS image lacks the files a protofile cannot name;
/// [`xfs_skipped`] lists them.
pub fn debian_images() -> Result<Vec<GuestImage>> {
    let tree = debian_tree()?;
    let recipe = format!(
        "{RECIPE}\n{}\n{}",
        include_str!("fs_images.rs"),
        include_str!("lvm.rs")
    );
    let dir = cached("debian-images", &recipe, |dir| {
        let layouts = [
            (FsKind::Ext4, Layout::Gpt, "ext4-gpt"),
            (FsKind::Xfs, Layout::Mbr, "xfs-mbr"),
            (FsKind::Btrfs, Layout::Gpt, "btrfs-gpt"),
            (FsKind::Ext4, Layout::Lvm, "ext4-lvm"),
        ];
        for (kind, layout, name) in layouts {
            let img = dir.join(format!("{name}.fs"));
            sparse_file(&img, FS_SIZE)?;
            if kind == FsKind::Xfs {
                // A protofile cannot name files with ':' (dpkg's
                // `pkg:arch.list` files): they are left out, and listed.
                let (proto, skipped) = xfs_protofile_skipping(&tree, true)?;
                let proto_path = dir.join("xfs.proto");
                fs::write(&proto_path, proto).map_err(|e| FixtureError::io(&proto_path, e))?;
                run(
                    "mkfs.xfs",
                    &[
                        "-q",
                        "-f",
                        "-L",
                        "debian",
                        "-p",
                        arg(&proto_path)?,
                        arg(&img)?,
                    ],
                )?;
                fs::remove_file(&proto_path).map_err(|e| FixtureError::io(&proto_path, e))?;
                let list: String = skipped
                    .iter()
                    .map(|p| format!("{}\n", p.display()))
                    .collect();
                let list_path = dir.join(XFS_SKIPPED);
                fs::write(&list_path, list).map_err(|e| FixtureError::io(&list_path, e))?;
            } else {
                kind.mkfs(&tree, &img)?;
            }
            check_fits(&img)?;
            let raw = dir.join(format!("{name}.raw"));
            build_disk(layout, &img, &raw)?;
            fs::remove_file(&img).map_err(|e| FixtureError::io(&img, e))?;
            let formats: &[(&str, &str)] = if name == "ext4-gpt" {
                &FORMATS
            } else {
                &FORMATS[..1]
            };
            for (format, ext) in formats {
                run(
                    "qemu-img",
                    &[
                        "convert",
                        "-O",
                        format,
                        arg(&raw)?,
                        arg(&dir.join(format!("{name}.{ext}")))?,
                    ],
                )?;
            }
            if name != "ext4-gpt" {
                fs::remove_file(&raw).map_err(|e| FixtureError::io(&raw, e))?;
            }
        }
        Ok(())
    })?;
    let mut images = Vec::new();
    for entry in fs::read_dir(&dir).map_err(|e| FixtureError::io(&dir, e))? {
        let path = entry.map_err(|e| FixtureError::io(&dir, e))?.path();
        if path.extension().is_some_and(|e| e == "skipped") {
            continue;
        }
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        images.push(GuestImage { name, path });
    }
    images.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(images)
}

/// Paths (relative to the root) the XFS image of the guest leaves out.
pub fn xfs_skipped() -> Result<Vec<String>> {
    debian_images()?;
    let path = crate::fixtures_root()
        .join("debian-images")
        .join(XFS_SKIPPED);
    let text = fs::read_to_string(&path).map_err(|e| FixtureError::io(&path, e))?;
    Ok(text.lines().map(str::to_string).collect())
}
