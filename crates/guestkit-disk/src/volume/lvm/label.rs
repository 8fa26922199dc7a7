//! The LVM2 physical-volume label: a 32-byte `label_header` ("LABELONE") in
//! one of the first four 512-byte sectors of a device, protected by LVM's own
//! CRC-32 variant.
//!
//! Layout of the label sector (all integers little-endian):
//!
//! | offset | size | field                                              |
//! |--------|------|----------------------------------------------------|
//! | 0      | 8    | id, `"LABELONE"`                                   |
//! | 8      | 8    | sector number of this label (must match its place) |
//! | 16     | 4    | CRC of bytes 20..512 of the sector                 |
//! | 20     | 4    | offset of the `pv_header` from the sector start    |
//! | 24     | 8    | type, `"LVM2 001"`                                 |

use std::path::PathBuf;

use crate::block::{bytes, BlockDevice};
use crate::error::{DiskError, Layer, Result};

/// Size of a sector as LVM counts it.
pub const SECTOR_SIZE: u64 = 512;
/// Number of sectors scanned for a label (LVM's `LABEL_SCAN_SECTORS`).
pub const LABEL_SCAN_SECTORS: u64 = 4;
/// Magic of the label header.
pub const LABEL_ID: &[u8; 8] = b"LABELONE";
/// Label type of LVM2 text-format physical volumes.
pub const LABEL_TYPE: &[u8; 8] = b"LVM2 001";
/// Initial value of LVM's CRC (`INITIAL_CRC` in lib/misc/crc.h).
pub const CRC_INITIAL: u32 = 0xf597_a6cf;
/// Size of the label header that precedes the PV header.
pub const LABEL_HEADER_SIZE: usize = 32;

/// LVM's CRC-32: the reflected 0xEDB88320 polynomial started from `initial`
/// with no pre- or post-inversion. Chaining is by passing the previous result
/// as `initial`, as LVM does for metadata split across the circular buffer.
pub fn crc(initial: u32, data: &[u8]) -> u32 {
    // crc32fast computes !update(!initial); LVM's variant skips both inversions.
    let mut h = crc32fast::Hasher::new_with_initial(!initial);
    h.update(data);
    !h.finalize()
}

/// A label found on a device.
#[derive(Debug, Clone)]
pub struct Label {
    /// Sector (0..4) holding the label.
    pub sector: u64,
    /// Offset of the PV header inside `sector_bytes`.
    pub header_offset: usize,
    /// The whole 512-byte label sector (the PV header lives inside it).
    pub sector_bytes: Vec<u8>,
}

impl Label {
    /// Absolute byte offset of the label sector on the device.
    pub fn byte_offset(&self) -> u64 {
        self.sector * SECTOR_SIZE
    }
}

/// Looks for an LVM2 label in sectors 0..4 of `dev`.
///
/// Returns `Ok(None)` when no sector starts with "LABELONE". A sector that
/// does but fails its checks (CRC, sector number, header offset) is skipped
/// like LVM does when another valid label follows; when none is valid the
/// first problem is returned as an error, since the device evidently was a PV.
pub fn find_label(dev: &dyn BlockDevice) -> Result<Option<Label>> {
    let path = PathBuf::from(dev.describe());
    let scan = (LABEL_SCAN_SECTORS * SECTOR_SIZE).min(dev.size() / SECTOR_SIZE * SECTOR_SIZE);
    let mut buf = vec![0u8; scan as usize];
    dev.read_at(&mut buf, 0)?;
    let mut first_error = None;
    for (index, sector) in buf.chunks_exact(SECTOR_SIZE as usize).enumerate() {
        if sector.get(..8) != Some(&LABEL_ID[..]) {
            continue;
        }
        let index = index as u64;
        match check_label(sector, index, &path) {
            Ok(header_offset) => {
                return Ok(Some(Label {
                    sector: index,
                    header_offset,
                    sector_bytes: sector.to_vec(),
                }))
            }
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(None),
    }
}

/// Validates one label sector; returns the PV header offset inside it.
fn check_label(sector: &[u8], index: u64, path: &std::path::Path) -> Result<usize> {
    let at = index * SECTOR_SIZE;
    let corrupt = |field_off: u64, field: &str, reason: String| {
        DiskError::corrupt(path, Layer::Lvm, at + field_off, field, reason)
    };
    let recorded_sector = bytes::le64(sector, 8).unwrap_or(u64::MAX);
    if recorded_sector != index {
        return Err(corrupt(
            8,
            "label_header.sector",
            format!("label in sector {index} records sector {recorded_sector}"),
        ));
    }
    let stored_crc = bytes::le32(sector, 16).unwrap_or(0);
    let computed = crc(CRC_INITIAL, sector.get(20..).unwrap_or(&[]));
    if stored_crc != computed {
        return Err(corrupt(
            16,
            "label_header.crc",
            format!("stored {stored_crc:#010x}, computed {computed:#010x}"),
        ));
    }
    let kind = sector.get(24..32).unwrap_or(&[]);
    if kind != LABEL_TYPE {
        return Err(DiskError::unsupported(
            path,
            Layer::Lvm,
            format!(
                "label type {:?} in sector {index} (only \"LVM2 001\" is known)",
                String::from_utf8_lossy(kind)
            ),
        ));
    }
    let offset = bytes::le32(sector, 20).unwrap_or(0) as usize;
    // The PV header (uuid, size and at least two list terminators) must fit
    // inside the label sector.
    if offset < LABEL_HEADER_SIZE || offset + 32 + 8 + 32 > sector.len() {
        return Err(corrupt(
            20,
            "label_header.offset",
            format!("PV header offset {offset} does not fit in the 512-byte label sector"),
        ));
    }
    Ok(offset)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Bitwise reference of LVM's calc_crc.
    fn reference(initial: u32, data: &[u8]) -> u32 {
        let mut c = initial;
        for &b in data {
            c ^= u32::from(b);
            for _ in 0..8 {
                c = (c >> 1) ^ if c & 1 != 0 { 0xEDB8_8320 } else { 0 };
            }
        }
        c
    }

    #[test]
    fn crc_matches_bitwise_reference_and_chains() {
        let data: Vec<u8> = (0..1000u32).map(|i| (i * 7 + 3) as u8).collect();
        assert_eq!(crc(CRC_INITIAL, &data), reference(CRC_INITIAL, &data));
        let (a, b) = data.split_at(377);
        assert_eq!(crc(crc(CRC_INITIAL, a), b), crc(CRC_INITIAL, &data));
        assert_eq!(crc(CRC_INITIAL, &[]), CRC_INITIAL);
    }
}
