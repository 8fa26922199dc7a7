//! Values (`vk` cells), their data (inline, in a cell, or in `db` big-data
//! segments) and its decoding.

use std::borrow::Cow;

use crate::base::Hive;
use crate::error::{RegfError, Result};
use crate::key::NONE;
use crate::util::{u16_at, u32_at, utf16_lossy_until_nul, RawName};

/// `REG_NONE`
pub const REG_NONE: u32 = 0;
/// `REG_SZ`
pub const REG_SZ: u32 = 1;
/// `REG_EXPAND_SZ`
pub const REG_EXPAND_SZ: u32 = 2;
/// `REG_BINARY`
pub const REG_BINARY: u32 = 3;
/// `REG_DWORD` (little-endian)
pub const REG_DWORD: u32 = 4;
/// `REG_DWORD_BIG_ENDIAN`
pub const REG_DWORD_BIG_ENDIAN: u32 = 5;
/// `REG_LINK`
pub const REG_LINK: u32 = 6;
/// `REG_MULTI_SZ`
pub const REG_MULTI_SZ: u32 = 7;
/// `REG_QWORD` (little-endian)
pub const REG_QWORD: u32 = 11;

/// `vk` flag: the name is stored as Latin-1 rather than UTF-16LE.
pub const VALUE_COMP_NAME: u16 = 0x0001;
/// Largest data held in one cell; larger data goes to `db` segments
/// (hive version 1.4 and later).
pub const BIG_DATA_SEGMENT: u32 = 16344;
/// High bit of the data size: the data is stored in the offset field.
const DATA_INLINE: u32 = 0x8000_0000;
/// Fixed part of a `vk` cell, before the name.
const VK_FIXED: usize = 0x14;

/// Decoded value data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegValue {
    /// `REG_SZ`, up to the first NUL.
    Sz(String),
    /// `REG_EXPAND_SZ`, up to the first NUL (not expanded).
    ExpandSz(String),
    /// `REG_MULTI_SZ`: the strings up to the first empty one.
    MultiSz(Vec<String>),
    /// `REG_DWORD`
    Dword(u32),
    /// `REG_DWORD_BIG_ENDIAN`
    DwordBigEndian(u32),
    /// `REG_QWORD`
    Qword(u64),
    /// `REG_BINARY`
    Binary(Vec<u8>),
    /// `REG_NONE` with no data.
    None,
    /// Any other type, or a known type whose data does not fit it (a
    /// `REG_DWORD` of 2 bytes, `REG_NONE` with data).
    Other {
        /// The registry type number.
        kind: u32,
        /// The raw data.
        data: Vec<u8>,
    },
}

impl RegValue {
    /// Decodes `data` of registry type `kind`. UTF-16LE strings are decoded
    /// lossily.
    pub fn decode(kind: u32, data: &[u8]) -> RegValue {
        let other = || RegValue::Other {
            kind,
            data: data.to_vec(),
        };
        match kind {
            REG_NONE if data.is_empty() => RegValue::None,
            REG_SZ => RegValue::Sz(utf16_lossy_until_nul(data)),
            REG_EXPAND_SZ => RegValue::ExpandSz(utf16_lossy_until_nul(data)),
            REG_MULTI_SZ => {
                let units: Vec<u16> = data
                    .chunks_exact(2)
                    .map(|c| u16::from_le_bytes([c[0], c[1]]))
                    .collect();
                RegValue::MultiSz(
                    units
                        .split(|&u| u == 0)
                        .take_while(|s| !s.is_empty())
                        .map(String::from_utf16_lossy)
                        .collect(),
                )
            }
            REG_DWORD => match data.get(..4) {
                Some(b) => RegValue::Dword(u32::from_le_bytes([b[0], b[1], b[2], b[3]])),
                None => other(),
            },
            REG_DWORD_BIG_ENDIAN => match data.get(..4) {
                Some(b) => RegValue::DwordBigEndian(u32::from_be_bytes([b[0], b[1], b[2], b[3]])),
                None => other(),
            },
            REG_QWORD => match data.get(..8).and_then(|b| <[u8; 8]>::try_from(b).ok()) {
                Some(b) => RegValue::Qword(u64::from_le_bytes(b)),
                None => other(),
            },
            REG_BINARY => RegValue::Binary(data.to_vec()),
            _ => other(),
        }
    }

    /// The registry type number of this value.
    pub fn kind(&self) -> u32 {
        match self {
            RegValue::Sz(_) => REG_SZ,
            RegValue::ExpandSz(_) => REG_EXPAND_SZ,
            RegValue::MultiSz(_) => REG_MULTI_SZ,
            RegValue::Dword(_) => REG_DWORD,
            RegValue::DwordBigEndian(_) => REG_DWORD_BIG_ENDIAN,
            RegValue::Qword(_) => REG_QWORD,
            RegValue::Binary(_) => REG_BINARY,
            RegValue::None => REG_NONE,
            RegValue::Other { kind, .. } => *kind,
        }
    }

    /// The string of a `REG_SZ` or `REG_EXPAND_SZ`.
    pub fn as_string(&self) -> Option<&str> {
        match self {
            RegValue::Sz(s) | RegValue::ExpandSz(s) => Some(s),
            _ => None,
        }
    }

    /// The number of a `REG_DWORD`, `REG_DWORD_BIG_ENDIAN`, or a
    /// `REG_QWORD` that fits in 32 bits.
    pub fn as_u32(&self) -> Option<u32> {
        match self {
            RegValue::Dword(n) | RegValue::DwordBigEndian(n) => Some(*n),
            RegValue::Qword(n) => u32::try_from(*n).ok(),
            _ => None,
        }
    }

    /// The number of a `REG_DWORD`, `REG_DWORD_BIG_ENDIAN` or `REG_QWORD`.
    pub fn as_u64(&self) -> Option<u64> {
        match self {
            RegValue::Dword(n) | RegValue::DwordBigEndian(n) => Some(u64::from(*n)),
            RegValue::Qword(n) => Some(*n),
            _ => None,
        }
    }

    /// The raw bytes as they are stored in a hive (UTF-16LE strings with
    /// their terminating NULs).
    pub fn to_bytes(&self) -> Vec<u8> {
        fn utf16z(s: &str, out: &mut Vec<u8>) {
            for u in s.encode_utf16() {
                out.extend_from_slice(&u.to_le_bytes());
            }
            out.extend_from_slice(&[0, 0]);
        }
        let mut out = Vec::new();
        match self {
            RegValue::Sz(s) | RegValue::ExpandSz(s) => utf16z(s, &mut out),
            RegValue::MultiSz(v) => {
                for s in v {
                    utf16z(s, &mut out);
                }
                out.extend_from_slice(&[0, 0]);
            }
            RegValue::Dword(n) => out.extend_from_slice(&n.to_le_bytes()),
            RegValue::DwordBigEndian(n) => out.extend_from_slice(&n.to_be_bytes()),
            RegValue::Qword(n) => out.extend_from_slice(&n.to_le_bytes()),
            RegValue::Binary(b) | RegValue::Other { data: b, .. } => out.extend_from_slice(b),
            RegValue::None => {}
        }
        out
    }
}

/// A registry value: a decoded `vk` cell. The data is read when asked for.
#[derive(Debug, Clone, Copy)]
pub struct Value<'h> {
    hive: &'h Hive<'h>,
    offset: u32,
    name: RawName<'h>,
    kind: u32,
    size_field: u32,
    data_offset: u32,
}

impl<'h> Value<'h> {
    /// Reads the `vk` cell at `offset`.
    pub(crate) fn read(hive: &'h Hive<'h>, offset: u32) -> Result<Value<'h>> {
        let d = hive.signed_cell(offset, "value", b"vk", VK_FIXED)?;
        let name_len = usize::from(u16_at(d, 2).unwrap_or(0));
        let flags = u16_at(d, 0x10).unwrap_or(0);
        let raw = d.get(VK_FIXED..VK_FIXED + name_len).ok_or_else(|| {
            RegfError::cell(
                offset,
                format!("value name of {name_len} bytes runs past the end of the vk cell"),
            )
        })?;
        let name = if flags & VALUE_COMP_NAME != 0 {
            RawName::Latin1(raw)
        } else {
            RawName::Utf16(raw)
        };
        Ok(Value {
            hive,
            offset,
            name,
            size_field: u32_at(d, 4).unwrap_or(0),
            data_offset: u32_at(d, 8).unwrap_or(0),
            kind: u32_at(d, 0x0C).unwrap_or(0),
        })
    }

    /// Offset of the value's `vk` cell.
    pub fn offset(&self) -> u32 {
        self.offset
    }

    /// The value's name; `""` for the key's default value.
    pub fn name(&self) -> String {
        self.name.decode()
    }

    /// Case-insensitive comparison of the value's name with `name`.
    pub fn name_eq(&self, name: &str) -> bool {
        self.name.eq_ignore_case(name)
    }

    /// The registry type number (`REG_*`).
    pub fn kind(&self) -> u32 {
        self.kind
    }

    /// Length of the data in bytes, as recorded.
    pub fn data_len(&self) -> u32 {
        self.size_field & !DATA_INLINE
    }

    /// The raw data bytes: borrowed from the hive when held in one cell,
    /// assembled when inline or split into big-data segments.
    pub fn raw_data(&self) -> Result<Cow<'h, [u8]>> {
        let len = self.data_len();
        if self.size_field & DATA_INLINE != 0 {
            // Inline data lives in the offset field: at most 4 bytes.
            let b = self.data_offset.to_le_bytes();
            let n = (len as usize).min(4);
            if len > 4 {
                return Err(RegfError::cell(
                    self.offset,
                    format!("inline data of {len} bytes (at most 4 fit)"),
                ));
            }
            return Ok(Cow::Owned(b[..n].to_vec()));
        }
        let limit = self.hive.limits().max_value_size;
        if len > limit {
            return Err(RegfError::Limit {
                offset: self.offset,
                what: "value data size",
                value: u64::from(len),
                limit: u64::from(limit),
            });
        }
        if len == 0 {
            return Ok(Cow::Borrowed(&[]));
        }
        if self.data_offset == NONE {
            return Err(RegfError::cell(
                self.offset,
                format!("{len} bytes of data but no data cell"),
            ));
        }
        let d = self.hive.cell(self.data_offset, "value data")?;
        let (_, minor) = self.hive.version();
        if len > BIG_DATA_SEGMENT && minor >= 4 && d.get(..2) == Some(b"db") {
            return self.big_data(d, len).map(Cow::Owned);
        }
        d.get(..len as usize).map(Cow::Borrowed).ok_or_else(|| {
            RegfError::cell(
                self.data_offset,
                format!(
                    "value data of {len} bytes is longer than its cell ({} bytes)",
                    d.len()
                ),
            )
        })
    }

    /// Assembles data split into `db` segments.
    fn big_data(&self, db: &[u8], len: u32) -> Result<Vec<u8>> {
        let at = self.data_offset;
        let count = u32::from(u16_at(db, 2).unwrap_or(0));
        let list_off = u32_at(db, 4)
            .ok_or_else(|| RegfError::cell(at, "db cell too short for its segment list offset"))?;
        let needed = len.div_ceil(BIG_DATA_SEGMENT);
        if count < needed {
            return Err(RegfError::cell(
                at,
                format!("db cell has {count} segments, {len} bytes need {needed}"),
            ));
        }
        let list = self.hive.cell(list_off, "big data segment list")?;
        // Reserve no more than the file could hold once.
        let mut out = Vec::with_capacity((len as usize).min(self.hive.bytes().len()));
        let mut left = len;
        for i in 0..needed {
            let seg_off = u32_at(list, i as usize * 4).ok_or_else(|| {
                RegfError::cell(
                    list_off,
                    format!("segment list of {} bytes lacks entry {i}", list.len()),
                )
            })?;
            let seg = self.hive.cell(seg_off, "big data segment")?;
            let take = left.min(BIG_DATA_SEGMENT);
            let chunk = seg.get(..take as usize).ok_or_else(|| {
                RegfError::cell(
                    seg_off,
                    format!("big data segment of {} bytes, expected {take}", seg.len()),
                )
            })?;
            out.extend_from_slice(chunk);
            left -= take;
        }
        Ok(out)
    }

    /// The data, decoded according to the value's type.
    pub fn data(&self) -> Result<RegValue> {
        Ok(RegValue::decode(self.kind, &self.raw_data()?))
    }
}

/// Iterator over the values of a key: `Ok` for each readable value, `Err`
/// for each problem.
#[derive(Debug)]
pub struct Values<'h> {
    hive: &'h Hive<'h>,
    list: &'h [u8],
    next: usize,
    count: usize,
    error: Option<RegfError>,
}

impl<'h> Values<'h> {
    pub(crate) fn new(hive: &'h Hive<'h>, key: u32, count: u32, list_off: u32) -> Values<'h> {
        let mut v = Values {
            hive,
            list: &[],
            next: 0,
            count: 0,
            error: None,
        };
        if count == 0 {
            return v;
        }
        let max = hive.limits().max_values;
        if count > max {
            v.error = Some(RegfError::Limit {
                offset: key,
                what: "values per key",
                value: u64::from(count),
                limit: u64::from(max),
            });
        }
        let want = count.min(max) as usize;
        match hive.cell(list_off, "value list") {
            Ok(list) => {
                let fits = list.len() / 4;
                if want > fits && v.error.is_none() {
                    v.error = Some(RegfError::cell(
                        list_off,
                        format!(
                            "value list of {count} entries does not fit its cell ({} bytes); reading {fits}",
                            list.len()
                        ),
                    ));
                }
                v.list = list;
                v.count = want.min(fits);
            }
            Err(e) => v.error = Some(e),
        }
        v
    }
}

impl<'h> Iterator for Values<'h> {
    type Item = Result<Value<'h>>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Some(e) = self.error.take() {
            return Some(Err(e));
        }
        if self.next >= self.count {
            return None;
        }
        let off = u32_at(self.list, self.next * 4)?;
        self.next += 1;
        Some(Value::read(self.hive, off))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.count.saturating_sub(self.next) + usize::from(self.error.is_some());
        (n, Some(n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utf16(s: &str) -> Vec<u8> {
        s.encode_utf16().flat_map(u16::to_le_bytes).collect()
    }

    #[test]
    fn strings_stop_at_nul_and_survive_damage() {
        let mut b = utf16("abc\0junk");
        assert_eq!(RegValue::decode(REG_SZ, &b), RegValue::Sz("abc".into()));
        b.push(0x41); // odd trailing byte
        assert_eq!(RegValue::decode(REG_EXPAND_SZ, &b).as_string(), Some("abc"));
        // An unpaired surrogate becomes U+FFFD.
        let lone = [0x00, 0xD8, 0x41, 0x00];
        assert_eq!(
            RegValue::decode(REG_SZ, &lone).as_string(),
            Some("\u{FFFD}A")
        );
        assert_eq!(RegValue::decode(REG_SZ, &[]).as_string(), Some(""));
    }

    #[test]
    fn multi_sz_edges() {
        let v = |s: &str| RegValue::decode(REG_MULTI_SZ, &utf16(s));
        assert_eq!(
            v("a\0bc\0\0"),
            RegValue::MultiSz(vec!["a".into(), "bc".into()])
        );
        assert_eq!(v("a\0bc"), RegValue::MultiSz(vec!["a".into(), "bc".into()]));
        assert_eq!(v("a\0\0ignored\0\0"), RegValue::MultiSz(vec!["a".into()]));
        assert_eq!(v(""), RegValue::MultiSz(vec![]));
    }

    #[test]
    fn numbers_need_their_bytes() {
        assert_eq!(
            RegValue::decode(REG_DWORD, &[1, 0, 0, 0, 9]).as_u32(),
            Some(1)
        );
        assert_eq!(
            RegValue::decode(REG_DWORD, &[1, 0]),
            RegValue::Other {
                kind: REG_DWORD,
                data: vec![1, 0]
            }
        );
        assert_eq!(
            RegValue::decode(REG_DWORD_BIG_ENDIAN, &[0, 0, 1, 0]).as_u32(),
            Some(256)
        );
        assert_eq!(RegValue::decode(REG_QWORD, &[1; 7]).as_u64(), None);
        assert_eq!(
            RegValue::decode(REG_QWORD, &[0, 0, 0, 0, 1, 0, 0, 0]).as_u64(),
            Some(1 << 32)
        );
        assert_eq!(RegValue::decode(REG_NONE, &[]), RegValue::None);
        assert_eq!(RegValue::decode(REG_NONE, &[7]).kind(), REG_NONE);
        assert_eq!(RegValue::decode(0xFFFF, &[7]).kind(), 0xFFFF);
    }

    #[test]
    fn to_bytes_round_trips() {
        for v in [
            RegValue::Sz("x ✓".into()),
            RegValue::MultiSz(vec!["a".into(), "b".into()]),
            RegValue::Dword(7),
            RegValue::DwordBigEndian(7),
            RegValue::Qword(u64::MAX),
            RegValue::Binary(vec![1, 2, 3]),
            RegValue::None,
        ] {
            assert_eq!(RegValue::decode(v.kind(), &v.to_bytes()), v);
        }
    }

    #[test]
    fn filetime_and_names() {
        use crate::base::FileTime;
        use crate::util::eq_ignore_case;
        assert_eq!(FileTime(116_444_736_000_000_000).unix_seconds(), 0);
        assert_eq!(FileTime(0).unix_seconds(), -11_644_473_600);
        assert_eq!(FileTime::from_unix_seconds(i64::MIN), FileTime(0));
        assert!(eq_ignore_case("ControlSet001", "CONTROLSET001"));
        assert!(eq_ignore_case("ärger", "ÄRGER"));
        assert!(!eq_ignore_case("abc", "abd"));
    }
}
