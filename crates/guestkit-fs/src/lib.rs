//! guestkit-fs: read-only filesystems over guestkit's block devices.
//!
//! Each driver implements the inode-level [`FileSystem`] trait; path
//! resolution, fstab mounts and confinement to the guest are built once above
//! the drivers.

pub mod btrfs;
pub mod detect;
pub mod error;
pub mod ext4;
pub mod fat;
pub mod fs;
pub mod fstab;
pub mod guest;
pub mod hostdir;
pub mod limits;
pub mod ntfs;
pub mod tar;
pub mod tree;
pub mod xfs;

pub use error::{FsError, Result};
pub use fs::{DirEntry, FileSystem, FileType, FsInfo, InodeId, Metadata, Timestamp};
pub use limits::FsLimits;
pub use tree::{FileReader, GuestTree, Mount, Node, Resolved};
