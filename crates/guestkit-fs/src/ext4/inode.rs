//! ext inodes: type, mode, owners, sizes, times, and where the data lives.

use guestkit_disk::block::bytes::{le16, le32};

use crate::fs::{FileType, Timestamp};

pub const FLAG_ENCRYPT: u32 = 0x800;
pub const FLAG_EXTENTS: u32 = 0x80000;
pub const FLAG_INLINE_DATA: u32 = 0x1000_0000;

/// An inode as read from the inode table (at least 128 bytes).
#[derive(Debug, Clone)]
pub struct Inode {
    pub raw: Vec<u8>,
}

fn time(sec: u32, extra: Option<u32>) -> Timestamp {
    // The extra field: 2 epoch bits extending the seconds, 30 bits of nanoseconds.
    let base = i64::from(sec as i32);
    match extra {
        Some(x) => Timestamp {
            sec: base + (i64::from(x & 3) << 32),
            nsec: (x >> 2).min(999_999_999),
        },
        None => Timestamp { sec: base, nsec: 0 },
    }
}

impl Inode {
    fn u16_at(&self, at: usize) -> u16 {
        le16(&self.raw, at).unwrap_or(0)
    }

    fn u32_at(&self, at: usize) -> u32 {
        le32(&self.raw, at).unwrap_or(0)
    }

    /// `i_mode`.
    pub fn mode(&self) -> u16 {
        self.u16_at(0)
    }

    /// The file type from the mode; `None` for an invalid one.
    pub fn file_type(&self) -> Option<FileType> {
        FileType::from_mode(u32::from(self.mode()))
    }

    pub fn uid(&self) -> u32 {
        u32::from(self.u16_at(0x2)) | (u32::from(self.u16_at(0x78)) << 16)
    }

    pub fn gid(&self) -> u32 {
        u32::from(self.u16_at(0x18)) | (u32::from(self.u16_at(0x7a)) << 16)
    }

    pub fn size(&self) -> u64 {
        u64::from(self.u32_at(0x4)) | (u64::from(self.u32_at(0x6c)) << 32)
    }

    pub fn links(&self) -> u16 {
        self.u16_at(0x1a)
    }

    pub fn flags(&self) -> u32 {
        self.u32_at(0x20)
    }

    /// 512-byte sectors (or blocks, with HUGE_FILE) the inode uses.
    pub fn blocks(&self) -> u64 {
        u64::from(self.u32_at(0x1c)) | (u64::from(self.u16_at(0x74)) << 32)
    }

    /// Extended attribute block.
    pub fn file_acl(&self) -> u64 {
        u64::from(self.u32_at(0x68)) | (u64::from(self.u16_at(0x76)) << 32)
    }

    /// The 60-byte `i_block` area.
    pub fn i_block(&self) -> &[u8] {
        self.raw.get(0x28..0x64).unwrap_or_default()
    }

    /// Bytes of the extra inode fields beyond 128, when present.
    fn extra_isize(&self) -> usize {
        if self.raw.len() > 128 {
            usize::from(self.u16_at(0x80))
        } else {
            0
        }
    }

    fn extra(&self, at: usize) -> Option<u32> {
        (self.extra_isize() >= at + 4 - 0x80).then(|| self.u32_at(at))
    }

    pub fn atime(&self) -> Timestamp {
        time(self.u32_at(0x8), self.extra(0x8c))
    }

    pub fn ctime(&self) -> Timestamp {
        time(self.u32_at(0xc), self.extra(0x84))
    }

    pub fn mtime(&self) -> Timestamp {
        time(self.u32_at(0x10), self.extra(0x88))
    }

    /// Creation time, where recorded.
    pub fn crtime(&self) -> Option<Timestamp> {
        self.extra(0x90).map(|sec| time(sec, self.extra(0x94)))
    }

    /// Device number of a device node, old or new encoding.
    pub fn rdev(&self) -> (u32, u32) {
        let old = le32(self.i_block(), 0).unwrap_or(0);
        if old != 0 {
            return ((old >> 8) & 0xff, old & 0xff);
        }
        let new = le32(self.i_block(), 4).unwrap_or(0);
        ((new & 0xfff00) >> 8, (new & 0xff) | ((new >> 12) & 0xfff00))
    }

    /// The in-inode extended attribute `system.data` (inline data beyond
    /// the first 60 bytes), if any.
    pub fn inline_xattr_data(&self) -> Option<&[u8]> {
        let start = 0x80 + self.extra_isize();
        let area = self.raw.get(start..)?;
        if le32(area, 0)? != 0xea02_0000 {
            return None;
        }
        let entries = area.get(4..)?;
        let mut at = 0usize;
        loop {
            let name_len = usize::from(*entries.get(at)?);
            let index = *entries.get(at + 1)?;
            if name_len == 0 && index == 0 && le32(entries, at)? == 0 {
                return None;
            }
            let value_offs = usize::from(le16(entries, at + 2)?);
            let value_size = le32(entries, at + 8)? as usize;
            let name = entries.get(at + 16..at + 16 + name_len)?;
            if index == 7 && name == b"data" {
                return entries.get(value_offs..value_offs.checked_add(value_size)?);
            }
            at += (16 + name_len).next_multiple_of(4);
        }
    }
}
