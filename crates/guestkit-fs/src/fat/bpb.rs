//! The FAT boot sector (BIOS parameter block) and the layout it implies.

use guestkit_disk::block::bytes::{le16, le32};
use guestkit_disk::BlockDevice;

use super::corrupt;
use crate::error::Result;

/// FAT12, FAT16 or FAT32, decided by the cluster count as the specification
/// says (never by the type string).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FatType {
    Fat12,
    Fat16,
    Fat32,
}

/// The layout of a FAT volume.
#[derive(Debug, Clone)]
pub struct Layout {
    pub fat_type: FatType,
    pub cluster_size: u64,
    /// Byte offset and length of the first FAT.
    pub fat_offset: u64,
    pub fat_bytes: u64,
    /// FAT12/16: byte offset and length of the fixed root directory.
    pub root_offset: u64,
    pub root_bytes: u64,
    /// FAT32: first cluster of the root directory.
    pub root_cluster: u32,
    /// Byte offset of cluster 2.
    pub data_offset: u64,
    /// Number of data clusters (valid cluster numbers are 2..clusters+2).
    pub clusters: u32,
    pub total_bytes: u64,
    pub serial: u32,
    pub label: Option<String>,
}

/// Reads the boot sector; `Ok(None)` when it is not a FAT boot sector.
pub fn read(dev: &dyn BlockDevice) -> Result<Option<Layout>> {
    if dev.size() < 512 {
        return Ok(None);
    }
    let mut bs = [0u8; 512];
    dev.read_at(&mut bs, 0)?;
    let jump_ok = matches!(bs.first(), Some(0xeb) | Some(0xe9));
    let bps = u64::from(le16(&bs, 0x0b).unwrap_or(0));
    let spc = u64::from(bs.get(0x0d).copied().unwrap_or(0));
    let fats = u64::from(bs.get(0x10).copied().unwrap_or(0));
    let media = bs.get(0x15).copied().unwrap_or(0);
    // Not FAT unless the BPB looks like one (NTFS and exFAT have 0 FATs).
    if !jump_ok
        || bs.get(510..512) != Some(&[0x55, 0xaa][..])
        || !matches!(bps, 512 | 1024 | 2048 | 4096)
        || fats == 0
        || !(media == 0xf0 || media >= 0xf8)
    {
        return Ok(None);
    }
    let name = dev.describe();
    let bad = |reason: String| corrupt(&name, "boot sector", None, Some(0), reason);
    if spc == 0 || !spc.is_power_of_two() || fats > 4 {
        return Err(bad(format!("{spc} sectors per cluster, {fats} FATs")));
    }
    let reserved = u64::from(le16(&bs, 0x0e).unwrap_or(0));
    let root_entries = u64::from(le16(&bs, 0x11).unwrap_or(0));
    let total16 = u64::from(le16(&bs, 0x13).unwrap_or(0));
    let total32 = u64::from(le32(&bs, 0x20).unwrap_or(0));
    let total_sectors = if total16 != 0 { total16 } else { total32 };
    let fat16_size = u64::from(le16(&bs, 0x16).unwrap_or(0));
    let fat_sectors = if fat16_size != 0 {
        fat16_size
    } else {
        u64::from(le32(&bs, 0x24).unwrap_or(0))
    };
    if reserved == 0 || fat_sectors == 0 || total_sectors == 0 {
        return Err(bad(format!(
            "{reserved} reserved sectors, {fat_sectors} sectors per FAT, {total_sectors} sectors"
        )));
    }
    let root_sectors = (root_entries * 32).div_ceil(bps);
    let meta_sectors = reserved + fats * fat_sectors + root_sectors;
    if meta_sectors >= total_sectors {
        return Err(bad(format!(
            "metadata ({meta_sectors} sectors) fills the whole volume ({total_sectors})"
        )));
    }
    let clusters = (total_sectors - meta_sectors) / spc;
    let fat_type = if clusters < 4085 {
        FatType::Fat12
    } else if clusters < 65525 {
        FatType::Fat16
    } else {
        FatType::Fat32
    };
    let entry_bits = match fat_type {
        FatType::Fat12 => 12,
        FatType::Fat16 => 16,
        FatType::Fat32 => 32,
    };
    let fat_bytes = fat_sectors * bps;
    if (clusters + 2) * entry_bits / 8 > fat_bytes {
        return Err(bad(format!(
            "a FAT of {fat_bytes} bytes cannot map {clusters} clusters"
        )));
    }
    let total_bytes = total_sectors * bps;
    if total_bytes > dev.size() {
        return Err(bad(format!(
            "{total_bytes} bytes claimed on a {}-byte volume",
            dev.size()
        )));
    }
    let (serial_at, label_at) = if fat_type == FatType::Fat32 {
        (0x43, 0x47)
    } else {
        (0x27, 0x2b)
    };
    let has_ext_bpb = bs
        .get(serial_at - 1)
        .is_some_and(|&sig| sig == 0x29 || sig == 0x28);
    let label = has_ext_bpb
        .then(|| bs.get(label_at..label_at + 11))
        .flatten()
        .map(|l| String::from_utf8_lossy(l).trim_end().to_string())
        .filter(|l| !l.is_empty() && l != "NO NAME");
    Ok(Some(Layout {
        fat_type,
        cluster_size: spc * bps,
        fat_offset: reserved * bps,
        fat_bytes,
        root_offset: (reserved + fats * fat_sectors) * bps,
        root_bytes: root_entries * 32,
        root_cluster: if fat_type == FatType::Fat32 {
            le32(&bs, 0x2c).unwrap_or(0)
        } else {
            0
        },
        data_offset: meta_sectors * bps,
        clusters: u32::try_from(clusters).unwrap_or(u32::MAX),
        total_bytes,
        serial: if has_ext_bpb {
            le32(&bs, serial_at).unwrap_or(0)
        } else {
            0
        },
        label,
    }))
}
