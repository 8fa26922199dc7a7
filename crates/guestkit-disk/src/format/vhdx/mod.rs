//! Microsoft VHDX images (MS-VHDX): dynamic and fixed disks.
//!
//! Layout: a file type identifier, two headers (CRC-32C, sequence numbers),
//! two copies of the region table locating the BAT and the metadata region,
//! then log, metadata and payload blocks at 1 MiB-aligned offsets. The reader
//! never writes: an image whose log still needs replaying is read as it is and
//! says so in `info.details` (`log_needs_replay=true`). Differencing disks
//! (with a parent) are refused with an `Unsupported` error.

mod bat;
mod crc32c;
mod header;
mod metadata;

use std::path::Path;
use std::sync::Arc;

use crate::error::{DiskError, Layer, Result};
use crate::format::runs::{MappedDevice, Run, RunMap};
use crate::format::{ImageFormat, ImageInfo, ImageSource, OpenContext, OpenedImage};
use crate::uuid::uuid_mixed;

use bat::Block;

/// A GUID as its 16 on-disk bytes.
pub(super) type Guid = [u8; 16];

/// The on-disk (mixed-endian) bytes of the GUID written `d1-d2-d3-d4`.
const fn guid(d1: u32, d2: u16, d3: u16, d4: [u8; 8]) -> Guid {
    let a = d1.to_le_bytes();
    let b = d2.to_le_bytes();
    let c = d3.to_le_bytes();
    [
        a[0], a[1], a[2], a[3], b[0], b[1], c[0], c[1], d4[0], d4[1], d4[2], d4[3], d4[4], d4[5],
        d4[6], d4[7],
    ]
}

fn guid_string(g: &Guid) -> String {
    uuid_mixed(g)
}

fn corrupt(path: &Path, offset: u64, field: &str, reason: impl Into<String>) -> DiskError {
    DiskError::corrupt(path, Layer::Vhdx, offset, field, reason)
}

/// The virtual disk of a VHDX image.
#[derive(Debug)]
struct VhdxMap {
    block_size: u64,
    blocks: Vec<Block>,
}

impl RunMap for VhdxMap {
    fn run(&self, _source: &ImageSource, off: u64, max: usize) -> Result<(Run, usize)> {
        let index = off / self.block_size;
        let within = off % self.block_size;
        let len = (self.block_size - within).min(max as u64) as usize;
        let block = usize::try_from(index)
            .ok()
            .and_then(|i| self.blocks.get(i).copied())
            .unwrap_or(Block::Zero);
        Ok(match block {
            Block::Zero => (Run::Zero, len),
            // Checked at open: the block's used part lies inside the file.
            Block::Present(file_off) => (Run::Data(file_off + within), len),
        })
    }
}

/// Opens a VHDX image.
pub(crate) fn open(source: ImageSource, ctx: &OpenContext) -> Result<OpenedImage> {
    let path = source.path.clone();
    header::check_identifier(&source)?;
    let head = header::current_header(&source)?;
    let regions = header::regions(&source)?;
    let meta = metadata::read(&source, regions.metadata)?;
    if meta.has_parent {
        return Err(DiskError::unsupported(
            &path,
            Layer::Vhdx,
            "differencing disk (has_parent set in the file parameters; parent locators are not followed)",
        ));
    }
    if meta.virtual_size > ctx.limits.max_virtual_size {
        return Err(DiskError::limit(
            &path,
            Layer::Vhdx,
            "virtual size",
            meta.virtual_size,
            ctx.limits.max_virtual_size,
        ));
    }
    let bat = bat::read(&source, regions.bat, &meta, ctx)?;

    let mut info = ImageInfo::new(&source, ImageFormat::Vhdx, meta.virtual_size);
    info.detail("block_size", meta.block_size);
    info.detail("leave_blocks_allocated", meta.leave_blocks_allocated);
    info.detail("has_parent", meta.has_parent);
    info.detail("logical_sector_size", meta.logical_sector_size);
    info.detail("physical_sector_size", meta.physical_sector_size);
    info.detail("page83_data", guid_string(&meta.page83));
    info.detail("chunk_ratio", bat.chunk_ratio);
    info.detail("blocks_allocated", bat.allocated);
    info.detail("header_sequence", head.sequence);
    info.detail("header_offset", head.offset);
    info.detail("log_needs_replay", head.log_needs_replay());
    if head.log_needs_replay() {
        info.detail("log_offset", head.log_offset);
        info.detail("log_length", head.log_length);
    }
    let map = VhdxMap {
        block_size: u64::from(meta.block_size),
        blocks: bat.blocks,
    };
    let device = MappedDevice::new(source, meta.virtual_size, map);
    Ok(OpenedImage {
        info,
        device: Arc::new(device),
    })
}
