//! MFT records: update-sequence fixups, attributes (resident and
//! non-resident), and data runs.

use guestkit_disk::block::bytes::{le16, le32, le64};

/// Attribute types used by the reader.
pub const STANDARD_INFORMATION: u32 = 0x10;
pub const ATTRIBUTE_LIST: u32 = 0x20;
pub const DATA: u32 = 0x80;
pub const INDEX_ROOT: u32 = 0x90;
pub const INDEX_ALLOCATION: u32 = 0xa0;

/// Applies the update sequence array of a multi-sector record (`FILE` or
/// `INDX`) in place: the last two bytes of every 512-byte sector must hold
/// the update sequence number and are replaced by the saved originals.
pub fn apply_fixups(buf: &mut [u8]) -> Result<(), String> {
    let usa_offset = usize::from(le16(buf, 4).ok_or("record too short")?);
    let usa_count = usize::from(le16(buf, 6).ok_or("record too short")?);
    if usa_count == 0 || (usa_count - 1) * 512 > buf.len() {
        return Err(format!(
            "update sequence of {usa_count} entries for {} bytes",
            buf.len()
        ));
    }
    let usn = le16(buf, usa_offset).ok_or("update sequence outside the record")?;
    for i in 1..usa_count {
        let original = le16(buf, usa_offset + i * 2).ok_or("update sequence outside the record")?;
        let end = i * 512 - 2;
        if le16(buf, end) != Some(usn) {
            return Err(format!(
                "sector {} does not carry the update sequence number",
                i - 1
            ));
        }
        if let Some(slot) = buf.get_mut(end..end + 2) {
            slot.copy_from_slice(&original.to_le_bytes());
        }
    }
    Ok(())
}

/// One data run: `len` clusters at `lcn` (`None` for a sparse run).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Run {
    pub vcn: u64,
    pub len: u64,
    pub lcn: Option<u64>,
}

/// Decodes a mapping-pairs array starting at VCN `vcn`.
pub fn decode_runs(mut data: &[u8], mut vcn: u64, max_runs: usize) -> Result<Vec<Run>, String> {
    let mut out = Vec::new();
    let mut lcn: i64 = 0;
    loop {
        let Some((&header, rest)) = data.split_first() else {
            return Err("run list does not end".into());
        };
        if header == 0 {
            return Ok(out);
        }
        let len_bytes = usize::from(header & 0xf);
        let off_bytes = usize::from(header >> 4);
        if len_bytes == 0 || len_bytes > 8 || off_bytes > 8 {
            return Err(format!("run header {header:#04x}"));
        }
        let field =
            |b: &[u8]| -> u64 { b.iter().rev().fold(0u64, |a, &x| (a << 8) | u64::from(x)) };
        let len = field(rest.get(..len_bytes).ok_or("run list cut short")?);
        let off_raw = rest
            .get(len_bytes..len_bytes + off_bytes)
            .ok_or("run list cut short")?;
        let run_lcn = if off_bytes == 0 {
            None
        } else {
            // Signed, relative to the previous run's LCN.
            let mut v = field(off_raw) as i64;
            let bits = off_bytes * 8;
            if bits < 64 && v & (1 << (bits - 1)) != 0 {
                v -= 1 << bits;
            }
            lcn = lcn.checked_add(v).ok_or("run offset overflows")?;
            if lcn < 0 {
                return Err(format!("run at negative cluster {lcn}"));
            }
            Some(lcn as u64)
        };
        if len == 0 || out.len() >= max_runs {
            return Err(format!("run of {len} clusters (run {})", out.len()));
        }
        out.push(Run {
            vcn,
            len,
            lcn: run_lcn,
        });
        vcn = vcn.checked_add(len).ok_or("run list overflows")?;
        data = rest.get(len_bytes + off_bytes..).unwrap_or_default();
    }
}

/// One attribute of a record.
#[derive(Debug, Clone)]
pub struct Attribute {
    pub kind: u32,
    pub name: Vec<u16>,
    pub flags: u16,
    pub body: AttrBody,
}

/// Where an attribute's value is.
#[derive(Debug, Clone)]
pub enum AttrBody {
    Resident(Vec<u8>),
    NonResident {
        runs: Vec<Run>,
        data_size: u64,
        initialized_size: u64,
        lowest_vcn: u64,
    },
}

/// The attributes of a fixed-up record.
pub fn attributes(rec: &[u8], max_runs: usize) -> Result<Vec<Attribute>, String> {
    let mut at = usize::from(le16(rec, 0x14).ok_or("record too short")?);
    let used = (le32(rec, 0x18).ok_or("record too short")? as usize).min(rec.len());
    let mut out = Vec::new();
    while at + 8 <= used {
        let kind = le32(rec, at).ok_or("attribute outside the record")?;
        if kind == 0xffff_ffff {
            return Ok(out);
        }
        let len = le32(rec, at + 4).ok_or("attribute outside the record")? as usize;
        if len < 24 || !len.is_multiple_of(8) || at + len > used {
            return Err(format!("attribute {kind:#x} at {at} has length {len}"));
        }
        let a = rec
            .get(at..at + len)
            .ok_or("attribute outside the record")?;
        let non_resident = a.get(8).copied().unwrap_or(0) != 0;
        let name_len = usize::from(a.get(9).copied().unwrap_or(0));
        let name_off = usize::from(le16(a, 10).unwrap_or(0));
        let name: Vec<u16> = a
            .get(name_off..name_off + name_len * 2)
            .ok_or(format!("attribute {kind:#x} name outside it"))?
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .collect();
        let flags = le16(a, 12).unwrap_or(0);
        let body = if non_resident {
            let lowest_vcn = le64(a, 16).ok_or("short non-resident header")?;
            let pairs = usize::from(le16(a, 32).ok_or("short non-resident header")?);
            let runs = decode_runs(
                a.get(pairs..)
                    .ok_or("mapping pairs outside the attribute")?,
                lowest_vcn,
                max_runs,
            )
            .map_err(|e| format!("attribute {kind:#x}: {e}"))?;
            AttrBody::NonResident {
                runs,
                data_size: le64(a, 48).unwrap_or(0),
                initialized_size: le64(a, 56).unwrap_or(0),
                lowest_vcn,
            }
        } else {
            let vlen = le32(a, 16).ok_or("short resident header")? as usize;
            let voff = usize::from(le16(a, 20).ok_or("short resident header")?);
            AttrBody::Resident(
                a.get(voff..voff + vlen)
                    .ok_or(format!("attribute {kind:#x} value outside it"))?
                    .to_vec(),
            )
        };
        out.push(Attribute {
            kind,
            name,
            flags,
            body,
        });
        at += len;
    }
    Err("attributes run past the used part of the record".into())
}

/// A `$FILE_NAME` value: parent record, namespace, name.
#[derive(Debug, Clone)]
pub struct FileName {
    pub parent: u64,
    pub namespace: u8,
    pub name: String,
    pub flags: u32,
}

/// Parses a `$FILE_NAME` value (also the key of a directory index entry).
pub fn file_name(v: &[u8]) -> Option<FileName> {
    let len = usize::from(*v.get(64)?);
    let units: Vec<u16> = v
        .get(66..66 + len * 2)?
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .collect();
    Some(FileName {
        parent: le64(v, 0)? & 0xffff_ffff_ffff,
        namespace: *v.get(65)?,
        name: String::from_utf16_lossy(&units),
        flags: le32(v, 56)?,
    })
}
