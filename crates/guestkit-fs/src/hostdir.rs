//! A directory on the host seen as a read-only [`FileSystem`]: an unpacked
//! guest tree (a container rootfs, a `tar-out` result, a test tree) inspected
//! exactly like an image. Symlinks are never followed on the host; every path
//! stays below the directory given.

use std::collections::HashMap;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileExt, FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::RwLock;

use crate::error::{FsError, Result};
use crate::fs::{DirEntry, FileSystem, FileType, FsInfo, InodeId, Metadata, Timestamp};
use crate::limits::FsLimits;

const FS: &str = "hostdir";

/// A host directory as a filesystem. Inode numbers are handed out as paths
/// are met (the root is 1).
#[derive(Debug)]
pub struct HostDirFs {
    root: PathBuf,
    info: FsInfo,
    limits: FsLimits,
    /// inode → path relative to the root.
    paths: RwLock<Vec<PathBuf>>,
    /// path → inode.
    inodes: RwLock<HashMap<PathBuf, InodeId>>,
    /// Host (device, inode) of hard-linked files → inode, so every name of
    /// one file has one inode number, as on a real filesystem.
    linked: RwLock<HashMap<(u64, u64), InodeId>>,
}

impl HostDirFs {
    /// Serves the directory `root`.
    pub fn open(root: &Path, limits: FsLimits) -> Result<Self> {
        let md = fs::metadata(root).map_err(|e| io_error(root, e))?;
        if !md.is_dir() {
            return Err(FsError::WrongType {
                path: root.display().to_string(),
                reason: "not a directory".into(),
            });
        }
        Ok(HostDirFs {
            root: root.to_path_buf(),
            info: FsInfo {
                fs_type: FS.into(),
                uuid: None,
                label: None,
                block_size: 4096,
                size: 0,
                warnings: Vec::new(),
            },
            limits,
            paths: RwLock::new(vec![PathBuf::new(), PathBuf::new()]),
            inodes: RwLock::new(HashMap::from([(PathBuf::new(), 1)])),
            linked: RwLock::new(HashMap::new()),
        })
    }

    fn path_of(&self, inode: InodeId) -> Result<PathBuf> {
        let paths = self.paths.read().map_err(|_| poisoned())?;
        usize::try_from(inode)
            .ok()
            .filter(|&i| i >= 1)
            .and_then(|i| paths.get(i))
            .map(|rel| self.root.join(rel))
            .ok_or_else(|| FsError::Corrupt {
                device: self.root.display().to_string(),
                fs: FS,
                what: "inode".into(),
                inode: Some(inode),
                offset: None,
                reason: "unknown inode number".into(),
            })
    }

    /// The host path of directory `inode`, refusing anything that is not a
    /// real directory (a symlink is never followed on the host).
    fn dir_path(&self, inode: InodeId) -> Result<PathBuf> {
        let path = self.path_of(inode)?;
        let md = fs::symlink_metadata(&path).map_err(|e| io_error(&path, e))?;
        if !md.file_type().is_dir() {
            return Err(FsError::WrongType {
                path: path.display().to_string(),
                reason: "not a directory".into(),
            });
        }
        Ok(path)
    }

    fn inode_of(&self, rel: PathBuf) -> Result<InodeId> {
        if let Some(&ino) = self.inodes.read().map_err(|_| poisoned())?.get(&rel) {
            return Ok(ino);
        }
        let host = fs::symlink_metadata(self.root.join(&rel))
            .ok()
            .filter(|m| m.nlink() > 1 && !m.is_dir())
            .map(|m| (m.dev(), m.ino()));
        let mut paths = self.paths.write().map_err(|_| poisoned())?;
        let mut inodes = self.inodes.write().map_err(|_| poisoned())?;
        let mut linked = self.linked.write().map_err(|_| poisoned())?;
        if let Some(&ino) = inodes.get(&rel) {
            return Ok(ino);
        }
        if let Some(&ino) = host.and_then(|h| linked.get(&h)) {
            inodes.insert(rel, ino);
            return Ok(ino);
        }
        let ino = paths.len() as InodeId;
        paths.push(rel.clone());
        inodes.insert(rel, ino);
        if let Some(h) = host {
            linked.insert(h, ino);
        }
        Ok(ino)
    }
}

fn poisoned() -> FsError {
    FsError::Unsupported {
        device: "hostdir".into(),
        fs: FS,
        what: "use after a panic in another thread".into(),
    }
}

fn io_error(path: &Path, e: std::io::Error) -> FsError {
    if e.kind() == std::io::ErrorKind::NotFound {
        FsError::NotFound {
            path: path.display().to_string(),
        }
    } else {
        FsError::Unsupported {
            device: path.display().to_string(),
            fs: FS,
            what: format!("host I/O error: {e}"),
        }
    }
}

fn file_type(ft: fs::FileType) -> FileType {
    if ft.is_dir() {
        FileType::Directory
    } else if ft.is_symlink() {
        FileType::Symlink
    } else if ft.is_char_device() {
        FileType::CharDevice
    } else if ft.is_block_device() {
        FileType::BlockDevice
    } else if ft.is_fifo() {
        FileType::Fifo
    } else if ft.is_socket() {
        FileType::Socket
    } else {
        FileType::Regular
    }
}

/// Linux `dev_t` → (major, minor).
pub fn split_dev(dev: u64) -> (u32, u32) {
    let major = ((dev >> 8) & 0xfff) | ((dev >> 32) & !0xfff);
    let minor = (dev & 0xff) | ((dev >> 12) & !0xff);
    (major as u32, minor as u32)
}

impl FileSystem for HostDirFs {
    fn info(&self) -> &FsInfo {
        &self.info
    }

    fn root(&self) -> InodeId {
        1
    }

    fn metadata(&self, inode: InodeId) -> Result<Metadata> {
        let path = self.path_of(inode)?;
        let md = fs::symlink_metadata(&path).map_err(|e| io_error(&path, e))?;
        let ft = file_type(md.file_type());
        let ts = |sec: i64, nsec: i64| Timestamp {
            sec,
            nsec: u32::try_from(nsec).unwrap_or(0),
        };
        Ok(Metadata {
            inode,
            file_type: ft,
            mode: md.mode() & 0o7777,
            uid: md.uid(),
            gid: md.gid(),
            size: md.len(),
            nlink: u32::try_from(md.nlink()).unwrap_or(u32::MAX),
            atime: ts(md.atime(), md.atime_nsec()),
            mtime: ts(md.mtime(), md.mtime_nsec()),
            ctime: ts(md.ctime(), md.ctime_nsec()),
            btime: None,
            rdev: matches!(ft, FileType::CharDevice | FileType::BlockDevice)
                .then(|| split_dev(md.rdev())),
        })
    }

    fn read_dir(&self, inode: InodeId) -> Result<Vec<DirEntry>> {
        let path = self.dir_path(inode)?;
        let rel = path
            .strip_prefix(&self.root)
            .unwrap_or(Path::new(""))
            .to_path_buf();
        let mut out = Vec::new();
        for entry in fs::read_dir(&path).map_err(|e| io_error(&path, e))? {
            let entry = entry.map_err(|e| io_error(&path, e))?;
            if out.len() as u64 >= self.limits.max_dir_entries {
                return Err(FsError::LimitExceeded {
                    device: path.display().to_string(),
                    fs: FS,
                    what: "directory entries".into(),
                    value: out.len() as u64 + 1,
                    limit: self.limits.max_dir_entries,
                });
            }
            let name = entry.file_name();
            let ft = entry.file_type().map_err(|e| io_error(&entry.path(), e))?;
            out.push(DirEntry {
                name: name.as_bytes().to_vec(),
                inode: self.inode_of(rel.join(&name))?,
                file_type: Some(file_type(ft)),
            });
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    fn lookup(&self, dir: InodeId, name: &[u8]) -> Result<Option<InodeId>> {
        if name.is_empty() || name == b"." || name == b".." || name.contains(&b'/') {
            return Ok(None);
        }
        let path = self.dir_path(dir)?;
        let child = path.join(std::ffi::OsStr::from_bytes(name));
        match fs::symlink_metadata(&child) {
            Ok(_) => {
                let rel = child
                    .strip_prefix(&self.root)
                    .unwrap_or(Path::new(""))
                    .to_path_buf();
                Ok(Some(self.inode_of(rel)?))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_error(&child, e)),
        }
    }

    fn read_link(&self, inode: InodeId) -> Result<Vec<u8>> {
        let path = self.path_of(inode)?;
        let target = fs::read_link(&path).map_err(|e| io_error(&path, e))?;
        Ok(target.as_os_str().as_bytes().to_vec())
    }

    fn read(&self, inode: InodeId, offset: u64, buf: &mut [u8]) -> Result<usize> {
        let path = self.path_of(inode)?;
        let md = fs::symlink_metadata(&path).map_err(|e| io_error(&path, e))?;
        if !md.file_type().is_file() {
            return Err(FsError::WrongType {
                path: path.display().to_string(),
                reason: "not a regular file".into(),
            });
        }
        let file = fs::File::open(&path).map_err(|e| io_error(&path, e))?;
        file.read_at(buf, offset).map_err(|e| io_error(&path, e))
    }
}
