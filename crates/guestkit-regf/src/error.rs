//! Errors of the regf reader.

use thiserror::Error;

/// Everything that can go wrong while reading a registry hive.
///
/// Every message starts with `regf:`; errors about a cell carry the cell's
/// offset, relative to the first hive bin (the offsets stored in the file),
/// so a report can say exactly where a hive is damaged.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RegfError {
    /// The input is shorter than a structure that must be there.
    #[error("regf: truncated: {what} needs {need} bytes, the hive has {len}")]
    Truncated {
        /// What was being read.
        what: &'static str,
        /// Bytes needed.
        need: usize,
        /// Bytes available.
        len: usize,
    },
    /// The base block (the first 4 KiB) is not a usable regf header.
    #[error("regf: base block: {what}")]
    BaseBlock {
        /// What was wrong.
        what: String,
    },
    /// A hive bin header is damaged (reported as a warning by
    /// [`Hive::warnings`](crate::Hive::warnings); reading goes on with the
    /// bins before it).
    #[error("regf: hive bin at file offset {file_offset:#x}: {what}")]
    Bin {
        /// Offset of the bin header in the file.
        file_offset: usize,
        /// What was wrong.
        what: String,
    },
    /// An offset read from the hive does not point at a cell inside a hive
    /// bin.
    #[error("regf: cell offset {offset:#x} ({context}) is outside the hive bins")]
    OffsetOutOfRange {
        /// The offending offset (relative to the first hive bin).
        offset: u32,
        /// Which field held it.
        context: &'static str,
    },
    /// A cell is damaged: bad size, wrong signature, a field pointing past
    /// the cell's end, and so on.
    #[error("regf: cell at offset {offset:#x}: {what}")]
    Cell {
        /// Offset of the cell (relative to the first hive bin).
        offset: u32,
        /// What was wrong.
        what: String,
    },
    /// A key was reached twice while walking the tree, or a subkey list
    /// refers to a list it is nested in.
    #[error("regf: cycle: cell at offset {offset:#x} reached again ({what})")]
    Cycle {
        /// Offset of the cell seen twice.
        offset: u32,
        /// Where the cycle was found.
        what: &'static str,
    },
    /// A count, size or depth read from the hive exceeds the configured
    /// [`Limits`](crate::Limits).
    #[error("regf: cell at offset {offset:#x}: {what} exceeds the limit ({value} > {limit})")]
    Limit {
        /// Offset of the cell holding the value.
        offset: u32,
        /// Which limit.
        what: &'static str,
        /// The value found.
        value: u64,
        /// The limit.
        limit: u64,
    },
}

impl RegfError {
    /// A damaged cell.
    pub(crate) fn cell(offset: u32, what: impl Into<String>) -> Self {
        RegfError::Cell {
            offset,
            what: what.into(),
        }
    }

    /// The cell offset this error is about, if any.
    pub fn offset(&self) -> Option<u32> {
        match self {
            RegfError::OffsetOutOfRange { offset, .. }
            | RegfError::Cell { offset, .. }
            | RegfError::Cycle { offset, .. }
            | RegfError::Limit { offset, .. } => Some(*offset),
            _ => None,
        }
    }
}

/// Result alias of this crate.
pub type Result<T, E = RegfError> = std::result::Result<T, E>;
