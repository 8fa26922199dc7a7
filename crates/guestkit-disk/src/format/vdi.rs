//! VirtualBox VDI images (header version 1.1): dynamic and static (fixed).
//!
//! The file starts with a 64-byte text banner, the signature `0xbeda107f` at
//! 0x40, the version at 0x44 and the v1 header from 0x48. The block map is an
//! array of little-endian u32, one per block of the virtual disk: the index of
//! the block's slot in the data area, or `0xffffffff` (never written) /
//! `0xfffffffe` (discarded, reads as zeros). Static images use the same map
//! with every block allocated. Differencing and undo images need their parent
//! (found by UUID, not by path) and are refused with a clear error.

use std::path::Path;
use std::sync::Arc;

use crate::block::bytes;
use crate::error::{DiskError, Layer, Result};
use crate::format::runs::{MappedDevice, Run, RunMap};
use crate::format::{ImageFormat, ImageInfo, ImageSource, OpenContext, OpenedImage};
use crate::uuid::uuid_mixed;

const SIGNATURE: u32 = 0xbeda_107f;
const VERSION_1_1: u32 = 0x0001_0001;
const HEADER_END: usize = 0x1d8;
const UNALLOCATED: u32 = 0xffff_ffff;
const DISCARDED: u32 = 0xffff_fffe;
const TYPE_NORMAL: u32 = 1;
const TYPE_FIXED: u32 = 2;
const TYPE_UNDO: u32 = 3;
const TYPE_DIFF: u32 = 4;

/// The virtual disk of a VDI image.
#[derive(Debug)]
struct VdiMap {
    block_size: u64,
    /// File offset of block slot 0's data.
    data_offset: u64,
    /// Bytes from one slot to the next (block size plus per-block extra data).
    slot_size: u64,
    map: Vec<u32>,
}

impl RunMap for VdiMap {
    fn run(&self, _source: &ImageSource, off: u64, max: usize) -> Result<(Run, usize)> {
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
    let h = source.read_struct(Layer::Vdi, 0, HEADER_END, "header")?;
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
    let raw_map = source.read_struct(Layer::Vdi, map_offset, map_bytes as usize, "block map")?;
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
    let map = VdiMap {
        block_size,
        data_offset: data_offset + u64::from(block_extra),
        slot_size,
        map,
    };
    let device = MappedDevice::new(source, disk_size, map);
    Ok(OpenedImage {
        info,
        device: Arc::new(device),
    })
}
