//! The typed volume-group model built from a parsed metadata tree, with every
//! count and extent range checked.
//!
//! Units follow the metadata: `extent_size`, `pe_start` and `dev_size` are in
//! 512-byte sectors, `pe_count`, `start_extent`, `extent_count` and stripe
//! starts in extents, `stripe_size` in sectors.

use std::path::Path;

use crate::error::{DiskError, Layer, Result};
use crate::limits::Limits;

use super::label::SECTOR_SIZE;
use super::metadata::{parse, ParseLimits, Section, Value};

/// Deepest section nesting accepted in metadata text.
pub const MAX_METADATA_DEPTH: usize = 32;

/// Where a metadata text came from, for error messages.
#[derive(Debug, Clone, Copy)]
pub struct TextOrigin<'a> {
    /// Device (path) holding the text.
    pub path: &'a Path,
    /// Absolute offset of the text on that device.
    pub offset: u64,
}

impl TextOrigin<'_> {
    fn corrupt(&self, field: impl Into<String>, reason: impl Into<String>) -> DiskError {
        DiskError::corrupt(self.path, Layer::Lvm, self.offset, field, reason)
    }
    fn limit(&self, field: impl Into<String>, value: u64, limit: u64) -> DiskError {
        DiskError::limit(self.path, Layer::Lvm, field, value, limit)
    }
}

/// A PV as the VG metadata describes it.
#[derive(Debug, Clone)]
pub struct PvMeta {
    /// Name inside the VG ("pv0").
    pub name: String,
    /// PV uuid, dashed.
    pub uuid: String,
    /// Device path hint recorded at the last write.
    pub device_hint: Option<String>,
    /// Start of the first extent, sectors.
    pub pe_start: u64,
    /// Number of extents.
    pub pe_count: u64,
}

/// One LV segment.
#[derive(Debug, Clone)]
pub struct SegMeta {
    /// First LV extent covered.
    pub start_extent: u64,
    /// Number of LV extents covered.
    pub extent_count: u64,
    /// `type` ("striped", "thin", "raid1", ...).
    pub seg_type: String,
    /// Stripe size in sectors (striped with more than one stripe).
    pub stripe_size: Option<u64>,
    /// (PV name, first PV extent) of each stripe; empty for other types.
    pub stripes: Vec<(String, u64)>,
}

/// One LV.
#[derive(Debug, Clone)]
pub struct LvMeta {
    /// LV name.
    pub name: String,
    /// LV uuid.
    pub uuid: String,
    /// `status` flags (READ, WRITE, VISIBLE, ...).
    pub status: Vec<String>,
    /// Segments in extent order.
    pub segments: Vec<SegMeta>,
}

/// A whole VG.
#[derive(Debug, Clone)]
pub struct VgMeta {
    /// VG name.
    pub name: String,
    /// VG uuid.
    pub uuid: String,
    /// Metadata sequence number.
    pub seqno: u64,
    /// Extent size in sectors.
    pub extent_size: u64,
    /// PVs.
    pub pvs: Vec<PvMeta>,
    /// LVs.
    pub lvs: Vec<LvMeta>,
}

/// VG name, uuid and seqno: the part of the metadata needed to group PVs.
pub fn summary(root: &Section, origin: TextOrigin<'_>) -> Result<(String, String, u64)> {
    let (name, vg) = vg_section(root, origin)?;
    let uuid = vg
        .str("id")
        .ok_or_else(|| origin.corrupt(format!("{name}/id"), "missing VG id"))?;
    let seqno = uint(vg, "seqno", name, origin)?;
    Ok((name.to_string(), uuid.to_string(), seqno))
}

/// Parses metadata text with the bounds of `limits`.
pub fn parse_text(text: &str, origin: TextOrigin<'_>, limits: &Limits) -> Result<Section> {
    if text.len() as u64 > limits.max_table_bytes {
        return Err(origin.limit(
            "metadata text size",
            text.len() as u64,
            limits.max_table_bytes,
        ));
    }
    let pl = ParseLimits {
        max_depth: MAX_METADATA_DEPTH,
        max_values: limits.max_entries.saturating_mul(16),
    };
    parse(text, pl).map_err(|e| {
        origin.corrupt(
            format!("metadata text line {} column {}", e.line, e.column),
            e.message,
        )
    })
}

fn vg_section<'a>(root: &'a Section, origin: TextOrigin<'_>) -> Result<(&'a str, &'a Section)> {
    root.sections()
        .next()
        .ok_or_else(|| origin.corrupt("metadata text", "no volume group section"))
}

fn uint(sec: &Section, key: &str, at: &str, origin: TextOrigin<'_>) -> Result<u64> {
    match sec.get(key) {
        Some(Value::Int(i)) => u64::try_from(*i)
            .map_err(|_| origin.corrupt(format!("{at}/{key}"), format!("negative value {i}"))),
        Some(_) => Err(origin.corrupt(format!("{at}/{key}"), "not an integer")),
        None => Err(origin.corrupt(format!("{at}/{key}"), "missing")),
    }
}

fn string(sec: &Section, key: &str, at: &str, origin: TextOrigin<'_>) -> Result<String> {
    sec.str(key)
        .map(str::to_string)
        .ok_or_else(|| origin.corrupt(format!("{at}/{key}"), "missing or not a string"))
}

fn check_count(n: usize, field: &str, limits: &Limits, origin: TextOrigin<'_>) -> Result<()> {
    if n as u64 > limits.max_entries {
        return Err(origin.limit(field, n as u64, limits.max_entries));
    }
    Ok(())
}

/// Builds and checks the VG model.
pub fn build(root: &Section, origin: TextOrigin<'_>, limits: &Limits) -> Result<VgMeta> {
    let (name, vg) = vg_section(root, origin)?;
    let (_, uuid, seqno) = summary(root, origin)?;
    let extent_size = uint(vg, "extent_size", name, origin)?;
    let extent_bytes = extent_size.checked_mul(SECTOR_SIZE).filter(|&b| b > 0);
    let Some(extent_bytes) = extent_bytes else {
        return Err(origin.corrupt(
            format!("{name}/extent_size"),
            format!("extent size of {extent_size} sectors is not usable"),
        ));
    };

    let mut pvs = Vec::new();
    if let Some(pv_sec) = vg.section("physical_volumes") {
        for (pv_name, pv) in pv_sec.sections() {
            check_count(pvs.len() + 1, "physical volumes", limits, origin)?;
            let at = format!("{name}/physical_volumes/{pv_name}");
            let pe_count = uint(pv, "pe_count", &at, origin)?;
            let pe_start = uint(pv, "pe_start", &at, origin)?;
            let area = pe_count
                .checked_mul(extent_bytes)
                .and_then(|a| a.checked_add(pe_start.checked_mul(SECTOR_SIZE)?));
            match area {
                Some(bytes) if bytes <= limits.max_virtual_size => {}
                _ => {
                    return Err(origin.corrupt(
                        format!("{at}/pe_count"),
                        format!(
                            "{pe_count} extents of {extent_bytes} bytes after sector {pe_start} \
                             exceed the {}-byte size limit",
                            limits.max_virtual_size
                        ),
                    ))
                }
            }
            pvs.push(PvMeta {
                name: pv_name.to_string(),
                uuid: string(pv, "id", &at, origin)?,
                device_hint: pv.str("device").map(str::to_string),
                pe_start,
                pe_count,
            });
        }
    }

    let mut lvs = Vec::new();
    if let Some(lv_sec) = vg.section("logical_volumes") {
        for (lv_name, lv) in lv_sec.sections() {
            check_count(lvs.len() + 1, "logical volumes", limits, origin)?;
            let at = format!("{name}/logical_volumes/{lv_name}");
            lvs.push(build_lv(
                lv_name,
                lv,
                &at,
                &pvs,
                extent_size,
                limits,
                origin,
            )?);
        }
    }
    Ok(VgMeta {
        name: name.to_string(),
        uuid,
        seqno,
        extent_size,
        pvs,
        lvs,
    })
}

fn build_lv(
    lv_name: &str,
    lv: &Section,
    at: &str,
    pvs: &[PvMeta],
    extent_size: u64,
    limits: &Limits,
    origin: TextOrigin<'_>,
) -> Result<LvMeta> {
    let extent_bytes = extent_size * SECTOR_SIZE; // checked by the caller
    let status = lv
        .array("status")
        .unwrap_or(&[])
        .iter()
        .filter_map(|v| match v {
            Value::Str(s) => Some(s.clone()),
            _ => None,
        })
        .collect();
    let mut segments: Vec<SegMeta> = Vec::new();
    let mut next_extent = 0u64;
    for (seg_name, seg) in lv.sections().filter(|(n, _)| n.starts_with("segment")) {
        check_count(segments.len() + 1, "LV segments", limits, origin)?;
        let at = format!("{at}/{seg_name}");
        let start_extent = uint(seg, "start_extent", &at, origin)?;
        let extent_count = uint(seg, "extent_count", &at, origin)?;
        if start_extent != next_extent {
            return Err(origin.corrupt(
                format!("{at}/start_extent"),
                format!("segment starts at extent {start_extent}, expected {next_extent}"),
            ));
        }
        next_extent = start_extent
            .checked_add(extent_count)
            .filter(|_| extent_count > 0)
            .ok_or_else(|| {
                origin.corrupt(
                    format!("{at}/extent_count"),
                    format!("{extent_count} extents after extent {start_extent}"),
                )
            })?;
        // Every later byte computation stays below the LV size, so bounding
        // it here keeps them from overflowing.
        match next_extent.checked_mul(extent_bytes) {
            Some(bytes) if bytes <= limits.max_virtual_size => {}
            _ => {
                return Err(origin.corrupt(
                    format!("{at}/extent_count"),
                    format!(
                        "{extent_count} extents of {extent_bytes} bytes after extent \
                         {start_extent} exceed the {}-byte size limit",
                        limits.max_virtual_size
                    ),
                ))
            }
        }
        let seg_type = string(seg, "type", &at, origin)?;
        let mut meta = SegMeta {
            start_extent,
            extent_count,
            seg_type,
            stripe_size: None,
            stripes: Vec::new(),
        };
        if meta.seg_type == "striped" || meta.seg_type == "linear" {
            striped_areas(&mut meta, seg, &at, pvs, extent_size, limits, origin)?;
        }
        segments.push(meta);
    }
    if let Some(declared) = lv.int("segment_count") {
        if u64::try_from(declared).ok() != Some(segments.len() as u64) {
            return Err(origin.corrupt(
                format!("{at}/segment_count"),
                format!("declares {declared} segments, {} found", segments.len()),
            ));
        }
    }
    Ok(LvMeta {
        name: lv_name.to_string(),
        uuid: string(lv, "id", at, origin)?,
        status,
        segments,
    })
}

fn striped_areas(
    meta: &mut SegMeta,
    seg: &Section,
    at: &str,
    pvs: &[PvMeta],
    extent_size: u64,
    limits: &Limits,
    origin: TextOrigin<'_>,
) -> Result<()> {
    let stripe_count = uint(seg, "stripe_count", at, origin)?;
    if stripe_count == 0 || stripe_count > limits.max_entries {
        return Err(origin.corrupt(
            format!("{at}/stripe_count"),
            format!("{stripe_count} stripes"),
        ));
    }
    let list = seg
        .array("stripes")
        .ok_or_else(|| origin.corrupt(format!("{at}/stripes"), "missing or not an array"))?;
    if stripe_count.checked_mul(2) != Some(list.len() as u64) {
        return Err(origin.corrupt(
            format!("{at}/stripes"),
            format!(
                "{} entries for {stripe_count} stripes (expected name, extent pairs)",
                list.len()
            ),
        ));
    }
    if !meta.extent_count.is_multiple_of(stripe_count) {
        return Err(origin.corrupt(
            format!("{at}/extent_count"),
            format!(
                "{} extents do not divide into {stripe_count} stripes",
                meta.extent_count
            ),
        ));
    }
    let area_len = meta.extent_count / stripe_count;
    if stripe_count > 1 {
        let size = uint(seg, "stripe_size", at, origin)?;
        if size == 0 || !size.is_power_of_two() || size > extent_size {
            return Err(origin.corrupt(
                format!("{at}/stripe_size"),
                format!(
                    "stripe size of {size} sectors is not a power of two up to the \
                     extent size ({extent_size} sectors)"
                ),
            ));
        }
        meta.stripe_size = Some(size);
    }
    for (i, pair) in list.chunks_exact(2).enumerate() {
        let field = format!("{at}/stripes[{i}]");
        let (Some(Value::Str(pv_name)), Some(Value::Int(start))) = (pair.first(), pair.get(1))
        else {
            return Err(origin.corrupt(field, "expected a PV name and an extent number"));
        };
        let pv = pvs
            .iter()
            .find(|p| &p.name == pv_name)
            .ok_or_else(|| origin.corrupt(&field, format!("unknown PV {pv_name:?}")))?;
        let start = u64::try_from(*start)
            .map_err(|_| origin.corrupt(&field, format!("negative extent {start}")))?;
        match start.checked_add(area_len) {
            Some(end) if end <= pv.pe_count => {}
            _ => {
                return Err(origin.corrupt(
                    field,
                    format!(
                    "extents {start}..{start}+{area_len} reach past the {} extents of {pv_name}",
                    pv.pe_count
                ),
                ))
            }
        }
        meta.stripes.push((pv_name.clone(), start));
    }
    Ok(())
}
