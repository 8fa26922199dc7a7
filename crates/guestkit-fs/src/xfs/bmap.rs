//! The data fork's block map: an inline extent list or a B+tree of extents,
//! flattened into one sorted list.

use guestkit_disk::block::bytes::{be16, be32, be64};

use super::inode::{Inode, FORMAT_BTREE, FORMAT_EXTENTS};
use super::{corrupt, XfsFs};
use crate::error::Result;

/// One extent: logical file blocks [off, off + len) at filesystem block
/// `start`; unwritten extents read as zeros.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Extent {
    pub off: u64,
    pub start: u64,
    pub len: u64,
    pub unwritten: bool,
}

fn extent(rec: &[u8]) -> Option<Extent> {
    let hi = be64(rec, 0)?;
    let lo = be64(rec, 8)?;
    Some(Extent {
        unwritten: hi >> 63 != 0,
        off: (hi >> 9) & ((1 << 54) - 1),
        start: ((hi & 0x1ff) << 43) | (lo >> 21),
        len: lo & ((1 << 21) - 1),
    })
}

fn push_records(fs: &XfsFs, ino: u64, recs: &[u8], n: u64, out: &mut Vec<Extent>) -> Result<()> {
    for i in 0..n as usize {
        let e = recs
            .get(i * 16..i * 16 + 16)
            .and_then(extent)
            .ok_or_else(|| {
                corrupt(
                    &fs.name,
                    "extent list",
                    Some(ino),
                    None,
                    format!("record {i} outside the fork"),
                )
            })?;
        if e.len == 0 || out.len() as u64 >= fs.limits.max_dir_entries.max(1 << 20) {
            return Err(corrupt(
                &fs.name,
                "extent list",
                Some(ino),
                None,
                format!("record {i}: {e:?}"),
            ));
        }
        out.push(e);
    }
    Ok(())
}

/// Every extent of the data fork, sorted by file offset.
pub fn extents(fs: &XfsFs, ino: u64, inode: &Inode) -> Result<Vec<Extent>> {
    let fork = inode.data_fork();
    let mut out = Vec::new();
    match inode.format() {
        FORMAT_EXTENTS => {
            let n = inode.nextents(&fs.sb);
            if n * 16 > fork.len() as u64 {
                return Err(corrupt(
                    &fs.name,
                    "extent list",
                    Some(ino),
                    None,
                    format!("{n} extents do not fit the inode"),
                ));
            }
            push_records(fs, ino, fork, n, &mut out)?;
        }
        FORMAT_BTREE => {
            let level = u32::from(be16(fork, 0).unwrap_or(0));
            let numrecs = u64::from(be16(fork, 2).unwrap_or(0));
            let maxrecs = (fork.len() as u64).saturating_sub(4) / 16;
            if level == 0 || numrecs == 0 || numrecs > maxrecs {
                return Err(corrupt(
                    &fs.name,
                    "bmap btree root",
                    Some(ino),
                    None,
                    format!("level {level}, {numrecs} of {maxrecs} records"),
                ));
            }
            for i in 0..numrecs {
                let ptr = be64(fork, (4 + maxrecs * 8 + i * 8) as usize).unwrap_or(0);
                walk(fs, ino, ptr, level - 1, &mut out)?;
            }
        }
        other => {
            return Err(corrupt(
                &fs.name,
                "data fork",
                Some(ino),
                None,
                format!("format {other} cannot hold blocks"),
            ));
        }
    }
    out.sort_by_key(|e| e.off);
    for w in out.windows(2) {
        if let [a, b] = w {
            if a.off + a.len > b.off {
                return Err(corrupt(
                    &fs.name,
                    "extent list",
                    Some(ino),
                    None,
                    format!("extents overlap at file block {}", b.off),
                ));
            }
        }
    }
    Ok(out)
}

/// Walks a bmbt block at `fsb` of tree `level` (0 = leaf).
fn walk(fs: &XfsFs, ino: u64, fsb: u64, level: u32, out: &mut Vec<Extent>) -> Result<()> {
    if level > fs.limits.max_tree_depth.min(10) {
        return Err(corrupt(
            &fs.name,
            "bmap btree",
            Some(ino),
            None,
            format!("level {level}"),
        ));
    }
    let block = fs.read_fsb(fsb, ino)?;
    let (magic, header) = if fs.sb.v5 {
        (0x424d_4133, 72)
    } else {
        (0x424d_4150, 24)
    }; // BMA3 / BMAP
    if be32(&block, 0) != Some(magic) || u32::from(be16(&block, 4).unwrap_or(u16::MAX)) != level {
        return Err(corrupt(
            &fs.name,
            "bmap btree block",
            Some(ino),
            fs.sb.fsb_to_byte(fsb),
            format!("bad magic or level (expected level {level})"),
        ));
    }
    let numrecs = u64::from(be16(&block, 6).unwrap_or(0));
    let body = block.get(header..).unwrap_or_default();
    if level == 0 {
        if numrecs * 16 > body.len() as u64 {
            return Err(corrupt(
                &fs.name,
                "bmap btree leaf",
                Some(ino),
                None,
                format!("{numrecs} records"),
            ));
        }
        return push_records(fs, ino, body, numrecs, out);
    }
    let maxrecs = body.len() as u64 / 16;
    if numrecs == 0 || numrecs > maxrecs {
        return Err(corrupt(
            &fs.name,
            "bmap btree node",
            Some(ino),
            None,
            format!("{numrecs} of {maxrecs} records"),
        ));
    }
    for i in 0..numrecs {
        let ptr = be64(body, (maxrecs * 8 + i * 8) as usize).unwrap_or(0);
        walk(fs, ino, ptr, level - 1, out)?;
    }
    Ok(())
}

/// The extent holding file block `blk`, or the hole up to the next one:
/// `(Some(extent), _)` or `(None, blocks of hole)`.
pub fn find(extents: &[Extent], blk: u64) -> (Option<Extent>, u64) {
    let i = extents.partition_point(|e| e.off + e.len <= blk);
    match extents.get(i) {
        Some(e) if e.off <= blk => (Some(*e), 0),
        Some(e) => (None, e.off - blk),
        None => (None, u64::MAX),
    }
}
