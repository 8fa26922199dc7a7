//! guestkit-fixtures: the fixture image factory.
//!
//! Builds disk images from directory trees with rootless tools only — no loop
//! device, no mount, no device-mapper — plus writers of our own for the
//! on-disk structures no rootless tool produces (LVM2 labels and metadata, md
//! superblocks). Results are cached under [`fixtures_root`] and rebuilt when a
//! recipe changes. `cargo xtask fixtures` builds them all; tests call the
//! recipe functions directly.

pub mod bench;
pub mod cache;
pub mod corpus;
pub mod debian;
pub mod debian_images;
pub mod demo;
pub mod disks;
pub mod formats;
pub mod fs_btrfs;
pub mod fs_images;
pub mod fs_tree;
pub mod lvm;
pub mod md;
pub mod tools;
pub mod tree;
pub mod windows;

pub use cache::{cached, fixtures_root, workspace_root};

use std::path::{Path, PathBuf};

/// Errors of the factory.
#[derive(Debug, thiserror::Error)]
pub enum FixtureError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("`{command}` failed: {message}")]
    Tool { command: String, message: String },
    #[error("fixture recipe {recipe}: {message}")]
    Recipe { recipe: String, message: String },
}

impl FixtureError {
    /// An I/O error on `path`.
    pub fn io(path: &Path, source: std::io::Error) -> Self {
        FixtureError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// Result alias of the factory.
pub type Result<T, E = FixtureError> = std::result::Result<T, E>;
