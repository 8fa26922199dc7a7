//! Hosted sparse extents (`KDMV` files): the header, the grain directory, grain
//! tables (cached, bounded) and grains, plain or deflate-compressed with
//! markers (streamOptimized).
//!
//! Layout: a 512-byte header; a grain directory (GD) of u32 sector numbers,
//! one per grain table (GT); each GT holds `gtes_per_gt` u32 sector numbers,
//! one per grain. A GT entry of 0 is unallocated (read from the parent, or
//! zeros), 1 is a zeroed grain. With markers, a grain starts with its LBA
//! (u64) and compressed size (u32).

use std::collections::{HashMap, VecDeque};
use std::path::Path;
use std::sync::{Arc, Mutex};

use flate2::{Decompress, FlushDecompress, Status};

use crate::block::bytes;
use crate::error::{DiskError, Layer, Result};
use crate::format::ImageSource;
use crate::limits::Limits;

const SECTOR: u64 = 512;
/// Header `gd_offset` meaning "the real header is in the footer".
const GD_AT_END: u64 = u64::MAX;
const FLAG_COMPRESSED: u32 = 1 << 16;
const FLAG_MARKERS: u32 = 1 << 17;
const MARKER_FOOTER: u32 = 3;
const MARKER_EOS: u32 = 0;
/// Largest grain accepted (16 MiB); VMware uses 64 KiB.
const MAX_GRAIN_SECTORS: u64 = 32 * 1024;
/// Bytes of a grain marker: LBA (u64) + compressed size (u32).
const GRAIN_MARKER: u64 = 12;
/// Most decompressed grains kept for small sequential reads of compressed extents.
const MAX_CACHED_GRAINS: usize = 8;

/// The fields of a sparse extent header.
#[derive(Debug, Clone)]
pub(crate) struct SparseHeader {
    pub version: u32,
    pub flags: u32,
    pub capacity_sectors: u64,
    pub grain_sectors: u64,
    pub descriptor_offset: u64,
    pub descriptor_sectors: u64,
    pub gtes_per_gt: u32,
    pub gd_offset: u64,
    pub compress_algorithm: u16,
}

impl SparseHeader {
    /// Whether grains are deflate-compressed.
    pub fn compressed(&self) -> bool {
        self.compress_algorithm == 1
    }
}

fn corrupt(path: &Path, offset: u64, field: &str, reason: impl Into<String>) -> DiskError {
    DiskError::corrupt(path, Layer::Vmdk, offset, field, reason)
}

fn parse_header(path: &Path, b: &[u8], at: u64) -> Result<SparseHeader> {
    let field = |v: Option<u64>, name: &str| {
        v.ok_or_else(|| corrupt(path, at, name, "header is truncated"))
    };
    if b.get(..4) != Some(b"KDMV") {
        return Err(corrupt(path, at, "magic", "expected KDMV"));
    }
    Ok(SparseHeader {
        version: field(bytes::le32(b, 4).map(u64::from), "version")? as u32,
        flags: field(bytes::le32(b, 8).map(u64::from), "flags")? as u32,
        capacity_sectors: field(bytes::le64(b, 12), "capacity")?,
        grain_sectors: field(bytes::le64(b, 20), "grainSize")?,
        descriptor_offset: field(bytes::le64(b, 28), "descriptorOffset")?,
        descriptor_sectors: field(bytes::le64(b, 36), "descriptorSize")?,
        gtes_per_gt: field(bytes::le32(b, 44).map(u64::from), "numGTEsPerGT")? as u32,
        gd_offset: field(bytes::le64(b, 56), "gdOffset")?,
        compress_algorithm: field(bytes::le16(b, 77).map(u64::from), "compressAlgorithm")? as u16,
    })
}

/// Reads the header of the sparse extent in `file`; when the header says the
/// grain directory is at the end (streamOptimized written by VMware), the
/// footer copy of the header is read and used instead.
pub(crate) fn read_header(file: &ImageSource) -> Result<SparseHeader> {
    let path = file.path.as_path();
    let mut sector = [0u8; 512];
    if file.size() < SECTOR {
        return Err(corrupt(
            path,
            0,
            "header",
            format!("file is {} bytes, shorter than a header", file.size()),
        ));
    }
    file.read_at(&mut sector, 0)?;
    let header = parse_header(path, &sector, 0)?;
    if header.gd_offset != GD_AT_END {
        return Ok(header);
    }
    // Footer marker, footer header, end-of-stream marker: the last 3 sectors.
    let at = file.size().checked_sub(3 * SECTOR).ok_or_else(|| {
        corrupt(
            path,
            0,
            "footer",
            "gdOffset is GD_AT_END but there is no footer",
        )
    })?;
    let mut tail = [0u8; 1536];
    file.read_at(&mut tail, at)?;
    let marker_ok = |off: usize, kind: u32| {
        bytes::le32(&tail, off + 8) == Some(0) && bytes::le32(&tail, off + 12) == Some(kind)
    };
    if !marker_ok(0, MARKER_FOOTER) || !marker_ok(1024, MARKER_EOS) {
        return Err(corrupt(
            path,
            at,
            "footer",
            "gdOffset is GD_AT_END but the file does not end with footer and end-of-stream markers",
        ));
    }
    let footer = parse_header(path, tail.get(512..1024).unwrap_or(&[]), at + SECTOR)?;
    if footer.gd_offset == GD_AT_END {
        return Err(corrupt(
            path,
            at + SECTOR + 56,
            "gdOffset",
            "footer has no grain directory",
        ));
    }
    Ok(footer)
}

/// A bounded cache of decoded grain tables, keyed by GT index.
#[derive(Debug)]
struct GtCache {
    capacity: usize,
    inner: Mutex<GtCacheInner>,
}

#[derive(Debug, Default)]
struct GtCacheInner {
    tables: HashMap<u32, Arc<[u32]>>,
    order: VecDeque<u32>,
}

impl GtCache {
    fn get(&self, index: u32) -> Option<Arc<[u32]>> {
        let inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        inner.tables.get(&index).cloned()
    }

    fn insert(&self, index: u32, table: Arc<[u32]>) {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if inner.tables.insert(index, table).is_none() {
            inner.order.push_back(index);
        }
        while inner.order.len() > self.capacity {
            if let Some(old) = inner.order.pop_front() {
                inner.tables.remove(&old);
            }
        }
    }
}

/// Where one grain's data is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Grain {
    /// Not allocated here: the parent's bytes, or zeros.
    Unallocated,
    /// Allocated as zeros.
    Zero,
    /// At this byte offset of the extent file.
    Data(u64),
}

/// Memory the sparse extents of one image may use between them: grain
/// directories come out of `table_bytes_left` (starting at
/// `Limits::max_table_bytes`); each extent's caches get `cache_bytes_each`
/// (`Limits::max_cache_bytes` split between the extents).
#[derive(Debug, Clone)]
pub(crate) struct Budget {
    pub table_bytes_left: u64,
    pub cache_bytes_each: u64,
}

impl Budget {
    /// The budget for `extents` sparse extents under `limits`.
    pub fn new(limits: &Limits, extents: u64) -> Self {
        Budget {
            table_bytes_left: limits.max_table_bytes,
            cache_bytes_each: limits.max_cache_bytes / extents.max(1),
        }
    }
}

/// An opened sparse extent.
#[derive(Debug)]
pub(crate) struct SparseExtent {
    file: ImageSource,
    pub header: SparseHeader,
    capacity: u64,
    grain_bytes: u64,
    gt_bytes: u64,
    gd: Box<[u32]>,
    compressed: bool,
    markers: bool,
    gt_cache: GtCache,
    grain_cache: Mutex<VecDeque<(u64, Arc<[u8]>)>>,
    grain_cache_len: usize,
}

impl SparseExtent {
    /// Checks `header` against the file, `limits` and `budget`, and loads the
    /// grain directory (its bytes are taken from `budget`).
    pub fn open(
        file: ImageSource,
        header: SparseHeader,
        limits: &Limits,
        budget: &mut Budget,
    ) -> Result<Self> {
        let path = file.path.clone();
        let path = path.as_path();
        let file_size = file.size();
        if !(1..=3).contains(&header.version) {
            return Err(DiskError::unsupported(
                path,
                Layer::Vmdk,
                format!("sparse extent version {}", header.version),
            ));
        }
        if header.compress_algorithm > 1 {
            return Err(DiskError::unsupported(
                path,
                Layer::Vmdk,
                format!("compression algorithm {}", header.compress_algorithm),
            ));
        }
        let capacity = header
            .capacity_sectors
            .checked_mul(SECTOR)
            .filter(|&c| c <= limits.max_virtual_size)
            .ok_or_else(|| {
                DiskError::limit(
                    path,
                    Layer::Vmdk,
                    "capacity",
                    header.capacity_sectors.saturating_mul(SECTOR),
                    limits.max_virtual_size,
                )
            })?;
        let g = header.grain_sectors;
        if g == 0 || !g.is_power_of_two() || g > MAX_GRAIN_SECTORS {
            return Err(corrupt(
                path,
                20,
                "grainSize",
                format!("{g} sectors (expected a power of two up to {MAX_GRAIN_SECTORS})"),
            ));
        }
        let grain_bytes = g * SECTOR;
        let gtes = u64::from(header.gtes_per_gt);
        let gt_bytes = gtes * 4;
        let gt_limit = limits.max_table_bytes.min(budget.cache_bytes_each);
        if gtes == 0 {
            return Err(corrupt(
                path,
                44,
                "numGTEsPerGT",
                "zero entries per grain table",
            ));
        }
        if gt_bytes > gt_limit {
            return Err(DiskError::limit(
                path,
                Layer::Vmdk,
                "grain table bytes",
                gt_bytes,
                gt_limit,
            ));
        }
        let gt_span = gtes * grain_bytes; // <= 2^20 * 2^24, cannot overflow
        let gd_entries = capacity.div_ceil(gt_span);
        let gd_bytes = gd_entries * 4;
        if gd_bytes > budget.table_bytes_left {
            return Err(DiskError::limit(
                path,
                Layer::Vmdk,
                "grain directory bytes",
                gd_bytes,
                budget.table_bytes_left,
            ));
        }
        budget.table_bytes_left -= gd_bytes;
        let gd_at = header
            .gd_offset
            .checked_mul(SECTOR)
            .filter(|at| at.checked_add(gd_bytes).is_some_and(|end| end <= file_size))
            .ok_or_else(|| {
                corrupt(
                    path,
                    56,
                    "gdOffset",
                    format!(
                        "grain directory of {gd_bytes} bytes at sector {} lies past the end of the file ({file_size} bytes)",
                        header.gd_offset
                    ),
                )
            })?;
        let mut raw = vec![0u8; gd_bytes as usize];
        file.read_at(&mut raw, gd_at)?;
        let gd: Box<[u32]> = raw
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        for (i, &gde) in gd.iter().enumerate() {
            let ok = gde == 0
                || (u64::from(gde) * SECTOR)
                    .checked_add(gt_bytes)
                    .is_some_and(|end| end <= file_size);
            if !ok {
                return Err(corrupt(
                    path,
                    gd_at + 4 * i as u64,
                    "grain directory entry",
                    format!(
                        "entry {i} points to a grain table at sector {gde}, past the end of the file ({file_size} bytes)"
                    ),
                ));
            }
        }
        let cache = budget.cache_bytes_each / 2;
        // Each cached table also costs its map slot and Arc header.
        let cache_tables = (cache / (gt_bytes + 64)).clamp(1, gd_entries.max(1));
        // May be 0: with a tiny budget, compressed grains are not kept.
        let grain_cache_len = (cache / grain_bytes).min(MAX_CACHED_GRAINS as u64);
        Ok(SparseExtent {
            compressed: header.compressed(),
            markers: header.flags & FLAG_MARKERS != 0,
            file,
            header,
            capacity,
            grain_bytes,
            gt_bytes,
            gd,
            gt_cache: GtCache {
                capacity: cache_tables as usize,
                inner: Mutex::new(GtCacheInner::default()),
            },
            grain_cache: Mutex::new(VecDeque::new()),
            grain_cache_len: grain_cache_len as usize,
        })
    }

    /// Virtual size of the extent in bytes.
    pub fn capacity(&self) -> u64 {
        self.capacity
    }

    /// Grain size in bytes.
    pub fn grain_bytes(&self) -> u64 {
        self.grain_bytes
    }

    /// Whether the header flags say grains are compressed (informational).
    pub fn flagged_compressed(&self) -> bool {
        self.header.flags & FLAG_COMPRESSED != 0
    }

    fn path(&self) -> &Path {
        &self.file.path
    }

    /// The grain table with index `gt`, from the cache or the file.
    fn table(&self, gt: u32) -> Result<Option<Arc<[u32]>>> {
        let gde = match self.gd.get(gt as usize) {
            Some(0) | None => return Ok(None),
            Some(&v) => v,
        };
        if let Some(t) = self.gt_cache.get(gt) {
            return Ok(Some(t));
        }
        let mut raw = vec![0u8; self.gt_bytes as usize];
        self.file.read_at(&mut raw, u64::from(gde) * SECTOR)?;
        let table: Arc<[u32]> = raw
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        self.gt_cache.insert(gt, table.clone());
        Ok(Some(table))
    }

    /// Where grain number `grain` is; `current` keeps the last table used.
    fn locate(&self, grain: u64, current: &mut Option<(u32, Arc<[u32]>)>) -> Result<Grain> {
        let gtes = u64::from(self.header.gtes_per_gt);
        let gt = u32::try_from(grain / gtes).unwrap_or(u32::MAX);
        let index = (grain % gtes) as usize;
        let table = match current {
            Some((i, t)) if *i == gt => t.clone(),
            _ => match self.table(gt)? {
                Some(t) => {
                    *current = Some((gt, t.clone()));
                    t
                }
                None => return Ok(Grain::Unallocated),
            },
        };
        Ok(match table.get(index).copied().unwrap_or(0) {
            0 => Grain::Unallocated,
            1 => Grain::Zero,
            s => Grain::Data(u64::from(s) * SECTOR),
        })
    }

    fn gte_past_eof(&self, grain: u64, at: u64, need: u64) -> DiskError {
        corrupt(
            self.path(),
            at,
            "grain table entry",
            format!(
                "grain {grain} needs {need} bytes at offset {at}, past the end of the file ({} bytes)",
                self.file.size()
            ),
        )
    }

    /// Reads `buf` at `offset` of the extent. Unallocated grains are filled by
    /// `backing(buf, offset_in_extent)`.
    pub fn read(
        &self,
        buf: &mut [u8],
        offset: u64,
        backing: &dyn Fn(&mut [u8], u64) -> Result<()>,
    ) -> Result<()> {
        let len = buf.len() as u64;
        if offset
            .checked_add(len)
            .is_none_or(|end| end > self.capacity)
        {
            return Err(DiskError::OutOfRange {
                device: self.path().display().to_string(),
                offset,
                len,
                size: self.capacity,
            });
        }
        let mut current = None;
        let mut pos = 0u64;
        while pos < len {
            let off = offset + pos;
            let grain = off / self.grain_bytes;
            let in_grain = off % self.grain_bytes;
            let first = self.locate(grain, &mut current)?;
            let mut run = (self.grain_bytes - in_grain).min(len - pos);
            if !self.compressed {
                // Coalesce following grains of the same kind that continue the run.
                let mut next = grain + 1;
                while pos + run < len {
                    let g = self.locate(next, &mut current)?;
                    let contiguous = match (first, g) {
                        (Grain::Data(a), Grain::Data(b)) => {
                            b == a + (next - grain) * self.grain_bytes
                        }
                        (a, b) => a == b,
                    };
                    if !contiguous {
                        break;
                    }
                    run += self.grain_bytes.min(len - pos - run);
                    next += 1;
                }
            }
            let out = buf
                .get_mut(pos as usize..(pos + run) as usize)
                .ok_or_else(|| corrupt(self.path(), off, "read", "range arithmetic"))?;
            match first {
                Grain::Unallocated => backing(out, off)?,
                Grain::Zero => out.fill(0),
                Grain::Data(at) if self.compressed => {
                    let data = self.grain(grain, at)?;
                    let src = data
                        .get(in_grain as usize..(in_grain + run) as usize)
                        .ok_or_else(|| {
                            corrupt(
                                self.path(),
                                at,
                                "compressed grain",
                                "decompressed grain is too short",
                            )
                        })?;
                    out.copy_from_slice(src);
                }
                Grain::Data(at) => {
                    let start = at + in_grain;
                    if start.checked_add(run).is_none_or(|e| e > self.file.size()) {
                        return Err(self.gte_past_eof(grain, at, in_grain + run));
                    }
                    self.file.read_at(out, start)?;
                }
            }
            pos += run;
        }
        Ok(())
    }

    /// The decompressed bytes of grain `grain`, stored at file offset `at`.
    fn grain(&self, grain: u64, at: u64) -> Result<Arc<[u8]>> {
        {
            let cache = self.grain_cache.lock().unwrap_or_else(|p| p.into_inner());
            if let Some((_, d)) = cache.iter().find(|(k, _)| *k == at) {
                return Ok(d.clone());
            }
        }
        let data = self.decompress(grain, at)?;
        let mut cache = self.grain_cache.lock().unwrap_or_else(|p| p.into_inner());
        cache.push_back((at, data.clone()));
        while cache.len() > self.grain_cache_len {
            cache.pop_front();
        }
        Ok(data)
    }

    fn decompress(&self, grain: u64, at: u64) -> Result<Arc<[u8]>> {
        let file_size = self.file.size();
        let max_compressed = 2 * self.grain_bytes + 4096;
        let (data_at, data_len) = if self.markers {
            let mut m = [0u8; GRAIN_MARKER as usize];
            if at.checked_add(GRAIN_MARKER).is_none_or(|e| e > file_size) {
                return Err(self.gte_past_eof(grain, at, GRAIN_MARKER));
            }
            self.file.read_at(&mut m, at)?;
            let lba = bytes::le64(&m, 0).unwrap_or(0);
            let size = u64::from(bytes::le32(&m, 8).unwrap_or(0));
            let expected = grain * self.header.grain_sectors;
            if lba != expected {
                return Err(corrupt(
                    self.path(),
                    at,
                    "grain marker",
                    format!("grain {grain} marker names LBA {lba}, expected {expected}"),
                ));
            }
            if size == 0 || size > max_compressed {
                return Err(corrupt(
                    self.path(),
                    at + 8,
                    "grain marker",
                    format!(
                        "compressed size {size} (grain is {} bytes)",
                        self.grain_bytes
                    ),
                ));
            }
            if (at + GRAIN_MARKER)
                .checked_add(size)
                .is_none_or(|e| e > file_size)
            {
                return Err(self.gte_past_eof(grain, at, GRAIN_MARKER + size));
            }
            (at + GRAIN_MARKER, size)
        } else {
            if at >= file_size {
                return Err(self.gte_past_eof(grain, at, 1));
            }
            (at, (file_size - at).min(max_compressed))
        };
        let mut input = vec![0u8; data_len as usize];
        self.file.read_at(&mut input, data_at)?;
        let mut out = vec![0u8; self.grain_bytes as usize];
        let zlib = is_zlib_header(&input);
        let mut z = Decompress::new(zlib);
        let status = z
            .decompress(&input, &mut out, FlushDecompress::Finish)
            .map_err(|e| {
                corrupt(
                    self.path(),
                    data_at,
                    "compressed grain",
                    format!("deflate: {e}"),
                )
            })?;
        if status != Status::StreamEnd {
            return Err(corrupt(
                self.path(),
                data_at,
                "compressed grain",
                "deflate stream does not end within one grain (truncated or oversized)",
            ));
        }
        let produced = z.total_out();
        let grain_start = grain * self.grain_bytes;
        let needed = self
            .grain_bytes
            .min(self.capacity.saturating_sub(grain_start));
        if produced < needed {
            return Err(corrupt(
                self.path(),
                data_at,
                "compressed grain",
                format!("grain {grain} decompresses to {produced} bytes, expected {needed}"),
            ));
        }
        Ok(out.into())
    }
}

/// Whether `d` starts with a zlib (RFC 1950) header rather than raw deflate.
fn is_zlib_header(d: &[u8]) -> bool {
    match (d.first(), d.get(1)) {
        (Some(&cmf), Some(&flg)) => {
            cmf & 0x0f == 8 && cmf >> 4 <= 7 && (u16::from(cmf) << 8 | u16::from(flg)) % 31 == 0
        }
        _ => false,
    }
}
