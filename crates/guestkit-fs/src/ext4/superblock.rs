//! The ext2/3/4 superblock and group descriptors.

use guestkit_disk::block::bytes::{le16, le32};
use guestkit_disk::BlockDevice;

use super::{corrupt, unsupported};
use crate::error::Result;

/// Byte offset of the primary superblock.
pub const SUPERBLOCK_OFFSET: u64 = 1024;
const MAGIC: u16 = 0xef53;

pub const INCOMPAT_FILETYPE: u32 = 0x2;
pub const INCOMPAT_RECOVER: u32 = 0x4;
pub const INCOMPAT_JOURNAL_DEV: u32 = 0x8;
pub const INCOMPAT_META_BG: u32 = 0x10;
pub const INCOMPAT_EXTENTS: u32 = 0x40;
pub const INCOMPAT_64BIT: u32 = 0x80;
pub const INCOMPAT_MMP: u32 = 0x100;
pub const INCOMPAT_FLEX_BG: u32 = 0x200;
pub const INCOMPAT_EA_INODE: u32 = 0x400;
pub const INCOMPAT_CSUM_SEED: u32 = 0x2000;
pub const INCOMPAT_LARGEDIR: u32 = 0x4000;
pub const INCOMPAT_INLINE_DATA: u32 = 0x8000;
pub const INCOMPAT_ENCRYPT: u32 = 0x10000;
pub const INCOMPAT_CASEFOLD: u32 = 0x20000;
/// Incompatible features this reader understands.
const INCOMPAT_KNOWN: u32 = INCOMPAT_FILETYPE
    | INCOMPAT_RECOVER
    | INCOMPAT_META_BG
    | INCOMPAT_EXTENTS
    | INCOMPAT_64BIT
    | INCOMPAT_MMP
    | INCOMPAT_FLEX_BG
    | INCOMPAT_EA_INODE
    | INCOMPAT_CSUM_SEED
    | INCOMPAT_LARGEDIR
    | INCOMPAT_INLINE_DATA
    | INCOMPAT_ENCRYPT
    | INCOMPAT_CASEFOLD;
pub const RO_COMPAT_SPARSE_SUPER: u32 = 0x1;
pub const RO_COMPAT_METADATA_CSUM: u32 = 0x400;
pub const COMPAT_HAS_JOURNAL: u32 = 0x4;

/// The superblock fields the reader uses.
#[derive(Debug, Clone)]
pub struct Superblock {
    pub inodes_count: u32,
    pub blocks_count: u64,
    pub first_data_block: u64,
    pub block_size: u64,
    pub blocks_per_group: u64,
    pub inodes_per_group: u32,
    pub inode_size: u64,
    pub desc_size: u64,
    pub feature_compat: u32,
    pub feature_incompat: u32,
    pub feature_ro_compat: u32,
    pub first_meta_bg: u64,
    pub uuid: [u8; 16],
    pub label: String,
    pub groups: u64,
}

impl Superblock {
    /// Whether an incompatible feature is set.
    pub fn has_incompat(&self, f: u32) -> bool {
        self.feature_incompat & f != 0
    }

    /// `ext2`, `ext3` or `ext4`, as blkid decides.
    pub fn fs_type(&self) -> &'static str {
        let ext4_only = INCOMPAT_EXTENTS | INCOMPAT_64BIT | INCOMPAT_FLEX_BG | INCOMPAT_INLINE_DATA;
        if self.feature_incompat & ext4_only != 0 || self.feature_ro_compat & !0x7 != 0 {
            "ext4"
        } else if self.feature_compat & COMPAT_HAS_JOURNAL != 0 {
            "ext3"
        } else {
            "ext2"
        }
    }

    /// Whether group `g` holds a superblock backup (and so its descriptor
    /// blocks follow one).
    pub fn has_super(&self, g: u64) -> bool {
        if g <= 1 || self.feature_ro_compat & RO_COMPAT_SPARSE_SUPER == 0 {
            return true;
        }
        [3u64, 5, 7].iter().any(|&base| {
            let mut p = base;
            while p < g {
                p = p.saturating_mul(base);
            }
            p == g
        })
    }

    /// Byte offset of group `g`'s descriptor.
    pub fn desc_offset(&self, g: u64) -> u64 {
        let per_block = self.block_size / self.desc_size;
        let meta_group = g / per_block;
        let block = if self.has_incompat(INCOMPAT_META_BG) && meta_group >= self.first_meta_bg {
            let first = meta_group * per_block;
            self.first_data_block + first * self.blocks_per_group + u64::from(self.has_super(first))
        } else {
            self.first_data_block + 1 + meta_group
        };
        block * self.block_size + (g % per_block) * self.desc_size
    }
}

/// Reads and checks the superblock. `Ok(None)` when there is no ext magic.
pub fn read(dev: &dyn BlockDevice) -> Result<Option<Superblock>> {
    if dev.size() < SUPERBLOCK_OFFSET + 1024 {
        return Ok(None);
    }
    let mut sb = [0u8; 1024];
    dev.read_at(&mut sb, SUPERBLOCK_OFFSET)?;
    if le16(&sb, 0x38) != Some(MAGIC) {
        return Ok(None);
    }
    let name = dev.describe();
    let field = |at: usize| le32(&sb, at).unwrap_or(0);
    let bad =
        |what: &str, reason: String| corrupt(&name, what, None, Some(SUPERBLOCK_OFFSET), reason);
    let log = field(0x18);
    if log > 6 {
        return Err(bad(
            "superblock",
            format!("s_log_block_size {log} (block size above 64 KiB)"),
        ));
    }
    let block_size = 1024u64 << log;
    let incompat = field(0x60);
    let ro_compat = field(0x64);
    if incompat & INCOMPAT_JOURNAL_DEV != 0 {
        return Err(unsupported(
            &name,
            "external journal device (this volume is a journal, not a filesystem)",
        ));
    }
    if incompat & !INCOMPAT_KNOWN != 0 {
        return Err(unsupported(
            &name,
            &format!("incompatible features {:#x}", incompat & !INCOMPAT_KNOWN),
        ));
    }
    if ro_compat & RO_COMPAT_METADATA_CSUM != 0 {
        let stored = field(0x3fc);
        // ext4 stores the CRC register without the final inversion.
        let computed = !crc32c::crc32c(sb.get(..0x3fc).unwrap_or_default());
        if stored != computed {
            return Err(bad(
                "superblock checksum",
                format!("stored {stored:#010x}, computed {computed:#010x}"),
            ));
        }
    }
    let is_64 = incompat & INCOMPAT_64BIT != 0;
    let blocks_count = u64::from(field(0x4))
        | if is_64 {
            u64::from(field(0x150)) << 32
        } else {
            0
        };
    let rev = field(0x4c);
    let inode_size = if rev == 0 {
        128
    } else {
        u64::from(le16(&sb, 0x58).unwrap_or(0))
    };
    if !(128..=block_size).contains(&inode_size) || !inode_size.is_power_of_two() {
        return Err(bad("superblock", format!("inode size {inode_size}")));
    }
    let desc_size = if is_64 {
        u64::from(le16(&sb, 0xfe).unwrap_or(0))
    } else {
        32
    };
    if !(32..=1024).contains(&desc_size) || !desc_size.is_power_of_two() {
        return Err(bad(
            "superblock",
            format!("group descriptor size {desc_size}"),
        ));
    }
    let blocks_per_group = u64::from(field(0x20));
    let inodes_per_group = field(0x28);
    if blocks_per_group == 0 || blocks_per_group > block_size * 8 || inodes_per_group == 0 {
        return Err(bad(
            "superblock",
            format!("{blocks_per_group} blocks and {inodes_per_group} inodes per group"),
        ));
    }
    let first_data_block = u64::from(field(0x14));
    if blocks_count <= first_data_block {
        return Err(bad("superblock", format!("{blocks_count} blocks")));
    }
    let groups = (blocks_count - first_data_block).div_ceil(blocks_per_group);
    let inodes_count = field(0x0);
    if u64::from(inodes_count) > groups * u64::from(inodes_per_group) {
        return Err(bad(
            "superblock",
            format!("{inodes_count} inodes in {groups} groups of {inodes_per_group}"),
        ));
    }
    let label_bytes = sb.get(0x78..0x88).unwrap_or_default();
    let end = label_bytes
        .iter()
        .position(|&b| b == 0)
        .unwrap_or(label_bytes.len());
    Ok(Some(Superblock {
        inodes_count,
        blocks_count,
        first_data_block,
        block_size,
        blocks_per_group,
        inodes_per_group,
        inode_size,
        desc_size,
        feature_compat: field(0x5c),
        feature_incompat: incompat,
        feature_ro_compat: ro_compat,
        first_meta_bg: u64::from(field(0x104)),
        uuid: guestkit_disk::block::bytes::array(&sb, 0x68).unwrap_or_default(),
        label: String::from_utf8_lossy(label_bytes.get(..end).unwrap_or_default()).into_owned(),
        groups,
    }))
}
