//! GUID partition tables: the primary header at LBA 1 with its entry array,
//! both CRC-checked, and the backup header at the last LBA used when the
//! primary is damaged.

use crate::block::{bytes, BlockDevice};
use crate::error::{DiskError, Layer, Result};
use crate::limits::Limits;
use crate::uuid::uuid_mixed;
use crate::volume::table::{Partition, PartitionKind, PartitionTable, Scheme};

const SIGNATURE: &[u8; 8] = b"EFI PART";
/// Largest entry size accepted (the spec allows any multiple of 128).
const MAX_ENTRY_SIZE: u32 = 4096;

/// A readable name of a GPT partition type GUID (upper case).
pub fn type_name(guid: &str) -> Option<&'static str> {
    Some(match guid {
        "C12A7328-F81F-11D2-BA4B-00A0C93EC93B" => "EFI System",
        "21686148-6449-6E6F-744E-656564454649" => "BIOS boot",
        "0FC63DAF-8483-4772-8E79-3D69D8477DE4" => "Linux filesystem",
        "4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709" => "Linux root (x86-64)",
        "44479540-F297-41B2-9AF7-D131D5F0458A" => "Linux root (x86)",
        "B921B045-1DF0-41C3-AF44-4C6F280D3FAE" => "Linux root (ARM-64)",
        "BC13C2FF-59E6-4262-A352-B275FD6F7172" => "Linux extended boot",
        "933AC7E1-2EB4-4F13-B844-0E14E2AEF915" => "Linux home",
        "3B8F8425-20E0-4F3B-907F-1A25A76F98E8" => "Linux server data",
        "4D21B016-B534-45C2-A9FB-5C16E091FD2D" => "Linux variable data",
        "0657FD6D-A4AB-43C4-84E5-0933C84B4F4F" => "Linux swap",
        "E6D6D379-F507-44C2-A23C-238F2A3DF928" => "Linux LVM",
        "A19D880F-05FC-4D3B-A006-743F0F84911E" => "Linux RAID",
        "CA7D7CCB-63ED-4C53-861C-1742536059CC" => "Linux LUKS",
        "EBD0A0A2-B9E5-4433-87C0-68B6B72699C7" => "Microsoft basic data",
        "E3C9E316-0B5C-4DB8-817D-F92DF00215AE" => "Microsoft reserved",
        "DE94BBA4-06D1-4D40-A16A-BFD50179D6AC" => "Windows recovery environment",
        "5808C8AA-7E8F-42E0-85D2-E1E90434CFB3" => "Windows LDM metadata",
        "AF9B60A0-1431-4F62-BC68-3311714A69AD" => "Windows LDM data",
        "6A898CC3-1DD2-11B2-99A6-080020736631" => "Solaris /usr & Apple ZFS",
        "48465300-0000-11AA-AA11-00306543ECAC" => "Apple HFS/HFS+",
        "516E7CB4-6ECF-11D6-8FF8-00022D09712B" => "FreeBSD data",
        _ => return None,
    })
}

/// A header that passed its checks.
#[derive(Debug, Clone)]
struct Header {
    lba: u64,
    alternate_lba: u64,
    first_usable: u64,
    last_usable: u64,
    disk_guid: String,
    entries_lba: u64,
    entry_count: u32,
    entry_size: u32,
    entries_crc: u32,
}

/// Reads the GPT of `dev`. `None` when neither header carries the GPT
/// signature; an error when a GPT is there but no copy of it is usable, or
/// when it claims more entries than [`Limits`] allow.
pub fn parse(dev: &dyn BlockDevice, limits: &Limits) -> Result<Option<PartitionTable>> {
    for sector in [512u64, 4096] {
        if let Some(table) = parse_with_sector(dev, limits, sector)? {
            return Ok(Some(table));
        }
    }
    Ok(None)
}

fn parse_with_sector(
    dev: &dyn BlockDevice,
    limits: &Limits,
    ss: u64,
) -> Result<Option<PartitionTable>> {
    let sectors = dev.size() / ss;
    if sectors < 3 {
        return Ok(None);
    }
    let primary = read_header(dev, 1, ss);
    let mut warnings = Vec::new();
    // Primary header and array, else the backup.
    let (primary_sig, primary_err) = match &primary {
        Ok(h) => match read_entries(dev, h, ss, limits) {
            Ok(raw) => return Ok(Some(table(h, &raw, ss, sectors, warnings))),
            Err(e @ DiskError::LimitExceeded { .. }) => return Err(e),
            Err(e) => (true, e.to_string()),
        },
        Err(HeaderProblem::NoSignature) => (false, "no GPT signature at LBA 1".to_string()),
        Err(HeaderProblem::Bad(e)) => (true, e.to_string()),
    };
    let backup_lba = match &primary {
        Ok(h) if h.alternate_lba < sectors => h.alternate_lba,
        _ => sectors - 1,
    };
    match read_header(dev, backup_lba, ss) {
        Ok(h) => {
            let raw = read_entries(dev, &h, ss, limits)?;
            warnings.push(format!(
                "primary GPT unusable ({primary_err}); using the backup header at LBA {backup_lba}"
            ));
            Ok(Some(table(&h, &raw, ss, sectors, warnings)))
        }
        Err(HeaderProblem::NoSignature) if !primary_sig => Ok(None),
        Err(HeaderProblem::NoSignature) => Err(DiskError::corrupt(
            dev.describe(),
            Layer::Gpt,
            ss,
            "GPT header",
            format!("{primary_err}; and no backup header at LBA {backup_lba}"),
        )),
        Err(HeaderProblem::Bad(e)) => Err(DiskError::corrupt(
            dev.describe(),
            Layer::Gpt,
            backup_lba * ss,
            "GPT header",
            format!("primary: {primary_err}; backup: {e}"),
        )),
    }
}

enum HeaderProblem {
    NoSignature,
    Bad(DiskError),
}

fn read_header(dev: &dyn BlockDevice, lba: u64, ss: u64) -> Result<Header, HeaderProblem> {
    let offset = lba * ss;
    let corrupt = |field: &str, reason: String| {
        HeaderProblem::Bad(DiskError::corrupt(
            dev.describe(),
            Layer::Gpt,
            offset,
            field,
            reason,
        ))
    };
    let mut buf = vec![0u8; ss as usize];
    dev.read_at(&mut buf, offset).map_err(HeaderProblem::Bad)?;
    if buf.get(..8) != Some(&SIGNATURE[..]) {
        return Err(HeaderProblem::NoSignature);
    }
    let header_size = bytes::le32(&buf, 12).unwrap_or(0);
    if !(92..=ss as u32).contains(&header_size) {
        return Err(corrupt(
            "header size",
            format!("{header_size} is not in 92..={ss}"),
        ));
    }
    let stored_crc = bytes::le32(&buf, 16).unwrap_or(0);
    let mut hdr = buf.get(..header_size as usize).unwrap_or_default().to_vec();
    if let Some(crc) = hdr.get_mut(16..20) {
        crc.fill(0);
    }
    let computed = crc32fast::hash(&hdr);
    if computed != stored_crc {
        return Err(corrupt(
            "header CRC32",
            format!("stored {stored_crc:#010x}, computed {computed:#010x}"),
        ));
    }
    let my_lba = bytes::le64(&buf, 24).unwrap_or(0);
    if my_lba != lba {
        return Err(corrupt("MyLBA", format!("{my_lba}, expected {lba}")));
    }
    let entry_size = bytes::le32(&buf, 84).unwrap_or(0);
    if entry_size < 128 || !entry_size.is_multiple_of(8) || entry_size > MAX_ENTRY_SIZE {
        return Err(corrupt(
            "SizeOfPartitionEntry",
            format!("{entry_size} is not a multiple of 8 in 128..={MAX_ENTRY_SIZE}"),
        ));
    }
    let guid: [u8; 16] = bytes::array(&buf, 56).unwrap_or_default();
    Ok(Header {
        lba,
        alternate_lba: bytes::le64(&buf, 32).unwrap_or(0),
        first_usable: bytes::le64(&buf, 40).unwrap_or(0),
        last_usable: bytes::le64(&buf, 48).unwrap_or(0),
        disk_guid: uuid_mixed(&guid).to_ascii_uppercase(),
        entries_lba: bytes::le64(&buf, 72).unwrap_or(0),
        entry_count: bytes::le32(&buf, 80).unwrap_or(0),
        entry_size,
        entries_crc: bytes::le32(&buf, 88).unwrap_or(0),
    })
}

fn read_entries(dev: &dyn BlockDevice, h: &Header, ss: u64, limits: &Limits) -> Result<Vec<u8>> {
    let at = h.lba * ss;
    if u64::from(h.entry_count) > limits.max_entries {
        return Err(DiskError::limit(
            dev.describe(),
            Layer::Gpt,
            format!("NumberOfPartitionEntries (header at offset {at})"),
            u64::from(h.entry_count),
            limits.max_entries,
        ));
    }
    let len = u64::from(h.entry_count) * u64::from(h.entry_size);
    if len > limits.max_table_bytes {
        return Err(DiskError::limit(
            dev.describe(),
            Layer::Gpt,
            format!("partition entry array bytes (header at offset {at})"),
            len,
            limits.max_table_bytes,
        ));
    }
    let offset = h
        .entries_lba
        .checked_mul(ss)
        .filter(|o| o.checked_add(len).is_some_and(|end| end <= dev.size()));
    let Some(offset) = offset else {
        return Err(DiskError::corrupt(
            dev.describe(),
            Layer::Gpt,
            at,
            "PartitionEntryLBA",
            format!(
                "entry array at LBA {} ({len} bytes) lies outside the disk",
                h.entries_lba
            ),
        ));
    };
    let mut raw = vec![0u8; len as usize];
    dev.read_at(&mut raw, offset)?;
    let computed = crc32fast::hash(&raw);
    if computed != h.entries_crc {
        return Err(DiskError::corrupt(
            dev.describe(),
            Layer::Gpt,
            offset,
            "partition entry array CRC32",
            format!("stored {:#010x}, computed {computed:#010x}", h.entries_crc),
        ));
    }
    Ok(raw)
}

fn table(
    h: &Header,
    raw: &[u8],
    ss: u64,
    sectors: u64,
    mut warnings: Vec<String>,
) -> PartitionTable {
    let mut partitions = Vec::new();
    for (i, e) in raw.chunks_exact(h.entry_size as usize).enumerate() {
        let type_guid: [u8; 16] = bytes::array(e, 0).unwrap_or_default();
        if type_guid == [0; 16] {
            continue;
        }
        let number = i as u32 + 1;
        let first = bytes::le64(e, 32).unwrap_or(0);
        let last = bytes::le64(e, 40).unwrap_or(0);
        if first > last || last >= sectors {
            warnings.push(format!(
                "partition {number}: LBAs {first}..={last} do not fit the disk ({sectors} sectors); skipped"
            ));
            continue;
        }
        if first < h.first_usable || last > h.last_usable {
            warnings.push(format!(
                "partition {number}: LBAs {first}..={last} lie outside the usable range {}..={}",
                h.first_usable, h.last_usable
            ));
        }
        let unique: [u8; 16] = bytes::array(e, 16).unwrap_or_default();
        let attributes = bytes::le64(e, 48).unwrap_or(0);
        let name_units: Vec<u16> = e
            .get(56..128)
            .unwrap_or_default()
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .take_while(|&u| u != 0)
            .collect();
        let type_id = uuid_mixed(&type_guid).to_ascii_uppercase();
        partitions.push(Partition {
            number,
            start: first * ss,
            size: (last - first + 1) * ss,
            type_name: type_name(&type_id),
            type_id,
            name: Some(String::from_utf16_lossy(&name_units)),
            uuid: Some(uuid_mixed(&unique).to_ascii_uppercase()),
            bootable: attributes & (1 << 2) != 0,
            kind: PartitionKind::Gpt,
        });
    }
    PartitionTable {
        scheme: Scheme::Gpt,
        disk_id: h.disk_guid.clone(),
        sector_size: ss,
        partitions,
        warnings,
    }
}
