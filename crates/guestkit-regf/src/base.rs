//! The hive: base block, hive bins and bounds-checked cell access.

use std::borrow::Cow;

use crate::error::{RegfError, Result};
use crate::key::Key;
use crate::util::{u32_at, u64_at, utf16_lossy_until_nul};

/// Size of the base block; hive bins start right after it, and every cell
/// offset stored in the hive is relative to this point.
pub const BASE_BLOCK_SIZE: usize = 0x1000;
/// Size of a hive bin header.
pub(crate) const HBIN_HEADER_SIZE: u32 = 0x20;

/// Bounds applied to counts and sizes read from a hive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Most subkeys yielded for one key.
    pub max_subkeys: u32,
    /// Most values yielded for one key.
    pub max_values: u32,
    /// Largest value data decoded, in bytes.
    pub max_value_size: u32,
    /// Deepest key nesting followed by [`Hive::walk`] and [`Hive::open`].
    pub max_depth: u32,
    /// Deepest nesting of `ri` index lists inside one subkey list.
    pub max_list_depth: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_subkeys: 1_000_000,
            max_values: 1_000_000,
            max_value_size: 64 << 20,
            max_depth: 512,
            max_list_depth: 4,
        }
    }
}

/// A Windows FILETIME: 100-nanosecond intervals since 1601-01-01 UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct FileTime(pub u64);

impl FileTime {
    /// Seconds between 1601-01-01 and 1970-01-01.
    const EPOCH_DIFF_SECS: u64 = 11_644_473_600;

    /// Whole seconds since the Unix epoch (negative before 1970).
    pub fn unix_seconds(self) -> i64 {
        let secs = self.0 / 10_000_000;
        // `secs` < 2^64 / 10^7 < 2^41, so both casts and the subtraction fit.
        secs as i64 - Self::EPOCH_DIFF_SECS as i64
    }

    /// The Unix-epoch FILETIME for `secs` seconds since 1970 (saturating).
    pub fn from_unix_seconds(secs: i64) -> FileTime {
        let t = i128::from(secs)
            .saturating_add(i128::from(Self::EPOCH_DIFF_SECS))
            .saturating_mul(10_000_000)
            .clamp(0, i128::from(u64::MAX));
        FileTime(u64::try_from(t).unwrap_or(u64::MAX))
    }
}

/// One hive bin: `[start, end)` relative to the first bin.
#[derive(Debug, Clone, Copy)]
struct Bin {
    start: u32,
    end: u32,
}

/// A parsed registry hive over its bytes.
///
/// Parsing reads the base block and the hive bin headers only; keys and
/// values are decoded on demand, so looking a few values up in a large hive
/// takes microseconds.
#[derive(Debug, Clone)]
pub struct Hive<'a> {
    data: Cow<'a, [u8]>,
    bins: Vec<Bin>,
    limits: Limits,
    primary_seq: u32,
    secondary_seq: u32,
    last_written: FileTime,
    major: u32,
    minor: u32,
    root_offset: u32,
    bins_len: u32,
    checksum_ok: bool,
    file_name: String,
    warnings: Vec<RegfError>,
}

impl<'a> Hive<'a> {
    /// Parses a hive held in `bytes` with the default [`Limits`].
    pub fn parse(bytes: &'a [u8]) -> Result<Hive<'a>> {
        Self::parse_with_limits(bytes, Limits::default())
    }

    /// Parses a hive held in `bytes`.
    pub fn parse_with_limits(bytes: &'a [u8], limits: Limits) -> Result<Hive<'a>> {
        Self::from_cow(Cow::Borrowed(bytes), limits)
    }

    /// Parses a hive that owns its bytes.
    pub fn from_vec(bytes: Vec<u8>, limits: Limits) -> Result<Hive<'static>> {
        Hive::from_cow(Cow::Owned(bytes), limits)
    }

    fn from_cow(data: Cow<'a, [u8]>, limits: Limits) -> Result<Hive<'a>> {
        let b: &[u8] = &data;
        let Some(base) = b.get(..BASE_BLOCK_SIZE) else {
            return Err(RegfError::Truncated {
                what: "base block",
                need: BASE_BLOCK_SIZE,
                len: b.len(),
            });
        };
        if &base[..4] != b"regf" {
            return Err(RegfError::BaseBlock {
                what: format!("signature {:02x?}, expected \"regf\"", &base[..4]),
            });
        }
        let field = |at: usize| u32_at(base, at).unwrap_or(0);
        let primary_seq = field(0x04);
        let secondary_seq = field(0x08);
        let last_written = FileTime(u64_at(base, 0x0C).unwrap_or(0));
        let major = field(0x14);
        let minor = field(0x18);
        let root_offset = field(0x24);
        let bins_len = field(0x28);
        if major != 1 {
            return Err(RegfError::BaseBlock {
                what: format!("major version {major}, expected 1"),
            });
        }
        let mut warnings = Vec::new();
        let stored = field(0x1FC);
        let xor = base[..0x1FC].chunks_exact(4).fold(0u32, |x, c| {
            x ^ u32::from_le_bytes([c[0], c[1], c[2], c[3]])
        });
        let adjusted = match xor {
            0 => 1,
            u32::MAX => u32::MAX - 1,
            x => x,
        };
        let checksum_ok = stored == xor || stored == adjusted;
        if !checksum_ok {
            warnings.push(RegfError::BaseBlock {
                what: format!("checksum {stored:#010x}, computed {adjusted:#010x}"),
            });
        }
        let file_name = utf16_lossy_until_nul(base.get(0x30..0x70).unwrap_or(&[]));
        let bins = scan_bins(b, bins_len, &mut warnings);
        if bins.is_empty() {
            return Err(RegfError::Bin {
                file_offset: BASE_BLOCK_SIZE,
                what: "no usable hive bin".into(),
            });
        }
        Ok(Hive {
            bins,
            limits,
            primary_seq,
            secondary_seq,
            last_written,
            major,
            minor,
            root_offset,
            bins_len,
            checksum_ok,
            file_name,
            warnings,
            data,
        })
    }

    /// True when the two sequence numbers differ: the hive was not cleanly
    /// written back (its transaction logs were not applied). It is still
    /// read as it is; recent changes may be missing.
    pub fn is_dirty(&self) -> bool {
        self.primary_seq != self.secondary_seq
    }

    /// The primary and secondary sequence numbers of the base block.
    pub fn sequence_numbers(&self) -> (u32, u32) {
        (self.primary_seq, self.secondary_seq)
    }

    /// Format version `(major, minor)`, e.g. `(1, 5)`.
    pub fn version(&self) -> (u32, u32) {
        (self.major, self.minor)
    }

    /// When the hive was last written, from the base block.
    pub fn last_written(&self) -> FileTime {
        self.last_written
    }

    /// The file name embedded in the base block (often a tail of the hive's
    /// path, e.g. `SYSTEM` or `\??\C:\Windows\...`).
    pub fn file_name(&self) -> &str {
        &self.file_name
    }

    /// Offset of the root key cell, as stored in the base block.
    pub fn root_offset(&self) -> u32 {
        self.root_offset
    }

    /// Length of the hive bins data as stored in the base block.
    pub fn bins_len(&self) -> u32 {
        self.bins_len
    }

    /// Whether the base block checksum matched.
    pub fn checksum_ok(&self) -> bool {
        self.checksum_ok
    }

    /// Problems found while parsing that did not stop it (bad checksum,
    /// damaged or missing trailing hive bins, length mismatches).
    pub fn warnings(&self) -> &[RegfError] {
        &self.warnings
    }

    /// The limits in force.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// The raw bytes of the hive.
    pub fn bytes(&self) -> &[u8] {
        &self.data
    }

    /// The root key.
    pub fn root(&self) -> Result<Key<'_>> {
        Key::read(self, self.root_offset)
    }

    /// Looks a key up by a `\`-separated path below the root, compared
    /// case-insensitively (`""` is the root; leading, trailing and doubled
    /// separators are ignored). `Ok(None)` when a component does not exist.
    pub fn open(&self, path: &str) -> Result<Option<Key<'_>>> {
        let mut key = self.root()?;
        for (depth, part) in path.split('\\').filter(|p| !p.is_empty()).enumerate() {
            if depth as u64 >= u64::from(self.limits.max_depth) {
                return Err(RegfError::Limit {
                    offset: key.offset(),
                    what: "path depth",
                    value: depth as u64 + 1,
                    limit: u64::from(self.limits.max_depth),
                });
            }
            match key.subkey(part)? {
                Some(k) => key = k,
                None => return Ok(None),
            }
        }
        Ok(Some(key))
    }

    /// The data of the cell at `offset` that must start with the two-byte
    /// signature `sig` (`nk`, `vk`) and hold at least `min_len` bytes.
    pub(crate) fn signed_cell(
        &self,
        offset: u32,
        context: &'static str,
        sig: &[u8; 2],
        min_len: usize,
    ) -> Result<&[u8]> {
        let d = self.cell(offset, context)?;
        if d.get(..2) != Some(sig.as_slice()) {
            return Err(RegfError::cell(
                offset,
                format!(
                    "signature {:02x?}, expected \"{}\"",
                    d.get(..2).unwrap_or(d),
                    String::from_utf8_lossy(sig)
                ),
            ));
        }
        if d.len() < min_len {
            return Err(RegfError::cell(
                offset,
                format!(
                    "{} cell of {} bytes is shorter than {min_len}",
                    String::from_utf8_lossy(sig),
                    d.len()
                ),
            ));
        }
        Ok(d)
    }

    /// The data of the cell at `offset` (without its 4-byte size field).
    /// The whole cell must lie inside one hive bin. Free cells are read too
    /// (a dirty hive may still point at them); their signature is checked
    /// by the caller like any other.
    pub(crate) fn cell(&self, offset: u32, context: &'static str) -> Result<&[u8]> {
        let out = || RegfError::OffsetOutOfRange { offset, context };
        let i = self.bins.partition_point(|b| b.end <= offset);
        let bin = self.bins.get(i).ok_or_else(out)?;
        if offset < bin.start.saturating_add(HBIN_HEADER_SIZE) || !offset.is_multiple_of(4) {
            return Err(out());
        }
        let abs = BASE_BLOCK_SIZE + offset as usize;
        let raw = u32_at(&self.data, abs).ok_or_else(out)?;
        let size = (raw as i32).unsigned_abs();
        if size < 8 {
            return Err(RegfError::cell(
                offset,
                format!("cell size {size} is too small"),
            ));
        }
        let end = offset
            .checked_add(size)
            .filter(|&e| e <= bin.end)
            .ok_or_else(|| {
                RegfError::cell(
                    offset,
                    format!("cell size {size} runs past the end of its hive bin"),
                )
            })?;
        let end_abs = BASE_BLOCK_SIZE + end as usize;
        self.data
            .get(abs + 4..end_abs)
            .ok_or_else(|| RegfError::cell(offset, "cell runs past the end of the file"))
    }
}

/// Walks the chain of hive bins from the first one up to the length the base
/// block declares, stopping at the first damaged header (reported as a
/// warning). Bins past the declared length are left alone: Windows writes
/// the base block before the bins, so they are never newer than it (the
/// dirty Windows 10 hive of the corpus has stale bins of another hive
/// there).
fn scan_bins(b: &[u8], bins_len: u32, warnings: &mut Vec<RegfError>) -> Vec<Bin> {
    // Cell offsets are u32 relative to the first bin.
    let file_end = b
        .len()
        .min(BASE_BLOCK_SIZE.saturating_add(u32::MAX as usize));
    let declared_end = BASE_BLOCK_SIZE.saturating_add(bins_len as usize);
    let max = if bins_len == 0 || !bins_len.is_multiple_of(0x1000) {
        warnings.push(RegfError::BaseBlock {
            what: format!(
                "hive bins length {bins_len:#x} is not a positive multiple of 4096; \
                 reading bins up to the end of the file"
            ),
        });
        file_end
    } else {
        if declared_end > file_end {
            warnings.push(RegfError::Truncated {
                what: "hive bins",
                need: declared_end,
                len: b.len(),
            });
        }
        declared_end.min(file_end)
    };
    let mut bins = Vec::new();
    let mut pos = BASE_BLOCK_SIZE;
    while pos < max {
        let bad = |what: String| RegfError::Bin {
            file_offset: pos,
            what,
        };
        let Some(hdr) = b.get(pos..pos + HBIN_HEADER_SIZE as usize) else {
            warnings.push(bad("truncated hive bin header".into()));
            break;
        };
        if &hdr[..4] != b"hbin" {
            warnings.push(bad(format!(
                "signature {:02x?}, expected \"hbin\"",
                &hdr[..4]
            )));
            break;
        }
        let rel = (pos - BASE_BLOCK_SIZE) as u32;
        let stored_rel = u32_at(hdr, 4).unwrap_or(0);
        if stored_rel != rel {
            warnings.push(bad(format!(
                "records offset {stored_rel:#x}, it is at {rel:#x}"
            )));
        }
        let size = u32_at(hdr, 8).unwrap_or(0);
        if size < 0x1000 || !size.is_multiple_of(0x1000) {
            warnings.push(bad(format!(
                "size {size:#x} is not a positive multiple of 4096"
            )));
            break;
        }
        let Some(end) = pos.checked_add(size as usize).filter(|&e| e <= max) else {
            warnings.push(bad(format!(
                "size {size:#x} runs past the end of the hive bins"
            )));
            break;
        };
        bins.push(Bin {
            start: rel,
            end: (end - BASE_BLOCK_SIZE) as u32,
        });
        pos = end;
    }
    bins
}
