//! The guest tree: filesystems mounted at their places, and every path
//! resolved *inside the guest*. `..` stops at the guest root, absolute
//! symlinks are re-rooted at the guest root, symlink nesting is bounded, and
//! no host path is ever derived from guest data.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use crate::error::{FsError, Result};
use crate::fs::{DirEntry, FileSystem, FileType, InodeId, Metadata};
use crate::limits::FsLimits;

/// One mounted filesystem.
#[derive(Debug, Clone)]
pub struct Mount {
    /// Mount point as guest path components (empty for `/`).
    pub point: Vec<Vec<u8>>,
    /// What was mounted (e.g. `disk0p2`, `vg0/root`), for messages.
    pub source: String,
    pub fs: Arc<dyn FileSystem>,
}

/// A file or directory of the guest: which mount, which inode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Node {
    pub mount: usize,
    pub inode: InodeId,
}

/// A resolved path: its node and its canonical guest path.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub node: Node,
    /// Canonical absolute guest path (`/` joined components).
    pub path: Vec<u8>,
}

/// Entries kept in the lookup cache before it is emptied.
const LOOKUP_CACHE_ENTRIES: usize = 1 << 16;

/// Cache of (directory, name) → (entry, type).
type LookupCache = RwLock<HashMap<(Node, Vec<u8>), (Node, FileType)>>;

/// The guest's filesystems assembled into one tree.
#[derive(Debug)]
pub struct GuestTree {
    mounts: Vec<Mount>,
    limits: FsLimits,
    /// Name lookups already done: paths shared by many resolutions (deep
    /// prefixes, `/etc`) cost a hash lookup per component after the first.
    lookups: LookupCache,
}

fn display(path: &[u8]) -> String {
    String::from_utf8_lossy(path).into_owned()
}

fn join(components: &[Vec<u8>]) -> Vec<u8> {
    if components.is_empty() {
        return b"/".to_vec();
    }
    let mut out = Vec::new();
    for c in components {
        out.push(b'/');
        out.extend_from_slice(c);
    }
    out
}

/// Splits a path into its non-empty components.
fn components(path: &[u8]) -> impl DoubleEndedIterator<Item = &[u8]> {
    path.split(|&b| b == b'/').filter(|c| !c.is_empty())
}

impl GuestTree {
    /// A tree with `root` mounted at `/`.
    pub fn new(root: Arc<dyn FileSystem>, source: impl Into<String>, limits: FsLimits) -> Self {
        GuestTree {
            mounts: vec![Mount {
                point: Vec::new(),
                source: source.into(),
                fs: root,
            }],
            limits,
            lookups: RwLock::new(HashMap::new()),
        }
    }

    /// Mounts `fs` at guest path `point`, which must resolve to a directory
    /// of the tree as assembled so far (symlinks in it are followed inside
    /// the guest).
    pub fn mount(
        &mut self,
        point: &[u8],
        fs: Arc<dyn FileSystem>,
        source: impl Into<String>,
    ) -> Result<()> {
        let target = self.resolve(point)?;
        let md = self.metadata_of(target.node)?;
        if md.file_type != FileType::Directory {
            return Err(FsError::WrongType {
                path: display(point),
                reason: "mount point is not a directory".into(),
            });
        }
        let point = components(&target.path).map(<[u8]>::to_vec).collect();
        if let Ok(mut cache) = self.lookups.write() {
            cache.clear();
        }
        self.mounts.push(Mount {
            point,
            source: source.into(),
            fs,
        });
        Ok(())
    }

    /// The mounts, `/` first.
    pub fn mounts(&self) -> &[Mount] {
        &self.mounts
    }

    /// The filesystem of a node.
    pub fn fs(&self, node: Node) -> Result<&Arc<dyn FileSystem>> {
        self.mounts
            .get(node.mount)
            .map(|m| &m.fs)
            .ok_or_else(|| FsError::NotFound {
                path: format!("<mount {}>", node.mount),
            })
    }

    /// The root node of the newest mount at exactly `components`, if any.
    fn mount_at(&self, components: &[Vec<u8>]) -> Option<Node> {
        self.mounts
            .iter()
            .enumerate()
            .rev()
            .find(|(_, m)| m.point.as_slice() == components)
            .map(|(i, m)| Node {
                mount: i,
                inode: m.fs.root(),
            })
    }

    /// Resolves `path` following every symlink, the last one included.
    pub fn resolve(&self, path: &[u8]) -> Result<Resolved> {
        self.resolve_with(path, true)
    }

    /// Resolves `path`; a symlink in the last component is returned itself
    /// (like `lstat`).
    pub fn resolve_nofollow(&self, path: &[u8]) -> Result<Resolved> {
        self.resolve_with(path, false)
    }

    fn resolve_with(&self, path: &[u8], follow_last: bool) -> Result<Resolved> {
        let root = self
            .mount_at(&[])
            .ok_or_else(|| FsError::NotFound { path: "/".into() })?;
        // The walk so far: components, and the node and type of each prefix.
        let mut names: Vec<Vec<u8>> = Vec::new();
        let mut nodes: Vec<(Node, FileType)> = vec![(root, FileType::Directory)];
        // Components still to walk, last first.
        let mut todo: Vec<Vec<u8>> = components(path).rev().map(<[u8]>::to_vec).collect();
        let mut links = 0u32;
        while let Some(name) = todo.pop() {
            let (current, current_type) = *nodes.last().unwrap_or(&(root, FileType::Directory));
            match name.as_slice() {
                b"." => continue,
                b".." => {
                    if names.pop().is_some() {
                        nodes.pop();
                    }
                    continue;
                }
                _ => {}
            }
            if current_type != FileType::Directory {
                return Err(FsError::WrongType {
                    path: display(&join(&names)),
                    reason: "not a directory".into(),
                });
            }
            names.push(name);
            let Some((node, file_type)) = self.child(current, &names)? else {
                return Err(FsError::NotFound {
                    path: display(&join(&names)),
                });
            };
            let is_last = todo.is_empty();
            if file_type == FileType::Symlink && (!is_last || follow_last) {
                links += 1;
                if links > self.limits.max_symlink_depth {
                    return Err(FsError::SymlinkLoop {
                        path: display(&join(&names)),
                    });
                }
                let target = self.read_link_node(node, &names)?;
                names.pop();
                if target.first() == Some(&b'/') {
                    names.clear();
                    nodes.truncate(1);
                }
                todo.extend(components(&target).rev().map(<[u8]>::to_vec));
                continue;
            }
            nodes.push((node, file_type));
        }
        Ok(Resolved {
            node: nodes.last().map(|n| n.0).unwrap_or(root),
            path: join(&names),
        })
    }

    /// The entry named by the last of `names` in directory `dir` (whose path
    /// is the rest of `names`), with mounts applied: from the lookup cache,
    /// else from the filesystem.
    fn child(&self, dir: Node, names: &[Vec<u8>]) -> Result<Option<(Node, FileType)>> {
        let Some(name) = names.last() else {
            return Ok(None);
        };
        let key = (dir, name.clone());
        if let Some(hit) = self.lookups.read().ok().and_then(|c| c.get(&key).copied()) {
            return Ok(Some(hit));
        }
        let Some(inode) = self.fs(dir)?.lookup(dir.inode, name)? else {
            return Ok(None);
        };
        let node = self.mount_at(names).unwrap_or(Node {
            mount: dir.mount,
            inode,
        });
        let file_type = self.metadata_of(node)?.file_type;
        if let Ok(mut cache) = self.lookups.write() {
            if cache.len() >= LOOKUP_CACHE_ENTRIES {
                cache.clear();
            }
            cache.insert(key, (node, file_type));
        }
        Ok(Some((node, file_type)))
    }

    fn read_link_node(&self, node: Node, names: &[Vec<u8>]) -> Result<Vec<u8>> {
        let target = self.fs(node)?.read_link(node.inode)?;
        if target.len() as u64 > self.limits.max_symlink_len {
            return Err(FsError::LimitExceeded {
                device: display(&join(names)),
                fs: "tree",
                what: "symlink target length".into(),
                value: target.len() as u64,
                limit: self.limits.max_symlink_len,
            });
        }
        Ok(target)
    }

    /// Metadata of a node.
    pub fn metadata_of(&self, node: Node) -> Result<Metadata> {
        self.fs(node)?.metadata(node.inode)
    }

    /// `stat`: metadata of `path`, following symlinks.
    pub fn metadata(&self, path: &[u8]) -> Result<Metadata> {
        self.metadata_of(self.resolve(path)?.node)
    }

    /// `lstat`: metadata of `path` itself.
    pub fn symlink_metadata(&self, path: &[u8]) -> Result<Metadata> {
        self.metadata_of(self.resolve_nofollow(path)?.node)
    }

    /// Target of the symlink at `path`.
    pub fn read_link(&self, path: &[u8]) -> Result<Vec<u8>> {
        let r = self.resolve_nofollow(path)?;
        let names: Vec<Vec<u8>> = components(&r.path).map(<[u8]>::to_vec).collect();
        self.read_link_node(r.node, &names)
    }

    /// Entries of the directory at `path`, with mounted filesystems shown in
    /// place of the directories they cover.
    pub fn read_dir(&self, path: &[u8]) -> Result<Vec<(DirEntry, Node)>> {
        let r = self.resolve(path)?;
        self.read_dir_node(r.node, &r.path)
    }

    /// Entries of directory `node`, whose canonical path is `path`.
    pub fn read_dir_node(&self, node: Node, path: &[u8]) -> Result<Vec<(DirEntry, Node)>> {
        let base: Vec<Vec<u8>> = components(path).map(<[u8]>::to_vec).collect();
        let entries = self.fs(node)?.read_dir(node.inode)?;
        Ok(entries
            .into_iter()
            .map(|e| {
                let mut child = base.clone();
                child.push(e.name.clone());
                let n = self.mount_at(&child).unwrap_or(Node {
                    mount: node.mount,
                    inode: e.inode,
                });
                (e, n)
            })
            .collect())
    }

    /// Reads up to `buf.len()` bytes of the regular file `node` at `offset`.
    pub fn read_node(&self, node: Node, offset: u64, buf: &mut [u8]) -> Result<usize> {
        self.fs(node)?.read(node.inode, offset, buf)
    }

    /// A [`std::io::Read`] over the regular file at `path`, for streaming
    /// a file too large to hold (an initramfs, a package archive).
    pub fn open_file(&self, path: &[u8]) -> Result<FileReader<'_>> {
        let r = self.resolve(path)?;
        let md = self.metadata_of(r.node)?;
        if md.file_type != FileType::Regular {
            return Err(FsError::WrongType {
                path: display(&r.path),
                reason: "not a regular file".into(),
            });
        }
        Ok(FileReader {
            tree: self,
            node: r.node,
            size: md.size,
            at: 0,
        })
    }

    /// The whole content of the file at `path`, refusing files larger than
    /// `max` bytes (so a 1 GB file cannot exhaust memory).
    pub fn read_file(&self, path: &[u8], max: u64) -> Result<Vec<u8>> {
        let r = self.resolve(path)?;
        let md = self.metadata_of(r.node)?;
        if md.file_type != FileType::Regular {
            return Err(FsError::WrongType {
                path: display(&r.path),
                reason: "not a regular file".into(),
            });
        }
        if md.size > max {
            return Err(FsError::LimitExceeded {
                device: display(&r.path),
                fs: "tree",
                what: "file size".into(),
                value: md.size,
                limit: max,
            });
        }
        let mut out = vec![0u8; md.size as usize];
        let mut at = 0usize;
        while at < out.len() {
            let n = self.read_node(r.node, at as u64, &mut out[at..])?;
            if n == 0 {
                break;
            }
            at += n;
        }
        out.truncate(at);
        Ok(out)
    }
}

/// Sequential reader over one regular file of a [`GuestTree`]
/// (see [`GuestTree::open_file`]).
pub struct FileReader<'a> {
    tree: &'a GuestTree,
    node: Node,
    size: u64,
    at: u64,
}

impl FileReader<'_> {
    /// The file's size in bytes.
    pub fn size(&self) -> u64 {
        self.size
    }
}

impl std::io::Read for FileReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let left = self.size.saturating_sub(self.at);
        let want = usize::try_from(left).unwrap_or(usize::MAX).min(buf.len());
        let Some(buf) = buf.get_mut(..want) else {
            return Ok(0);
        };
        if buf.is_empty() {
            return Ok(0);
        }
        let n = self
            .tree
            .read_node(self.node, self.at, buf)
            .map_err(std::io::Error::other)?;
        self.at += n as u64;
        Ok(n)
    }
}
