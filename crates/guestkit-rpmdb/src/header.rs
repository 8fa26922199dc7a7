//! The rpm header blob, as stored in every rpm database backend.
//!
//! Layout (all integers big-endian):
//!
//! ```text
//! u32 index_count | u32 data_len | index_count × {u32 tag, u32 type, u32 offset, u32 count} | data_len bytes of data
//! ```
//!
//! Each index entry points into the data store. We decode only the handful
//! of tags a package inventory needs and ignore the rest (region tags,
//! signatures, file lists), but every entry's offset and count is still
//! checked against the data store, because a blob whose index lies about
//! its data is not a header we should trust for anything.

use crate::bytes::{u32_at, u64_be_at, us, Endian};
use crate::{Limits, RpmError, RpmPackage};

/// rpm's own ceiling on index entries (`HEADER_TAGS_MAX`).
const MAX_INDEX_ENTRIES: u32 = 0xffff;

const TAG_NAME: u32 = 1000;
const TAG_VERSION: u32 = 1001;
const TAG_RELEASE: u32 = 1002;
const TAG_EPOCH: u32 = 1003;
const TAG_SUMMARY: u32 = 1004;
const TAG_INSTALLTIME: u32 = 1008;
const TAG_SIZE: u32 = 1009;
const TAG_VENDOR: u32 = 1011;
const TAG_LICENSE: u32 = 1014;
const TAG_ARCH: u32 = 1022;
const TAG_SOURCERPM: u32 = 1044;
const TAG_LONGSIZE: u32 = 5009;
const TAG_MODULARITYLABEL: u32 = 5096;

/// The tags we decode, in the order of the `found` table below.
const WANTED: [u32; 13] = [
    TAG_NAME,
    TAG_VERSION,
    TAG_RELEASE,
    TAG_EPOCH,
    TAG_SUMMARY,
    TAG_INSTALLTIME,
    TAG_SIZE,
    TAG_VENDOR,
    TAG_LICENSE,
    TAG_ARCH,
    TAG_SOURCERPM,
    TAG_LONGSIZE,
    TAG_MODULARITYLABEL,
];

// rpm tag types.
const TYPE_NULL: u32 = 0;
const TYPE_CHAR: u32 = 1;
const TYPE_INT8: u32 = 2;
const TYPE_INT16: u32 = 3;
const TYPE_INT32: u32 = 4;
const TYPE_INT64: u32 = 5;
const TYPE_STRING: u32 = 6;
const TYPE_BIN: u32 = 7;
const TYPE_STRING_ARRAY: u32 = 8;
const TYPE_I18NSTRING: u32 = 9;

/// One index entry, already checked against the data store.
#[derive(Debug, Clone, Copy)]
struct Entry {
    index: u32,
    tag: u32,
    kind: u32,
    offset: u32,
    count: u32,
}

impl Entry {
    fn bad(&self, problem: &'static str) -> RpmError {
        RpmError::HeaderBadEntry {
            index: self.index,
            tag: self.tag,
            kind: self.kind,
            count: self.count,
            offset: self.offset,
            problem,
        }
    }
}

/// Decode a header blob with the default [`Limits`].
///
/// `blob` is the value stored in the database (no lead, no signature
/// header, no magic). Bytes after the data store are ignored.
pub fn parse_header(blob: &[u8]) -> Result<RpmPackage, RpmError> {
    parse_header_with_limits(blob, &Limits::default())
}

/// Decode a header blob, refusing blobs larger than `limits.max_header_bytes`.
pub fn parse_header_with_limits(blob: &[u8], limits: &Limits) -> Result<RpmPackage, RpmError> {
    let too_short = RpmError::HeaderTooShort { len: blob.len() };
    let entries = u32_at(blob, 0, Endian::Big).ok_or(too_short.clone())?;
    let data_len = u32_at(blob, 4, Endian::Big).ok_or(too_short)?;
    let index_bytes = u64::from(entries) * 16;
    // At most 8 + 16 × 2^32 + 2^32: far from u64 overflow.
    let needed = index_bytes
        .saturating_add(8)
        .saturating_add(u64::from(data_len));
    if entries > MAX_INDEX_ENTRIES
        || needed > u64::try_from(limits.max_header_bytes).unwrap_or(u64::MAX)
    {
        return Err(RpmError::HeaderTooLarge {
            entries,
            data_len,
            max_entries: MAX_INDEX_ENTRIES,
            max_bytes: limits.max_header_bytes,
        });
    }
    let truncated = || RpmError::HeaderTruncated {
        entries,
        data_len,
        needed,
        len: blob.len(),
    };
    // Both fit in usize: needed <= max_header_bytes, which is a usize.
    let index_end = usize::try_from(index_bytes.saturating_add(8)).map_err(|_| truncated())?;
    let data_end = usize::try_from(needed).map_err(|_| truncated())?;
    let index = blob.get(8..index_end).ok_or_else(truncated)?;
    let data = blob.get(index_end..data_end).ok_or_else(truncated)?;

    let mut found: [Option<Entry>; WANTED.len()] = [None; WANTED.len()];
    for (i, raw) in index.chunks_exact(16).enumerate() {
        let field = |at: usize| u32_at(raw, at, Endian::Big).unwrap_or(0);
        let entry = Entry {
            index: u32::try_from(i).unwrap_or(u32::MAX),
            tag: field(0),
            kind: field(4),
            offset: field(8),
            count: field(12),
        };
        check_entry(&entry, data.len())?;
        if let Some(slot) = WANTED.iter().position(|&t| t == entry.tag) {
            if let Some(f) = found.get_mut(slot) {
                // The first occurrence wins, as in rpm's own lookup of a sorted index.
                if f.is_none() {
                    *f = Some(entry);
                }
            }
        }
    }
    let get = |tag: u32| -> Option<Entry> {
        let slot = WANTED.iter().position(|&t| t == tag)?;
        found.get(slot).copied().flatten()
    };
    let string = |tag: u32| -> Result<Option<String>, RpmError> {
        match get(tag) {
            Some(e) => first_string(&e, data).map(Some),
            None => Ok(None),
        }
    };
    let required = |tag: u32, name: &'static str| -> Result<String, RpmError> {
        string(tag)?.ok_or(RpmError::HeaderMissingTag { tag, name })
    };
    let int32 = |tag: u32| -> Result<Option<u32>, RpmError> {
        match get(tag) {
            Some(e) => first_int32(&e, data).map(Some),
            None => Ok(None),
        }
    };

    let size = match get(TAG_LONGSIZE) {
        Some(e) => Some(first_int64(&e, data)?),
        None => int32(TAG_SIZE)?.map(u64::from),
    };
    Ok(RpmPackage {
        name: required(TAG_NAME, "NAME")?,
        epoch: int32(TAG_EPOCH)?,
        version: required(TAG_VERSION, "VERSION")?,
        release: required(TAG_RELEASE, "RELEASE")?,
        arch: string(TAG_ARCH)?,
        sourcerpm: string(TAG_SOURCERPM)?,
        vendor: string(TAG_VENDOR)?,
        summary: string(TAG_SUMMARY)?,
        license: string(TAG_LICENSE)?,
        size,
        install_time: int32(TAG_INSTALLTIME)?.map(u64::from),
        modularity_label: string(TAG_MODULARITYLABEL)?,
    })
}

/// Check that an entry's type is known and its data lies inside the store.
fn check_entry(e: &Entry, data_len: usize) -> Result<(), RpmError> {
    let offset = us(e.offset);
    if offset > data_len {
        return Err(e.bad("offset lies past the end of the data store"));
    }
    let room = data_len.saturating_sub(offset);
    let elem = match e.kind {
        TYPE_NULL => return Ok(()),
        TYPE_CHAR | TYPE_INT8 | TYPE_BIN => 1,
        TYPE_INT16 => 2,
        TYPE_INT32 => 4,
        TYPE_INT64 => 8,
        // Every string has at least its terminating NUL.
        TYPE_STRING | TYPE_STRING_ARRAY | TYPE_I18NSTRING => 1,
        _ => return Err(e.bad("unknown data type")),
    };
    let bytes = us(e.count)
        .checked_mul(elem)
        .ok_or_else(|| e.bad("count overflows"))?;
    if bytes > room {
        return Err(e.bad("count runs past the end of the data store"));
    }
    Ok(())
}

/// The first string of a STRING / STRING_ARRAY / I18NSTRING entry.
fn first_string(e: &Entry, data: &[u8]) -> Result<String, RpmError> {
    if !matches!(e.kind, TYPE_STRING | TYPE_STRING_ARRAY | TYPE_I18NSTRING) {
        return Err(e.bad("expected a string type"));
    }
    if e.count == 0 {
        return Err(e.bad("string entry with count 0"));
    }
    let rest = data
        .get(us(e.offset)..)
        .ok_or_else(|| e.bad("offset lies past the end of the data store"))?;
    let nul = rest
        .iter()
        .position(|&b| b == 0)
        .ok_or_else(|| e.bad("string is not NUL-terminated inside the data store"))?;
    let s = rest.get(..nul).unwrap_or_default();
    // Old headers carry Latin-1 summaries; keep them readable rather than fail.
    Ok(String::from_utf8_lossy(s).into_owned())
}

fn first_int32(e: &Entry, data: &[u8]) -> Result<u32, RpmError> {
    if e.kind != TYPE_INT32 {
        return Err(e.bad("expected INT32"));
    }
    if e.count == 0 {
        return Err(e.bad("INT32 entry with count 0"));
    }
    u32_at(data, us(e.offset), Endian::Big)
        .ok_or_else(|| e.bad("INT32 runs past the end of the data store"))
}

fn first_int64(e: &Entry, data: &[u8]) -> Result<u64, RpmError> {
    if e.kind != TYPE_INT64 {
        return Err(e.bad("expected INT64"));
    }
    if e.count == 0 {
        return Err(e.bad("INT64 entry with count 0"));
    }
    u64_be_at(data, us(e.offset)).ok_or_else(|| e.bad("INT64 runs past the end of the data store"))
}
