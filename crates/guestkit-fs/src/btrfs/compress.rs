//! Decompression of Btrfs extents: zlib (flate2), zstd (ruzstd) and Btrfs's
//! segmented LZO format (our [`super::lzo`] decoder). Output is bounded by
//! the extent's `ram_bytes`, itself bounded by the caller.

use std::io::Read;

use guestkit_disk::block::bytes::le32;

use super::lzo;

/// Btrfs compression types.
pub const ZLIB: u8 = 1;
pub const LZO: u8 = 2;
pub const ZSTD: u8 = 3;

/// Decompresses `input` of type `kind` into exactly `out_len` bytes (a short
/// stream is zero-filled, as the kernel does); `Err` says what was wrong.
pub fn decompress(
    kind: u8,
    input: &[u8],
    out_len: usize,
    sectorsize: usize,
) -> Result<Vec<u8>, String> {
    let mut out = match kind {
        ZLIB => read_bounded(flate2::read::ZlibDecoder::new(input), out_len, "zlib")?,
        ZSTD => {
            let dec =
                ruzstd::decoding::StreamingDecoder::new(input).map_err(|e| format!("zstd: {e}"))?;
            read_bounded(dec, out_len, "zstd")?
        }
        LZO => lzo_segments(input, out_len, sectorsize)?,
        k => return Err(format!("unknown compression type {k}")),
    };
    out.resize(out_len, 0);
    Ok(out)
}

fn read_bounded(mut r: impl Read, out_len: usize, what: &str) -> Result<Vec<u8>, String> {
    let mut out = vec![0u8; out_len];
    let mut filled = 0;
    while filled < out_len {
        match r.read(out.get_mut(filled..).unwrap_or_default()) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(format!("{what}: {e}")),
        }
    }
    out.truncate(filled);
    Ok(out)
}

/// Btrfs LZO: a 4-byte total length, then segments of a 4-byte length and an
/// LZO1X stream of at most one sector; a segment header never straddles a
/// sector boundary (the writer skips to the next sector instead).
fn lzo_segments(input: &[u8], out_len: usize, sectorsize: usize) -> Result<Vec<u8>, String> {
    let total = le32(input, 0).ok_or("lzo: header truncated")? as usize;
    if total > input.len() || total < 4 {
        return Err(format!(
            "lzo: total length {total} but {} bytes stored",
            input.len()
        ));
    }
    let mut out = Vec::with_capacity(out_len);
    let mut pos = 4usize;
    while pos < total && out.len() < out_len {
        let left_in_sector = sectorsize - pos % sectorsize;
        if left_in_sector < 4 {
            pos += left_in_sector;
            continue;
        }
        let seg_len = le32(input, pos).ok_or("lzo: segment header truncated")? as usize;
        pos += 4;
        let end = pos
            .checked_add(seg_len)
            .filter(|&e| e <= total)
            .ok_or_else(|| {
                format!("lzo: segment of {seg_len} bytes at {pos} beyond the total {total}")
            })?;
        let seg = input.get(pos..end).ok_or("lzo: segment beyond the input")?;
        let data =
            lzo::decompress(seg, sectorsize).map_err(|e| format!("lzo segment at {pos}: {e}"))?;
        if data.is_empty() {
            return Err(format!("lzo: empty segment at {pos}"));
        }
        out.extend_from_slice(&data);
        pos = end;
    }
    out.truncate(out_len);
    Ok(out)
}
