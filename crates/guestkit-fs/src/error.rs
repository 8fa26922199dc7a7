//! Typed errors of the filesystem layer: each names the filesystem (its
//! device), the inode or path, and what was wrong.

use guestkit_disk::DiskError;

/// Errors of the filesystem layer.
#[derive(Debug, thiserror::Error)]
pub enum FsError {
    /// The device below failed.
    #[error(transparent)]
    Disk(#[from] DiskError),
    /// An on-disk structure is inconsistent.
    #[error("{device}: {fs}: corrupt {what}{}: {reason}", location(*inode, *offset))]
    Corrupt {
        device: String,
        fs: &'static str,
        what: String,
        inode: Option<u64>,
        offset: Option<u64>,
        reason: String,
    },
    /// A valid filesystem uses a feature this driver does not read.
    #[error("{device}: {fs}: unsupported {what}")]
    Unsupported {
        device: String,
        fs: &'static str,
        what: String,
    },
    /// A value read from the filesystem is beyond a configured bound.
    #[error("{device}: {fs}: {what} = {value} exceeds the limit of {limit}")]
    LimitExceeded {
        device: String,
        fs: &'static str,
        what: String,
        value: u64,
        limit: u64,
    },
    /// The path does not exist in the guest.
    #[error("{path}: no such file or directory")]
    NotFound { path: String },
    /// The path names something of the wrong type (e.g. a file used as a directory).
    #[error("{path}: {reason}")]
    WrongType { path: String, reason: String },
    /// Writing an export (a tar stream) failed.
    #[error("writing the output failed")]
    Output(#[source] std::io::Error),
    /// Symlinks nested deeper than the limit (a loop, most likely).
    #[error("{path}: too many levels of symbolic links")]
    SymlinkLoop { path: String },
}

impl FsError {
    /// A corrupt-structure error of filesystem `fs` on `device`.
    pub fn corrupt(
        fs: &'static str,
        device: &str,
        what: &str,
        inode: Option<u64>,
        offset: Option<u64>,
        reason: String,
    ) -> FsError {
        FsError::Corrupt {
            device: device.to_string(),
            fs,
            what: what.to_string(),
            inode,
            offset,
            reason,
        }
    }

    /// An unsupported-feature error of filesystem `fs` on `device`.
    pub fn unsupported(fs: &'static str, device: &str, what: &str) -> FsError {
        FsError::Unsupported {
            device: device.to_string(),
            fs,
            what: what.to_string(),
        }
    }
}

/// Result alias of the filesystem layer.
pub type Result<T, E = FsError> = std::result::Result<T, E>;

/// ` (inode N, offset M)`, naming whichever is known.
fn location(inode: Option<u64>, offset: Option<u64>) -> String {
    match (inode, offset) {
        (Some(i), Some(o)) => format!(" (inode {i}, offset {o})"),
        (Some(i), None) => format!(" (inode {i})"),
        (None, Some(o)) => format!(" (offset {o})"),
        (None, None) => String::new(),
    }
}
