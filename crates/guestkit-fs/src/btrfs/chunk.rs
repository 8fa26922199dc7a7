//! Logical-to-physical mapping: chunk items from the superblock's
//! `sys_chunk_array` and the chunk tree. On one device, SINGLE and DUP
//! chunks (and mirrored profiles, whose every copy is whole) map to one
//! physical range; striped and parity profiles are refused.

use std::collections::BTreeMap;

use guestkit_disk::block::bytes::{le16, le64};

use super::{corrupt, unsupported};
use crate::error::Result;

/// Item type of a chunk item.
pub const CHUNK_ITEM_KEY: u8 = 228;
/// Objectid of chunk items.
pub const FIRST_CHUNK_TREE_OBJECTID: u64 = 256;

const CHUNK_HEADER: usize = 48;
const STRIPE_SIZE: usize = 32;
/// Most chunks a mapping holds (each maps at least one sector; real
/// filesystems have thousands at most).
pub const MAX_CHUNKS: usize = 1 << 20;

const RAID0: u64 = 1 << 3;
const RAID10: u64 = 1 << 6;
const RAID5: u64 = 1 << 7;
const RAID6: u64 = 1 << 8;

/// Most copies of a chunk kept (DUP has 2; mirrors up to 4).
pub const MAX_COPIES: usize = 4;

/// One chunk: `[logical, logical + length)` lives at each of `physical[..copies]`
/// on our device (two places for DUP).
#[derive(Debug, Clone, Copy)]
pub struct Chunk {
    pub logical: u64,
    pub length: u64,
    pub physical: [u64; MAX_COPIES],
    pub copies: usize,
}

/// The chunk map of one device.
#[derive(Debug, Default)]
pub struct ChunkMap {
    chunks: BTreeMap<u64, Chunk>,
}

impl ChunkMap {
    /// Number of chunks known.
    pub fn len(&self) -> usize {
        self.chunks.len()
    }

    /// Parses the chunk item at the start of `data` (key offset `logical`),
    /// picking the stripe on device `devid`; returns it and the item length.
    pub fn parse_item(
        data: &[u8],
        logical: u64,
        devid: u64,
        device: &str,
        where_: &str,
    ) -> Result<(Chunk, usize)> {
        let bad = |reason: String| corrupt(device, where_, None, Some(logical), reason);
        let length = le64(data, 0).ok_or_else(|| bad("chunk item truncated".into()))?;
        let ty = le64(data, 24).ok_or_else(|| bad("chunk item truncated".into()))?;
        let num_stripes = le16(data, 44).ok_or_else(|| bad("chunk item truncated".into()))?;
        if num_stripes == 0 {
            return Err(bad("chunk with no stripes".into()));
        }
        let item_len = CHUNK_HEADER + STRIPE_SIZE * usize::from(num_stripes);
        if data.len() < item_len {
            return Err(bad(format!(
                "chunk item of {num_stripes} stripes needs {item_len} bytes, has {}",
                data.len()
            )));
        }
        if length == 0 || logical.checked_add(length).is_none() {
            return Err(bad(format!("chunk length {length} invalid")));
        }
        if ty & (RAID0 | RAID10 | RAID5 | RAID6) != 0 {
            return Err(unsupported(
                device,
                format!("chunk profile {ty:#x} at logical {logical:#x} (striped/parity; only SINGLE, DUP and mirrors on one device)"),
            ));
        }
        let mut chunk = Chunk {
            logical,
            length,
            physical: [0; MAX_COPIES],
            copies: 0,
        };
        for s in 0..usize::from(num_stripes) {
            let at = CHUNK_HEADER + s * STRIPE_SIZE;
            let sdev = le64(data, at).ok_or_else(|| bad("stripe truncated".into()))?;
            let off = le64(data, at + 8).ok_or_else(|| bad("stripe truncated".into()))?;
            if sdev == devid && chunk.copies < MAX_COPIES {
                if let Some(slot) = chunk.physical.get_mut(chunk.copies) {
                    *slot = off;
                }
                chunk.copies += 1;
            }
        }
        if chunk.copies > 0 {
            return Ok((chunk, item_len));
        }
        Err(unsupported(
            device,
            format!("chunk at logical {logical:#x} has no copy on this device (devid {devid}; multi-device filesystem)"),
        ))
    }

    /// Adds a chunk; overlapping chunks are corrupt.
    pub fn insert(&mut self, c: Chunk, device: &str) -> Result<()> {
        if self.chunks.len() >= MAX_CHUNKS {
            return Err(corrupt(
                device,
                "chunk tree",
                None,
                Some(c.logical),
                format!("more than {MAX_CHUNKS} chunks"),
            ));
        }
        if let Some(old) = self.chunks.get(&c.logical) {
            if old.length == c.length && old.physical == c.physical && old.copies == c.copies {
                return Ok(());
            }
        }
        let end = c.logical.saturating_add(c.length);
        let prev_overlaps = self
            .chunks
            .range(..=c.logical)
            .next_back()
            .is_some_and(|(_, p)| p.logical.saturating_add(p.length) > c.logical);
        let next_overlaps = self
            .chunks
            .range(c.logical..)
            .next()
            .is_some_and(|(_, n)| n.logical < end);
        if prev_overlaps || next_overlaps {
            return Err(corrupt(
                device,
                "chunk tree",
                None,
                Some(c.logical),
                format!("chunk [{:#x}, {end:#x}) overlaps another chunk", c.logical),
            ));
        }
        self.chunks.insert(c.logical, c);
        Ok(())
    }

    /// Parses the superblock's `sys_chunk_array` (key, chunk item pairs).
    pub fn from_sys_array(array: &[u8], devid: u64, device: &str) -> Result<ChunkMap> {
        let mut map = ChunkMap::default();
        let mut pos = 0usize;
        while pos < array.len() {
            let bad =
                |reason: String| corrupt(device, "sys_chunk_array", None, Some(pos as u64), reason);
            let objectid = le64(array, pos).ok_or_else(|| bad("key truncated".into()))?;
            let ty = array
                .get(pos + 8)
                .copied()
                .ok_or_else(|| bad("key truncated".into()))?;
            let offset = le64(array, pos + 9).ok_or_else(|| bad("key truncated".into()))?;
            if ty != CHUNK_ITEM_KEY || objectid != FIRST_CHUNK_TREE_OBJECTID {
                return Err(bad(format!(
                    "key ({objectid}, {ty}, {offset}) is not a chunk item"
                )));
            }
            let rest = array.get(pos + 17..).unwrap_or_default();
            let (chunk, len) = Self::parse_item(rest, offset, devid, device, "sys_chunk_array")?;
            map.insert(chunk, device)?;
            pos += 17 + len;
        }
        if map.chunks.is_empty() {
            return Err(corrupt(
                device,
                "sys_chunk_array",
                None,
                None,
                "no system chunk".into(),
            ));
        }
        Ok(map)
    }

    /// Number of copies of the chunk holding `logical` (at least 1).
    pub fn copies(&self, logical: u64) -> usize {
        self.chunks
            .range(..=logical)
            .next_back()
            .map_or(1, |(_, c)| c.copies.max(1))
    }

    /// Maps `[logical, logical + len)`, which must lie inside one chunk, to
    /// a physical offset (of copy `copy`, for DUP) inside a device of
    /// `dev_size` bytes.
    #[allow(clippy::too_many_arguments)]
    pub fn map(
        &self,
        logical: u64,
        len: u64,
        copy: usize,
        dev_size: u64,
        device: &str,
        what: &str,
        inode: Option<u64>,
    ) -> Result<u64> {
        let bad = |reason: String| corrupt(device, what, inode, Some(logical), reason);
        let (_, c) = self
            .chunks
            .range(..=logical)
            .next_back()
            .ok_or_else(|| bad(format!("logical address {logical:#x} is in no chunk")))?;
        let rel = logical - c.logical;
        let end = rel
            .checked_add(len)
            .ok_or_else(|| bad("range overflows".into()))?;
        if end > c.length {
            return Err(bad(format!(
                "logical range [{logical:#x}, +{len}) is not inside a chunk (chunk [{:#x}, +{}))",
                c.logical, c.length
            )));
        }
        let base = c
            .physical
            .get(copy.min(c.copies.saturating_sub(1)))
            .copied()
            .unwrap_or_default();
        let phys = base
            .checked_add(rel)
            .ok_or_else(|| bad("physical offset overflows".into()))?;
        match phys.checked_add(len) {
            Some(e) if e <= dev_size => Ok(phys),
            _ => Err(bad(format!(
                "logical {logical:#x} maps to physical [{phys:#x}, +{len}) beyond the device ({dev_size} bytes)"
            ))),
        }
    }
}
