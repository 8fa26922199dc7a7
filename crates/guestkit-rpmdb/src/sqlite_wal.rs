//! `rpmdb.sqlite-wal`: the write-ahead log next to an `rpmdb.sqlite`.
//!
//! rpm keeps its SQLite database in WAL mode, so in an image taken from a
//! running system (or one where rpm was killed) the newest transactions may
//! live only in the log. [`apply_wal`] replays the log's committed frames
//! onto a copy of the database bytes, as SQLite does when it opens the
//! database, following the WAL file format:
//!
//! * a 32-byte header: magic `0x377f0682` / `0x377f0683` (checksums summed
//!   over little- / big-endian words), format version 3007000, page size,
//!   checkpoint sequence, two salts, and a checksum of its first 24 bytes;
//! * frames, each a 24-byte header (page number; the database size in pages
//!   for the frame that commits a transaction, else 0; the two salts; a
//!   checksum running on from the previous frame) and one page.
//!
//! A frame counts only while its salts are the header's and the running
//! checksum holds; the log ends at the first frame that fails (a log reused
//! after a checkpoint keeps stale frames past that point). Only frames up to
//! the last commit frame are applied: a transaction still being written is
//! left out, as SQLite leaves it out. Pure byte code without SQLite, so it is
//! fuzzed on its own.

use crate::bytes::{u16_at, u32_at, u64_of, us, Endian};
use crate::{Limits, RpmError};

const LAYER: &str = "rpm sqlite wal";
const HEADER_LEN: usize = 32;
const FRAME_HEADER_LEN: usize = 24;
const MAGIC_LE: u32 = 0x377f_0682;
const MAGIC_BE: u32 = 0x377f_0683;
const FORMAT_VERSION: u32 = 3_007_000;

/// A database image with its log replayed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalReplay {
    /// The database as SQLite would see it after opening with the log.
    pub bytes: Vec<u8>,
    /// What the log held.
    pub summary: WalSummary,
}

/// What a replay took from the log.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WalSummary {
    /// Committed transactions replayed.
    pub transactions: usize,
    /// Frames (page images) of those transactions.
    pub frames: usize,
    /// Valid frames after the last commit: a transaction never committed,
    /// left out.
    pub uncommitted_frames: usize,
}

fn wal_error(offset: usize, problem: impl Into<String>) -> RpmError {
    RpmError::SqliteWal {
        offset: u64_of(offset),
        problem: problem.into(),
    }
}

/// The big-endian `u32` at `at` (every field of the log's headers).
fn be32(bytes: &[u8], at: usize) -> Option<u32> {
    u32_at(bytes, at, Endian::Big)
}

/// The log's running checksum: pairs of 32-bit words in the byte order the
/// magic names, summed with wrap-around.
#[derive(Clone, Copy)]
struct Checksum {
    order: Endian,
    s0: u32,
    s1: u32,
}

impl Checksum {
    /// Adds `data` (a multiple of 8 bytes) to the sums.
    fn add(mut self, data: &[u8]) -> Self {
        for pair in data.chunks_exact(8) {
            let x0 = u32_at(pair, 0, self.order).unwrap_or(0);
            let x1 = u32_at(pair, 4, self.order).unwrap_or(0);
            self.s0 = self.s0.wrapping_add(x0).wrapping_add(self.s1);
            self.s1 = self.s1.wrapping_add(x1).wrapping_add(self.s0);
        }
        self
    }

    /// True when the sums equal the two words stored at `at` in `bytes`.
    fn matches(&self, bytes: &[u8], at: usize) -> bool {
        be32(bytes, at) == Some(self.s0)
            && at.checked_add(4).and_then(|a| be32(bytes, a)) == Some(self.s1)
    }
}

/// The page size a database header gives (offset 16, big-endian; 1 means
/// 65536), or `None` for a file too short to have one.
fn db_page_size(db: &[u8]) -> Option<usize> {
    let raw = u16_at(db, 16, Endian::Big)?;
    Some(if raw == 1 { 65_536 } else { usize::from(raw) })
}

/// One valid frame of the log: its page number and its page image.
struct Frame<'a> {
    page: u32,
    data: &'a [u8],
}

/// Replays the committed transactions of `wal` onto `db`.
///
/// A log whose header is damaged, whose page size differs from the
/// database's, or whose result would exceed [`Limits::max_db_bytes`] is an
/// error naming the offset; the caller then reads the main file alone. A
/// log with no committed frame gives the database unchanged.
pub fn apply_wal(db: &[u8], wal: &[u8], limits: &Limits) -> Result<WalReplay, RpmError> {
    if wal.len() < HEADER_LEN {
        return Err(wal_error(
            0,
            format!("{} bytes are too short for the 32-byte header", wal.len()),
        ));
    }
    let magic = be32(wal, 0).unwrap_or(0);
    let order = match magic {
        MAGIC_BE => Endian::Big,
        MAGIC_LE => Endian::Little,
        other => {
            return Err(wal_error(
                0,
                format!("magic {other:#010x} is not a SQLite log's"),
            ))
        }
    };
    let version = be32(wal, 4).unwrap_or(0);
    if version != FORMAT_VERSION {
        return Err(wal_error(
            4,
            format!("format version {version}, expected {FORMAT_VERSION}"),
        ));
    }
    let page_size = us(be32(wal, 8).unwrap_or(0));
    if !(512..=65_536).contains(&page_size) || !page_size.is_power_of_two() {
        return Err(wal_error(
            8,
            format!("page size {page_size} is not a power of two from 512 to 65536"),
        ));
    }
    match db_page_size(db) {
        Some(size) if size == page_size => {}
        found => {
            return Err(wal_error(
                8,
                format!(
                    "page size {page_size} differs from the database's ({})",
                    found.map_or_else(
                        || "none: the file is too short".to_owned(),
                        |s| s.to_string()
                    )
                ),
            ))
        }
    }
    let header = wal.get(..HEADER_LEN).unwrap_or_default();
    let start = Checksum {
        order,
        s0: 0,
        s1: 0,
    }
    .add(header.get(..24).unwrap_or_default());
    if !start.matches(header, 24) {
        return Err(wal_error(24, "header checksum does not match"));
    }
    let salts = header.get(16..24).unwrap_or_default();

    // Walk the valid frames, remembering where the last transaction ended.
    let mut frames: Vec<Frame> = Vec::new();
    let mut committed = 0usize;
    let mut transactions = 0usize;
    let mut final_pages = 0u32;
    let mut sum = start;
    let frame_len = FRAME_HEADER_LEN.saturating_add(page_size);
    let mut at = HEADER_LEN;
    while let Some(frame) = at.checked_add(frame_len).and_then(|end| wal.get(at..end)) {
        let head = frame.get(..FRAME_HEADER_LEN).unwrap_or_default();
        let page = frame.get(FRAME_HEADER_LEN..).unwrap_or_default();
        if head.get(8..16) != Some(salts) {
            break;
        }
        let next = sum.add(head.get(..8).unwrap_or_default()).add(page);
        if !next.matches(head, 16) {
            break;
        }
        sum = next;
        let page_no = be32(head, 0).unwrap_or(0);
        if page_no == 0 {
            break;
        }
        frames.push(Frame {
            page: page_no,
            data: page,
        });
        let db_pages = be32(head, 4).unwrap_or(0);
        if db_pages != 0 {
            committed = frames.len();
            transactions = transactions.saturating_add(1);
            final_pages = db_pages;
        }
        at = at.saturating_add(frame_len);
    }
    let summary = WalSummary {
        transactions,
        frames: committed,
        uncommitted_frames: frames.len().saturating_sub(committed),
    };
    if committed == 0 {
        return Ok(WalReplay {
            bytes: db.to_vec(),
            summary,
        });
    }

    let final_len = us(final_pages)
        .checked_mul(page_size)
        .filter(|&len| u64::try_from(len).is_ok_and(|l| l <= limits.max_db_bytes))
        .ok_or_else(|| RpmError::DbTooLarge {
            layer: LAYER,
            size: u64::from(final_pages).saturating_mul(u64_of(page_size)),
            limit: limits.max_db_bytes,
        })?;
    let mut bytes = db
        .get(..final_len.min(db.len()))
        .unwrap_or_default()
        .to_vec();
    bytes.resize(final_len, 0);
    for frame in frames.iter().take(committed) {
        let Some(offset) = frame
            .page
            .checked_sub(1)
            .and_then(|i| us(i).checked_mul(page_size))
        else {
            continue;
        };
        let target = offset
            .checked_add(page_size)
            .and_then(|end| bytes.get_mut(offset..end));
        // A page past the final size was dropped by a later transaction.
        if let Some(target) = target {
            target.copy_from_slice(frame.data);
        }
    }
    Ok(WalReplay { bytes, summary })
}
