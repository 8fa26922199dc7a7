//! The VHDX metadata region: a table of items (file parameters, virtual disk
//! size, sector sizes, page 83 identifier, parent locator) each stored inside
//! the region.

use super::header::Region;
use super::{corrupt, guid, guid_string, Guid};
use crate::block::bytes;
use crate::error::{DiskError, Layer, Result};
use crate::format::ImageSource;

const TABLE_SIZE: usize = 64 * 1024;
const MAX_ENTRIES: u16 = 2047;
const MIB: u64 = 1 << 20;
/// Largest virtual disk the format allows: 64 TiB.
const MAX_DISK_SIZE: u64 = 64 << 40;

const FILE_PARAMETERS: Guid = guid(
    0xcaa1_6737,
    0xfa36,
    0x4d43,
    [0xb3, 0xb6, 0x33, 0xf0, 0xaa, 0x44, 0xe7, 0x6b],
);
const VIRTUAL_DISK_SIZE: Guid = guid(
    0x2fa5_4224,
    0xcd1b,
    0x4876,
    [0xb2, 0x11, 0x5d, 0xbe, 0xd8, 0x3b, 0xf4, 0xb8],
);
const PAGE83_DATA: Guid = guid(
    0xbeca_12ab,
    0xb2e6,
    0x4523,
    [0x93, 0xef, 0xc3, 0x09, 0xe0, 0x00, 0xc7, 0x46],
);
const LOGICAL_SECTOR_SIZE: Guid = guid(
    0x8141_bf1d,
    0xa96f,
    0x4709,
    [0xba, 0x47, 0xf2, 0x33, 0xa8, 0xfa, 0xab, 0x5f],
);
const PHYSICAL_SECTOR_SIZE: Guid = guid(
    0xcda3_48c7,
    0x445d,
    0x4471,
    [0x9c, 0xc9, 0xe9, 0x88, 0x52, 0x51, 0xc5, 0x56],
);
const PARENT_LOCATOR: Guid = guid(
    0xa8d3_5f2d,
    0xb30b,
    0x454d,
    [0xab, 0xf7, 0xd3, 0xd8, 0x48, 0x34, 0xab, 0x0c],
);

/// The facts of the metadata region.
#[derive(Debug, Clone)]
pub(super) struct Metadata {
    pub block_size: u32,
    pub leave_blocks_allocated: bool,
    pub has_parent: bool,
    pub virtual_size: u64,
    pub logical_sector_size: u32,
    pub physical_sector_size: u32,
    pub page83: Guid,
}

/// One item's bytes, located through its table entry.
struct Item {
    data: Vec<u8>,
    /// File offset of the item data (for errors).
    at: u64,
}

/// Reads and checks the metadata table and its known items.
pub(super) fn read(source: &ImageSource, region: Region) -> Result<Metadata> {
    let path = &source.path;
    let base = region.offset;
    let table_len = TABLE_SIZE.min(region.length as usize);
    let t = source.read_struct(Layer::Vhdx, base, table_len, "metadata table")?;
    if !t.starts_with(b"metadata") {
        return Err(corrupt(
            path,
            base,
            "metadata table",
            "no `metadata` signature",
        ));
    }
    let count = bytes::le16(&t, 10).unwrap_or(0);
    if count > MAX_ENTRIES {
        return Err(corrupt(
            path,
            base + 10,
            "metadata entry count",
            format!("{count} is more than {MAX_ENTRIES}"),
        ));
    }
    let mut items: [Option<Item>; 6] = Default::default();
    let known = [
        FILE_PARAMETERS,
        VIRTUAL_DISK_SIZE,
        PAGE83_DATA,
        LOGICAL_SECTOR_SIZE,
        PHYSICAL_SECTOR_SIZE,
        PARENT_LOCATOR,
    ];
    for i in 0..usize::from(count) {
        let e = 32 + i * 32;
        let entry_at = base + e as u64;
        let Some(entry) = t.get(e..e + 32) else {
            return Err(corrupt(path, entry_at, "metadata entry", "past the table"));
        };
        let id: Guid = bytes::array(entry, 0).unwrap_or_default();
        let offset = u64::from(bytes::le32(entry, 16).unwrap_or(0));
        let length = u64::from(bytes::le32(entry, 20).unwrap_or(0));
        let flags = bytes::le32(entry, 24).unwrap_or(0);
        let required = flags & 4 != 0;
        let Some(slot) = known.iter().position(|k| *k == id) else {
            if required {
                return Err(DiskError::unsupported(
                    path,
                    Layer::Vhdx,
                    format!(
                        "required metadata item {} (entry at {entry_at})",
                        guid_string(&id)
                    ),
                ));
            }
            continue;
        };
        let fits = offset >= TABLE_SIZE as u64 && length <= MIB && offset + length <= region.length;
        if !fits {
            return Err(corrupt(
                path,
                entry_at + 16,
                &format!("metadata item {} offset", guid_string(&id)),
                format!(
                    "{length} bytes at {offset} do not lie inside the metadata region of {} bytes",
                    region.length
                ),
            ));
        }
        let at = base + offset;
        let data = source.read_struct(Layer::Vhdx, at, length as usize, "metadata item")?;
        if let Some(s) = items.get_mut(slot) {
            *s = Some(Item { data, at });
        }
    }
    let [file_params, disk_size, page83, logical, physical, _parent] = items;
    let need = |item: Option<Item>, name: &str, len: usize| -> Result<Item> {
        match item {
            Some(i) if i.data.len() >= len => Ok(i),
            Some(i) => Err(corrupt(
                path,
                i.at,
                name,
                format!("{} bytes, expected {len}", i.data.len()),
            )),
            None => Err(corrupt(
                path,
                base,
                name,
                "required metadata item is missing",
            )),
        }
    };
    let fp = need(file_params, "file parameters", 8)?;
    let block_size = bytes::le32(&fp.data, 0).unwrap_or(0);
    let fp_flags = bytes::le32(&fp.data, 4).unwrap_or(0);
    if !block_size.is_power_of_two() || !(MIB..=256 * MIB).contains(&u64::from(block_size)) {
        return Err(corrupt(
            path,
            fp.at,
            "block size",
            format!("{block_size} is not a power of two between 1 MiB and 256 MiB"),
        ));
    }
    let ls = need(logical, "logical sector size", 4)?;
    let logical_sector_size = bytes::le32(&ls.data, 0).unwrap_or(0);
    if logical_sector_size != 512 && logical_sector_size != 4096 {
        return Err(corrupt(
            path,
            ls.at,
            "logical sector size",
            format!("{logical_sector_size} (expected 512 or 4096)"),
        ));
    }
    let ps = need(physical, "physical sector size", 4)?;
    let physical_sector_size = bytes::le32(&ps.data, 0).unwrap_or(0);
    if physical_sector_size != 512 && physical_sector_size != 4096 {
        return Err(corrupt(
            path,
            ps.at,
            "physical sector size",
            format!("{physical_sector_size} (expected 512 or 4096)"),
        ));
    }
    let vs = need(disk_size, "virtual disk size", 8)?;
    let virtual_size = bytes::le64(&vs.data, 0).unwrap_or(0);
    if virtual_size > MAX_DISK_SIZE || !virtual_size.is_multiple_of(u64::from(logical_sector_size))
    {
        return Err(corrupt(
            path,
            vs.at,
            "virtual disk size",
            format!(
                "{virtual_size} is above 64 TiB or not a multiple of the {logical_sector_size}-byte sector"
            ),
        ));
    }
    let p83 = need(page83, "page 83 data", 16)?;
    Ok(Metadata {
        block_size,
        leave_blocks_allocated: fp_flags & 1 != 0,
        has_parent: fp_flags & 2 != 0,
        virtual_size,
        logical_sector_size,
        physical_sector_size,
        page83: bytes::array(&p83.data, 0).unwrap_or_default(),
    })
}
