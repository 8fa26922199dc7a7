//! The PV header that follows the label, and the metadata areas it points at.
//!
//! `pv_header` (inside the label sector): 32-byte PV uuid, u64 device size in
//! bytes, then two lists of `disk_locn {u64 offset, u64 size}` each ended by a
//! zero entry — data areas (where extents start) then metadata areas —
//! optionally followed by `pv_header_extension {u32 version, u32 flags}` and a
//! zero-terminated bootloader-area list.
//!
//! Each metadata area starts with a 512-byte `mda_header`: u32 CRC of bytes
//! 4..512, 16-byte magic, u32 version (1), u64 start and u64 size of the area,
//! then `raw_locn {u64 offset, u64 size, u32 checksum, u32 flags}` entries
//! (committed, precommitted) ended by a zero entry. `offset` is relative to the
//! area start; the text area after the header is a circular buffer, so a text
//! reaching past the end of the area continues right after the header.

use std::path::{Path, PathBuf};

use crate::block::{bytes, BlockDevice};
use crate::error::{DiskError, Layer, Result};
use crate::limits::Limits;

use super::label::{crc, Label, CRC_INITIAL};

/// Magic of the metadata-area header.
pub const MDA_MAGIC: &[u8; 16] = b" LVM2 x[5A%r0N*>";
/// Size of the metadata-area header; the text buffer starts after it.
pub const MDA_HEADER_SIZE: u64 = 512;
/// `raw_locn.flags` bit: this metadata area is ignored (`pvchange --metadataignore`).
pub const RAW_LOCN_IGNORED: u32 = 0x1;
/// Length of a PV or VG uuid without dashes.
pub const ID_LEN: usize = 32;

/// An `{offset, size}` pair in bytes from the start of the device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct DiskLocn {
    /// Offset in bytes.
    pub offset: u64,
    /// Size in bytes (0 for a data area means "to the end of the device").
    pub size: u64,
}

/// The decoded PV header.
#[derive(Debug, Clone)]
pub struct PvHeader {
    /// PV uuid in LVM's dashed 6-4-4-4-4-4-6 form.
    pub uuid: String,
    /// Device size recorded by pvcreate, bytes.
    pub device_size: u64,
    /// Data areas (normally one, starting at `pe_start`).
    pub data_areas: Vec<DiskLocn>,
    /// Metadata areas (zero, one or two).
    pub metadata_areas: Vec<DiskLocn>,
    /// `pv_header_extension.version` when present.
    pub extension_version: Option<u32>,
    /// `pv_header_extension.flags` when present (bit 0: PV is in a VG).
    pub extension_flags: Option<u32>,
}

/// Validates a 32-character LVM id and formats it 6-4-4-4-4-4-6.
pub fn format_uuid(raw: &[u8]) -> Option<String> {
    if raw.len() != ID_LEN
        || !raw
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || *c == b'!' || *c == b'#')
    {
        return None;
    }
    let mut out = String::with_capacity(38);
    let mut pos = 0;
    for (i, len) in [6usize, 4, 4, 4, 4, 4, 6].into_iter().enumerate() {
        if i > 0 {
            out.push('-');
        }
        out.push_str(std::str::from_utf8(raw.get(pos..pos + len)?).ok()?);
        pos += len;
    }
    Some(out)
}

/// Reads one zero-terminated `disk_locn` list starting at `*at` in `sector`.
fn read_locn_list(
    sector: &[u8],
    at: &mut usize,
    path: &Path,
    base: u64,
    field: &str,
) -> Result<Vec<DiskLocn>> {
    let mut out = Vec::new();
    loop {
        let (Some(offset), Some(size)) = (bytes::le64(sector, *at), bytes::le64(sector, *at + 8))
        else {
            return Err(DiskError::corrupt(
                path,
                Layer::Lvm,
                base + *at as u64,
                field,
                "list runs past the end of the label sector without a terminator",
            ));
        };
        *at += 16;
        if offset == 0 {
            return Ok(out);
        }
        out.push(DiskLocn { offset, size });
    }
}

/// Decodes the PV header that `label` points at.
pub fn parse_pv_header(label: &Label, path: &Path) -> Result<PvHeader> {
    let sector = &label.sector_bytes;
    let base = label.byte_offset();
    let at = label.header_offset;
    let raw_uuid = sector.get(at..at + ID_LEN).unwrap_or(&[]);
    let uuid = format_uuid(raw_uuid).ok_or_else(|| {
        DiskError::corrupt(
            path,
            Layer::Lvm,
            base + at as u64,
            "pv_header.pv_uuid",
            format!("not an LVM id: {:?}", String::from_utf8_lossy(raw_uuid)),
        )
    })?;
    let device_size = bytes::le64(sector, at + ID_LEN).unwrap_or(0);
    let mut pos = at + ID_LEN + 8;
    let data_areas = read_locn_list(sector, &mut pos, path, base, "pv_header.data_areas")?;
    let metadata_areas = read_locn_list(sector, &mut pos, path, base, "pv_header.metadata_areas")?;
    let (extension_version, extension_flags) =
        match (bytes::le32(sector, pos), bytes::le32(sector, pos + 4)) {
            (Some(v), Some(f)) if v != 0 => (Some(v), Some(f)),
            _ => (None, None),
        };
    Ok(PvHeader {
        uuid,
        device_size,
        data_areas,
        metadata_areas,
        extension_version,
        extension_flags,
    })
}

/// The decoded header of one metadata area.
#[derive(Debug, Clone)]
pub struct MdaHeader {
    /// Area start on the device, bytes.
    pub start: u64,
    /// Area size, bytes (header included).
    pub size: u64,
    /// Committed metadata location, `None` when the area holds no metadata
    /// yet (an orphan PV) or is marked ignored.
    pub committed: Option<RawLocn>,
}

/// One `raw_locn` entry.
#[derive(Debug, Clone, Copy)]
pub struct RawLocn {
    /// Offset of the text relative to the area start.
    pub offset: u64,
    /// Size of the text including its terminating NUL.
    pub size: u64,
    /// LVM CRC of the text bytes.
    pub checksum: u32,
    /// Flags (`RAW_LOCN_IGNORED`).
    pub flags: u32,
}

/// Metadata text read from one area.
#[derive(Debug, Clone)]
pub struct MdaText {
    /// Absolute offset of the area on the device.
    pub area_offset: u64,
    /// Absolute offset of the first text byte.
    pub text_offset: u64,
    /// The text, up to its first NUL.
    pub text: String,
}

/// Reads and checks the header of the metadata area `locn` of `dev`.
pub fn read_mda_header(dev: &dyn BlockDevice, locn: DiskLocn) -> Result<MdaHeader> {
    let path = PathBuf::from(dev.describe());
    let corrupt = |off: u64, field: &str, reason: String| {
        DiskError::corrupt(&path, Layer::Lvm, locn.offset + off, field, reason)
    };
    let fits = locn
        .offset
        .checked_add(MDA_HEADER_SIZE)
        .is_some_and(|end| end <= dev.size());
    if !fits || locn.size < MDA_HEADER_SIZE {
        return Err(DiskError::corrupt(
            &path,
            Layer::Lvm,
            locn.offset,
            "pv_header.metadata_areas",
            format!(
                "metadata area at {} of {} bytes does not fit a header in the {}-byte device",
                locn.offset,
                locn.size,
                dev.size()
            ),
        ));
    }
    let mut hdr = vec![0u8; MDA_HEADER_SIZE as usize];
    dev.read_at(&mut hdr, locn.offset)?;
    let stored = bytes::le32(&hdr, 0).unwrap_or(0);
    let computed = crc(CRC_INITIAL, hdr.get(4..).unwrap_or(&[]));
    if stored != computed {
        return Err(corrupt(
            0,
            "mda_header.checksum",
            format!("stored {stored:#010x}, computed {computed:#010x}"),
        ));
    }
    if hdr.get(4..20) != Some(&MDA_MAGIC[..]) {
        return Err(corrupt(4, "mda_header.magic", "wrong magic".into()));
    }
    let version = bytes::le32(&hdr, 20).unwrap_or(0);
    if version != 1 {
        return Err(DiskError::unsupported(
            &path,
            Layer::Lvm,
            format!("metadata area header version {version}"),
        ));
    }
    let start = bytes::le64(&hdr, 24).unwrap_or(0);
    let size = bytes::le64(&hdr, 32).unwrap_or(0);
    if start != locn.offset {
        return Err(corrupt(
            24,
            "mda_header.start",
            format!("records {start}, the PV header says {}", locn.offset),
        ));
    }
    let end_ok = start.checked_add(size).is_some_and(|e| e <= dev.size());
    if size <= MDA_HEADER_SIZE || !end_ok {
        return Err(corrupt(
            32,
            "mda_header.size",
            format!(
                "area of {size} bytes at {start} does not fit the {}-byte device",
                dev.size()
            ),
        ));
    }
    let committed = match (
        bytes::le64(&hdr, 40),
        bytes::le64(&hdr, 48),
        bytes::le32(&hdr, 56),
        bytes::le32(&hdr, 60),
    ) {
        (Some(offset), Some(size), Some(checksum), Some(flags))
            if offset != 0 && flags & RAW_LOCN_IGNORED == 0 =>
        {
            Some(RawLocn {
                offset,
                size,
                checksum,
                flags,
            })
        }
        _ => None,
    };
    Ok(MdaHeader {
        start,
        size,
        committed,
    })
}

/// Reads the committed metadata text of the area described by `mda`,
/// following the circular buffer and checking the size bounds and checksum.
pub fn read_mda_text(
    dev: &dyn BlockDevice,
    mda: &MdaHeader,
    limits: &Limits,
) -> Result<Option<MdaText>> {
    let Some(rl) = mda.committed else {
        return Ok(None);
    };
    let path = PathBuf::from(dev.describe());
    let field_at = mda.start + 40;
    let buffer_size = mda.size - MDA_HEADER_SIZE;
    if rl.offset < MDA_HEADER_SIZE || rl.offset >= mda.size {
        return Err(DiskError::corrupt(
            &path,
            Layer::Lvm,
            field_at,
            "mda_header.raw_locn[0].offset",
            format!(
                "text offset {} outside the text buffer {}..{} of the area",
                rl.offset, MDA_HEADER_SIZE, mda.size
            ),
        ));
    }
    if rl.size > limits.max_table_bytes {
        return Err(DiskError::limit(
            &path,
            Layer::Lvm,
            "mda_header.raw_locn[0].size",
            rl.size,
            limits.max_table_bytes,
        ));
    }
    if rl.size == 0 || rl.size > buffer_size {
        return Err(DiskError::corrupt(
            &path,
            Layer::Lvm,
            field_at + 8,
            "mda_header.raw_locn[0].size",
            format!(
                "text size {} does not fit the {buffer_size}-byte circular buffer",
                rl.size
            ),
        ));
    }
    // Both bounds are now below the area size, which fits the device.
    let first_len = rl.size.min(mda.size - rl.offset);
    let wrap_len = rl.size - first_len;
    let mut text = vec![0u8; rl.size as usize];
    let (first, second) = text.split_at_mut(first_len as usize);
    dev.read_at(first, mda.start + rl.offset)?;
    if wrap_len > 0 {
        dev.read_at(second, mda.start + MDA_HEADER_SIZE)?;
    }
    let computed = crc(CRC_INITIAL, &text);
    if computed != rl.checksum {
        return Err(DiskError::corrupt(
            &path,
            Layer::Lvm,
            field_at + 16,
            "mda_header.raw_locn[0].checksum",
            format!(
                "stored {:#010x}, computed {computed:#010x} over {} bytes at {}",
                rl.checksum,
                rl.size,
                mda.start + rl.offset
            ),
        ));
    }
    let end = text.iter().position(|&b| b == 0).unwrap_or(text.len());
    text.truncate(end);
    Ok(Some(MdaText {
        area_offset: mda.start,
        text_offset: mda.start + rl.offset,
        text: String::from_utf8_lossy(&text).into_owned(),
    }))
}
