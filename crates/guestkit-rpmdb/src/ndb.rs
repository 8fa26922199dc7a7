//! SUSE ndb `Packages.db` (rpm's own "new database" backend, default on SUSE).
//!
//! Layout (all integers little-endian; 16-byte blocks, 4096-byte slot pages):
//!
//! * bytes 0..32 of page 0: header `RpmP`, version (0), generation, number
//!   of slot pages, next package index;
//! * the slot pages: 16-byte slots `Slot`, package index, first block, block
//!   count (the header takes the first two slots of page 0); package index 0
//!   marks a free slot;
//! * each blob, at first block × 16: head `BlbS`, package index, generation,
//!   blob length, then the rpm header blob, and at the end of its last block
//!   a tail: checksum, blob length, `BlbE`.

use crate::bytes::{u32_at, u64_of, us, Endian};
use crate::{parse_header_with_limits, Limits, PackageList, RpmError};

/// The first four bytes of every ndb `Packages.db`.
pub(crate) const NDB_MAGIC: &[u8] = b"RpmP";
const SLOT_MAGIC: &[u8] = b"Slot";
const BLOB_HEAD_MAGIC: &[u8] = b"BlbS";
const BLOB_TAIL_MAGIC: &[u8] = b"BlbE";
const LAYER: &str = "rpm ndb";
const PAGE_SIZE: usize = 4096;
const SLOT_SIZE: usize = 16;
const BLOCK_SIZE: u64 = 16;
const BLOB_HEAD: usize = 16;
const BLOB_TAIL: usize = 12;
const HEADER_SLOTS: usize = 2;

fn ndb_err(offset: u64, problem: impl Into<String>) -> RpmError {
    RpmError::Ndb {
        offset,
        problem: problem.into(),
    }
}

/// Read the packages of an ndb `Packages.db` file.
///
/// The file header and the slot area must be sound (else an error); a slot
/// or blob that is not is skipped with a warning naming the slot, its
/// package index and its offset.
pub fn read_ndb(bytes: &[u8], limits: &Limits) -> Result<PackageList, RpmError> {
    limits.check_db_size(LAYER, bytes.len())?;
    if !bytes.starts_with(NDB_MAGIC) {
        return Err(ndb_err(0, "missing the 'RpmP' magic"));
    }
    let field = |off: usize| {
        u32_at(bytes, off, Endian::Little)
            .ok_or_else(|| ndb_err(u64_of(off), "file header truncated"))
    };
    let version = field(4)?;
    if version != 0 {
        return Err(ndb_err(4, format!("unsupported ndb version {version}")));
    }
    let slot_pages = us(field(12)?);
    let slot_area = slot_pages
        .checked_mul(PAGE_SIZE)
        .filter(|&n| n <= bytes.len());
    let slot_area = match slot_area {
        Some(n) if slot_pages > 0 => n,
        _ => {
            return Err(ndb_err(
                12,
                format!(
                    "{slot_pages} slot pages do not fit in the {}-byte file",
                    bytes.len()
                ),
            ))
        }
    };
    let mut list = PackageList::default();
    let first_slot = HEADER_SLOTS;
    let total_slots = slot_area / SLOT_SIZE;
    for slot in first_slot..total_slots {
        let off = slot.saturating_mul(SLOT_SIZE);
        let slot_no = u32::try_from(slot).unwrap_or(u32::MAX);
        let Some(raw) = bytes.get(off..off.saturating_add(SLOT_SIZE)) else {
            break;
        };
        let word = |at: usize| u32_at(raw, at, Endian::Little).unwrap_or(0);
        if raw.get(..4) != Some(SLOT_MAGIC) {
            list.warn(
                format!("ndb slot {slot_no}"),
                ndb_err(
                    u64_of(off),
                    format!("slot {slot_no} lacks the 'Slot' magic"),
                ),
            );
            continue;
        }
        let pkgidx = word(4);
        if pkgidx == 0 {
            continue;
        }
        let (blkoff, blkcnt) = (word(8), word(12));
        let record = format!("ndb slot {slot_no} (package index {pkgidx}, block {blkoff})");
        let blob = match blob(bytes, slot_no, pkgidx, blkoff, blkcnt, slot_area, limits) {
            Ok(b) => b,
            Err(e) => {
                list.warn(record, e);
                continue;
            }
        };
        match parse_header_with_limits(blob, limits) {
            Ok(pkg) => list.push(LAYER, pkg, limits)?,
            Err(e) => list.warn(record, e),
        }
    }
    Ok(list)
}

/// The header blob a slot points to, after checking its head and tail.
fn blob<'a>(
    bytes: &'a [u8],
    slot: u32,
    pkgidx: u32,
    blkoff: u32,
    blkcnt: u32,
    slot_area: usize,
    limits: &Limits,
) -> Result<&'a [u8], RpmError> {
    let start = u64::from(blkoff) * BLOCK_SIZE;
    // Both below 2^36: no u64 overflow.
    let end = start.saturating_add(u64::from(blkcnt).saturating_mul(BLOCK_SIZE));
    let file_len = bytes.len();
    if end > u64_of(file_len) {
        return Err(RpmError::NdbSlotPastEof {
            slot,
            pkgidx,
            blkoff,
            blkcnt,
            start,
            end,
            file_len,
        });
    }
    // Both now fit in usize: they are at most the file length.
    let (start, end) = (
        usize::try_from(start).unwrap_or(usize::MAX),
        usize::try_from(end).unwrap_or(usize::MAX),
    );
    if start < slot_area {
        return Err(ndb_err(
            u64_of(start),
            format!("slot {slot} points into the slot area (blob at byte {start}, slots end at {slot_area})"),
        ));
    }
    let area = bytes
        .get(start..end)
        .ok_or_else(|| ndb_err(u64_of(start), "blob lies outside the file"))?;
    let head = |at: usize| u32_at(area, at, Endian::Little);
    if area.get(..4) != Some(BLOB_HEAD_MAGIC) {
        return Err(ndb_err(u64_of(start), "blob lacks the 'BlbS' magic"));
    }
    let (Some(owner), Some(len)) = (head(4), head(12)) else {
        return Err(ndb_err(u64_of(start), "blob head truncated"));
    };
    if owner != pkgidx {
        return Err(ndb_err(
            u64_of(start),
            format!("blob belongs to package index {owner}, slot says {pkgidx}"),
        ));
    }
    let len = us(len);
    if len > limits.max_header_bytes {
        return Err(ndb_err(
            u64_of(start),
            format!(
                "blob of {len} bytes exceeds the {}-byte header limit",
                limits.max_header_bytes
            ),
        ));
    }
    let needed = BLOB_HEAD
        .checked_add(len)
        .and_then(|n| n.checked_add(BLOB_TAIL));
    if needed.is_none_or(|n| n > area.len()) {
        return Err(ndb_err(
            u64_of(start),
            format!("blob of {len} bytes does not fit in its {blkcnt} blocks"),
        ));
    }
    let tail_at = area.len().saturating_sub(BLOB_TAIL);
    let tail = area.get(tail_at..).unwrap_or_default();
    if tail.get(8..12) != Some(BLOB_TAIL_MAGIC)
        || u32_at(tail, 4, Endian::Little).map(us) != Some(len)
    {
        return Err(ndb_err(
            u64_of(start.saturating_add(tail_at)),
            "blob tail lacks the 'BlbE' magic or disagrees on the blob length",
        ));
    }
    area.get(BLOB_HEAD..BLOB_HEAD.saturating_add(len))
        .ok_or_else(|| ndb_err(u64_of(start), "blob data outside its blocks"))
}
