//! Berkeley DB hash `Packages` (rpm ≤ 4.15 default; RHEL/CentOS 7 and 8).
//!
//! We do not use the hash function: every page of the file is visited once,
//! in order, and the key/data pairs of the hash pages are collected, as a
//! bulk dump would. The key of a pair is the 4-byte header number (in the
//! byte order of the machine that wrote the file); the data is the header
//! blob, usually too large for a hash page and so stored on a chain of
//! overflow pages.
//!
//! Layout facts used here (all fields in the file's byte order, detected from
//! the magic):
//!
//! * page 0 is the metadata page: magic 0x061561 at 12, page size at 20,
//!   encryption algorithm at 24, page type (8 = hash metadata) at 25, meta
//!   flags at 26 (bit 0: pages carry checksums), last page number at 32;
//! * every other page starts with a 26-byte header: next page at 16, entry
//!   count at 20, free-space offset (for overflow pages: bytes used) at 22,
//!   page type at 25; with checksums the item index starts at 32, not 26;
//! * hash pages (type 2 unsorted, 13 sorted) hold an index of `u16` item
//!   offsets; item `i` runs from its offset to the offset of item `i-1` (or
//!   the page end for item 0); its first byte is its kind: 1 key/data bytes,
//!   3 off-page reference {pgno at 4, total length at 8};
//! * overflow pages (type 7) chain through next-page.

use std::collections::HashSet;

use crate::bytes::{u16_at, u32_at, u64_of, us, Endian};
use crate::{parse_header_with_limits, Limits, PackageList, RpmError};

const LAYER: &str = "rpm bdb";
const HASH_MAGIC: u32 = 0x0006_1561;
const BTREE_MAGIC: u32 = 0x0005_3162;
const P_HASH_UNSORTED: u8 = 2;
const P_OVERFLOW: u8 = 7;
const P_HASHMETA: u8 = 8;
const P_HASH: u8 = 13;
const H_KEYDATA: u8 = 1;
const H_DUPLICATE: u8 = 2;
const H_OFFPAGE: u8 = 3;
const H_OFFDUP: u8 = 4;
const PAGE_HEADER: usize = 26;
const PAGE_HEADER_CHKSUM: usize = 32;
const DBMETA_CHKSUM: u8 = 0x01;

/// True when `bytes` carries the Berkeley DB hash magic at offset 12, in
/// either byte order.
pub(crate) fn has_hash_magic(bytes: &[u8]) -> bool {
    [Endian::Little, Endian::Big]
        .into_iter()
        .any(|e| u32_at(bytes, 12, e) == Some(HASH_MAGIC))
}

/// Geometry of one file, from its metadata page.
struct Db<'a> {
    bytes: &'a [u8],
    endian: Endian,
    page_size: usize,
    /// Pages that are both announced by the metadata and present in the file.
    pages: u32,
    /// Where the item index (and overflow data) begins on a page.
    overhead: usize,
}

impl<'a> Db<'a> {
    fn page(&self, pgno: u32) -> Option<&'a [u8]> {
        let start = us(pgno).checked_mul(self.page_size)?;
        self.bytes.get(start..start.checked_add(self.page_size)?)
    }

    fn err(&self, page: u32, problem: impl Into<String>) -> RpmError {
        RpmError::Bdb {
            page,
            offset: u64::from(page).saturating_mul(u64_of(self.page_size)),
            problem: problem.into(),
        }
    }
}

/// Read the packages of a Berkeley DB hash `Packages` file.
///
/// The metadata page must be sound (else an error); a bad hash page or a
/// bad record is skipped with a warning naming the page, item and key.
pub fn read_bdb(bytes: &[u8], limits: &Limits) -> Result<PackageList, RpmError> {
    limits.check_db_size(LAYER, bytes.len())?;
    let mut list = PackageList::default();
    let db = open(bytes, &mut list)?;
    for pgno in 1..db.pages {
        let Some(page) = db.page(pgno) else { break };
        let kind = page.get(25).copied().unwrap_or(0);
        if kind != P_HASH && kind != P_HASH_UNSORTED {
            continue;
        }
        read_hash_page(&db, pgno, page, limits, &mut list)?;
    }
    Ok(list)
}

fn open<'a>(bytes: &'a [u8], list: &mut PackageList) -> Result<Db<'a>, RpmError> {
    let meta_err = |problem: String| RpmError::Bdb {
        page: 0,
        offset: 0,
        problem,
    };
    let endian = if u32_at(bytes, 12, Endian::Little) == Some(HASH_MAGIC) {
        Endian::Little
    } else if u32_at(bytes, 12, Endian::Big) == Some(HASH_MAGIC) {
        Endian::Big
    } else if [Endian::Little, Endian::Big]
        .into_iter()
        .any(|e| u32_at(bytes, 12, e) == Some(BTREE_MAGIC))
    {
        return Err(meta_err(
            "this is a Berkeley DB btree, not the hash database rpm uses for Packages".into(),
        ));
    } else {
        return Err(meta_err(format!(
            "no hash magic 0x061561 at offset 12 (file of {} bytes)",
            bytes.len()
        )));
    };
    let field = |off: usize| {
        u32_at(bytes, off, endian)
            .ok_or_else(|| meta_err(format!("metadata page truncated at offset {off}")))
    };
    let page_size = us(field(20)?);
    if !page_size.is_power_of_two() || !(512..=65536).contains(&page_size) {
        return Err(meta_err(format!(
            "page size {page_size} is not a power of two between 512 and 65536"
        )));
    }
    let meta = bytes.get(..page_size).ok_or_else(|| {
        meta_err(format!(
            "file of {} bytes is shorter than one {page_size}-byte page",
            bytes.len()
        ))
    })?;
    let encrypt = meta.get(24).copied().unwrap_or(0);
    if encrypt != 0 {
        return Err(meta_err(format!(
            "encrypted database (algorithm {encrypt}) is not supported"
        )));
    }
    let kind = meta.get(25).copied().unwrap_or(0);
    if kind != P_HASHMETA {
        return Err(meta_err(format!(
            "metadata page has type {kind}, expected {P_HASHMETA} (hash metadata)"
        )));
    }
    let flags = meta.get(26).copied().unwrap_or(0);
    let overhead = if flags & DBMETA_CHKSUM != 0 {
        PAGE_HEADER_CHKSUM
    } else {
        PAGE_HEADER
    };
    let last_pgno = field(32)?;
    let announced = u64::from(last_pgno) + 1;
    let present = u64_of(bytes.len().checked_div(page_size).unwrap_or(0));
    if present < announced {
        list.warn(
            "bdb metadata".into(),
            meta_err(format!(
                "last page number {last_pgno} but the file holds only {present} pages: truncated copy, reading what is there"
            )),
        );
    }
    let pages = u32::try_from(announced.min(present)).unwrap_or(u32::MAX);
    Ok(Db {
        bytes,
        endian,
        page_size,
        pages,
        overhead,
    })
}

/// Collect the key/data pairs of one hash page.
fn read_hash_page(
    db: &Db<'_>,
    pgno: u32,
    page: &[u8],
    limits: &Limits,
    list: &mut PackageList,
) -> Result<(), RpmError> {
    let entries = usize::from(u16_at(page, 20, db.endian).unwrap_or(0));
    let index_end = entries
        .checked_mul(2)
        .and_then(|n| n.checked_add(db.overhead));
    if index_end.is_none_or(|end| end > db.page_size) {
        list.warn(
            format!("bdb page {pgno}"),
            db.err(
                pgno,
                format!("{entries} entries do not fit in the page index"),
            ),
        );
        return Ok(());
    }
    let index_end = index_end.unwrap_or(db.page_size);
    // Item extents: item i runs from inp[i] up to inp[i-1] (page end for i = 0).
    let item = |i: usize| -> Result<&[u8], RpmError> {
        let at = |k: usize| {
            u16_at(
                page,
                db.overhead.saturating_add(k.saturating_mul(2)),
                db.endian,
            )
            .map(usize::from)
        };
        let start = at(i).ok_or_else(|| db.err(pgno, format!("item {i} index entry missing")))?;
        let end = match i.checked_sub(1) {
            None => db.page_size,
            Some(prev) => {
                at(prev).ok_or_else(|| db.err(pgno, format!("item {prev} index entry missing")))?
            }
        };
        if start < index_end || start >= end || end > db.page_size {
            return Err(db.err(
                pgno,
                format!(
                    "item {i} spans bytes {start}..{end}, outside the item area {index_end}..{}",
                    db.page_size
                ),
            ));
        }
        page.get(start..end).ok_or_else(|| {
            db.err(
                pgno,
                format!("item {i} spans bytes {start}..{end} outside the page"),
            )
        })
    };

    for pair in 0..entries / 2 {
        // pair < 32768: no overflow, saturating only to say so.
        let ki = pair.saturating_mul(2);
        let di = ki.saturating_add(1);
        let key = match item(ki) {
            Ok(k) => k,
            Err(e) => {
                list.warn(format!("bdb page {pgno} item {ki}"), e);
                continue;
            }
        };
        // A key is a H_KEYDATA item holding the native-endian header number.
        let key_text = match key.split_first() {
            Some((&H_KEYDATA, k)) => match u32_at(k, 0, db.endian) {
                Some(n) if k.len() == 4 => n.to_string(),
                _ => format!("{k:02x?}"),
            },
            Some((kind, _)) => format!("of kind {kind}"),
            None => "empty".into(),
        };
        // Header number 0 is rpm's private counter record, not a package.
        if key == [H_KEYDATA, 0, 0, 0, 0] {
            continue;
        }
        let record = format!("bdb page {pgno} item {di} (key {key_text})");
        let blob = match item(di).and_then(|d| data_item(db, pgno, di, d, limits)) {
            Ok(b) => b,
            Err(e) => {
                list.warn(record, e);
                continue;
            }
        };
        match parse_header_with_limits(&blob, limits) {
            Ok(pkg) => list.push(LAYER, pkg, limits)?,
            Err(e) => list.warn(record, e),
        }
    }
    Ok(())
}

/// The bytes of a data item: inline, or gathered from its overflow chain.
fn data_item(
    db: &Db<'_>,
    pgno: u32,
    index: usize,
    item: &[u8],
    limits: &Limits,
) -> Result<Vec<u8>, RpmError> {
    match item.split_first() {
        Some((&H_KEYDATA, data)) => Ok(data.to_vec()),
        Some((&H_OFFPAGE, _)) => {
            let start = u32_at(item, 4, db.endian)
                .ok_or_else(|| db.err(pgno, format!("off-page item {index} is truncated")))?;
            let total = u32_at(item, 8, db.endian)
                .ok_or_else(|| db.err(pgno, format!("off-page item {index} is truncated")))?;
            read_overflow(db, start, us(total), limits)
        }
        Some((&kind, _)) if kind == H_DUPLICATE || kind == H_OFFDUP => Err(db.err(
            pgno,
            format!(
                "item {index} is a duplicate set (kind {kind}); rpm's Packages has unique keys"
            ),
        )),
        Some((kind, _)) => Err(db.err(pgno, format!("item {index} has unknown kind {kind}"))),
        None => Err(db.err(pgno, format!("item {index} is empty"))),
    }
}

/// Gather `total` bytes from the overflow chain starting at `start`.
fn read_overflow(
    db: &Db<'_>,
    start: u32,
    total: usize,
    limits: &Limits,
) -> Result<Vec<u8>, RpmError> {
    if total > limits.max_header_bytes {
        return Err(db.err(
            start,
            format!(
                "overflow record of {total} bytes exceeds the {}-byte header limit",
                limits.max_header_bytes
            ),
        ));
    }
    // Never reserve more than the file could hold.
    let mut out = Vec::with_capacity(total.min(db.bytes.len()));
    let mut seen = HashSet::new();
    let mut pgno = start;
    while out.len() < total {
        if pgno == 0 || pgno >= db.pages {
            return Err(db.err(
                pgno,
                format!(
                    "overflow chain from page {start} reaches page {pgno}, outside pages 1..{} ({} of {total} bytes read)",
                    db.pages,
                    out.len()
                ),
            ));
        }
        if !seen.insert(pgno) {
            return Err(RpmError::BdbOverflowLoop { start, page: pgno });
        }
        let page = db
            .page(pgno)
            .ok_or_else(|| db.err(pgno, "overflow page lies past the end of the file"))?;
        let kind = page.get(25).copied().unwrap_or(0);
        if kind != P_OVERFLOW {
            return Err(db.err(
                pgno,
                format!("page in the overflow chain from page {start} has type {kind}, expected {P_OVERFLOW}"),
            ));
        }
        let used = usize::from(u16_at(page, 22, db.endian).unwrap_or(0));
        let remaining = total.saturating_sub(out.len());
        if used == 0 || used > remaining {
            return Err(db.err(
                pgno,
                format!("overflow page holds {used} bytes, but {remaining} of the record's {total} remain"),
            ));
        }
        let end = db.overhead.saturating_add(used);
        let chunk = page.get(db.overhead..end).ok_or_else(|| {
            db.err(
                pgno,
                format!(
                    "overflow page claims {used} bytes, more than a {}-byte page holds",
                    db.page_size
                ),
            )
        })?;
        out.extend_from_slice(chunk);
        pgno = u32_at(page, 16, db.endian).unwrap_or(0);
    }
    Ok(out)
}
