//! The [`FileSystem`] contract every driver implements: inode-level, read-only
//! operations. Path resolution, mounts and confinement live above it, in the
//! guest tree, so every driver gets them the same way.

use serde::Serialize;

use crate::error::Result;

/// An inode number, as the filesystem numbers them (drivers without inode
/// numbers, such as FAT, make stable ones up).
pub type InodeId = u64;

/// Type of a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FileType {
    Regular,
    Directory,
    Symlink,
    CharDevice,
    BlockDevice,
    Fifo,
    Socket,
}

impl FileType {
    /// The type encoded in the `S_IFMT` bits of a Unix mode (ext, XFS and
    /// Btrfs inodes all store it so); `None` for an invalid type.
    pub fn from_mode(mode: u32) -> Option<FileType> {
        Some(match mode & 0o170000 {
            0o100000 => FileType::Regular,
            0o040000 => FileType::Directory,
            0o120000 => FileType::Symlink,
            0o020000 => FileType::CharDevice,
            0o060000 => FileType::BlockDevice,
            0o010000 => FileType::Fifo,
            0o140000 => FileType::Socket,
            _ => return None,
        })
    }
}

/// A point in time, seconds and nanoseconds since the Unix epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Default)]
pub struct Timestamp {
    pub sec: i64,
    pub nsec: u32,
}

/// What `stat` says about a file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Metadata {
    pub inode: InodeId,
    pub file_type: FileType,
    /// Permission bits including setuid/setgid/sticky (mode & 0o7777).
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    /// Size in bytes (for symlinks, the target's length).
    pub size: u64,
    pub nlink: u32,
    pub atime: Timestamp,
    pub mtime: Timestamp,
    pub ctime: Timestamp,
    /// Creation time where the filesystem records one.
    pub btime: Option<Timestamp>,
    /// Device number (major, minor) of character and block devices.
    pub rdev: Option<(u32, u32)>,
}

/// One directory entry (never `.` or `..`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DirEntry {
    /// The name as stored: raw bytes, not necessarily UTF-8.
    pub name: Vec<u8>,
    pub inode: InodeId,
    /// Type from the directory entry where the filesystem stores one.
    pub file_type: Option<FileType>,
}

/// Facts about a filesystem, as `blkid` would report them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FsInfo {
    /// `ext4`, `xfs`, `btrfs`, `vfat`, `ntfs`, …
    pub fs_type: String,
    pub uuid: Option<String>,
    pub label: Option<String>,
    pub block_size: u32,
    /// Size of the filesystem in bytes.
    pub size: u64,
    /// Problems noticed while mounting (e.g. journal needs recovery).
    pub warnings: Vec<String>,
}

/// A read-only filesystem.
///
/// Implementations are `Send + Sync` and take `&self`, so one mounted
/// filesystem serves several readers. Every value they read from the device is
/// untrusted: lengths, counts and block numbers are checked, directory reads
/// are bounded by [`crate::FsLimits`], and a problem is an error naming the
/// device, the inode and what was wrong — never a panic.
pub trait FileSystem: Send + Sync + std::fmt::Debug {
    /// Facts about the filesystem.
    fn info(&self) -> &FsInfo;
    /// The root directory's inode.
    fn root(&self) -> InodeId;
    /// Metadata of `inode`.
    fn metadata(&self, inode: InodeId) -> Result<Metadata>;
    /// Entries of directory `inode` (without `.` and `..`).
    fn read_dir(&self, inode: InodeId) -> Result<Vec<DirEntry>>;
    /// Finds `name` in directory `dir`. Drivers with indexed directories
    /// override this to avoid reading the whole directory.
    fn lookup(&self, dir: InodeId, name: &[u8]) -> Result<Option<InodeId>> {
        Ok(self
            .read_dir(dir)?
            .into_iter()
            .find(|e| e.name == name)
            .map(|e| e.inode))
    }
    /// Target of symlink `inode`.
    fn read_link(&self, inode: InodeId) -> Result<Vec<u8>>;
    /// Reads up to `buf.len()` bytes of regular file `inode` at `offset`;
    /// returns the count (0 at end of file). Holes read as zeros.
    fn read(&self, inode: InodeId, offset: u64, buf: &mut [u8]) -> Result<usize>;
}
