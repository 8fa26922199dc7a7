//! FAT12 / FAT16 / FAT32 (EFI system partitions, boot partitions, data
//! disks), read-only.
//!
//! Inode numbers: the root is 1; every other file or directory is numbered by
//! the byte offset, on the volume, of its 32-byte short directory entry —
//! unique, stable, and enough to read the entry back. FAT carries no owners,
//! symlinks, devices or hard links: files are 0o644 and directories 0o755
//! (read-only files 0o444), owned by 0:0; times are the stored local times
//! taken as UTC. Lookups ignore case, as FAT does.

mod bpb;
mod dir;
mod table;

use std::sync::Arc;

use guestkit_disk::{BlockDevice, DeviceRef};

use crate::error::{FsError, Result};
use crate::fs::{DirEntry, FileSystem, FileType, FsInfo, InodeId, Metadata, Timestamp};
use crate::limits::FsLimits;
use bpb::{FatType, Layout};
use dir::{Entry, ATTR_DIRECTORY, ATTR_READ_ONLY};
use table::Table;

const FS: &str = "vfat";
const ROOT: InodeId = 1;

fn corrupt(
    device: &str,
    what: &str,
    inode: Option<u64>,
    offset: Option<u64>,
    reason: String,
) -> FsError {
    FsError::corrupt(FS, device, what, inode, offset, reason)
}

fn info(layout: &Layout, label: Option<String>) -> FsInfo {
    let s = layout.serial;
    FsInfo {
        fs_type: FS.into(),
        uuid: (s != 0).then(|| format!("{:04X}-{:04X}", s >> 16, s & 0xffff)),
        label: label.or_else(|| layout.label.clone()),
        block_size: layout.cluster_size as u32,
        size: layout.total_bytes,
        warnings: Vec::new(),
    }
}

/// Checks for a FAT boot sector; reads the root directory for the label, as
/// blkid prefers it.
pub fn probe(dev: &dyn BlockDevice) -> Result<Option<FsInfo>> {
    let Some(layout) = bpb::read(dev)? else {
        return Ok(None);
    };
    let label = if layout.fat_type == FatType::Fat32 {
        None
    } else {
        let len = layout.root_bytes.min(64 << 10) as usize;
        let mut root = vec![0u8; len];
        dev.read_at(&mut root, layout.root_offset)?;
        dir::parse(&root).1
    };
    Ok(Some(info(&layout, label)))
}

/// A mounted FAT volume.
#[derive(Debug)]
pub struct FatFs {
    dev: DeviceRef,
    name: String,
    layout: Layout,
    table: Table,
    info: FsInfo,
    limits: FsLimits,
}

/// Mounts the FAT volume on `dev`, read-only. The first FAT is loaded into
/// memory (bounded by `limits.max_cache_bytes`).
pub fn mount(dev: DeviceRef, limits: FsLimits) -> Result<FatFs> {
    let name = dev.describe();
    let layout = bpb::read(dev.as_ref())?.ok_or_else(|| {
        corrupt(
            &name,
            "boot sector",
            None,
            Some(0),
            "not a FAT boot sector".into(),
        )
    })?;
    if layout.fat_bytes > limits.max_cache_bytes {
        return Err(FsError::LimitExceeded {
            device: name,
            fs: FS,
            what: "FAT size".into(),
            value: layout.fat_bytes,
            limit: limits.max_cache_bytes,
        });
    }
    let mut fat = vec![0u8; layout.fat_bytes as usize];
    dev.read_at(&mut fat, layout.fat_offset)?;
    let table = Table::new(&layout, fat);
    let mut fs = FatFs {
        info: info(&layout, None),
        dev,
        name,
        layout,
        table,
        limits,
    };
    if let Ok(Some(label)) = fs.root_label() {
        fs.info.label = Some(label);
    }
    Ok(fs)
}

/// Mounts as a trait object (the driver registry's form).
pub fn mount_dyn(dev: DeviceRef, limits: FsLimits) -> Result<Arc<dyn FileSystem>> {
    Ok(Arc::new(mount(dev, limits)?))
}

impl FatFs {
    fn cluster_offset(&self, c: u32) -> u64 {
        self.layout.data_offset + u64::from(c - 2) * self.layout.cluster_size
    }

    /// The clusters of a chain, checked.
    fn chain(&self, start: u32, max_clusters: u64, inode: InodeId) -> Result<Vec<u32>> {
        self.table
            .chain(start, max_clusters)
            .map_err(|reason| corrupt(&self.name, "cluster chain", Some(inode), None, reason))
    }

    /// The bytes of a directory and the device offset of each byte run:
    /// returns (data, device offset of each 32-byte slot).
    fn dir_bytes(&self, inode: InodeId, first_cluster: u32) -> Result<(Vec<u8>, Vec<u64>)> {
        let max_bytes = self.limits.max_dir_entries.saturating_mul(32);
        if inode == ROOT && self.layout.fat_type != FatType::Fat32 {
            let mut data = vec![0u8; self.layout.root_bytes as usize];
            self.dev.read_at(&mut data, self.layout.root_offset)?;
            let offsets = (0..data.len() / 32)
                .map(|i| self.layout.root_offset + i as u64 * 32)
                .collect();
            return Ok((data, offsets));
        }
        let max_clusters = max_bytes.div_ceil(self.layout.cluster_size);
        let clusters = self.chain(first_cluster, max_clusters, inode)?;
        let cs = self.layout.cluster_size as usize;
        let mut data = vec![0u8; clusters.len() * cs];
        let mut offsets = Vec::with_capacity(data.len() / 32);
        for (chunk, &c) in data.chunks_exact_mut(cs).zip(&clusters) {
            let at = self.cluster_offset(c);
            self.dev.read_at(chunk, at)?;
            offsets.extend((0..cs / 32).map(|i| at + i as u64 * 32));
        }
        Ok((data, offsets))
    }

    fn root_label(&self) -> Result<Option<String>> {
        let (data, _) = self.dir_bytes(ROOT, self.layout.root_cluster)?;
        Ok(dir::parse(&data).1)
    }

    /// The entry behind `inode` (a short entry's device offset).
    fn entry(&self, inode: InodeId) -> Result<Entry> {
        let mut raw = [0u8; 32];
        if inode < self.layout.fat_offset
            || inode
                .checked_add(32)
                .is_none_or(|e| e > self.layout.total_bytes)
        {
            return Err(corrupt(
                &self.name,
                "inode number",
                Some(inode),
                None,
                "not a directory entry offset".into(),
            ));
        }
        self.dev.read_at(&mut raw, inode)?;
        dir::parse_one(&raw).ok_or_else(|| {
            corrupt(
                &self.name,
                "directory entry",
                Some(inode),
                Some(inode),
                "no file entry at this offset".into(),
            )
        })
    }

    fn entries(&self, inode: InodeId) -> Result<Vec<(InodeId, Entry)>> {
        let first = if inode == ROOT {
            self.layout.root_cluster
        } else {
            let e = self.entry(inode)?;
            if !e.is_dir() {
                return Err(FsError::WrongType {
                    path: format!("{}: {}", self.name, e.name),
                    reason: "not a directory".into(),
                });
            }
            e.first_cluster
        };
        let (data, offsets) = self.dir_bytes(inode, first)?;
        let (entries, _) = dir::parse(&data);
        if entries.len() as u64 > self.limits.max_dir_entries {
            return Err(FsError::LimitExceeded {
                device: self.name.clone(),
                fs: FS,
                what: format!("entries of directory {inode}"),
                value: entries.len() as u64,
                limit: self.limits.max_dir_entries,
            });
        }
        Ok(entries
            .into_iter()
            .filter_map(|(at, e)| offsets.get(at / 32).map(|&off| (off, e)))
            .collect())
    }
}

impl FileSystem for FatFs {
    fn info(&self) -> &FsInfo {
        &self.info
    }

    fn root(&self) -> InodeId {
        ROOT
    }

    fn metadata(&self, inode: InodeId) -> Result<Metadata> {
        if inode == ROOT {
            return Ok(Metadata {
                inode,
                file_type: FileType::Directory,
                mode: 0o755,
                uid: 0,
                gid: 0,
                size: 0,
                nlink: 1,
                atime: Timestamp::default(),
                mtime: Timestamp::default(),
                ctime: Timestamp::default(),
                btime: None,
                rdev: None,
            });
        }
        let e = self.entry(inode)?;
        let dir = e.attr & ATTR_DIRECTORY != 0;
        let mut mode = if dir { 0o755 } else { 0o644 };
        if e.attr & ATTR_READ_ONLY != 0 {
            mode &= 0o555;
        }
        Ok(Metadata {
            inode,
            file_type: if dir {
                FileType::Directory
            } else {
                FileType::Regular
            },
            mode,
            uid: 0,
            gid: 0,
            size: if dir { 0 } else { u64::from(e.size) },
            nlink: 1,
            atime: e.atime,
            mtime: e.mtime,
            ctime: e.mtime,
            btime: Some(e.btime),
            rdev: None,
        })
    }

    fn read_dir(&self, inode: InodeId) -> Result<Vec<DirEntry>> {
        Ok(self
            .entries(inode)?
            .into_iter()
            .map(|(ino, e)| DirEntry {
                name: e.name.as_bytes().to_vec(),
                inode: ino,
                file_type: Some(if e.is_dir() {
                    FileType::Directory
                } else {
                    FileType::Regular
                }),
            })
            .collect())
    }

    fn lookup(&self, dir: InodeId, name: &[u8]) -> Result<Option<InodeId>> {
        let wanted = String::from_utf8_lossy(name).to_lowercase();
        Ok(self
            .entries(dir)?
            .into_iter()
            .find(|(_, e)| e.name.to_lowercase() == wanted)
            .map(|(ino, _)| ino))
    }

    fn read_link(&self, inode: InodeId) -> Result<Vec<u8>> {
        Err(FsError::WrongType {
            path: format!("{}: inode {inode}", self.name),
            reason: "FAT has no symlinks".into(),
        })
    }

    fn read(&self, inode: InodeId, offset: u64, buf: &mut [u8]) -> Result<usize> {
        let e = self.entry(inode)?;
        if e.is_dir() {
            return Err(FsError::WrongType {
                path: format!("{}: {}", self.name, e.name),
                reason: "not a regular file".into(),
            });
        }
        let size = u64::from(e.size);
        if offset >= size || buf.is_empty() {
            return Ok(0);
        }
        let cs = self.layout.cluster_size;
        let needed = size.div_ceil(cs);
        let clusters = self.chain(e.first_cluster, needed, inode)?;
        if (clusters.len() as u64) < needed {
            return Err(corrupt(
                &self.name,
                "cluster chain",
                Some(inode),
                None,
                format!(
                    "{} clusters hold {size} bytes of {}",
                    clusters.len(),
                    e.name
                ),
            ));
        }
        let want = usize::try_from(size - offset)
            .unwrap_or(usize::MAX)
            .min(buf.len());
        let mut pos = 0usize;
        while pos < want {
            let at = offset + pos as u64;
            let index = (at / cs) as usize;
            let within = at % cs;
            let Some(&first) = clusters.get(index) else {
                break;
            };
            // Extend over clusters that follow each other on disk.
            let mut run = 1usize;
            while clusters.get(index + run) == Some(&(first + run as u32)) {
                run += 1;
            }
            let n =
                usize::try_from((run as u64 * cs - within).min((want - pos) as u64)).unwrap_or(0);
            if n == 0 {
                break;
            }
            if let Some(dst) = buf.get_mut(pos..pos + n) {
                self.dev.read_at(dst, self.cluster_offset(first) + within)?;
            }
            pos += n;
        }
        Ok(pos)
    }
}
