//! Shared helpers: profile a directory tree as a guest.
#![allow(dead_code)]

pub mod hardened;

use std::path::Path;
use std::sync::Arc;

use guestkit_fs::hostdir::HostDirFs;
use guestkit_fs::{FsLimits, GuestTree};
use guestkit_inspect::{GuestFiles, InspectOptions};
use guestkit_profile::{profile, Finding, ProfileOptions, ProfileResult, Status};

/// Inspects the tree at `root` (deep scan on) and profiles it with every
/// profile.
pub fn profile_tree(root: &Path) -> ProfileResult {
    let fs = HostDirFs::open(root, FsLimits::default()).expect("host dir");
    let tree = GuestTree::new(Arc::new(fs), "test", FsLimits::default());
    let options = InspectOptions {
        deep_scan: true,
        ..InspectOptions::default()
    };
    let report = guestkit_inspect::inspect(&tree, "test", &options);
    let files = GuestFiles::new(&tree);
    profile(&report, Some(&files), "test", &ProfileOptions::default())
}

/// Writes the tree at `root` into a real ext4 filesystem image with
/// `mkfs.ext4 -d` (ownership and modes kept), then opens that image the
/// way `guestctl profile` does (image format, filesystem, guest tree),
/// inspects it (deep scan on) and profiles it with every profile.
pub fn profile_image(root: &Path) -> ProfileResult {
    use guestkit_disk::{open_image, DeviceRef, Limits, OpenOptions};
    let dir = tempfile::tempdir().expect("tmp");
    let image = dir.path().join("guest.raw");
    let status = std::process::Command::new("mkfs.ext4")
        .args(["-q", "-F", "-E", "root_owner=0:0", "-d"])
        .arg(root)
        .arg(&image)
        .arg("48M")
        .status()
        .expect("mkfs.ext4");
    assert!(status.success(), "mkfs.ext4 -d {}", root.display());
    let opened = open_image(&image, &OpenOptions::default()).expect("open image");
    let devices: Vec<DeviceRef> = vec![opened.device];
    let guest = guestkit_fs::guest::open_guest(&devices, &Limits::default(), &FsLimits::default());
    let options = InspectOptions {
        deep_scan: true,
        ..InspectOptions::default()
    };
    let report = guestkit_inspect::inspect_guest(&guest, &options);
    let tree = guest.tree.as_ref().expect("a root filesystem");
    let files = GuestFiles::new(tree);
    profile(&report, Some(&files), "test", &ProfileOptions::default())
}

/// The finding with `id`.
pub fn finding<'a>(r: &'a ProfileResult, id: &str) -> &'a Finding {
    r.findings
        .iter()
        .find(|f| f.id == id)
        .unwrap_or_else(|| panic!("no finding {id}"))
}

/// Ids of the failing findings.
pub fn failing(r: &ProfileResult) -> Vec<&'static str> {
    r.findings
        .iter()
        .filter(|f| f.status == Status::Fail)
        .map(|f| f.id)
        .collect()
}

/// Writes `text` at guest path `path` under `root`.
pub fn write(root: &Path, path: &str, text: &str) {
    let p = root.join(path.trim_start_matches('/'));
    std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
    std::fs::write(p, text).expect("write");
}

/// Sets the mode of guest path `path`.
pub fn chmod(root: &Path, path: &str, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    let p = root.join(path.trim_start_matches('/'));
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

/// A symlink at guest path `path`.
pub fn link(root: &Path, path: &str, target: &str) {
    let p = root.join(path.trim_start_matches('/'));
    std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
    std::os::unix::fs::symlink(target, p).expect("symlink");
}
