//! ext2 / ext3 / ext4, read-only.
//!
//! A reader of our own rather than the `ext4-view` crate: our contract is
//! inode-level (`lookup`, `metadata`, `read` by inode number) and we want
//! inline data and ext2/3 block maps under one set of bounds. It reads the
//! superblock (checksum verified with metadata_csum), group descriptors
//! (32/64-bit, meta_bg), inodes (nanosecond times, 32-bit ids, old and new
//! device numbers), extent trees (depth-bounded, unwritten extents read as
//! zeros), direct/indirect block maps, linear and htree directories (htree
//! leaves hold ordinary entries and are read in order), fast and slow
//! symlinks, and inline data. A journal that needs recovery is not replayed:
//! the filesystem is read as it is on disk, and `FsInfo.warnings` says so.

mod dir;
mod inode;
mod map;
mod superblock;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use guestkit_disk::block::bytes::le32;
use guestkit_disk::{BlockDevice, DeviceRef};

use crate::error::{FsError, Result};
use crate::fs::{DirEntry, FileSystem, FileType, FsInfo, InodeId, Metadata};
use crate::limits::FsLimits;
use inode::{Inode, FLAG_ENCRYPT, FLAG_INLINE_DATA};
use map::Run;
use superblock::Superblock;

const FS: &str = "ext4";
const ROOT_INODE: u64 = 2;

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

/// Checks for an ext2/3/4 superblock; reads nothing else.
pub fn probe(dev: &dyn BlockDevice) -> Result<Option<FsInfo>> {
    Ok(superblock::read(dev)?.map(|sb| info(&sb, &dev.describe())))
}

fn info(sb: &Superblock, _name: &str) -> FsInfo {
    let mut warnings = Vec::new();
    if sb.has_incompat(superblock::INCOMPAT_RECOVER) {
        warnings
            .push("the journal needs recovery; read as it is on disk, without replay".to_string());
    }
    FsInfo {
        fs_type: sb.fs_type().to_string(),
        uuid: Some(guestkit_disk::uuid::uuid_be(&sb.uuid)),
        label: (!sb.label.is_empty()).then(|| sb.label.clone()),
        block_size: sb.block_size as u32,
        size: sb.blocks_count.saturating_mul(sb.block_size),
        warnings,
    }
}

/// A mounted ext2/3/4 filesystem.
#[derive(Debug)]
pub struct Ext4Fs {
    dev: DeviceRef,
    sb: Superblock,
    name: String,
    info: FsInfo,
    limits: FsLimits,
    /// Group → first block of its inode table.
    inode_tables: Mutex<HashMap<u64, u64>>,
}

/// Mounts the ext2/3/4 filesystem on `dev`, read-only.
pub fn mount(dev: DeviceRef, limits: FsLimits) -> Result<Ext4Fs> {
    let name = dev.describe();
    let sb = superblock::read(dev.as_ref())?.ok_or_else(|| {
        corrupt(
            &name,
            "superblock",
            None,
            Some(1024),
            "no ext2/3/4 magic".into(),
        )
    })?;
    if sb.blocks_count.saturating_mul(sb.block_size) > dev.size() {
        return Err(corrupt(
            &name,
            "superblock",
            None,
            Some(1024),
            format!(
                "{} blocks of {} bytes do not fit the {}-byte volume",
                sb.blocks_count,
                sb.block_size,
                dev.size()
            ),
        ));
    }
    let info = info(&sb, &name);
    Ok(Ext4Fs {
        dev,
        sb,
        name,
        info,
        limits,
        inode_tables: Mutex::new(HashMap::new()),
    })
}

impl Ext4Fs {
    fn read_block(&self, block: u64) -> Result<Vec<u8>> {
        let mut buf = vec![0u8; self.sb.block_size as usize];
        self.dev.read_at(&mut buf, block * self.sb.block_size)?;
        Ok(buf)
    }

    fn inode_table(&self, group: u64) -> Result<u64> {
        if let Some(&t) = self
            .inode_tables
            .lock()
            .ok()
            .and_then(|m| m.get(&group).copied())
            .as_ref()
        {
            return Ok(t);
        }
        if group >= self.sb.groups {
            return Err(corrupt(
                &self.name,
                "group descriptor",
                None,
                None,
                format!("group {group} of {}", self.sb.groups),
            ));
        }
        let at = self.sb.desc_offset(group);
        let mut desc = vec![0u8; self.sb.desc_size as usize];
        self.dev.read_at(&mut desc, at)?;
        let lo = u64::from(le32(&desc, 0x8).unwrap_or(0));
        let hi = if self.sb.desc_size >= 64 {
            u64::from(le32(&desc, 0x28).unwrap_or(0))
        } else {
            0
        };
        let table = lo | (hi << 32);
        let blocks =
            (u64::from(self.sb.inodes_per_group) * self.sb.inode_size).div_ceil(self.sb.block_size);
        if table == 0 || table.saturating_add(blocks) > self.sb.blocks_count {
            return Err(corrupt(
                &self.name,
                "group descriptor",
                None,
                Some(at),
                format!("group {group}'s inode table at block {table} lies outside the filesystem"),
            ));
        }
        if let Ok(mut m) = self.inode_tables.lock() {
            m.insert(group, table);
        }
        Ok(table)
    }

    fn inode(&self, ino: InodeId) -> Result<Inode> {
        if ino == 0 || ino > u64::from(self.sb.inodes_count) {
            return Err(corrupt(
                &self.name,
                "inode number",
                Some(ino),
                None,
                format!("outside 1..={}", self.sb.inodes_count),
            ));
        }
        let group = (ino - 1) / u64::from(self.sb.inodes_per_group);
        let index = (ino - 1) % u64::from(self.sb.inodes_per_group);
        let at = self.inode_table(group)? * self.sb.block_size + index * self.sb.inode_size;
        let mut raw = vec![0u8; self.sb.inode_size as usize];
        self.dev.read_at(&mut raw, at)?;
        let inode = Inode { raw };
        if inode.file_type().is_none() || inode.links() == 0 && inode.mode() == 0 {
            return Err(corrupt(
                &self.name,
                "inode",
                Some(ino),
                Some(at),
                format!("unused or invalid inode (mode {:#o})", inode.mode()),
            ));
        }
        if inode.flags() & FLAG_ENCRYPT != 0 {
            return Err(unsupported(&self.name, &format!("encrypted inode {ino}")));
        }
        Ok(inode)
    }

    /// The bytes of an inline-data inode: `i_block` then `system.data`.
    fn inline_data(&self, inode: &Inode) -> Vec<u8> {
        let mut data = inode.i_block().to_vec();
        if let Some(more) = inode.inline_xattr_data() {
            data.extend_from_slice(more);
        }
        data
    }

    fn read_inode_data(
        &self,
        inode: &Inode,
        ino: InodeId,
        offset: u64,
        buf: &mut [u8],
    ) -> Result<usize> {
        let size = inode.size();
        if offset >= size || buf.is_empty() {
            return Ok(0);
        }
        let want = usize::try_from(size - offset)
            .unwrap_or(usize::MAX)
            .min(buf.len());
        let buf = &mut buf[..want];
        if inode.flags() & FLAG_INLINE_DATA != 0 {
            let data = self.inline_data(inode);
            let start = usize::try_from(offset).unwrap_or(usize::MAX);
            for (i, b) in buf.iter_mut().enumerate() {
                *b = data.get(start + i).copied().unwrap_or(0);
            }
            return Ok(want);
        }
        let bs = self.sb.block_size;
        let mut pos = 0usize;
        // A pending read of contiguous blocks: (device offset, start in buf, len).
        let mut pending: Option<(u64, usize, usize)> = None;
        while pos < want {
            let at = offset + pos as u64;
            let lblk = at / bs;
            let within = at % bs;
            let blocks_wanted = (within + (want - pos) as u64).div_ceil(bs);
            let run = map::map(self, inode, ino, lblk, blocks_wanted)?;
            let (len_blocks, phys) = match run {
                Run::Mapped { phys, len } => (len, Some(phys)),
                Run::Zero { len } => (len, None),
            };
            let n = usize::try_from((len_blocks * bs - within).min((want - pos) as u64))
                .unwrap_or(0)
                .max(1);
            match phys {
                Some(p) => {
                    let dev_off = p * bs + within;
                    match pending {
                        Some((o, s, l)) if o + l as u64 == dev_off => pending = Some((o, s, l + n)),
                        _ => {
                            self.flush(buf, pending.take())?;
                            pending = Some((dev_off, pos, n));
                        }
                    }
                }
                None => {
                    self.flush(buf, pending.take())?;
                    if let Some(dst) = buf.get_mut(pos..pos + n) {
                        dst.fill(0);
                    }
                }
            }
            pos += n;
        }
        self.flush(buf, pending)?;
        Ok(want)
    }

    fn flush(&self, buf: &mut [u8], pending: Option<(u64, usize, usize)>) -> Result<()> {
        if let Some((dev_off, start, len)) = pending {
            if let Some(dst) = buf.get_mut(start..start + len) {
                self.dev.read_at(dst, dev_off)?;
            }
        }
        Ok(())
    }
}

impl FileSystem for Ext4Fs {
    fn info(&self) -> &FsInfo {
        &self.info
    }

    fn root(&self) -> InodeId {
        ROOT_INODE
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
            nlink: u32::from(inode.links()),
            atime: inode.atime(),
            mtime: inode.mtime(),
            ctime: inode.ctime(),
            btime: inode.crtime(),
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
        let has_filetype = self.sb.has_incompat(superblock::INCOMPAT_FILETYPE);
        let mut out = Vec::new();
        let bad = |reason: String| corrupt(&self.name, "directory", Some(ino), None, reason);
        if inode.flags() & FLAG_INLINE_DATA != 0 {
            // The parent's inode number, then entries; then system.data.
            let iblock = inode.i_block();
            if let Some(problem) =
                dir::parse_block(iblock.get(4..).unwrap_or_default(), has_filetype, &mut out)
            {
                return Err(bad(problem));
            }
            if let Some(more) = inode.inline_xattr_data() {
                if let Some(problem) = dir::parse_block(more, has_filetype, &mut out) {
                    return Err(bad(problem));
                }
            }
            return Ok(out);
        }
        let bs = self.sb.block_size;
        let size = inode.size();
        if size % bs != 0 || size / bs > self.limits.max_dir_entries {
            return Err(bad(format!(
                "directory size {size} is not a whole number of {bs}-byte blocks within the limits"
            )));
        }
        let mut block = vec![0u8; bs as usize];
        for b in 0..size / bs {
            let n = self.read_inode_data(&inode, ino, b * bs, &mut block)?;
            if let Some(problem) =
                dir::parse_block(block.get(..n).unwrap_or_default(), has_filetype, &mut out)
            {
                return Err(bad(format!("block {b}: {problem}")));
            }
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
        if size > self.limits.max_symlink_len || size > self.sb.block_size {
            return Err(corrupt(
                &self.name,
                "symlink",
                Some(ino),
                None,
                format!("target of {size} bytes"),
            ));
        }
        let len = size as usize;
        // Fast symlinks keep the target in i_block (no data blocks).
        let data_blocks = inode.blocks().saturating_sub(if inode.file_acl() != 0 {
            self.sb.block_size / 512
        } else {
            0
        });
        if inode.flags() & FLAG_INLINE_DATA == 0 && len < 60 && data_blocks == 0 {
            return Ok(inode.i_block().get(..len).unwrap_or_default().to_vec());
        }
        let mut buf = vec![0u8; len];
        let n = self.read_inode_data(&inode, ino, 0, &mut buf)?;
        buf.truncate(n);
        Ok(buf)
    }

    fn read(&self, ino: InodeId, offset: u64, buf: &mut [u8]) -> Result<usize> {
        let inode = self.inode(ino)?;
        if inode.file_type() != Some(FileType::Regular) {
            return Err(FsError::WrongType {
                path: format!("{}: inode {ino}", self.name),
                reason: "not a regular file".into(),
            });
        }
        self.read_inode_data(&inode, ino, offset, buf)
    }
}

/// Mounts as a trait object (the driver registry's form).
pub fn mount_dyn(dev: DeviceRef, limits: FsLimits) -> Result<Arc<dyn FileSystem>> {
    Ok(Arc::new(mount(dev, limits)?))
}
