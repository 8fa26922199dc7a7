//! Guest trees for tests: files written into a host temp directory and
//! opened the way an unpacked root directory is.

#![allow(dead_code)]

use std::path::Path;
use std::sync::Arc;

use guestkit_fs::hostdir::HostDirFs;
use guestkit_fs::{FsLimits, GuestTree};

/// A temp directory holding `files` (guest path, content) and the guest
/// tree over it.
pub struct Tree {
    pub dir: tempfile::TempDir,
    pub tree: GuestTree,
}

/// Writes `files` under a temp directory and opens it as a guest tree.
pub fn tree(files: &[(&str, &str)]) -> Tree {
    let dir = tempfile::tempdir().expect("tempdir");
    for (path, content) in files {
        write(dir.path(), path, content.as_bytes());
    }
    let tree = open(dir.path());
    Tree { dir, tree }
}

/// Writes one file at guest path `path` below `root`.
pub fn write(root: &Path, path: &str, content: &[u8]) {
    let host = root.join(path.trim_start_matches('/'));
    std::fs::create_dir_all(host.parent().expect("parent")).expect("mkdir");
    std::fs::write(&host, content).expect("write");
}

/// The guest tree of the directory `root`.
pub fn open(root: &Path) -> GuestTree {
    let fs = HostDirFs::open(root, FsLimits::default()).expect("host dir");
    GuestTree::new(Arc::new(fs), "test", FsLimits::default())
}
