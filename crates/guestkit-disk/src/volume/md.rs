//! Linux md RAID member superblocks (0.90, 1.0, 1.1, 1.2) and assembly of the
//! arrays guestkit can read: RAID1 (through one healthy member, the one with
//! the newest event count) and linear arrays of one member.

use std::sync::Arc;

use serde::Serialize;

use crate::block::{bytes, BlockDevice, DeviceRef, SliceDevice};
use crate::error::{DiskError, Layer, Result};
use crate::uuid::uuid_be;

const MAGIC: u32 = 0xa92b_4efc;
const SB1_SIZE: usize = 256;
/// Most device roles a 1.x superblock may list (mdadm's own bound).
const MAX_DEVS: u32 = 1920;

/// What one member's superblock says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MdMember {
    /// Superblock version: `0.90`, `1.0`, `1.1` or `1.2`.
    pub version: String,
    pub array_uuid: String,
    /// Array name (1.x only), e.g. `host:0`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// RAID level (-1 linear, 0, 1, 4, 5, 6, 10).
    pub level: i32,
    pub raid_disks: u32,
    /// This member's slot; `None` for a spare or faulty member.
    pub device_role: Option<u32>,
    /// Update count: the member with the highest count is the freshest.
    pub events: u64,
    /// Where the array data starts on the member, bytes.
    pub data_offset: u64,
    /// Bytes of array data on the member.
    pub data_size: u64,
    /// Size of the assembled array, bytes.
    pub array_size: u64,
}

/// Looks for an md superblock on `dev`, trying each version's location.
pub fn probe(dev: &dyn BlockDevice) -> Result<Option<MdMember>> {
    let size = dev.size();
    if size < 128 * 1024 {
        return Ok(None);
    }
    // 1.1 at 0, 1.2 at 4 KiB, 1.0 at the end minus 8 KiB (4 KiB aligned).
    let end_offset = (size - 8192) & !4095;
    for (version, offset) in [("1.1", 0), ("1.2", 4096), ("1.0", end_offset)] {
        if let Some(m) = probe_v1(dev, version, offset)? {
            return Ok(Some(m));
        }
    }
    probe_v090(dev)
}

fn corrupt(dev: &dyn BlockDevice, offset: u64, field: &str, reason: String) -> DiskError {
    DiskError::corrupt(dev.describe(), Layer::Md, offset, field, reason)
}

/// The checksum of a 1.x superblock of `len` bytes (sb_csum taken as zero).
pub fn sb1_checksum(sb: &[u8]) -> u32 {
    let mut sum: u64 = 0;
    let mut words = sb.chunks_exact(4);
    for (i, w) in words.by_ref().enumerate() {
        if i == 216 / 4 {
            continue;
        }
        sum += u64::from(u32::from_le_bytes([w[0], w[1], w[2], w[3]]));
    }
    let rest = words.remainder();
    if rest.len() >= 2 {
        sum += u64::from(u16::from_le_bytes([rest[0], rest[1]]));
    }
    ((sum & 0xffff_ffff) + (sum >> 32)) as u32
}

fn probe_v1(dev: &dyn BlockDevice, version: &str, offset: u64) -> Result<Option<MdMember>> {
    let mut head = [0u8; SB1_SIZE];
    dev.read_at(&mut head, offset)?;
    if bytes::le32(&head, 0) != Some(MAGIC) || bytes::le32(&head, 4) != Some(1) {
        return Ok(None);
    }
    let super_offset = bytes::le64(&head, 144).unwrap_or(u64::MAX);
    if super_offset.checked_mul(512) != Some(offset) {
        // A superblock of another version's location seen from here.
        return Ok(None);
    }
    let max_dev = bytes::le32(&head, 220).unwrap_or(0);
    if max_dev > MAX_DEVS {
        return Err(corrupt(
            dev,
            offset + 220,
            "max_dev",
            format!("{max_dev} roles (at most {MAX_DEVS})"),
        ));
    }
    let mut sb = vec![0u8; SB1_SIZE + max_dev as usize * 2];
    dev.read_at(&mut sb, offset)?;
    let stored = bytes::le32(&sb, 216).unwrap_or(0);
    let computed = sb1_checksum(&sb);
    if stored != computed {
        return Err(corrupt(
            dev,
            offset + 216,
            "sb_csum",
            format!("stored {stored:#010x}, computed {computed:#010x}"),
        ));
    }
    let level = bytes::le32(&sb, 72).unwrap_or(0) as i32;
    let raid_disks = bytes::le32(&sb, 92).unwrap_or(0);
    let component_sectors = bytes::le64(&sb, 80).unwrap_or(0);
    let data_offset = bytes::le64(&sb, 128).unwrap_or(0).saturating_mul(512);
    let data_size = bytes::le64(&sb, 136).unwrap_or(0).saturating_mul(512);
    let dev_number = bytes::le32(&sb, 160).unwrap_or(u32::MAX);
    let role = bytes::le16(&sb, SB1_SIZE + dev_number as usize * 2).filter(|&r| r < 0xfffe);
    if data_offset
        .checked_add(data_size)
        .is_none_or(|end| end > dev.size())
    {
        return Err(corrupt(
            dev,
            offset + 128,
            "data_offset/data_size",
            format!(
                "data {data_offset}+{data_size} lies outside the member ({} bytes)",
                dev.size()
            ),
        ));
    }
    let uuid: [u8; 16] = bytes::array(&sb, 16).unwrap_or_default();
    let name_bytes = sb.get(32..64).unwrap_or_default();
    let name_len = name_bytes
        .iter()
        .position(|&b| b == 0)
        .unwrap_or(name_bytes.len());
    let name = String::from_utf8_lossy(name_bytes.get(..name_len).unwrap_or_default()).into_owned();
    let array_size = match level {
        1 => component_sectors.saturating_mul(512),
        -1 | 0 if raid_disks == 1 => data_size,
        _ => component_sectors
            .saturating_mul(512)
            .saturating_mul(u64::from(raid_disks)),
    };
    Ok(Some(MdMember {
        version: version.to_string(),
        array_uuid: uuid_be(&uuid),
        name: (!name.is_empty()).then_some(name),
        level,
        raid_disks,
        device_role: role.map(u32::from),
        events: bytes::le64(&sb, 200).unwrap_or(0),
        data_offset,
        data_size,
        array_size,
    }))
}

fn probe_v090(dev: &dyn BlockDevice) -> Result<Option<MdMember>> {
    let offset = (dev.size() & !(65536 - 1)).saturating_sub(65536);
    let mut sb = [0u8; 4096];
    dev.read_at(&mut sb, offset)?;
    let word = |i: usize| bytes::le32(&sb, i * 4).unwrap_or(0);
    if word(0) != MAGIC || word(1) != 0 || word(2) != 90 {
        return Ok(None);
    }
    let sum: u64 = sb
        .chunks_exact(4)
        .enumerate()
        .filter(|(i, _)| *i != 38)
        .map(|(_, w)| u64::from(u32::from_le_bytes([w[0], w[1], w[2], w[3]])))
        .sum();
    let computed = ((sum & 0xffff_ffff) + (sum >> 32)) as u32;
    if computed != word(38) {
        return Err(corrupt(
            dev,
            offset + 38 * 4,
            "sb_csum",
            format!("stored {:#010x}, computed {computed:#010x}", word(38)),
        ));
    }
    let mut uuid = [0u8; 16];
    for (i, w) in [5usize, 13, 14, 15].iter().enumerate() {
        if let Some(dst) = uuid.get_mut(i * 4..i * 4 + 4) {
            dst.copy_from_slice(&word(*w).to_be_bytes());
        }
    }
    let size = u64::from(word(8)) * 1024;
    if size > offset {
        return Err(corrupt(
            dev,
            offset + 32,
            "size",
            format!("{size} bytes of data do not fit before the superblock at {offset}"),
        ));
    }
    let level = word(7) as i32;
    let raid_disks = word(10);
    // The "this disk" descriptor at word 992: number, major, minor, raid_disk, state.
    let role = word(992 + 3);
    let state = word(992 + 4);
    let faulty = state & 1 != 0;
    Ok(Some(MdMember {
        version: "0.90".into(),
        array_uuid: uuid_be(&uuid),
        name: None,
        level,
        raid_disks,
        device_role: (!faulty && role < raid_disks).then_some(role),
        events: u64::from(word(39)) | (u64::from(word(40)) << 32),
        data_offset: 0,
        data_size: size,
        array_size: if level == 1 {
            size
        } else {
            size * u64::from(raid_disks)
        },
    }))
}

/// Assembles an array from the members found. RAID1 is read through the
/// healthy member with the highest event count (every RAID1 member holds the
/// whole array); a one-member linear or RAID0 array is its data area. Other
/// layouts are reported as unsupported.
pub fn assemble(members: &[(MdMember, DeviceRef)]) -> Result<DeviceRef> {
    let Some((first, first_dev)) = members.first() else {
        return Err(DiskError::unsupported(
            "md",
            Layer::Md,
            "array with no members",
        ));
    };
    let healthy = members
        .iter()
        .filter(|(m, _)| m.device_role.is_some())
        .max_by_key(|(m, _)| m.events);
    match (first.level, first.raid_disks) {
        (1, _) => {
            let Some((m, dev)) = healthy else {
                return Err(DiskError::unsupported(
                    first_dev.describe(),
                    Layer::Md,
                    format!("RAID1 array {} with no active member", first.array_uuid),
                ));
            };
            let size = m.array_size.min(m.data_size);
            let name = format!("md {}", m.name.as_deref().unwrap_or(&m.array_uuid));
            Ok(Arc::new(SliceDevice::new(dev.clone(), m.data_offset, size, name)?))
        }
        (-1 | 0, 1) => {
            let name = format!("md {}", first.name.as_deref().unwrap_or(&first.array_uuid));
            Ok(Arc::new(SliceDevice::new(
                first_dev.clone(),
                first.data_offset,
                first.data_size,
                name,
            )?))
        }
        (level, disks) => Err(DiskError::unsupported(
            first_dev.describe(),
            Layer::Md,
            format!("RAID level {level} with {disks} members (only RAID1 and single-member arrays are read)"),
        )),
    }
}
