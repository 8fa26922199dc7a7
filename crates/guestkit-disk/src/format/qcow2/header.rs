//! The qcow2 header (versions 2 and 3) and its extensions.
//!
//! Every field is big-endian. Version 2 headers are 72 bytes; version 3 headers
//! state their own length (at least 104 bytes) and may carry the compression
//! type at byte 104. Header extensions follow the header inside the first
//! cluster (or up to the backing file name, when that comes first).

use std::path::Path;

use crate::block::bytes::{be32, be64};
use crate::error::{DiskError, Layer, Result};
use crate::format::ImageSource;

/// `QFI\xfb`.
const MAGIC: u32 = 0x5146_49fb;
/// Length of a version 2 header.
const V2_HEADER_LEN: u32 = 72;
/// Shortest version 3 header.
const V3_HEADER_LEN: u32 = 104;
/// Smallest and largest cluster sizes accepted (512 B .. 2 MiB, as qemu).
pub(super) const MIN_CLUSTER_BITS: u32 = 9;
pub(super) const MAX_CLUSTER_BITS: u32 = 21;
/// Longest backing file name the spec allows.
const MAX_BACKING_NAME: u32 = 1023;

/// Incompatible feature bits.
pub(super) const INCOMPAT_DIRTY: u64 = 1 << 0;
pub(super) const INCOMPAT_CORRUPT: u64 = 1 << 1;
pub(super) const INCOMPAT_DATA_FILE: u64 = 1 << 2;
pub(super) const INCOMPAT_COMPRESSION: u64 = 1 << 3;
pub(super) const INCOMPAT_EXTL2: u64 = 1 << 4;
const INCOMPAT_KNOWN: u64 =
    INCOMPAT_DIRTY | INCOMPAT_CORRUPT | INCOMPAT_DATA_FILE | INCOMPAT_COMPRESSION | INCOMPAT_EXTL2;
/// Compatible feature bit: lazy refcounts.
pub(super) const COMPAT_LAZY_REFCOUNTS: u64 = 1 << 0;
/// Autoclear feature bit: the image holds persistent dirty bitmaps.
pub(super) const AUTOCLEAR_BITMAPS: u64 = 1 << 0;

/// Header extension types.
const EXT_END: u32 = 0;
const EXT_BACKING_FORMAT: u32 = 0xe279_2aca;
const EXT_FEATURE_NAMES: u32 = 0x6803_f857;
const EXT_BITMAPS: u32 = 0x2385_2875;
const EXT_CRYPTO_HEADER: u32 = 0x0537_be77;
const EXT_DATA_FILE: u32 = 0x4441_5441;

/// One entry of the feature name table extension.
#[derive(Debug, Clone)]
pub(super) struct FeatureName {
    /// 0 incompatible, 1 compatible, 2 autoclear.
    pub kind: u8,
    pub bit: u8,
    pub name: String,
}

/// The parsed header and extensions of one qcow2 file.
#[derive(Debug, Clone)]
pub(super) struct Header {
    pub version: u32,
    pub backing_file_offset: u64,
    pub backing_file_size: u32,
    pub cluster_bits: u32,
    pub size: u64,
    pub crypt_method: u32,
    pub l1_size: u32,
    pub l1_table_offset: u64,
    pub nb_snapshots: u32,
    pub snapshots_offset: u64,
    pub incompatible: u64,
    pub compatible: u64,
    pub autoclear: u64,
    pub refcount_order: u32,
    pub header_length: u32,
    /// 0 zlib, 1 zstd.
    pub compression_type: u8,
    /// Backing format extension, as written (e.g. `qcow2`, `raw`).
    pub backing_format: Option<String>,
    pub feature_names: Vec<FeatureName>,
    /// External data file name extension.
    pub data_file: Option<String>,
    /// Offset and length of the LUKS header (full disk encryption extension).
    pub crypto_header: Option<(u64, u64)>,
    /// Number of persistent dirty bitmaps (bitmaps extension).
    pub nb_bitmaps: Option<u32>,
}

impl Header {
    /// Cluster size in bytes.
    pub fn cluster_size(&self) -> u64 {
        1u64 << self.cluster_bits
    }

    /// Whether L2 entries are 128 bits wide with subcluster bitmaps.
    pub fn extended_l2(&self) -> bool {
        self.incompatible & INCOMPAT_EXTL2 != 0
    }

    /// Name of the compression type.
    pub fn compression_name(&self) -> &'static str {
        if self.compression_type == 1 {
            "zstd"
        } else {
            "zlib"
        }
    }

    /// Name of the incompatible feature `bit` from the feature name table.
    fn feature_name(&self, bit: u32) -> Option<&str> {
        self.feature_names
            .iter()
            .find(|f| f.kind == 0 && u32::from(f.bit) == bit)
            .map(|f| f.name.as_str())
    }
}

/// Reads and checks the header and its extensions.
pub(super) fn parse(source: &ImageSource) -> Result<Header> {
    let path = source.path.as_path();
    let file_size = source.size();
    let corrupt = |offset: u64, field: &str, reason: String| {
        DiskError::corrupt(path, Layer::Qcow2, offset, field, reason)
    };
    if file_size < u64::from(V2_HEADER_LEN) {
        return Err(corrupt(
            0,
            "header",
            format!("file is {file_size} bytes, shorter than the 72-byte header"),
        ));
    }
    let mut head = [0u8; 112];
    let n = usize::try_from(file_size.min(112)).unwrap_or(112);
    let head_buf = head.get_mut(..n).unwrap_or_default();
    source.read_at(head_buf, 0)?;
    let h: &[u8] = &head;
    let f32_ = |at: usize| be32(h, at).unwrap_or(0);
    let f64_ = |at: usize| be64(h, at).unwrap_or(0);

    if f32_(0) != MAGIC {
        return Err(corrupt(0, "magic", "not QFI\\xfb".into()));
    }
    let version = f32_(4);
    if version != 2 && version != 3 {
        return Err(DiskError::unsupported(
            path,
            Layer::Qcow2,
            format!("qcow2 version {version} (only 2 and 3 exist)"),
        ));
    }
    let cluster_bits = f32_(20);
    if !(MIN_CLUSTER_BITS..=MAX_CLUSTER_BITS).contains(&cluster_bits) {
        return Err(corrupt(
            20,
            "cluster_bits",
            format!("{cluster_bits} is outside 9..=21 (512 B .. 2 MiB clusters)"),
        ));
    }
    let cluster_size = 1u64 << cluster_bits;
    let mut header = Header {
        version,
        backing_file_offset: f64_(8),
        backing_file_size: f32_(16),
        cluster_bits,
        size: f64_(24),
        crypt_method: f32_(32),
        l1_size: f32_(36),
        l1_table_offset: f64_(40),
        nb_snapshots: f32_(60),
        snapshots_offset: f64_(64),
        incompatible: 0,
        compatible: 0,
        autoclear: 0,
        refcount_order: 4,
        header_length: V2_HEADER_LEN,
        compression_type: 0,
        backing_format: None,
        feature_names: Vec::new(),
        data_file: None,
        crypto_header: None,
        nb_bitmaps: None,
    };
    if version == 3 {
        if file_size < u64::from(V3_HEADER_LEN) {
            return Err(corrupt(
                0,
                "header",
                format!("file is {file_size} bytes, shorter than the 104-byte v3 header"),
            ));
        }
        header.incompatible = f64_(72);
        header.compatible = f64_(80);
        header.autoclear = f64_(88);
        header.refcount_order = f32_(96);
        header.header_length = f32_(100);
        let hl = header.header_length;
        if hl < V3_HEADER_LEN || !hl.is_multiple_of(8) || u64::from(hl) > cluster_size {
            return Err(corrupt(
                100,
                "header_length",
                format!("{hl} is not a multiple of 8 between 104 and the cluster size"),
            ));
        }
        if hl > V3_HEADER_LEN {
            header.compression_type = h.get(104).copied().unwrap_or(0);
        }
        if header.refcount_order > 6 {
            return Err(corrupt(
                96,
                "refcount_order",
                format!("{} is above 6 (64-bit refcounts)", header.refcount_order),
            ));
        }
    }
    check_features(path, &header)?;
    read_extensions(source, &mut header)?;
    check_features_named(path, &header)?;
    Ok(header)
}

/// Checks the feature bits that do not depend on the extensions.
fn check_features(path: &Path, h: &Header) -> Result<()> {
    let corrupt = |offset: u64, field: &str, reason: String| {
        DiskError::corrupt(path, Layer::Qcow2, offset, field, reason)
    };
    match h.compression_type {
        0 => {}
        1 => {
            if h.incompatible & INCOMPAT_COMPRESSION == 0 {
                return Err(corrupt(
                    104,
                    "compression_type",
                    "zstd without the compression-type incompatible bit".into(),
                ));
            }
        }
        other => {
            return Err(DiskError::unsupported(
                path,
                Layer::Qcow2,
                format!("compression type {other} (known: 0 zlib, 1 zstd)"),
            ))
        }
    }
    if h.crypt_method > 2 {
        return Err(DiskError::unsupported(
            path,
            Layer::Qcow2,
            format!(
                "encryption method {} (known: 1 aes, 2 luks)",
                h.crypt_method
            ),
        ));
    }
    Ok(())
}

/// Checks the incompatible bits, naming unknown ones from the feature table.
fn check_features_named(path: &Path, h: &Header) -> Result<()> {
    let unknown = h.incompatible & !INCOMPAT_KNOWN;
    if unknown != 0 {
        let bit = unknown.trailing_zeros();
        let name = h.feature_name(bit).unwrap_or("unnamed");
        return Err(DiskError::unsupported(
            path,
            Layer::Qcow2,
            format!("incompatible feature bit {bit} ({name})"),
        ));
    }
    if h.incompatible & INCOMPAT_DATA_FILE != 0 || h.data_file.is_some() {
        let name = h.data_file.as_deref().unwrap_or("unnamed");
        return Err(DiskError::unsupported(
            path,
            Layer::Qcow2,
            format!("external data file {name:?}"),
        ));
    }
    Ok(())
}

/// Walks the header extensions after the header.
fn read_extensions(source: &ImageSource, h: &mut Header) -> Result<()> {
    let path = source.path.as_path();
    let start = u64::from(h.header_length);
    let mut end = h.cluster_size();
    if h.backing_file_offset > start && h.backing_file_offset < end {
        end = h.backing_file_offset;
    }
    end = end.min(source.size());
    if end <= start {
        return Ok(());
    }
    // At most one cluster (2 MiB), already bounded by the file size.
    let len = usize::try_from(end - start).unwrap_or(0);
    let mut area = vec![0u8; len];
    source.read_at(&mut area, start)?;
    let mut at = 0usize;
    while let (Some(kind), Some(ext_len)) = (be32(&area, at), be32(&area, at + 4)) {
        if kind == EXT_END {
            break;
        }
        let file_off = start + at as u64;
        let data_start = at + 8;
        let data = usize::try_from(ext_len)
            .ok()
            .and_then(|l| area.get(data_start..data_start.checked_add(l)?))
            .ok_or_else(|| {
                DiskError::corrupt(
                    path,
                    Layer::Qcow2,
                    file_off,
                    "header extension",
                    format!("extension {kind:#x} of {ext_len} bytes runs past the first cluster"),
                )
            })?;
        match kind {
            EXT_BACKING_FORMAT => h.backing_format = Some(text(data)),
            EXT_DATA_FILE => h.data_file = Some(text(data)),
            EXT_FEATURE_NAMES => {
                h.feature_names = data
                    .chunks_exact(48)
                    .map(|e| FeatureName {
                        kind: e.first().copied().unwrap_or(0),
                        bit: e.get(1).copied().unwrap_or(0),
                        name: text(e.get(2..).unwrap_or_default()),
                    })
                    .collect();
            }
            EXT_CRYPTO_HEADER => {
                if let (Some(off), Some(l)) = (be64(data, 0), be64(data, 8)) {
                    h.crypto_header = Some((off, l));
                }
            }
            EXT_BITMAPS => h.nb_bitmaps = be32(data, 0),
            _ => {} // unknown extensions are ignored, as the spec allows
        }
        // Data is padded to a multiple of 8 bytes.
        let padded = (ext_len as usize).div_ceil(8) * 8;
        at = match data_start.checked_add(padded) {
            Some(next) => next,
            None => break,
        };
    }
    Ok(())
}

/// Reads the backing file name stored in the header.
pub(super) fn backing_name(source: &ImageSource, h: &Header) -> Result<Option<String>> {
    if h.backing_file_offset == 0 {
        return Ok(None);
    }
    let path = source.path.as_path();
    let len = h.backing_file_size;
    if len == 0 || len > MAX_BACKING_NAME {
        return Err(DiskError::corrupt(
            path,
            Layer::Qcow2,
            16,
            "backing_file_size",
            format!("{len} is not between 1 and {MAX_BACKING_NAME}"),
        ));
    }
    let fits = h
        .backing_file_offset
        .checked_add(u64::from(len))
        .is_some_and(|e| e <= source.size());
    if !fits {
        return Err(DiskError::corrupt(
            path,
            Layer::Qcow2,
            8,
            "backing_file_offset",
            format!(
                "name of {len} bytes at {} runs past the end of the file ({} bytes)",
                h.backing_file_offset,
                source.size()
            ),
        ));
    }
    let mut name = vec![0u8; len as usize];
    source.read_at(&mut name, h.backing_file_offset)?;
    let name = String::from_utf8(name).map_err(|_| {
        DiskError::corrupt(
            path,
            Layer::Qcow2,
            h.backing_file_offset,
            "backing file name",
            "not UTF-8",
        )
    })?;
    Ok(Some(name))
}

/// A NUL-padded text field.
fn text(data: &[u8]) -> String {
    let end = data.iter().position(|&b| b == 0).unwrap_or(data.len());
    String::from_utf8_lossy(data.get(..end).unwrap_or_default()).into_owned()
}
