//! Reading file data from EXTENT_DATA items: inline extents, regular
//! extents, holes (missing items, or `disk_bytenr == 0`), preallocated
//! extents (zeros) and compressed extents (zlib, LZO, zstd).

use super::compress;
use super::items::{file_extent, ExtentKind, EXTENT_DATA_KEY};
use super::tree::{floor, search, Key, Root};
use super::volume::Volume;
use super::{corrupt, unsupported};
use crate::error::Result;

/// Largest compressed extent (on disk and decompressed), per Btrfs.
pub const MAX_COMPRESSED: u64 = 128 * 1024;

/// Reads up to `buf.len()` bytes of the data of `objid` (inode id `ino` in
/// errors) of `size` bytes at `offset`; returns the count.
#[allow(clippy::too_many_arguments)]
pub fn read(
    vol: &Volume,
    root: &Root,
    objid: u64,
    ino: u64,
    size: u64,
    offset: u64,
    buf: &mut [u8],
) -> Result<usize> {
    if offset >= size || buf.is_empty() {
        return Ok(0);
    }
    let len = (buf.len() as u64).min(size - offset) as usize;
    let Some(buf) = buf.get_mut(..len) else {
        return Ok(0);
    };
    buf.fill(0);
    let end = offset + len as u64;
    let start = match floor(vol, root, Key::new(objid, EXTENT_DATA_KEY, offset))? {
        Some(it) if it.key.objectid == objid && it.key.ty == EXTENT_DATA_KEY => it.key.offset,
        _ => offset,
    };
    let limit = len / vol.sb.sectorsize as usize + 16;
    let items = search(
        vol,
        root,
        Key::new(objid, EXTENT_DATA_KEY, start),
        Key::new(objid, EXTENT_DATA_KEY, end - 1),
        limit,
    )?;
    let sectorsize = vol.sb.sectorsize as usize;
    for it in items {
        let file_start = it.key.offset;
        let bad = |reason: String| {
            corrupt(
                &vol.name,
                "file extent",
                Some(ino),
                Some(file_start),
                reason,
            )
        };
        let fe = file_extent(&it.data).map_err(bad)?;
        if fe.encryption != 0 || fe.other_encoding != 0 {
            return Err(unsupported(
                &vol.name,
                format!(
                    "encrypted or encoded extent (encryption {}, encoding {}) of inode {ino}",
                    fe.encryption, fe.other_encoding
                ),
            ));
        }
        // Overlap of the extent's file range with [offset, end).
        let overlap = |ext_len: u64| -> Option<(u64, u64)> {
            let ext_end = file_start.checked_add(ext_len)?;
            let a = file_start.max(offset);
            let b = ext_end.min(end);
            (a < b).then_some((a, b))
        };
        match fe.kind {
            ExtentKind::Inline { data } => {
                let bytes = if fe.compression == 0 {
                    let n = (data.len() as u64).min(fe.ram_bytes) as usize;
                    data.get(..n).unwrap_or_default().to_vec()
                } else {
                    if fe.ram_bytes > MAX_COMPRESSED {
                        return Err(bad(format!(
                            "inline extent of {} bytes decompressed",
                            fe.ram_bytes
                        )));
                    }
                    compress::decompress(fe.compression, &data, fe.ram_bytes as usize, sectorsize)
                        .map_err(bad)?
                };
                if let Some((a, b)) = overlap(bytes.len() as u64) {
                    copy(buf, offset, a, b, &bytes, a - file_start);
                }
            }
            ExtentKind::Prealloc => {}
            ExtentKind::Regular { disk_bytenr: 0, .. } => {}
            ExtentKind::Regular {
                disk_bytenr,
                disk_num_bytes,
                offset: ext_off,
                num_bytes,
            } => {
                let Some((a, b)) = overlap(num_bytes) else {
                    continue;
                };
                if fe.compression != 0 {
                    if disk_num_bytes > MAX_COMPRESSED || fe.ram_bytes > MAX_COMPRESSED {
                        return Err(bad(format!(
                            "compressed extent of {disk_num_bytes} bytes on disk, {} decompressed (at most {MAX_COMPRESSED})",
                            fe.ram_bytes
                        )));
                    }
                    if ext_off
                        .checked_add(num_bytes)
                        .is_none_or(|e| e > fe.ram_bytes)
                    {
                        return Err(bad(format!(
                            "extent range [{ext_off}, +{num_bytes}) beyond its {} decompressed bytes",
                            fe.ram_bytes
                        )));
                    }
                    let mut raw = vec![0u8; disk_num_bytes as usize];
                    vol.read_logical(disk_bytenr, &mut raw, "file extent", Some(ino))?;
                    let data = compress::decompress(
                        fe.compression,
                        &raw,
                        fe.ram_bytes as usize,
                        sectorsize,
                    )
                    .map_err(bad)?;
                    copy(buf, offset, a, b, &data, ext_off + (a - file_start));
                } else {
                    let addr = disk_bytenr
                        .checked_add(ext_off)
                        .and_then(|x| x.checked_add(a - file_start))
                        .ok_or_else(|| bad("extent address overflows".into()))?;
                    let dst = buf
                        .get_mut((a - offset) as usize..(b - offset) as usize)
                        .ok_or_else(|| bad("extent range outside the read".into()))?;
                    vol.read_logical(addr, dst, "file extent", Some(ino))?;
                }
            }
        }
    }
    Ok(len)
}

/// Copies file bytes `[a, b)` from `src` (where `a` is at `src_at`) into
/// `buf`, which starts at file offset `offset`. Missing source bytes stay 0.
fn copy(buf: &mut [u8], offset: u64, a: u64, b: u64, src: &[u8], src_at: u64) {
    let n = (b - a) as usize;
    let dst_at = (a - offset) as usize;
    let src_at = src_at as usize;
    let avail = src.len().saturating_sub(src_at).min(n);
    if let (Some(d), Some(s)) = (
        buf.get_mut(dst_at..dst_at + avail),
        src.get(src_at..src_at + avail),
    ) {
        d.copy_from_slice(s);
    }
}
