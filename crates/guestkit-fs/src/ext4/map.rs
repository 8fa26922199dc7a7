//! Where a file's blocks are: the extent tree (ext4) or the direct and
//! indirect block maps (ext2/3).

use guestkit_disk::block::bytes::{le16, le32};

use super::inode::{Inode, FLAG_EXTENTS};
use super::{corrupt, Ext4Fs};
use crate::error::Result;

const EXTENT_MAGIC: u16 = 0xf30a;
/// ext4 extent trees are at most 5 levels deep.
const MAX_EXTENT_DEPTH: u16 = 5;

/// What a run of logical blocks starting at the asked block is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Run {
    /// `len` blocks stored from physical block `phys`.
    Mapped { phys: u64, len: u64 },
    /// `len` blocks that read as zeros (holes, unwritten extents).
    Zero { len: u64 },
}

/// Maps logical block `lblk` of `inode` (number `ino`); the run is at most
/// `max` blocks long and at least one.
pub fn map(fs: &Ext4Fs, inode: &Inode, ino: u64, lblk: u64, max: u64) -> Result<Run> {
    let run = if inode.flags() & FLAG_EXTENTS != 0 {
        map_extent(fs, inode, ino, lblk, max)?
    } else {
        map_indirect(fs, inode, ino, lblk)?
    };
    if let Run::Mapped { phys, len } = run {
        if phys == 0
            || phys
                .checked_add(len)
                .is_none_or(|end| end > fs.sb.blocks_count)
        {
            return Err(corrupt(
                &fs.name,
                "block pointer",
                Some(ino),
                None,
                format!(
                    "logical block {lblk} maps to blocks {phys}+{len}, outside the filesystem ({} blocks)",
                    fs.sb.blocks_count
                ),
            ));
        }
    }
    Ok(match run {
        Run::Mapped { phys, len } => Run::Mapped {
            phys,
            len: len.clamp(1, max.max(1)),
        },
        Run::Zero { len } => Run::Zero {
            len: len.clamp(1, max.max(1)),
        },
    })
}

fn map_extent(fs: &Ext4Fs, inode: &Inode, ino: u64, lblk: u64, max: u64) -> Result<Run> {
    let mut node = inode.i_block().to_vec();
    let mut expected_depth = None;
    for level in 0.. {
        let bad = |reason: String| corrupt(&fs.name, "extent tree", Some(ino), None, reason);
        if le16(&node, 0) != Some(EXTENT_MAGIC) {
            return Err(bad(format!("bad extent header magic at level {level}")));
        }
        let entries = usize::from(le16(&node, 2).unwrap_or(0));
        let depth = le16(&node, 6).unwrap_or(0);
        if depth > MAX_EXTENT_DEPTH
            || expected_depth.is_some_and(|d| d != depth)
            || level > u32::from(MAX_EXTENT_DEPTH)
            || level > fs.limits.max_tree_depth
        {
            return Err(bad(format!("extent tree depth {depth} at level {level}")));
        }
        if 12 + entries * 12 > node.len() {
            return Err(bad(format!("{entries} entries do not fit the node")));
        }
        let first_block = |i: usize| le32(&node, 12 + i * 12).map(u64::from).unwrap_or(u64::MAX);
        // Entries are sorted by first logical block: the last one <= lblk.
        let idx = (0..entries).rposition(|i| first_block(i) <= lblk);
        if depth == 0 {
            if let Some(i) = idx {
                let at = 12 + i * 12;
                let start = first_block(i);
                let raw_len = u64::from(le16(&node, at + 4).unwrap_or(0));
                let (len, unwritten) = if raw_len > 32768 {
                    (raw_len - 32768, true)
                } else {
                    (raw_len, false)
                };
                let phys = u64::from(le32(&node, at + 8).unwrap_or(0))
                    | (u64::from(le16(&node, at + 6).unwrap_or(0)) << 32);
                if lblk < start + len {
                    let within = lblk - start;
                    let run_len = (len - within).min(max);
                    return Ok(if unwritten {
                        Run::Zero { len: run_len }
                    } else {
                        Run::Mapped {
                            phys: phys + within,
                            len: run_len,
                        }
                    });
                }
            }
            // A hole up to the next extent.
            let next = idx.map_or(0, |i| i + 1);
            let hole = if next < entries {
                first_block(next).saturating_sub(lblk)
            } else {
                max
            };
            return Ok(Run::Zero { len: hole.min(max) });
        }
        let Some(i) = idx else {
            return Ok(Run::Zero {
                len: first_block(0).saturating_sub(lblk).clamp(1, max.max(1)),
            });
        };
        let at = 12 + i * 12;
        let child = u64::from(le32(&node, at + 4).unwrap_or(0))
            | (u64::from(le16(&node, at + 8).unwrap_or(0)) << 32);
        if child == 0 || child >= fs.sb.blocks_count {
            return Err(bad(format!(
                "extent index points to block {child}, outside the filesystem"
            )));
        }
        node = fs.read_block(child)?;
        expected_depth = Some(depth - 1);
    }
    Err(corrupt(
        &fs.name,
        "extent tree",
        Some(ino),
        None,
        "too deep".into(),
    ))
}

fn map_indirect(fs: &Ext4Fs, inode: &Inode, ino: u64, lblk: u64) -> Result<Run> {
    let per = fs.sb.block_size / 4;
    let ptr = |data: &[u8], i: u64| u64::from(le32(data, (i * 4) as usize).unwrap_or(0));
    let iblock = inode.i_block();
    // (index into i_block, indices within each indirect level)
    let mut rest = lblk;
    let path: Vec<u64>;
    let slot;
    if rest < 12 {
        slot = rest;
        path = Vec::new();
    } else {
        rest -= 12;
        if rest < per {
            slot = 12;
            path = vec![rest];
        } else {
            rest -= per;
            if rest < per * per {
                slot = 13;
                path = vec![rest / per, rest % per];
            } else {
                rest -= per * per;
                if rest >= per * per * per {
                    return Err(corrupt(
                        &fs.name,
                        "block map",
                        Some(ino),
                        None,
                        format!("logical block {lblk} beyond triple indirection"),
                    ));
                }
                slot = 14;
                path = vec![rest / (per * per), (rest / per) % per, rest % per];
            }
        }
    }
    let mut block = ptr(iblock, slot);
    for index in path {
        if block == 0 {
            return Ok(Run::Zero { len: 1 });
        }
        if block >= fs.sb.blocks_count {
            return Err(corrupt(
                &fs.name,
                "block map",
                Some(ino),
                None,
                format!("indirect block {block} outside the filesystem"),
            ));
        }
        let data = fs.read_block(block)?;
        block = ptr(&data, index);
    }
    Ok(if block == 0 {
        Run::Zero { len: 1 }
    } else {
        Run::Mapped {
            phys: block,
            len: 1,
        }
    })
}
