//! The VHDX block allocation table: one u64 per payload block, with a sector
//! bitmap entry after every `chunk_ratio` payload entries. Each entry holds a
//! state in bits 0–2 and the file offset in MiB in bits 20–63.

use super::corrupt;
use super::header::Region;
use super::metadata::Metadata;
use crate::block::bytes;
use crate::error::{DiskError, Layer, Result};
use crate::format::ImageSource;
use crate::format::OpenContext;

const MIB: u64 = 1 << 20;

/// What a payload block holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Block {
    /// Reads as zeros (not present, undefined, zero, unmapped).
    Zero,
    /// The whole block is stored at this file offset.
    Present(u64),
}

/// The payload side of the BAT, checked against the file.
#[derive(Debug)]
pub(super) struct Bat {
    pub blocks: Vec<Block>,
    pub chunk_ratio: u64,
    pub allocated: u64,
}

/// Reads and checks the BAT of a disk without a parent.
pub(super) fn read(
    source: &ImageSource,
    region: Region,
    meta: &Metadata,
    ctx: &OpenContext,
) -> Result<Bat> {
    let path = &source.path;
    let block_size = u64::from(meta.block_size);
    // Both are powers of two with block_size ≤ 2^28 and sector ≥ 2^9.
    let chunk_ratio = ((1u64 << 23) * u64::from(meta.logical_sector_size)) / block_size;
    let payload_blocks = meta.virtual_size.div_ceil(block_size);
    let entries = payload_blocks + payload_blocks.saturating_sub(1) / chunk_ratio;
    // virtual_size ≤ 64 TiB and block_size ≥ 1 MiB: no overflow here.
    let bat_bytes = entries * 8;
    if bat_bytes > ctx.limits.max_table_bytes {
        return Err(DiskError::limit(
            path,
            Layer::Vhdx,
            "BAT bytes",
            bat_bytes,
            ctx.limits.max_table_bytes,
        ));
    }
    if bat_bytes > region.length {
        return Err(corrupt(
            path,
            region.entry_at + 24,
            "BAT region length",
            format!(
                "{} bytes cannot hold the {entries} BAT entries of the disk",
                region.length
            ),
        ));
    }
    let raw = source.read_struct(Layer::Vhdx, region.offset, bat_bytes as usize, "BAT")?;
    let mut blocks = Vec::with_capacity(payload_blocks as usize);
    let mut allocated = 0;
    for (i, chunk) in raw.chunks_exact(8).enumerate() {
        let i = i as u64;
        let entry = bytes::le64(chunk, 0).unwrap_or(0);
        let at = region.offset + i * 8;
        let state = entry & 7;
        let offset = (entry >> 20) * MIB;
        let is_bitmap = (i + 1).is_multiple_of(chunk_ratio + 1);
        if is_bitmap {
            // Sector bitmap blocks only matter to differencing disks; a
            // present one must still lie inside the file.
            match state {
                0 => {}
                6 => check_inside(source, at, offset, MIB, "sector bitmap entry")?,
                s => {
                    return Err(corrupt(
                        path,
                        at,
                        "sector bitmap entry",
                        format!("unknown state {s}"),
                    ))
                }
            }
            continue;
        }
        let index = blocks.len() as u64;
        let block = match state {
            0 | 1 | 2 | 3 | 5 => Block::Zero,
            6 => {
                let used = (meta.virtual_size - index * block_size).min(block_size);
                check_inside(source, at, offset, used, "payload BAT entry")?;
                allocated += 1;
                Block::Present(offset)
            }
            7 => {
                return Err(corrupt(
                    path,
                    at,
                    "payload BAT entry",
                    format!(
                    "block {index} is PARTIALLY_PRESENT, a state only differencing disks may use"
                ),
                ))
            }
            s => {
                return Err(corrupt(
                    path,
                    at,
                    "payload BAT entry",
                    format!("unknown state {s} for block {index}"),
                ))
            }
        };
        blocks.push(block);
    }
    Ok(Bat {
        blocks,
        chunk_ratio,
        allocated,
    })
}

fn check_inside(source: &ImageSource, at: u64, offset: u64, len: u64, field: &str) -> Result<()> {
    let inside = offset >= MIB && offset.checked_add(len).is_some_and(|e| e <= source.size());
    if !inside {
        return Err(corrupt(
            &source.path,
            at,
            field,
            format!(
                "{len} bytes at file offset {offset} lie before 1 MiB or past the end of the file ({} bytes)",
                source.size()
            ),
        ));
    }
    Ok(())
}
