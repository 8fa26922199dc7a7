//! Errors and per-record warnings of the rpm database readers.
//!
//! Every message starts with the format layer it comes from ("rpm header",
//! "rpm bdb", "rpm ndb", "rpm sqlite", "rpm sqlite wal") and names the page, offset or tag
//! where the problem was found, so a report on a damaged guest says what was
//! wrong and where without a debugger.

use std::fmt;

/// What went wrong while reading an rpm database or one of its headers.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RpmError {
    /// The header blob cannot even hold its 8-byte index-count / data-length preamble.
    #[error(
        "rpm header: blob of {len} bytes is too short for the 8-byte index count and data length"
    )]
    HeaderTooShort {
        /// Length of the blob handed in.
        len: usize,
    },
    /// The preamble announces more index entries or data than the blob holds.
    #[error("rpm header: {entries} index entries and {data_len} data bytes need {needed} bytes, but the blob has {len}")]
    HeaderTruncated {
        /// Index entry count from the preamble.
        entries: u32,
        /// Data store length from the preamble.
        data_len: u32,
        /// Bytes the preamble implies (8 + 16 * entries + data_len).
        needed: u64,
        /// Bytes actually present.
        len: usize,
    },
    /// The preamble announces more than the configured limits allow.
    #[error("rpm header: {entries} index entries / {data_len} data bytes exceed the limit of {max_entries} entries / {max_bytes} bytes")]
    HeaderTooLarge {
        /// Index entry count from the preamble.
        entries: u32,
        /// Data store length from the preamble.
        data_len: u32,
        /// Largest accepted entry count.
        max_entries: u32,
        /// Largest accepted blob size.
        max_bytes: usize,
    },
    /// An index entry is inconsistent with the data store (out of bounds,
    /// wrong type, unterminated string, ...).
    #[error("rpm header: index entry {index} (tag {tag}, type {kind}, count {count}) at data offset {offset}: {problem}")]
    HeaderBadEntry {
        /// Position of the entry in the index.
        index: u32,
        /// Tag number.
        tag: u32,
        /// Type number.
        kind: u32,
        /// Element count.
        count: u32,
        /// Offset into the data store.
        offset: u32,
        /// What is wrong with it.
        problem: &'static str,
    },
    /// A tag every installed package has (NAME, VERSION, RELEASE) is absent.
    #[error("rpm header: required tag {tag} ({name}) is missing")]
    HeaderMissingTag {
        /// Tag number.
        tag: u32,
        /// Tag name.
        name: &'static str,
    },
    /// The Berkeley DB file or one of its pages is malformed.
    #[error("rpm bdb: page {page} (file offset {offset}): {problem}")]
    Bdb {
        /// Page number.
        page: u32,
        /// File offset of the page or the field.
        offset: u64,
        /// What is wrong.
        problem: String,
    },
    /// A Berkeley DB overflow chain comes back to a page it already visited.
    #[error("rpm bdb: overflow chain starting at page {start} loops back to page {page}")]
    BdbOverflowLoop {
        /// First page of the chain.
        start: u32,
        /// Page seen twice.
        page: u32,
    },
    /// The ndb file or one of its slots / blobs is malformed.
    #[error("rpm ndb: file offset {offset}: {problem}")]
    Ndb {
        /// File offset of the structure.
        offset: u64,
        /// What is wrong.
        problem: String,
    },
    /// An ndb slot points at blocks beyond the end of the file.
    #[error("rpm ndb: slot {slot} (package index {pkgidx}) points to blocks {blkoff}..+{blkcnt} (bytes {start}..{end}) past the end of the {file_len}-byte file")]
    NdbSlotPastEof {
        /// Slot number (counting the two header slots of page 0).
        slot: u32,
        /// Package index stored in the slot.
        pkgidx: u32,
        /// First 16-byte block of the blob.
        blkoff: u32,
        /// Number of blocks.
        blkcnt: u32,
        /// Byte offset of the first block.
        start: u64,
        /// Byte offset one past the last block.
        end: u64,
        /// File length.
        file_len: usize,
    },
    /// SQLite refused the file or a query on it.
    #[error("rpm sqlite: {problem}")]
    Sqlite {
        /// SQLite's message, with what we were doing.
        problem: String,
    },
    /// The write-ahead log next to `rpmdb.sqlite` cannot be replayed.
    #[error("rpm sqlite wal: file offset {offset}: {problem}")]
    SqliteWal {
        /// File offset of the field in the log.
        offset: u64,
        /// What is wrong.
        problem: String,
    },
    /// The database is larger than [`Limits::max_db_bytes`](crate::Limits).
    #[error("{layer}: database of {size} bytes exceeds the limit of {limit} bytes")]
    DbTooLarge {
        /// Format layer.
        layer: &'static str,
        /// Database size.
        size: u64,
        /// Configured limit.
        limit: u64,
    },
    /// The database holds more packages than [`Limits::max_packages`](crate::Limits).
    #[error("{layer}: more than {limit} packages")]
    TooManyPackages {
        /// Format layer.
        layer: &'static str,
        /// Configured limit.
        limit: usize,
    },
    /// The bytes are none of the three rpm database formats.
    #[error("rpm database: unrecognised format (no SQLite, Berkeley DB hash or ndb magic in the first {len} bytes)")]
    UnknownFormat {
        /// Bytes examined.
        len: usize,
    },
}

/// A record that was skipped while the rest of the database was read.
///
/// Databases in guests are sometimes damaged (an interrupted transaction, a
/// truncated copy); one bad record must not hide every other package, so the
/// readers skip it and report it here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordWarning {
    /// Which record: e.g. `bdb page 5 item 2 (key 17)`, `ndb slot 3 (package index 3)`, `sqlite hnum 42`.
    pub record: String,
    /// Why it was skipped.
    pub error: RpmError,
}

impl fmt::Display for RecordWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: skipped: {}", self.record, self.error)
    }
}
