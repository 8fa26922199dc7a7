//! Reading guest files for inspectors: bounded reads through the guest tree,
//! with every problem other than "not there" kept as a warning that names
//! the file, so a partly unreadable guest still gives a partial report.

use std::cell::RefCell;

use guestkit_fs::{FileType, FsError, GuestTree};

use crate::report::Warning;

/// Largest configuration file read whole (os-release, passwd, sshd_config…);
/// longer files are read up to this size, with a warning.
pub const MAX_CONFIG_BYTES: u64 = 4 << 20;

/// Largest binary package database read whole (an rpmdb of a big server
/// reaches a few hundred MB).
pub const MAX_DATABASE_BYTES: u64 = 512 << 20;

/// Largest text package database read (dpkg status, apk installed: a few
/// MB on real systems); longer ones are read up to here with a warning.
pub const MAX_TEXT_DATABASE_BYTES: u64 = 64 << 20;

/// The guest's files, as inspectors see them.
pub struct GuestFiles<'a> {
    tree: &'a GuestTree,
    warnings: RefCell<Vec<Warning>>,
}

impl<'a> GuestFiles<'a> {
    /// Inspectors' view of `tree`.
    pub fn new(tree: &'a GuestTree) -> Self {
        GuestFiles {
            tree,
            warnings: RefCell::new(Vec::new()),
        }
    }

    /// The guest tree below.
    pub fn tree(&self) -> &'a GuestTree {
        self.tree
    }

    /// Records a warning about `path`.
    pub fn warn(&self, section: &'static str, path: &str, message: impl Into<String>) {
        self.warnings.borrow_mut().push(Warning {
            section,
            path: Some(path.to_string()),
            message: message.into(),
        });
    }

    /// The warnings recorded so far, emptied.
    pub fn take_warnings(&self) -> Vec<Warning> {
        std::mem::take(&mut *self.warnings.borrow_mut())
    }

    /// The target of the symlink at `path` as written, `None` when `path`
    /// is not a symlink (or does not exist).
    pub fn link_target(&self, path: &str) -> Option<String> {
        match self.tree.symlink_metadata(path.as_bytes()) {
            Ok(m) if m.file_type == FileType::Symlink => self
                .tree
                .read_link(path.as_bytes())
                .ok()
                .map(|t| String::from_utf8_lossy(&t).into_owned()),
            _ => None,
        }
    }

    /// Whether `path` exists (following symlinks) and is a regular file.
    pub fn is_file(&self, path: &str) -> bool {
        self.tree
            .metadata(path.as_bytes())
            .is_ok_and(|m| m.file_type == FileType::Regular)
    }

    /// Whether `path` exists (following symlinks) and is a directory.
    pub fn is_dir(&self, path: &str) -> bool {
        self.tree
            .metadata(path.as_bytes())
            .is_ok_and(|m| m.file_type == FileType::Directory)
    }

    /// The first `len` bytes (or fewer) of the regular file at `path`, for
    /// a header: `None` when absent; failures are warnings.
    pub fn read_head(&self, section: &'static str, path: &str, len: u64) -> Option<Vec<u8>> {
        self.read_bounded(section, path, len, false)
    }

    /// Up to `max` bytes of the regular file at `path`: `None` when it does
    /// not exist; a file longer than `max` is cut there with a warning; any
    /// other failure is a warning and `None`.
    pub fn read_prefix(&self, section: &'static str, path: &str, max: u64) -> Option<Vec<u8>> {
        self.read_bounded(section, path, max, true)
    }

    fn read_bounded(
        &self,
        section: &'static str,
        path: &str,
        max: u64,
        warn_if_cut: bool,
    ) -> Option<Vec<u8>> {
        let resolved = match self.tree.resolve(path.as_bytes()) {
            Ok(r) => r,
            Err(FsError::NotFound { .. }) => return None,
            Err(e) => {
                self.warn(section, path, e.to_string());
                return None;
            }
        };
        let md = match self.tree.metadata_of(resolved.node) {
            Ok(md) => md,
            Err(e) => {
                self.warn(section, path, e.to_string());
                return None;
            }
        };
        if md.file_type != FileType::Regular {
            self.warn(
                section,
                path,
                format!("not a regular file ({:?})", md.file_type),
            );
            return None;
        }
        let want = md.size.min(max);
        if md.size > max && warn_if_cut {
            self.warn(
                section,
                path,
                format!("{} bytes long: only the first {max} were read", md.size),
            );
        }
        let mut out = vec![0u8; usize::try_from(want).unwrap_or(0)];
        let mut at = 0usize;
        while at < out.len() {
            let Some(rest) = out.get_mut(at..) else { break };
            match self.tree.read_node(resolved.node, at as u64, rest) {
                Ok(0) => break,
                Ok(n) => at += n,
                Err(e) => {
                    self.warn(section, path, format!("read failed at byte {at}: {e}"));
                    break;
                }
            }
        }
        out.truncate(at);
        Some(out)
    }

    /// The text of a configuration file (lossy UTF-8), `None` when absent.
    pub fn read_text(&self, section: &'static str, path: &str) -> Option<String> {
        self.read_prefix(section, path, MAX_CONFIG_BYTES)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
    }

    /// Names in the directory at `path` (empty when absent), sorted.
    pub fn list_dir(&self, section: &'static str, path: &str) -> Vec<String> {
        match self.tree.read_dir(path.as_bytes()) {
            Ok(entries) => {
                let mut names: Vec<String> = entries
                    .into_iter()
                    .map(|(e, _)| String::from_utf8_lossy(&e.name).into_owned())
                    .collect();
                names.sort();
                names
            }
            Err(FsError::NotFound { .. }) => Vec::new(),
            Err(e) => {
                self.warn(section, path, e.to_string());
                Vec::new()
            }
        }
    }
}
