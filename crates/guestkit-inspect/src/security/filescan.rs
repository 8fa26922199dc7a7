//! A bounded walk of the guest's files for what only a full scan finds:
//! setuid/setgid files, world-writable files and directories without the
//! sticky bit, files owned by no known user. Runs only on `deep_scan`.

use guestkit_fs::{FileType, Node};
use serde::Serialize;

use crate::files::GuestFiles;

const SECTION: &str = "security";

/// Pseudo filesystems and caches not worth scanning.
const SKIP: [&str; 5] = ["/proc", "/sys", "/dev", "/run", "/var/cache"];

/// Bounds of the scan.
#[derive(Debug, Clone, Copy)]
pub struct ScanLimits {
    pub max_entries: usize,
    pub max_depth: usize,
    /// Most findings of each kind kept.
    pub max_findings: usize,
}

impl Default for ScanLimits {
    fn default() -> Self {
        ScanLimits {
            max_entries: 1_000_000,
            max_depth: 64,
            max_findings: 10_000,
        }
    }
}

/// A file the scan flags.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct ScannedFile {
    pub path: String,
    /// Permission bits including setuid/setgid/sticky.
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
}

/// What the scan found.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct FileScan {
    pub entries_scanned: usize,
    /// The scan stopped at a limit: the lists may be incomplete.
    pub truncated: bool,
    pub setuid: Vec<ScannedFile>,
    pub setgid: Vec<ScannedFile>,
    pub world_writable_files: Vec<ScannedFile>,
    /// World-writable directories without the sticky bit.
    pub world_writable_dirs: Vec<ScannedFile>,
    /// Files whose owner uid is in no passwd entry.
    pub unowned: Vec<ScannedFile>,
}

fn push(list: &mut Vec<ScannedFile>, limits: &ScanLimits, truncated: &mut bool, f: ScannedFile) {
    if list.len() < limits.max_findings {
        list.push(f);
    } else {
        *truncated = true;
    }
}

/// Scans the guest from `/`; `known_uid(uid)` says whether a user owns
/// that uid.
pub fn scan(files: &GuestFiles, limits: ScanLimits, known_uid: &dyn Fn(u32) -> bool) -> FileScan {
    let tree = files.tree();
    let mut out = FileScan::default();
    let Ok(root) = tree.resolve(b"/") else {
        return out;
    };
    let mut stack: Vec<(Node, String, usize)> = vec![(root.node, String::new(), 0)];
    while let Some((node, path, depth)) = stack.pop() {
        let shown = if path.is_empty() {
            "/".to_string()
        } else {
            path.clone()
        };
        let entries = match tree.read_dir_node(node, shown.as_bytes()) {
            Ok(e) => e,
            Err(e) => {
                files.warn(SECTION, &shown, format!("not scanned: {e}"));
                continue;
            }
        };
        for (entry, child) in entries {
            if out.entries_scanned >= limits.max_entries {
                out.truncated = true;
                return out;
            }
            out.entries_scanned += 1;
            let child_path = format!("{path}/{}", String::from_utf8_lossy(&entry.name));
            let Ok(md) = tree.metadata_of(child) else {
                continue;
            };
            let f = || ScannedFile {
                path: child_path.clone(),
                mode: md.mode,
                uid: md.uid,
                gid: md.gid,
            };
            let truncated = &mut out.truncated;
            match md.file_type {
                FileType::Regular => {
                    if md.mode & 0o4000 != 0 {
                        push(&mut out.setuid, &limits, truncated, f());
                    }
                    if md.mode & 0o2000 != 0 {
                        push(&mut out.setgid, &limits, truncated, f());
                    }
                    if md.mode & 0o002 != 0 {
                        push(&mut out.world_writable_files, &limits, truncated, f());
                    }
                }
                FileType::Directory if md.mode & 0o002 != 0 && md.mode & 0o1000 == 0 => {
                    push(&mut out.world_writable_dirs, &limits, truncated, f());
                }
                _ => {}
            }
            if !known_uid(md.uid) && md.file_type != FileType::Symlink {
                push(&mut out.unowned, &limits, &mut out.truncated, f());
            }
            if md.file_type == FileType::Directory && !SKIP.contains(&child_path.as_str()) {
                if depth + 1 < limits.max_depth {
                    stack.push((child, child_path, depth + 1));
                } else {
                    out.truncated = true;
                }
            }
        }
    }
    out
}
