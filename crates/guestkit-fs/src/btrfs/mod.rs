//! Btrfs (single device), read-only.
//!
//! The primary superblock (64 KiB, CRC-32C) leads to the chunk tree, which
//! maps logical addresses to the device (SINGLE and DUP, and mirrored
//! profiles whose copy is on this device; striped/parity profiles are
//! refused). The root tree holds one root item per subvolume; each
//! subvolume is an fs tree of inode items, dir items (name-hash keyed, used
//! by [`FileSystem::lookup`]), dir index items (used by `read_dir`, in
//! creation order), inode refs and file extents (inline, regular, holes,
//! preallocated, compressed with zlib, LZO or zstd). Xattrs are ignored.
//!
//! Subvolumes inside the mounted one are **crossed**: a directory entry
//! naming a subvolume resolves to that subvolume's root directory, so a walk
//! sees the whole tree as the kernel shows it. Inode ids of the mounted
//! subvolume are its objectids; inodes of other subvolumes are
//! `(tree id << 40) | objectid`.
//!
//! Tree nodes are checked (checksum, address, fsid, level, key order) and
//! cached up to `max_cache_bytes`. Data checksums are not verified.
//! Filesystems with checksums other than CRC-32C mount with a warning and
//! unverified metadata.

mod chunk;
mod compress;
mod crc;
mod extent;
mod items;
mod lzo;
mod subvol;
mod superblock;
mod tree;
mod volume;

use std::collections::HashMap;
use std::sync::Mutex;

use guestkit_disk::{BlockDevice, DeviceRef};

pub use subvol::{SubvolInfo, SubvolSelector};

use crate::error::{FsError, Result};
use crate::fs::{DirEntry, FileSystem, FileType, FsInfo, InodeId, Metadata};
use crate::limits::FsLimits;
use chunk::{ChunkMap, CHUNK_ITEM_KEY, FIRST_CHUNK_TREE_OBJECTID, MAX_CHUNKS};
use items::{
    dir_items, dir_type, inode_item, mode_type, InodeItem, RootItem, DIR_INDEX_KEY, DIR_ITEM_KEY,
    INODE_ITEM_KEY, ROOT_ITEM_KEY,
};
use tree::{get, search, Key, Root};
use volume::Volume;

/// Name of this filesystem in errors.
pub(crate) const FS: &str = "btrfs";

pub(crate) fn corrupt(
    device: &str,
    what: &str,
    inode: Option<u64>,
    offset: Option<u64>,
    reason: String,
) -> FsError {
    FsError::corrupt(FS, device, what, inode, offset, reason)
}

pub(crate) fn unsupported(device: &str, what: String) -> FsError {
    FsError::Unsupported {
        device: device.to_string(),
        fs: FS,
        what,
    }
}

pub(crate) fn limit_exceeded(device: &str, what: String, value: u64, limit: u64) -> FsError {
    FsError::LimitExceeded {
        device: device.to_string(),
        fs: FS,
        what,
        value,
        limit,
    }
}

const TREE_SHIFT: u32 = 40;
const OBJID_MASK: u64 = (1 << TREE_SHIFT) - 1;
const MAX_TREE_ID: u64 = (1 << (64 - TREE_SHIFT)) - 1;

/// A mounted Btrfs subvolume.
#[derive(Debug)]
pub struct BtrfsFs {
    vol: Volume,
    info: FsInfo,
    root_tree: Root,
    /// Id of the mounted subvolume.
    top: u64,
    top_dirid: u64,
    roots: Mutex<HashMap<u64, RootItem>>,
}

fn info_of(sb: &superblock::Superblock) -> FsInfo {
    let mut warnings = Vec::new();
    if sb.csum_type != superblock::CSUM_CRC32C {
        warnings.push(format!(
            "metadata checksums of type {} are not verified",
            superblock::csum_name(sb.csum_type)
        ));
    }
    if sb.num_devices > 1 {
        warnings.push(format!(
            "filesystem spans {} devices; only chunks with a copy on this device are readable",
            sb.num_devices
        ));
    }
    FsInfo {
        fs_type: "btrfs".into(),
        uuid: Some(superblock::uuid_text(&sb.fsid)),
        label: (!sb.label.is_empty()).then(|| sb.label.clone()),
        block_size: sb.sectorsize,
        size: sb.total_bytes,
        warnings,
    }
}

/// Checks for a Btrfs superblock (reads only the primary superblock).
pub fn probe(dev: &dyn BlockDevice) -> Result<Option<FsInfo>> {
    Ok(superblock::read(dev)?.map(|sb| info_of(&sb)))
}

/// Mounts the default subvolume (the root tree's `default` entry, else the
/// top level, FS_TREE 5).
pub fn mount(dev: DeviceRef, limits: FsLimits) -> Result<BtrfsFs> {
    mount_subvolume(dev, limits, SubvolSelector::Default)
}

/// Mounts the subvolume chosen by `sel`.
pub fn mount_subvolume(dev: DeviceRef, limits: FsLimits, sel: SubvolSelector) -> Result<BtrfsFs> {
    let name = dev.describe();
    let sb = superblock::read(dev.as_ref())?.ok_or_else(|| {
        corrupt(
            &name,
            "superblock",
            None,
            Some(superblock::SUPER_OFFSET),
            "magic _BHRfS_M not found".into(),
        )
    })?;
    let info = info_of(&sb);
    let sys = ChunkMap::from_sys_array(&sb.sys_chunk_array, sb.devid, &name)?;
    let chunk_root = Root {
        bytenr: sb.chunk_root,
        level: sb.chunk_root_level,
        id: 3,
    };
    let root_tree = Root {
        bytenr: sb.root,
        level: sb.root_level,
        id: 1,
    };
    let mut vol = Volume::new(dev, sb, sys, limits);
    let items = search(
        &vol,
        &chunk_root,
        Key::new(FIRST_CHUNK_TREE_OBJECTID, CHUNK_ITEM_KEY, 0),
        Key::new(FIRST_CHUNK_TREE_OBJECTID, CHUNK_ITEM_KEY, u64::MAX),
        MAX_CHUNKS,
    )?;
    let mut map = ChunkMap::default();
    for it in &items {
        let (c, _) =
            ChunkMap::parse_item(&it.data, it.key.offset, vol.sb.devid, &name, "chunk tree")?;
        map.insert(c, &name)?;
    }
    if map.len() == 0 {
        return Err(corrupt(
            &name,
            "chunk tree",
            None,
            Some(vol.sb.chunk_root),
            "no chunk items".into(),
        ));
    }
    vol.chunks = map;
    let top = match sel {
        SubvolSelector::Default => subvol::default_subvol(&vol, &root_tree)?,
        SubvolSelector::Id(id) => id,
        SubvolSelector::Path(p) => {
            let want = p.trim_matches('/');
            if want.is_empty() {
                subvol::FS_TREE_OBJECTID
            } else {
                subvol::list(&vol, &root_tree)?
                    .into_iter()
                    .find(|s| s.path == want)
                    .map(|s| s.id)
                    .ok_or_else(|| FsError::NotFound {
                        path: format!("{name}: btrfs subvolume {p}"),
                    })?
            }
        }
    };
    if !subvol::is_subvol_id(top) || top > MAX_TREE_ID {
        return Err(FsError::NotFound {
            path: format!("{name}: btrfs subvolume id {top}"),
        });
    }
    let ri = subvol::find_root(&vol, &root_tree, top)?.ok_or_else(|| FsError::NotFound {
        path: format!("{name}: btrfs subvolume id {top}"),
    })?;
    let fs = BtrfsFs {
        vol,
        info,
        root_tree,
        top,
        top_dirid: ri.root_dirid,
        roots: Mutex::new(HashMap::from([(top, ri)])),
    };
    fs.encode(top, fs.top_dirid)?;
    Ok(fs)
}

impl BtrfsFs {
    /// Id of the mounted subvolume.
    pub fn subvolume_id(&self) -> u64 {
        self.top
    }

    /// All subvolumes of the filesystem, with parents and paths from the
    /// top level.
    pub fn subvolumes(&self) -> Result<Vec<SubvolInfo>> {
        subvol::list(&self.vol, &self.root_tree)
    }

    fn encode(&self, tree: u64, objid: u64) -> Result<InodeId> {
        if objid > OBJID_MASK {
            return Err(unsupported(
                &self.vol.name,
                format!("inode number {objid} of tree {tree} (above 2^40)"),
            ));
        }
        if tree == self.top {
            Ok(objid)
        } else if tree > MAX_TREE_ID {
            Err(unsupported(
                &self.vol.name,
                format!("subvolume id {tree} (above 2^24)"),
            ))
        } else {
            Ok((tree << TREE_SHIFT) | objid)
        }
    }

    fn decode(&self, ino: InodeId) -> (u64, u64) {
        match ino >> TREE_SHIFT {
            0 => (self.top, ino),
            t => (t, ino & OBJID_MASK),
        }
    }

    fn tree(&self, id: u64) -> Result<Root> {
        if let Some(r) = self.roots.lock().ok().and_then(|m| m.get(&id).cloned()) {
            return Ok(Root {
                bytenr: r.bytenr,
                level: r.level,
                id,
            });
        }
        let r = subvol::find_root(&self.vol, &self.root_tree, id)?.ok_or_else(|| {
            corrupt(
                &self.vol.name,
                "subvolume",
                None,
                None,
                format!("no root item for subvolume {id}"),
            )
        })?;
        let root = Root {
            bytenr: r.bytenr,
            level: r.level,
            id,
        };
        if let Ok(mut m) = self.roots.lock() {
            if m.len() < 4096 {
                m.insert(id, r);
            }
        }
        Ok(root)
    }

    fn inode(&self, ino: InodeId) -> Result<(Root, u64, InodeItem)> {
        let (tree, objid) = self.decode(ino);
        if !subvol::is_subvol_id(tree) {
            return Err(corrupt(
                &self.vol.name,
                "inode",
                Some(ino),
                None,
                format!("inode id names tree {tree}, not a subvolume"),
            ));
        }
        let root = self.tree(tree)?;
        let item = get(&self.vol, &root, Key::new(objid, INODE_ITEM_KEY, 0))?.ok_or_else(|| {
            corrupt(
                &self.vol.name,
                "inode",
                Some(ino),
                None,
                format!("no inode item for object {objid} in fs tree {tree}"),
            )
        })?;
        let inode = inode_item(&item.data).ok_or_else(|| {
            corrupt(
                &self.vol.name,
                "inode",
                Some(ino),
                None,
                format!("inode item of {} bytes", item.data.len()),
            )
        })?;
        Ok((root, objid, inode))
    }

    fn file_type(&self, ino: InodeId, inode: &InodeItem) -> Result<FileType> {
        mode_type(inode.mode).ok_or_else(|| {
            corrupt(
                &self.vol.name,
                "inode",
                Some(ino),
                None,
                format!("mode {:#o} has no file type", inode.mode),
            )
        })
    }

    /// The inode id a directory entry's location key names: an inode of the
    /// same tree, or the root directory of a child subvolume.
    fn entry_target(&self, tree: u64, dir_ino: InodeId, loc: Key) -> Result<InodeId> {
        match loc.ty {
            INODE_ITEM_KEY => self.encode(tree, loc.objectid),
            ROOT_ITEM_KEY => {
                let child = loc.objectid;
                if !subvol::is_subvol_id(child) || child == tree {
                    return Err(corrupt(
                        &self.vol.name,
                        "dir entry",
                        Some(dir_ino),
                        None,
                        format!("entry names tree {child}, not a child subvolume"),
                    ));
                }
                self.tree(child)?;
                let dirid = self
                    .roots
                    .lock()
                    .ok()
                    .and_then(|m| m.get(&child).map(|r| r.root_dirid));
                let dirid = match dirid {
                    Some(d) => d,
                    None => subvol::find_root(&self.vol, &self.root_tree, child)?
                        .map(|r| r.root_dirid)
                        .unwrap_or(256),
                };
                self.encode(child, dirid)
            }
            t => Err(corrupt(
                &self.vol.name,
                "dir entry",
                Some(dir_ino),
                None,
                format!("location key type {t}"),
            )),
        }
    }

    fn expect_dir(&self, ino: InodeId) -> Result<(Root, u64)> {
        let (root, objid, inode) = self.inode(ino)?;
        if self.file_type(ino, &inode)? != FileType::Directory {
            return Err(FsError::WrongType {
                path: format!("{}: btrfs inode {ino}", self.vol.name),
                reason: "not a directory".into(),
            });
        }
        Ok((root, objid))
    }
}

/// Decodes an inode's rdev (the kernel's internal `dev_t`: major << 20 | minor).
fn rdev_of(rdev: u64) -> (u32, u32) {
    (((rdev >> 20) & 0xfff) as u32, (rdev & 0xf_ffff) as u32)
}

impl FileSystem for BtrfsFs {
    fn info(&self) -> &FsInfo {
        &self.info
    }

    fn root(&self) -> InodeId {
        self.top_dirid
    }

    fn metadata(&self, ino: InodeId) -> Result<Metadata> {
        let (_, _, inode) = self.inode(ino)?;
        let file_type = self.file_type(ino, &inode)?;
        Ok(Metadata {
            inode: ino,
            file_type,
            mode: inode.mode & 0o7777,
            uid: inode.uid,
            gid: inode.gid,
            size: inode.size,
            nlink: inode.nlink,
            atime: inode.atime,
            mtime: inode.mtime,
            ctime: inode.ctime,
            btime: Some(inode.otime),
            rdev: matches!(file_type, FileType::CharDevice | FileType::BlockDevice)
                .then(|| rdev_of(inode.rdev)),
        })
    }

    fn read_dir(&self, ino: InodeId) -> Result<Vec<DirEntry>> {
        let (root, objid) = self.expect_dir(ino)?;
        let limit = self.vol.limits.max_dir_entries as usize;
        let items = search(
            &self.vol,
            &root,
            Key::new(objid, DIR_INDEX_KEY, 0),
            Key::new(objid, DIR_INDEX_KEY, u64::MAX),
            limit,
        )?;
        let mut out = Vec::with_capacity(items.len());
        for it in items {
            let entries = dir_items(&it.data).map_err(|r| {
                corrupt(
                    &self.vol.name,
                    "dir index",
                    Some(ino),
                    Some(it.key.offset),
                    r,
                )
            })?;
            for e in entries {
                if out.len() >= limit {
                    return Err(limit_exceeded(
                        &self.vol.name,
                        format!("entries of directory {ino}"),
                        out.len() as u64 + 1,
                        limit as u64,
                    ));
                }
                let inode = self.entry_target(root.id, ino, e.location)?;
                if inode == ino {
                    return Err(corrupt(
                        &self.vol.name,
                        "dir index",
                        Some(ino),
                        Some(it.key.offset),
                        "directory contains itself".into(),
                    ));
                }
                out.push(DirEntry {
                    name: e.name,
                    inode,
                    file_type: dir_type(e.ty),
                });
            }
        }
        Ok(out)
    }

    fn lookup(&self, dir: InodeId, name: &[u8]) -> Result<Option<InodeId>> {
        let (root, objid) = self.expect_dir(dir)?;
        let key = Key::new(objid, DIR_ITEM_KEY, crc::name_hash(name));
        let Some(item) = get(&self.vol, &root, key)? else {
            return Ok(None);
        };
        let entries = dir_items(&item.data)
            .map_err(|r| corrupt(&self.vol.name, "dir item", Some(dir), Some(key.offset), r))?;
        match entries.into_iter().find(|e| e.name == name) {
            Some(e) => self.entry_target(root.id, dir, e.location).map(Some),
            None => Ok(None),
        }
    }

    fn read_link(&self, ino: InodeId) -> Result<Vec<u8>> {
        let (root, objid, inode) = self.inode(ino)?;
        if self.file_type(ino, &inode)? != FileType::Symlink {
            return Err(FsError::WrongType {
                path: format!("{}: btrfs inode {ino}", self.vol.name),
                reason: "not a symbolic link".into(),
            });
        }
        let max = self.vol.limits.max_symlink_len;
        if inode.size > max {
            return Err(limit_exceeded(
                &self.vol.name,
                format!("symlink target length of inode {ino}"),
                inode.size,
                max,
            ));
        }
        let mut buf = vec![0u8; inode.size as usize];
        let n = extent::read(&self.vol, &root, objid, ino, inode.size, 0, &mut buf)?;
        buf.truncate(n);
        Ok(buf)
    }

    fn read(&self, ino: InodeId, offset: u64, buf: &mut [u8]) -> Result<usize> {
        let (root, objid, inode) = self.inode(ino)?;
        if self.file_type(ino, &inode)? != FileType::Regular {
            return Err(FsError::WrongType {
                path: format!("{}: btrfs inode {ino}", self.vol.name),
                reason: "not a regular file".into(),
            });
        }
        extent::read(&self.vol, &root, objid, ino, inode.size, offset, buf)
    }
}
