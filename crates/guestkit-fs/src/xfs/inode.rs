//! XFS inodes: the core (v2/v3), and the data fork's bytes.

use guestkit_disk::block::bytes::{be16, be32, be64};

use super::superblock::Superblock;
use crate::fs::{FileType, Timestamp};

const MAGIC: u16 = 0x494e; // "IN"
pub const FORMAT_LOCAL: u8 = 1;
pub const FORMAT_EXTENTS: u8 = 2;
pub const FORMAT_BTREE: u8 = 3;
const FLAG2_BIGTIME: u64 = 1 << 3;
const FLAG2_NREXT64: u64 = 1 << 4;
/// Seconds between the bigtime epoch and the Unix epoch.
const BIGTIME_OFFSET: i64 = 1 << 31;

/// An inode as read from disk.
#[derive(Debug, Clone)]
pub struct Inode {
    pub raw: Vec<u8>,
    pub version: u8,
}

impl Inode {
    /// Checks the magic and version; `None` if this is not an inode.
    pub fn parse(raw: Vec<u8>) -> Option<Inode> {
        if be16(&raw, 0)? != MAGIC {
            return None;
        }
        let version = *raw.get(4)?;
        if !(1..=3).contains(&version) {
            return None;
        }
        Some(Inode { raw, version })
    }

    fn u16_at(&self, at: usize) -> u16 {
        be16(&self.raw, at).unwrap_or(0)
    }

    fn u32_at(&self, at: usize) -> u32 {
        be32(&self.raw, at).unwrap_or(0)
    }

    pub fn mode(&self) -> u16 {
        self.u16_at(2)
    }

    pub fn file_type(&self) -> Option<FileType> {
        FileType::from_mode(u32::from(self.mode()))
    }

    pub fn format(&self) -> u8 {
        self.raw.get(5).copied().unwrap_or(0xff)
    }

    pub fn uid(&self) -> u32 {
        self.u32_at(8)
    }

    pub fn gid(&self) -> u32 {
        self.u32_at(12)
    }

    pub fn nlink(&self) -> u32 {
        if self.version == 1 {
            u32::from(self.u16_at(6))
        } else {
            self.u32_at(16)
        }
    }

    fn flags2(&self) -> u64 {
        if self.version == 3 {
            be64(&self.raw, 120).unwrap_or(0)
        } else {
            0
        }
    }

    fn time(&self, at: usize, sb: &Superblock) -> Timestamp {
        if sb.bigtime && self.flags2() & FLAG2_BIGTIME != 0 {
            let ns = be64(&self.raw, at).unwrap_or(0);
            Timestamp {
                sec: (ns / 1_000_000_000) as i64 - BIGTIME_OFFSET,
                nsec: (ns % 1_000_000_000) as u32,
            }
        } else {
            Timestamp {
                sec: i64::from(self.u32_at(at) as i32),
                nsec: self.u32_at(at + 4).min(999_999_999),
            }
        }
    }

    pub fn atime(&self, sb: &Superblock) -> Timestamp {
        self.time(32, sb)
    }

    pub fn mtime(&self, sb: &Superblock) -> Timestamp {
        self.time(40, sb)
    }

    pub fn ctime(&self, sb: &Superblock) -> Timestamp {
        self.time(48, sb)
    }

    pub fn crtime(&self, sb: &Superblock) -> Option<Timestamp> {
        (self.version == 3).then(|| self.time(144, sb))
    }

    pub fn size(&self) -> u64 {
        be64(&self.raw, 56).unwrap_or(0)
    }

    /// Extents in the data fork.
    pub fn nextents(&self, sb: &Superblock) -> u64 {
        if sb.nrext64 && self.flags2() & FLAG2_NREXT64 != 0 {
            be64(&self.raw, 24).unwrap_or(0)
        } else {
            u64::from(self.u32_at(76))
        }
    }

    /// The data fork's bytes (the literal area up to the attribute fork).
    pub fn data_fork(&self) -> &[u8] {
        let start = if self.version == 3 { 176 } else { 100 };
        let forkoff = usize::from(self.raw.get(82).copied().unwrap_or(0)) * 8;
        let end = if forkoff == 0 {
            self.raw.len()
        } else {
            (start + forkoff).min(self.raw.len())
        };
        self.raw.get(start..end).unwrap_or_default()
    }

    /// Device number (XFS's "sysv" encoding in the data fork).
    pub fn rdev(&self) -> (u32, u32) {
        let dev = be32(self.data_fork(), 0).unwrap_or(0);
        ((dev >> 18) & 0x3fff, dev & 0x3ffff)
    }
}
