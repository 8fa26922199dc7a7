//! The fixed part of a VHDX file: the file type identifier, the two headers
//! (the valid one with the higher sequence number is current) and the region
//! table that locates the BAT and the metadata region.

use super::crc32c::crc32c_with_zero_field;
use super::{corrupt, guid, Guid};
use crate::block::bytes;
use crate::error::{DiskError, Layer, Result};
use crate::format::ImageSource;

const KIB: u64 = 1024;
const MIB: u64 = 1024 * KIB;
const HEADER_OFFSETS: [u64; 2] = [64 * KIB, 128 * KIB];
const HEADER_SIZE: usize = 4096;
const REGION_OFFSETS: [u64; 2] = [192 * KIB, 256 * KIB];
const REGION_SIZE: usize = 64 * 1024;
const MAX_REGIONS: u32 = 2047;

/// BAT region: 2DC27766-F623-4200-9D64-115E9BFD4A08.
pub(super) const BAT_REGION: Guid = guid(
    0x2dc2_7766,
    0xf623,
    0x4200,
    [0x9d, 0x64, 0x11, 0x5e, 0x9b, 0xfd, 0x4a, 0x08],
);
/// Metadata region: 8B7CA206-4790-4B9A-B8FE-575F050F886E.
pub(super) const METADATA_REGION: Guid = guid(
    0x8b7c_a206,
    0x4790,
    0x4b9a,
    [0xb8, 0xfe, 0x57, 0x5f, 0x05, 0x0f, 0x88, 0x6e],
);

/// The current header's fields this reader uses.
#[derive(Debug, Clone)]
pub(super) struct Header {
    /// File offset of the header chosen.
    pub offset: u64,
    pub sequence: u64,
    pub log_guid: Guid,
    pub log_length: u32,
    pub log_offset: u64,
}

impl Header {
    /// A non-zero log GUID means the log holds entries that must be replayed
    /// before the metadata is known to be consistent.
    pub fn log_needs_replay(&self) -> bool {
        self.log_guid != [0u8; 16]
    }
}

/// A region of the file named by the region table.
#[derive(Debug, Clone, Copy)]
pub(super) struct Region {
    pub offset: u64,
    pub length: u64,
    /// Where the entry describing this region sits (for errors).
    pub entry_at: u64,
}

/// The BAT and metadata regions.
#[derive(Debug, Clone, Copy)]
pub(super) struct Regions {
    pub bat: Region,
    pub metadata: Region,
}

/// Checks the `vhdxfile` identifier at offset 0.
pub(super) fn check_identifier(source: &ImageSource) -> Result<()> {
    let id = source.read_struct(Layer::Vhdx, 0, 8, "file type identifier")?;
    if id != b"vhdxfile" {
        return Err(corrupt(
            &source.path,
            0,
            "file type identifier",
            "no `vhdxfile` signature",
        ));
    }
    Ok(())
}

/// Reads both headers and returns the valid one with the higher sequence
/// number; fails naming both when neither is valid.
pub(super) fn current_header(source: &ImageSource) -> Result<Header> {
    let mut best: Option<Header> = None;
    let mut problems = Vec::new();
    for at in HEADER_OFFSETS {
        match parse_header(source, at) {
            Ok(h) => {
                if best.as_ref().is_none_or(|b| h.sequence > b.sequence) {
                    best = Some(h);
                }
            }
            Err(reason) => problems.push(format!("header at {at}: {reason}")),
        }
    }
    let header = best.ok_or_else(|| {
        corrupt(
            &source.path,
            HEADER_OFFSETS[0],
            "header",
            format!("no valid header ({})", problems.join("; ")),
        )
    })?;
    Ok(header)
}

fn parse_header(source: &ImageSource, at: u64) -> std::result::Result<Header, String> {
    if at + HEADER_SIZE as u64 > source.size() {
        return Err(format!(
            "past the end of the file ({} bytes)",
            source.size()
        ));
    }
    let mut h = vec![0u8; HEADER_SIZE];
    source.read_at(&mut h, at).map_err(|e| e.to_string())?;
    if !h.starts_with(b"head") {
        return Err("no `head` signature".into());
    }
    let stored = bytes::le32(&h, 4).unwrap_or(0);
    let computed = crc32c_with_zero_field(&h, 4);
    if stored != computed {
        return Err(format!(
            "CRC-32C mismatch (stored {stored:#010x}, computed {computed:#010x})"
        ));
    }
    let version = bytes::le16(&h, 66).unwrap_or(0);
    if version != 1 {
        return Err(format!("version {version} (expected 1)"));
    }
    Ok(Header {
        offset: at,
        sequence: bytes::le64(&h, 8).unwrap_or(0),
        log_guid: bytes::array(&h, 48).unwrap_or_default(),
        log_length: bytes::le32(&h, 68).unwrap_or(0),
        log_offset: bytes::le64(&h, 72).unwrap_or(0),
    })
}

/// Reads the region table (the first copy, or the second when the first is
/// damaged) and returns the BAT and metadata regions, each checked to lie
/// inside the file.
pub(super) fn regions(source: &ImageSource) -> Result<Regions> {
    let mut first_error = None;
    for at in REGION_OFFSETS {
        match parse_regions(source, at) {
            Ok(r) => return Ok(r),
            Err(e) => {
                if first_error.is_none() {
                    first_error = Some(e);
                }
            }
        }
    }
    Err(first_error
        .unwrap_or_else(|| corrupt(&source.path, REGION_OFFSETS[0], "region table", "missing")))
}

fn parse_regions(source: &ImageSource, at: u64) -> Result<Regions> {
    let path = &source.path;
    let t = source.read_struct(Layer::Vhdx, at, REGION_SIZE, "region table")?;
    if !t.starts_with(b"regi") {
        return Err(corrupt(path, at, "region table", "no `regi` signature"));
    }
    let stored = bytes::le32(&t, 4).unwrap_or(0);
    let computed = crc32c_with_zero_field(&t, 4);
    if stored != computed {
        return Err(corrupt(
            path,
            at + 4,
            "region table checksum",
            format!("CRC-32C stored {stored:#010x}, computed {computed:#010x}"),
        ));
    }
    let count = bytes::le32(&t, 8).unwrap_or(0);
    if count > MAX_REGIONS {
        return Err(corrupt(
            path,
            at + 8,
            "region table entry count",
            format!("{count} is more than {MAX_REGIONS}"),
        ));
    }
    let mut bat = None;
    let mut metadata = None;
    for i in 0..count as usize {
        let e = 16 + i * 32;
        let entry_at = at + e as u64;
        let id: Guid = bytes::array(&t, e).unwrap_or_default();
        let offset = bytes::le64(&t, e + 16).unwrap_or(0);
        let length = u64::from(bytes::le32(&t, e + 24).unwrap_or(0));
        let required = bytes::le32(&t, e + 28).unwrap_or(0) & 1 != 0;
        let slot = if id == BAT_REGION {
            &mut bat
        } else if id == METADATA_REGION {
            &mut metadata
        } else if required {
            return Err(DiskError::unsupported(
                path,
                Layer::Vhdx,
                format!(
                    "required region {} (region table entry at {entry_at})",
                    super::guid_string(&id)
                ),
            ));
        } else {
            continue;
        };
        if slot.is_some() {
            return Err(corrupt(
                path,
                entry_at,
                "region table entry",
                "region listed twice",
            ));
        }
        let aligned =
            offset.is_multiple_of(MIB) && length.is_multiple_of(MIB) && offset >= MIB && length > 0;
        let inside = offset
            .checked_add(length)
            .is_some_and(|end| end <= source.size());
        if !aligned || !inside {
            return Err(corrupt(
                path,
                entry_at + 16,
                "region offset",
                format!(
                    "region {} of {length} bytes at {offset} is not 1 MiB aligned or lies past the end of the file ({} bytes)",
                    super::guid_string(&id),
                    source.size()
                ),
            ));
        }
        *slot = Some(Region {
            offset,
            length,
            entry_at,
        });
    }
    match (bat, metadata) {
        (Some(bat), Some(metadata)) => Ok(Regions { bat, metadata }),
        (None, _) => Err(corrupt(path, at, "region table", "no BAT region")),
        (_, None) => Err(corrupt(path, at, "region table", "no metadata region")),
    }
}
