//! Helpers shared by the filesystem drivers' tests: walk a mounted
//! [`FileSystem`] and a host directory into the same listing, so a test
//! asserts that what a driver reads equals the tree the image was built from.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

use guestkit_fs::{FileSystem, FileType, InodeId};
use sha2::{Digest, Sha256};

/// What the listing records of one path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub file_type: FileType,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    /// Size of regular files (0 for others).
    pub size: u64,
    /// mtime seconds.
    pub mtime: i64,
    /// SHA-256 of regular files' content, hex.
    pub sha256: Option<String>,
    /// Symlink target.
    pub target: Option<Vec<u8>>,
    /// Device numbers of device nodes.
    pub rdev: Option<(u32, u32)>,
}

/// Listing keyed by path relative to the root ("" is the root).
pub type Listing = BTreeMap<Vec<u8>, Entry>;

fn hex(d: &[u8]) -> String {
    d.iter().map(|b| format!("{b:02x}")).collect()
}

/// Walks `fs` from its root.
pub fn walk_fs(fs: &dyn FileSystem) -> Listing {
    let mut out = Listing::new();
    walk_fs_dir(fs, fs.root(), Vec::new(), &mut out, 0);
    out
}

fn walk_fs_dir(fs: &dyn FileSystem, ino: InodeId, path: Vec<u8>, out: &mut Listing, depth: u32) {
    assert!(
        depth < 1000,
        "walk too deep at {}",
        String::from_utf8_lossy(&path)
    );
    let md = fs
        .metadata(ino)
        .unwrap_or_else(|e| panic!("metadata of {}: {e}", String::from_utf8_lossy(&path)));
    let mut entry = Entry {
        file_type: md.file_type,
        mode: md.mode,
        uid: md.uid,
        gid: md.gid,
        size: 0,
        mtime: md.mtime.sec,
        sha256: None,
        target: None,
        rdev: md.rdev,
    };
    match md.file_type {
        FileType::Regular => {
            entry.size = md.size;
            let mut hasher = Sha256::new();
            let mut buf = vec![0u8; 1 << 20];
            let mut off = 0u64;
            loop {
                let n = fs.read(ino, off, &mut buf).unwrap_or_else(|e| {
                    panic!("read {} at {off}: {e}", String::from_utf8_lossy(&path))
                });
                if n == 0 {
                    break;
                }
                hasher.update(&buf[..n]);
                off += n as u64;
            }
            assert_eq!(
                off,
                md.size,
                "{}: bytes read vs size",
                String::from_utf8_lossy(&path)
            );
            entry.sha256 = Some(hex(&hasher.finalize()));
        }
        FileType::Symlink => {
            entry.target = Some(fs.read_link(ino).unwrap());
        }
        FileType::Directory => {
            let entries = fs
                .read_dir(ino)
                .unwrap_or_else(|e| panic!("read_dir {}: {e}", String::from_utf8_lossy(&path)));
            for e in entries {
                let mut child = path.clone();
                if !child.is_empty() {
                    child.push(b'/');
                }
                child.extend_from_slice(&e.name);
                walk_fs_dir(fs, e.inode, child, out, depth + 1);
            }
        }
        _ => {}
    }
    out.insert(path, entry);
}

/// Walks the host directory `root`.
pub fn walk_host(root: &Path) -> Listing {
    let mut out = Listing::new();
    walk_host_dir(root, Vec::new(), &mut out);
    out
}

fn walk_host_dir(p: &Path, rel: Vec<u8>, out: &mut Listing) {
    use std::os::unix::ffi::OsStrExt;
    let md = std::fs::symlink_metadata(p).unwrap();
    let ft = md.file_type();
    let file_type = if ft.is_file() {
        FileType::Regular
    } else if ft.is_dir() {
        FileType::Directory
    } else if ft.is_symlink() {
        FileType::Symlink
    } else if ft.is_char_device() {
        FileType::CharDevice
    } else if ft.is_block_device() {
        FileType::BlockDevice
    } else if ft.is_fifo() {
        FileType::Fifo
    } else {
        FileType::Socket
    };
    let rdev = matches!(file_type, FileType::CharDevice | FileType::BlockDevice).then(|| {
        let r = md.rdev();
        (
            ((r >> 8) & 0xfff) as u32 | ((r >> 32) & !0xfff) as u32,
            ((r & 0xff) | ((r >> 12) & !0xff)) as u32,
        )
    });
    let mut entry = Entry {
        file_type,
        mode: md.mode() & 0o7777,
        uid: md.uid(),
        gid: md.gid(),
        size: 0,
        mtime: md.mtime(),
        sha256: None,
        target: None,
        rdev,
    };
    match file_type {
        FileType::Regular => {
            entry.size = md.len();
            entry.sha256 = Some(hex(&Sha256::digest(std::fs::read(p).unwrap())));
        }
        FileType::Symlink => {
            entry.target = Some(
                std::fs::read_link(p)
                    .unwrap()
                    .as_os_str()
                    .as_bytes()
                    .to_vec(),
            );
        }
        FileType::Directory => {
            for e in std::fs::read_dir(p).unwrap() {
                let e = e.unwrap();
                let mut child = rel.clone();
                if !child.is_empty() {
                    child.push(b'/');
                }
                child.extend_from_slice(e.file_name().as_bytes());
                walk_host_dir(&e.path(), child, out);
            }
        }
        _ => {}
    }
    out.insert(rel, entry);
}

/// Asserts two listings are equal, reporting the first few differences by path.
pub fn assert_same_listing(got: &Listing, want: &Listing, what: &str) {
    let mut problems = Vec::new();
    for (path, w) in want {
        match got.get(path) {
            None => problems.push(format!("missing {}", String::from_utf8_lossy(path))),
            Some(g) if g != w => problems.push(format!(
                "{}: got {g:?}, want {w:?}",
                String::from_utf8_lossy(path)
            )),
            _ => {}
        }
    }
    for path in got.keys().filter(|p| !want.contains_key(*p)) {
        problems.push(format!("unexpected {}", String::from_utf8_lossy(path)));
    }
    assert!(
        problems.is_empty(),
        "{what}: {} differences, first: {:#?}",
        problems.len(),
        &problems[..problems.len().min(10)]
    );
}
