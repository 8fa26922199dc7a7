//! FAT directory entries: 8.3 names with their case flags, VFAT long names
//! (checksum-checked), attributes and DOS dates.

use guestkit_disk::block::bytes::{le16, le32};

use crate::fs::Timestamp;

pub const ATTR_READ_ONLY: u8 = 0x01;
pub const ATTR_VOLUME_ID: u8 = 0x08;
pub const ATTR_DIRECTORY: u8 = 0x10;
const ATTR_LONG_NAME: u8 = 0x0f;

/// One file or directory entry (the 32-byte short entry and its long name).
#[derive(Debug, Clone)]
pub struct Entry {
    pub name: String,
    pub attr: u8,
    pub first_cluster: u32,
    pub size: u32,
    pub mtime: Timestamp,
    pub atime: Timestamp,
    pub btime: Timestamp,
}

impl Entry {
    pub fn is_dir(&self) -> bool {
        self.attr & ATTR_DIRECTORY != 0
    }
}

/// Days since 1970-01-01 of a civil date.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// A DOS date and time (local time, taken as UTC) as a timestamp.
fn dos_time(date: u16, time: u16, tenths: u8) -> Timestamp {
    if date == 0 {
        return Timestamp::default();
    }
    let year = 1980 + i64::from(date >> 9);
    let month = i64::from((date >> 5) & 0xf).clamp(1, 12);
    let day = i64::from(date & 0x1f).clamp(1, 31);
    let secs = i64::from(time >> 11) * 3600
        + i64::from((time >> 5) & 0x3f) * 60
        + i64::from(time & 0x1f) * 2;
    let extra = u32::from(tenths.min(199));
    Timestamp {
        sec: days_from_civil(year, month, day) * 86_400 + secs + i64::from(extra / 100),
        nsec: (extra % 100) * 10_000_000,
    }
}

/// The checksum of an 8.3 name that its long-name entries carry.
fn short_checksum(name: &[u8]) -> u8 {
    name.iter()
        .fold(0u8, |sum, &b| sum.rotate_right(1).wrapping_add(b))
}

/// `NAME.EXT` from the 11-byte field, with the NT lower-case flags.
fn short_name(raw: &[u8], nt_flags: u8) -> String {
    let mut base: Vec<u8> = raw.get(..8).unwrap_or_default().to_vec();
    if base.first() == Some(&0x05) {
        base[0] = 0xe5;
    }
    let decode = |b: &[u8], lower: bool| -> String {
        let s: String = b
            .iter()
            .map(|&c| char::from(c))
            .collect::<String>()
            .trim_end()
            .to_string();
        if lower {
            s.to_lowercase()
        } else {
            s
        }
    };
    let base = decode(&base, nt_flags & 0x08 != 0);
    let ext = decode(raw.get(8..11).unwrap_or_default(), nt_flags & 0x10 != 0);
    if ext.is_empty() {
        base
    } else {
        format!("{base}.{ext}")
    }
}

/// Parses directory bytes into entries, each with the byte offset (within
/// `data`) of its short entry. Deleted entries, `.`/`..` and volume labels
/// are skipped; the volume label, if met, is returned separately.
pub fn parse(data: &[u8]) -> (Vec<(usize, Entry)>, Option<String>) {
    let mut out = Vec::new();
    let mut label = None;
    let mut long: Vec<(u8, Vec<u16>)> = Vec::new();
    let mut long_sum = None;
    for (i, e) in data.chunks_exact(32).enumerate() {
        let first = e.first().copied().unwrap_or(0);
        if first == 0 {
            break;
        }
        let attr = e.get(11).copied().unwrap_or(0);
        if first == 0xe5 {
            long.clear();
            continue;
        }
        if attr & 0x3f == ATTR_LONG_NAME {
            let ord = first & 0x3f;
            if first & 0x40 != 0 {
                long.clear();
            }
            let units: Vec<u16> = [(1, 5), (14, 6), (28, 2)]
                .iter()
                .flat_map(|&(at, n)| (0..n).map(move |k| le16(e, at + k * 2).unwrap_or(0xffff)))
                .collect();
            long.push((ord, units));
            long_sum = e.get(13).copied();
            continue;
        }
        let raw_name = e.get(..11).unwrap_or_default();
        if attr & ATTR_VOLUME_ID != 0 {
            label = Some(short_name(raw_name, 0));
            long.clear();
            continue;
        }
        let short = short_name(raw_name, e.get(12).copied().unwrap_or(0));
        // A long name belongs to this entry when its checksum matches and its
        // pieces run from ord N down to 1.
        let mut name = short.clone();
        if !long.is_empty() && long_sum == Some(short_checksum(raw_name)) {
            let in_order = long
                .iter()
                .rev()
                .enumerate()
                .all(|(k, (ord, _))| usize::from(*ord) == k + 1);
            if in_order {
                let units: Vec<u16> = long
                    .iter()
                    .rev()
                    .flat_map(|(_, u)| u.iter().copied())
                    .take_while(|&u| u != 0 && u != 0xffff)
                    .collect();
                name = String::from_utf16_lossy(&units);
            }
        }
        long.clear();
        if short == "." || short == ".." {
            continue;
        }
        let cluster =
            u32::from(le16(e, 26).unwrap_or(0)) | (u32::from(le16(e, 20).unwrap_or(0)) << 16);
        out.push((
            i * 32,
            Entry {
                name,
                attr,
                first_cluster: cluster,
                size: le32(e, 28).unwrap_or(0),
                mtime: dos_time(le16(e, 24).unwrap_or(0), le16(e, 22).unwrap_or(0), 0),
                atime: dos_time(le16(e, 18).unwrap_or(0), 0, 0),
                btime: dos_time(
                    le16(e, 16).unwrap_or(0),
                    le16(e, 14).unwrap_or(0),
                    e.get(13).copied().unwrap_or(0),
                ),
            },
        ));
    }
    (out, label)
}

/// Parses the one short entry at the start of `raw` (32 bytes).
pub fn parse_one(raw: &[u8]) -> Option<Entry> {
    let (mut entries, _) = parse(raw.get(..32)?);
    entries.pop().map(|(_, e)| e)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dos_dates() {
        // 2024-05-06 07:08:10
        let date = ((2024 - 1980) << 9) | (5 << 5) | 6;
        let time = (7 << 11) | (8 << 5) | 5;
        assert_eq!(dos_time(date, time, 0).sec, 1_714_979_290);
    }
}
