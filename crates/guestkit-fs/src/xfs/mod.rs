//! XFS (v4 and v5), read-only: the superblock (CRC-checked on v5), inode
//! cores v2/v3 (nanosecond and bigtime timestamps), data forks in local,
//! extent-list and B+tree form (unwritten extents read as zeros), all
//! directory forms (shortform, block, leaf, node, btree — read through their
//! data blocks), local and remote symlinks, and device numbers. Metadata
//! CRCs other than the superblock's are not verified; structure checks
//! (magics, levels, bounds) are.

mod bmap;
mod dir;
mod inode;
mod superblock;

use std::sync::Arc;

use guestkit_disk::block::bytes::be32;
use guestkit_disk::{BlockDevice, DeviceRef};

use crate::error::{FsError, Result};
use crate::fs::{DirEntry, FileSystem, FileType, FsInfo, InodeId, Metadata};
use crate::limits::FsLimits;
use inode::{Inode, FORMAT_LOCAL};
use superblock::Superblock;

const FS: &str = "xfs";
/// Directory data blocks live below this byte offset of the directory.
const DIR_LEAF_OFFSET: u64 = 32 << 30;

pub(crate) fn corrupt(
    device: &str,
    what: &str,
    inode: Option<u64>,
    offset: Option<u64>,
    reason: String,
) -> FsError {
    FsError::corrupt(FS, device, what, inode, offset, reason)
}

pub(crate) fn unsupported(device: &str, what: &str) -> FsError {
    FsError::unsupported(FS, device, what)
}

fn info(sb: &Superblock) -> FsInfo {
    FsInfo {
        fs_type: FS.into(),
        uuid: Some(guestkit_disk::uuid::uuid_be(&sb.uuid)),
        label: (!sb.label.is_empty()).then(|| sb.label.clone()),
        block_size: sb.block_size as u32,
        size: sb.dblocks.saturating_mul(sb.block_size),
        warnings: Vec::new(),
    }
}

/// Checks for an XFS superblock; reads nothing else.
pub fn probe(dev: &dyn BlockDevice) -> Result<Option<FsInfo>> {
    Ok(superblock::read(dev)?.map(|sb| info(&sb)))
}

/// A mounted XFS filesystem.
#[derive(Debug)]
pub struct XfsFs {
    dev: DeviceRef,
    sb: Superblock,
    name: String,
    info: FsInfo,
    limits: FsLimits,
}

/// Mounts the XFS filesystem on `dev`, read-only.
pub fn mount(dev: DeviceRef, limits: FsLimits) -> Result<XfsFs> {
    let name = dev.describe();
    let sb = superblock::read(dev.as_ref())?
        .ok_or_else(|| corrupt(&name, "superblock", None, Some(0), "no XFS magic".into()))?;
    if sb.dblocks.saturating_mul(sb.block_size) > dev.size() {
        return Err(corrupt(
            &name,
            "superblock",
            None,
            Some(0),
            format!(
                "{} blocks of {} bytes do not fit the {}-byte volume",
                sb.dblocks,
                sb.block_size,
                dev.size()
            ),
        ));
    }
    Ok(XfsFs {
        info: info(&sb),
        dev,
        sb,
        name,
        limits,
    })
}

/// Mounts as a trait object (the driver registry's form).
pub fn mount_dyn(dev: DeviceRef, limits: FsLimits) -> Result<Arc<dyn FileSystem>> {
    Ok(Arc::new(mount(dev, limits)?))
}

impl XfsFs {
    /// Reads filesystem block `fsb` (for inode `ino`'s messages).
    fn read_fsb(&self, fsb: u64, ino: u64) -> Result<Vec<u8>> {
        let at = self
            .sb
            .fsb_to_byte(fsb)
            .filter(|a| a.saturating_add(self.sb.block_size) <= self.dev.size())
            .ok_or_else(|| {
                corrupt(
                    &self.name,
                    "block pointer",
                    Some(ino),
                    None,
                    format!("block {fsb:#x} lies outside the filesystem"),
                )
            })?;
        let mut buf = vec![0u8; self.sb.block_size as usize];
        self.dev.read_at(&mut buf, at)?;
        Ok(buf)
    }

    fn inode(&self, ino: InodeId) -> Result<Inode> {
        let at = self
            .sb
            .inode_byte(ino)
            .filter(|a| a.saturating_add(self.sb.inode_size) <= self.dev.size())
            .ok_or_else(|| {
                corrupt(
                    &self.name,
                    "inode number",
                    Some(ino),
                    None,
                    "outside the filesystem".into(),
                )
            })?;
        let mut raw = vec![0u8; self.sb.inode_size as usize];
        self.dev.read_at(&mut raw, at)?;
        let inode = Inode::parse(raw).ok_or_else(|| {
            corrupt(
                &self.name,
                "inode",
                Some(ino),
                Some(at),
                "bad magic or version".into(),
            )
        })?;
        if inode.file_type().is_none() {
            return Err(corrupt(
                &self.name,
                "inode",
                Some(ino),
                Some(at),
                format!("mode {:#o}", inode.mode()),
            ));
        }
        Ok(inode)
    }

    /// Reads `buf.len()` bytes of the inode's data at `offset` (the caller
    /// bounds it by the size); holes and unwritten extents read as zeros.
    fn read_data(&self, ino: InodeId, inode: &Inode, offset: u64, buf: &mut [u8]) -> Result<()> {
        let extents = bmap::extents(self, ino, inode)?;
        let bs = self.sb.block_size;
        let mut pos = 0usize;
        while pos < buf.len() {
            let at = offset + pos as u64;
            let blk = at / bs;
            let within = at % bs;
            let (ext, hole) = bmap::find(&extents, blk);
            let avail_blocks = match ext {
                Some(e) => e.off + e.len - blk,
                None => hole,
            };
            let n = usize::try_from(
                (avail_blocks.saturating_mul(bs) - within).min((buf.len() - pos) as u64),
            )
            .unwrap_or(0)
            .max(1);
            let dst = buf.get_mut(pos..pos + n).unwrap_or_default();
            match ext {
                Some(e) if !e.unwritten => {
                    let fsb = e.start + (blk - e.off);
                    // Contiguous within one AG: one read.
                    let start = self.sb.fsb_to_byte(fsb);
                    let end = self
                        .sb
                        .fsb_to_byte(fsb + (n as u64 + within).div_ceil(bs) - 1);
                    match (start, end) {
                        (Some(s), Some(e2)) if e2 >= s => self.dev.read_at(dst, s + within)?,
                        _ => {
                            return Err(corrupt(
                                &self.name,
                                "extent",
                                Some(ino),
                                None,
                                format!("blocks from {fsb:#x} lie outside the filesystem"),
                            ));
                        }
                    }
                }
                _ => dst.fill(0),
            }
            pos += n;
        }
        Ok(())
    }
}

impl FileSystem for XfsFs {
    fn info(&self) -> &FsInfo {
        &self.info
    }

    fn root(&self) -> InodeId {
        self.sb.root_ino
    }

    fn metadata(&self, ino: InodeId) -> Result<Metadata> {
        let inode = self.inode(ino)?;
        let file_type = inode.file_type().unwrap_or(FileType::Regular);
        Ok(Metadata {
            inode: ino,
            file_type,
            mode: u32::from(inode.mode() & 0o7777),
            uid: inode.uid(),
            gid: inode.gid(),
            size: inode.size(),
            nlink: inode.nlink(),
            atime: inode.atime(&self.sb),
            mtime: inode.mtime(&self.sb),
            ctime: inode.ctime(&self.sb),
            btime: inode.crtime(&self.sb),
            rdev: matches!(file_type, FileType::CharDevice | FileType::BlockDevice)
                .then(|| inode.rdev()),
        })
    }

    fn read_dir(&self, ino: InodeId) -> Result<Vec<DirEntry>> {
        let inode = self.inode(ino)?;
        if inode.file_type() != Some(FileType::Directory) {
            return Err(FsError::WrongType {
                path: format!("{}: inode {ino}", self.name),
                reason: "not a directory".into(),
            });
        }
        let mut out = Vec::new();
        let bad = |reason: String| corrupt(&self.name, "directory", Some(ino), None, reason);
        if inode.format() == FORMAT_LOCAL {
            dir::shortform(inode.data_fork(), self.sb.ftype, &mut out).map_err(bad)?;
            return Ok(out);
        }
        let dbs = self.sb.dir_block_size;
        let extents = bmap::extents(self, ino, &inode)?;
        let bs = self.sb.block_size;
        let mut block = vec![0u8; dbs as usize];
        // Every directory block that holds data (below the leaf offset).
        let mut done = std::collections::BTreeSet::new();
        for e in &extents {
            let first = e.off * bs / dbs;
            let last = ((e.off + e.len) * bs).min(DIR_LEAF_OFFSET).div_ceil(dbs);
            for db in first..last {
                if !done.insert(db) || e.unwritten {
                    continue;
                }
                self.read_data(ino, &inode, db * dbs, &mut block)?;
                dir::data_block(&block, self.sb.v5, self.sb.ftype, &mut out)
                    .map_err(|r| bad(format!("directory block {db}: {r}")))?;
                if out.len() as u64 > self.limits.max_dir_entries {
                    return Err(FsError::LimitExceeded {
                        device: self.name.clone(),
                        fs: FS,
                        what: format!("entries of directory inode {ino}"),
                        value: out.len() as u64,
                        limit: self.limits.max_dir_entries,
                    });
                }
            }
        }
        Ok(out)
    }

    fn read_link(&self, ino: InodeId) -> Result<Vec<u8>> {
        let inode = self.inode(ino)?;
        if inode.file_type() != Some(FileType::Symlink) {
            return Err(FsError::WrongType {
                path: format!("{}: inode {ino}", self.name),
                reason: "not a symlink".into(),
            });
        }
        let size = inode.size();
        if size > self.limits.max_symlink_len || size > 1024 {
            return Err(corrupt(
                &self.name,
                "symlink",
                Some(ino),
                None,
                format!("target of {size} bytes"),
            ));
        }
        if inode.format() == FORMAT_LOCAL {
            return inode
                .data_fork()
                .get(..size as usize)
                .map(<[u8]>::to_vec)
                .ok_or_else(|| {
                    corrupt(
                        &self.name,
                        "symlink",
                        Some(ino),
                        None,
                        "target longer than the fork".into(),
                    )
                });
        }
        let extents = bmap::extents(self, ino, &inode)?;
        let mut target = Vec::new();
        let header = if self.sb.v5 { 56 } else { 0 };
        for e in &extents {
            for b in 0..e.len {
                let block = self.read_fsb(e.start + b, ino)?;
                if self.sb.v5 && be32(&block, 0) != Some(0x5853_4c4d) {
                    return Err(corrupt(
                        &self.name,
                        "remote symlink block",
                        Some(ino),
                        None,
                        "bad XSLM magic".into(),
                    ));
                }
                let want = (size as usize).saturating_sub(target.len());
                let body = block.get(header..).unwrap_or_default();
                target.extend_from_slice(body.get(..want.min(body.len())).unwrap_or_default());
            }
        }
        if target.len() as u64 != size {
            return Err(corrupt(
                &self.name,
                "symlink",
                Some(ino),
                None,
                format!("{} of {size} target bytes found", target.len()),
            ));
        }
        Ok(target)
    }

    fn read(&self, ino: InodeId, offset: u64, buf: &mut [u8]) -> Result<usize> {
        let inode = self.inode(ino)?;
        if inode.file_type() != Some(FileType::Regular) {
            return Err(FsError::WrongType {
                path: format!("{}: inode {ino}", self.name),
                reason: "not a regular file".into(),
            });
        }
        let size = inode.size();
        if offset >= size || buf.is_empty() {
            return Ok(0);
        }
        let want = usize::try_from(size - offset)
            .unwrap_or(usize::MAX)
            .min(buf.len());
        let dst = buf.get_mut(..want).unwrap_or_default();
        if inode.format() == FORMAT_LOCAL {
            let data = inode.data_fork();
            for (i, b) in dst.iter_mut().enumerate() {
                *b = data.get(offset as usize + i).copied().unwrap_or(0);
            }
            return Ok(want);
        }
        self.read_data(ino, &inode, offset, dst)?;
        Ok(want)
    }
}
