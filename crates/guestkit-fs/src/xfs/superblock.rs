//! The XFS superblock (big-endian, in the first sector of allocation group 0).

use guestkit_disk::block::bytes::{be16, be32, be64, le32};
use guestkit_disk::BlockDevice;

use super::{corrupt, unsupported};
use crate::error::Result;

const MAGIC: u32 = 0x5846_5342; // "XFSB"
/// v5 incompatible features this reader understands: ftype, sparse inodes,
/// meta uuid, bigtime, large extent counters.
const INCOMPAT_KNOWN: u32 = 0x1 | 0x2 | 0x4 | 0x8 | 0x20;
const INCOMPAT_BIGTIME: u32 = 0x8;
const INCOMPAT_FTYPE: u32 = 0x1;
const INCOMPAT_NREXT64: u32 = 0x20;
/// v4 `features2` bit for the file type in directory entries.
const FEATURES2_FTYPE: u32 = 0x200;

/// What the reader uses of the superblock.
#[derive(Debug, Clone)]
pub struct Superblock {
    pub block_size: u64,
    pub dblocks: u64,
    pub uuid: [u8; 16],
    pub root_ino: u64,
    pub ag_blocks: u64,
    pub ag_count: u64,
    pub inode_size: u64,
    pub inop_blog: u32,
    pub ag_blk_log: u32,
    pub dir_block_size: u64,
    pub label: String,
    /// Version 5: CRCs and self-describing metadata.
    pub v5: bool,
    /// Directory entries carry the file type.
    pub ftype: bool,
    pub bigtime: bool,
    pub nrext64: bool,
}

impl Superblock {
    /// Byte address of filesystem block `fsb` (AG number in the high bits).
    pub fn fsb_to_byte(&self, fsb: u64) -> Option<u64> {
        let agno = fsb >> self.ag_blk_log;
        let agbno = fsb & ((1u64 << self.ag_blk_log) - 1);
        if agno >= self.ag_count || agbno >= self.ag_blocks {
            return None;
        }
        (agno * self.ag_blocks + agbno).checked_mul(self.block_size)
    }

    /// Byte address of inode `ino`.
    pub fn inode_byte(&self, ino: u64) -> Option<u64> {
        let offset = ino & ((1u64 << self.inop_blog) - 1);
        let block = ino >> self.inop_blog;
        Some(self.fsb_to_byte(block)? + offset * self.inode_size)
    }
}

/// Reads and checks the superblock; `Ok(None)` without the XFS magic.
pub fn read(dev: &dyn BlockDevice) -> Result<Option<Superblock>> {
    if dev.size() < 512 {
        return Ok(None);
    }
    let mut sb = [0u8; 512];
    dev.read_at(&mut sb, 0)?;
    if be32(&sb, 0) != Some(MAGIC) {
        return Ok(None);
    }
    let name = dev.describe();
    let bad = |reason: String| corrupt(&name, "superblock", None, Some(0), reason);
    let u8_at = |at: usize| u32::from(sb.get(at).copied().unwrap_or(0));
    let block_size = u64::from(be32(&sb, 4).unwrap_or(0));
    let block_log = u8_at(120);
    let sect_size = u64::from(be16(&sb, 102).unwrap_or(0));
    let inode_size = u64::from(be16(&sb, 104).unwrap_or(0));
    let inop_blog = u8_at(123);
    let ag_blk_log = u8_at(124);
    let version = be16(&sb, 100).unwrap_or(0) & 0xf;
    if !(512..=65536).contains(&block_size)
        || block_size != 1u64 << block_log.min(63)
        || !(256..=2048).contains(&inode_size)
        || !inode_size.is_power_of_two()
        || block_size >> inop_blog.min(63) != inode_size
        || !(512..=32768).contains(&sect_size)
        || ag_blk_log == 0
        || ag_blk_log > 31
    {
        return Err(bad(format!(
            "block size {block_size} (log {block_log}), sector {sect_size}, inode {inode_size} (per block log {inop_blog}), AG block log {ag_blk_log}"
        )));
    }
    if !(4..=5).contains(&version) {
        return Err(unsupported(&name, &format!("superblock version {version}")));
    }
    let v5 = version == 5;
    let incompat = if v5 { be32(&sb, 216).unwrap_or(0) } else { 0 };
    if v5 {
        if incompat & !INCOMPAT_KNOWN != 0 {
            return Err(unsupported(
                &name,
                &format!("incompatible features {:#x}", incompat & !INCOMPAT_KNOWN),
            ));
        }
        let len = (sect_size as usize).min(sb.len());
        let mut copy = sb.get(..len).unwrap_or_default().to_vec();
        if let Some(f) = copy.get_mut(224..228) {
            f.fill(0);
        }
        let stored = le32(&sb, 224).unwrap_or(0);
        let computed = crc32c::crc32c(&copy);
        if stored != computed {
            return Err(bad(format!(
                "checksum: stored {stored:#010x}, computed {computed:#010x}"
            )));
        }
    }
    let ag_blocks = u64::from(be32(&sb, 84).unwrap_or(0));
    let ag_count = u64::from(be32(&sb, 88).unwrap_or(0));
    let dblocks = be64(&sb, 8).unwrap_or(0);
    if ag_blocks == 0
        || ag_blocks > 1u64 << ag_blk_log
        || ag_count == 0
        || dblocks > ag_blocks.saturating_mul(ag_count)
    {
        return Err(bad(format!(
            "{ag_count} AGs of {ag_blocks} blocks for {dblocks} blocks"
        )));
    }
    let label_bytes = sb.get(108..120).unwrap_or_default();
    let end = label_bytes
        .iter()
        .position(|&b| b == 0)
        .unwrap_or(label_bytes.len());
    Ok(Some(Superblock {
        block_size,
        dblocks,
        uuid: guestkit_disk::block::bytes::array(&sb, 32).unwrap_or_default(),
        root_ino: be64(&sb, 56).unwrap_or(0),
        ag_blocks,
        ag_count,
        inode_size,
        inop_blog,
        ag_blk_log,
        dir_block_size: block_size << u8_at(192).min(16),
        label: String::from_utf8_lossy(label_bytes.get(..end).unwrap_or_default()).into_owned(),
        v5,
        ftype: if v5 {
            incompat & INCOMPAT_FTYPE != 0
        } else {
            be32(&sb, 200).unwrap_or(0) & FEATURES2_FTYPE != 0
        },
        bigtime: incompat & INCOMPAT_BIGTIME != 0,
        nrext64: incompat & INCOMPAT_NREXT64 != 0,
    }))
}
