//! VirtualBox VDI images (header version 1.1): dynamic and static (fixed).
//!
//! The file starts with a 64-byte text banner, the signature `0xbeda107f` at
//! 0x40, the version at 0x44 and the v1 header from 0x48. The block map is an
//! array of little-endian u32, one per block of the virtual disk: the index of
//! the block's slot in the data area, or `0xffffffff` (never written) /
//! `0xfffffffe` (discarded, reads as zeros). Static images use the same map
//! with every block allocated. Differencing and undo images need their parent
//! (found by UUID, not by path) and are refused with a clear error.
//!
//! This module also holds [`read_runs`], the coalescing read loop shared by the
//! block-mapped formats of this directory (vdi, vhd, vhdx).

use std::path::Path;
use std::sync::Arc;

use crate::block::{bytes, check_range, BlockDevice};
use crate::error::{DiskError, Layer, Result};
use crate::format::{ImageFormat, ImageInfo, ImageSource, OpenContext, OpenedImage};

const SIGNATURE: u32 = 0xbeda_107f;
const VERSION_1_1: u32 = 0x0001_0001;
const HEADER_END: usize = 0x1d8;
const UNALLOCATED: u32 = 0xffff_ffff;
const DISCARDED: u32 = 0xffff_fffe;
const TYPE_NORMAL: u32 = 1;
const TYPE_FIXED: u32 = 2;
const TYPE_UNDO: u32 = 3;
const TYPE_DIFF: u32 = 4;

/// Where a run of virtual-disk bytes comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Run {
    /// The bytes are in the image file at this offset.
    Data(u64),
    /// The bytes read as zeros.
    Zero,
}

/// Fills `buf` with the virtual bytes at `offset`, asking `map` where each run
/// lives. `map(virtual_offset, max_len)` returns a run and its length (at least
/// 1, at most `max_len`). Runs stored back to back in the file are read with
/// one file read straight into `buf`; nothing is allocated per call.
pub(super) fn read_runs(
    source: &ImageSource,
    buf: &mut [u8],
    offset: u64,
    mut map: impl FnMut(u64, usize) -> Result<(Run, usize)>,
) -> Result<()> {
    // Pending coalesced read: (file offset, start in buf, length).
    let mut pending: Option<(u64, usize, usize)> = None;
    let mut pos = 0usize;
    while pos < buf.len() {
        let want = buf.len() - pos;
        let (run, len) = map(offset + pos as u64, want)?;
        let len = len.clamp(1, want);
        match run {
            Run::Data(file_off) => match pending {
                Some((p_off, p_start, p_len)) if p_off + p_len as u64 == file_off => {
                    pending = Some((p_off, p_start, p_len + len));
                }
                _ => {
                    flush(source, buf, pending.take())?;
                    pending = Some((file_off, pos, len));
                }
            },
            Run::Zero => {
                flush(source, buf, pending.take())?;
                if let Some(dst) = buf.get_mut(pos..pos + len) {
                    dst.fill(0);
                }
            }
        }
        pos += len;
    }
    flush(source, buf, pending)
}

fn flush(source: &ImageSource, buf: &mut [u8], pending: Option<(u64, usize, usize)>) -> Result<()> {
    if let Some((file_off, start, len)) = pending {
        if let Some(dst) = buf.get_mut(start..start + len) {
            source.read_at(dst, file_off)?;
        }
    }
    Ok(())
}

/// Reads the first `len` bytes of the file, or fails with a `Corrupt` error
/// naming the structure when the file is shorter.
pub(super) fn read_struct(
    source: &ImageSource,
    layer: Layer,
    offset: u64,
    len: usize,
    field: &str,
) -> Result<Vec<u8>> {
    let end = offset.checked_add(len as u64);
    if end.is_none_or(|end| end > source.size()) {
        return Err(DiskError::corrupt(
            &source.path,
            layer,
            offset,
            field,
            format!(
                "{len} bytes needed but the file is only {} bytes long",
                source.size()
            ),
        ));
    }
    let mut buf = vec![0u8; len];
    source.read_at(&mut buf, offset)?;
    Ok(buf)
}

/// Formats 16 bytes stored in RFC 4122 (big-endian) order as a UUID (VHD).
pub(super) fn uuid_be(b: &[u8; 16]) -> String {
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// Formats 16 bytes stored in the mixed-endian Microsoft GUID order (first
/// three fields little-endian) as a UUID (VDI, VHDX).
pub(super) fn uuid_mixed(b: &[u8; 16]) -> String {
    let mut be = *b;
    be[0..4].reverse();
    be[4..6].reverse();
    be[6..8].reverse();
    uuid_be(&be)
}

/// The virtual disk of a VDI image.
#[derive(Debug)]
struct VdiDevice {
    source: ImageSource,
    size: u64,
    block_size: u64,
    /// File offset of block slot 0's data.
    data_offset: u64,
    /// Bytes from one slot to the next (block size plus per-block extra data).
    slot_size: u64,
    map: Vec<u32>,
}

impl VdiDevice {
    fn run(&self, off: u64, max: usize) -> Result<(Run, usize)> {
        let index = off / self.block_size;
        let within = off % self.block_size;
        let len = (self.block_size - within).min(max as u64) as usize;
        let entry = usize::try_from(index)
            .ok()
            .and_then(|i| self.map.get(i).copied())
            .unwrap_or(UNALLOCATED);
        if entry == UNALLOCATED || entry == DISCARDED {
            return Ok((Run::Zero, len));
        }
        // Checked at open: every allocated slot lies inside the file.
        let file_off = self.data_offset + u64::from(entry) * self.slot_size + within;
        Ok((Run::Data(file_off), len))
    }
}

impl BlockDevice for VdiDevice {
    fn size(&self) -> u64 {
        self.size
    }

    fn read_at(&self, buf: &mut [u8], offset: u64) -> Result<()> {
        check_range(|| self.describe(), offset, buf.len(), self.size)?;
        read_runs(&self.source, buf, offset, |o, m| self.run(o, m))
    }

    fn describe(&self) -> String {
        self.source.path.display().to_string()
    }
}

fn corrupt(path: &Path, offset: u64, field: &str, reason: impl Into<String>) -> DiskError {
    DiskError::corrupt(path, Layer::Vdi, offset, field, reason)
}

fn field32(h: &[u8], at: usize) -> u32 {
    bytes::le32(h, at).unwrap_or(0)
}

/// Opens a VDI image.
pub(crate) fn open(source: ImageSource, ctx: &OpenContext) -> Result<OpenedImage> {
    let path = source.path.clone();
    let limits = ctx.limits;
    let h = read_struct(&source, Layer::Vdi, 0, HEADER_END, "header")?;
    if field32(&h, 0x40) != SIGNATURE {
        return Err(corrupt(&path, 0x40, "signature", "not 0xbeda107f"));
    }
    let version = field32(&h, 0x44);
    if version != VERSION_1_1 {
        return Err(DiskError::unsupported(
            &path,
            Layer::Vdi,
            format!(
                "header version {}.{} (only 1.1 is read)",
                version >> 16,
                version & 0xffff
            ),
        ));
    }
    let header_size = field32(&h, 0x48);
    if !(0x180..=0x10000).contains(&header_size) {
        return Err(corrupt(
            &path,
            0x48,
            "header size",
            format!("{header_size} is not a v1.1 header size"),
        ));
    }
    let image_type = field32(&h, 0x4c);
    let type_name = match image_type {
        TYPE_NORMAL => "dynamic",
        TYPE_FIXED => "static",
        TYPE_UNDO | TYPE_DIFF => {
            return Err(DiskError::unsupported(
                &path,
                Layer::Vdi,
                format!(
                    "{} image (its parent is found by UUID {}, which this reader does not resolve)",
                    if image_type == TYPE_DIFF {
                        "differencing"
                    } else {
                        "undo"
                    },
                    uuid_mixed(&bytes::array(&h, 0x1a8).unwrap_or_default())
                ),
            ))
        }
        other => {
            return Err(corrupt(
                &path,
                0x4c,
                "image type",
                format!("unknown type {other}"),
            ))
        }
    };
    let map_offset = u64::from(field32(&h, 0x154));
    let data_offset = u64::from(field32(&h, 0x158));
    let sector_size = field32(&h, 0x168);
    let disk_size = bytes::le64(&h, 0x170).unwrap_or(0);
    let block_size = field32(&h, 0x178);
    let block_extra = field32(&h, 0x17c);
    let blocks = field32(&h, 0x180);
    let allocated = field32(&h, 0x184);

    if sector_size != 512 {
        return Err(corrupt(
            &path,
            0x168,
            "sector size",
            format!("{sector_size} (expected 512)"),
        ));
    }
    if disk_size > limits.max_virtual_size {
        return Err(DiskError::limit(
            &path,
            Layer::Vdi,
            "virtual size",
            disk_size,
            limits.max_virtual_size,
        ));
    }
    if !block_size.is_power_of_two() || !(512..=(256 << 20)).contains(&block_size) {
        return Err(corrupt(
            &path,
            0x178,
            "block size",
            format!("{block_size} is not a power of two between 512 B and 256 MiB"),
        ));
    }
    if block_extra > (1 << 20) {
        return Err(corrupt(
            &path,
            0x17c,
            "block extra data size",
            format!("{block_extra} bytes is implausible"),
        ));
    }
    let block_size = u64::from(block_size);
    let needed_blocks = disk_size.div_ceil(block_size);
    if u64::from(blocks) < needed_blocks {
        return Err(corrupt(
            &path,
            0x180,
            "block count",
            format!("{blocks} blocks cannot hold a disk of {disk_size} bytes"),
        ));
    }
    if allocated > blocks {
        return Err(corrupt(
            &path,
            0x184,
            "allocated block count",
            format!("{allocated} is more than the {blocks} blocks of the disk"),
        ));
    }
    let map_bytes = u64::from(blocks) * 4;
    if map_bytes > limits.max_table_bytes {
        return Err(DiskError::limit(
            &path,
            Layer::Vdi,
            "block map bytes",
            map_bytes,
            limits.max_table_bytes,
        ));
    }
    if map_offset < 0x48 + u64::from(header_size) || map_offset + map_bytes > source.size() {
        return Err(corrupt(
            &path,
            0x154,
            "block map offset",
            format!(
                "map of {map_bytes} bytes at {map_offset} does not fit in the file of {} bytes",
                source.size()
            ),
        ));
    }
    if data_offset < map_offset + map_bytes || data_offset > source.size() {
        return Err(corrupt(
            &path,
            0x158,
            "data offset",
            format!(
                "{data_offset} overlaps the block map or lies past the end of the file ({} bytes)",
                source.size()
            ),
        ));
    }
    let raw_map = read_struct(
        &source,
        Layer::Vdi,
        map_offset,
        map_bytes as usize,
        "block map",
    )?;
    let slot_size = block_size + u64::from(block_extra);
    let mut map = Vec::with_capacity(blocks as usize);
    for (i, chunk) in raw_map.chunks_exact(4).enumerate() {
        let entry = bytes::le32(chunk, 0).unwrap_or(UNALLOCATED);
        let index = i as u64;
        if entry != UNALLOCATED && entry != DISCARDED && index < needed_blocks {
            // Only the part of the block inside the virtual disk must exist.
            let used = (disk_size - index * block_size).min(block_size);
            let start = data_offset + u64::from(entry) * slot_size + u64::from(block_extra);
            if entry >= blocks || start + used > source.size() {
                return Err(corrupt(
                    &path,
                    map_offset + index * 4,
                    &format!("block map entry {i}"),
                    format!(
                        "slot {entry} (data at {start}..{}) is past the end of the file ({} bytes) or beyond the {blocks} blocks",
                        start + used,
                        source.size()
                    ),
                ));
            }
        }
        map.push(entry);
    }

    let mut info = ImageInfo::new(&source, ImageFormat::Vdi, disk_size);
    info.detail("image_type", type_name);
    info.detail("block_size", block_size);
    info.detail("blocks", blocks);
    info.detail("blocks_allocated", allocated);
    info.detail(
        "uuid",
        uuid_mixed(&bytes::array(&h, 0x188).unwrap_or_default()),
    );
    let device = VdiDevice {
        source,
        size: disk_size,
        block_size,
        data_offset: data_offset + u64::from(block_extra),
        slot_size,
        map,
    };
    Ok(OpenedImage {
        info,
        device: Arc::new(device),
    })
}
