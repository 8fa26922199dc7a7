//! MBR (DOS) partition tables: four primary entries, and logical partitions
//! chained through extended boot records (EBRs) inside an extended partition.

use std::collections::HashSet;

use crate::block::{bytes, BlockDevice};
use crate::error::{DiskError, Layer, Result};
use crate::limits::Limits;
use crate::volume::table::{Partition, PartitionKind, PartitionTable, Scheme};

const SECTOR: u64 = 512;
const ENTRY_AT: usize = 446;
const PROTECTIVE: u8 = 0xee;

/// Whether an MBR type byte marks an extended partition.
fn is_extended(type_byte: u8) -> bool {
    matches!(type_byte, 0x05 | 0x0f | 0x85)
}

/// A readable name of an MBR type byte.
pub fn type_name(type_byte: u8) -> Option<&'static str> {
    Some(match type_byte {
        0x01 => "FAT12",
        0x04 | 0x06 | 0x0e => "FAT16",
        0x05 => "Extended",
        0x07 => "HPFS/NTFS/exFAT",
        0x0b => "W95 FAT32",
        0x0c => "W95 FAT32 (LBA)",
        0x0f => "W95 Extended (LBA)",
        0x27 => "Hidden NTFS WinRE",
        0x82 => "Linux swap",
        0x83 => "Linux",
        0x85 => "Linux extended",
        0x8e => "Linux LVM",
        0xa5 => "FreeBSD",
        0xee => "GPT protective",
        0xef => "EFI (FAT-12/16/32)",
        0xfd => "Linux raid autodetect",
        _ => return None,
    })
}

/// One raw 16-byte entry.
#[derive(Debug, Clone, Copy)]
struct RawEntry {
    status: u8,
    type_byte: u8,
    lba: u64,
    sectors: u64,
}

fn entries(sector: &[u8]) -> [RawEntry; 4] {
    let entry = |i: usize| {
        let at = ENTRY_AT + i * 16;
        RawEntry {
            status: sector.get(at).copied().unwrap_or(0),
            type_byte: sector.get(at + 4).copied().unwrap_or(0),
            lba: u64::from(bytes::le32(sector, at + 8).unwrap_or(0)),
            sectors: u64::from(bytes::le32(sector, at + 12).unwrap_or(0)),
        }
    };
    [entry(0), entry(1), entry(2), entry(3)]
}

fn has_signature(sector: &[u8]) -> bool {
    sector.get(510..512) == Some(&[0x55, 0xaa][..])
}

/// Reads the MBR of `dev`. `None` when there is no MBR partition table: no
/// 0x55AA signature, a protective MBR (the disk is GPT), or a boot sector
/// whose entry area does not hold valid entries (a filesystem's boot sector).
pub fn parse(dev: &dyn BlockDevice, limits: &Limits) -> Result<Option<PartitionTable>> {
    if dev.size() < SECTOR {
        return Ok(None);
    }
    let mut sector = [0u8; 512];
    dev.read_at(&mut sector, 0)?;
    if !has_signature(&sector) {
        return Ok(None);
    }
    let raw = entries(&sector);
    if raw.iter().any(|e| e.type_byte == PROTECTIVE) {
        return Ok(None);
    }
    // Entries must look like entries: status 0x00 or 0x80, a type for every
    // non-empty entry, at least one partition.
    if raw.iter().any(|e| e.status != 0 && e.status != 0x80)
        || raw.iter().all(|e| e.type_byte == 0)
        || raw
            .iter()
            .any(|e| e.type_byte != 0 && (e.lba == 0 || e.sectors == 0))
    {
        return Ok(None);
    }
    let disk_sectors = dev.size() / SECTOR;
    let mut table = PartitionTable {
        scheme: Scheme::Mbr,
        disk_id: format!("{:08x}", bytes::le32(&sector, 440).unwrap_or(0)),
        sector_size: SECTOR,
        partitions: Vec::new(),
        warnings: Vec::new(),
    };
    let mut extended = None;
    for (i, e) in raw.iter().enumerate() {
        if e.type_byte == 0 {
            continue;
        }
        let number = i as u32 + 1;
        if e.lba.saturating_add(e.sectors) > disk_sectors {
            table.warnings.push(format!(
                "partition {number} (sectors {}+{}) reaches past the end of the disk ({disk_sectors} sectors); skipped",
                e.lba, e.sectors
            ));
            continue;
        }
        let kind = if is_extended(e.type_byte) {
            if extended.is_none() {
                extended = Some(*e);
            } else {
                table
                    .warnings
                    .push(format!("partition {number}: a second extended partition; its logical partitions are not read"));
            }
            PartitionKind::Extended
        } else {
            PartitionKind::Primary
        };
        table.partitions.push(partition(number, e, 0, kind));
    }
    if let Some(ext) = extended {
        read_logicals(dev, &ext, disk_sectors, limits, &mut table)?;
    }
    Ok(Some(table))
}

fn partition(number: u32, e: &RawEntry, base: u64, kind: PartitionKind) -> Partition {
    Partition {
        number,
        start: (base + e.lba) * SECTOR,
        size: e.sectors * SECTOR,
        type_id: format!("0x{:02x}", e.type_byte),
        type_name: type_name(e.type_byte),
        name: None,
        uuid: None,
        bootable: e.status == 0x80,
        kind,
    }
}

/// Follows the EBR chain of the extended partition `ext`. Each EBR's first
/// entry is a logical partition relative to that EBR; its second entry points
/// to the next EBR, relative to the start of the extended partition.
fn read_logicals(
    dev: &dyn BlockDevice,
    ext: &RawEntry,
    disk_sectors: u64,
    limits: &Limits,
    table: &mut PartitionTable,
) -> Result<()> {
    let ext_start = ext.lba;
    let ext_end = ext.lba + ext.sectors;
    let mut ebr = ext_start;
    let mut seen = HashSet::new();
    let mut number = 5u32;
    loop {
        if !seen.insert(ebr) {
            table.warnings.push(format!(
                "EBR chain loops back to sector {ebr}; stopped there"
            ));
            return Ok(());
        }
        if seen.len() as u64 > limits.max_entries {
            return Err(DiskError::limit(
                dev.describe(),
                Layer::Mbr,
                "logical partitions",
                seen.len() as u64,
                limits.max_entries,
            ));
        }
        let mut sector = [0u8; 512];
        dev.read_at(&mut sector, ebr * SECTOR)?;
        if !has_signature(&sector) {
            table.warnings.push(format!(
                "EBR at sector {ebr} has no 0x55AA signature; logical partitions end there"
            ));
            return Ok(());
        }
        let raw = entries(&sector);
        let logical = raw[0];
        if logical.type_byte != 0 && logical.sectors > 0 {
            let start = ebr.saturating_add(logical.lba);
            if start.saturating_add(logical.sectors) > ext_end.min(disk_sectors) {
                table.warnings.push(format!(
                    "logical partition {number} (sectors {start}+{}) reaches past its extended partition; skipped",
                    logical.sectors
                ));
            } else {
                table
                    .partitions
                    .push(partition(number, &logical, ebr, PartitionKind::Logical));
            }
            number += 1;
        }
        let next = raw[1];
        if next.type_byte == 0 || !is_extended(next.type_byte) || next.lba == 0 {
            return Ok(());
        }
        ebr = ext_start.saturating_add(next.lba);
        if ebr >= ext_end {
            table.warnings.push(format!(
                "EBR link to sector {ebr} leaves the extended partition; stopped there"
            ));
            return Ok(());
        }
    }
}
