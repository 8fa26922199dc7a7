//! LVM2: physical volumes found on block devices, grouped into volume groups
//! whose logical volumes are themselves [`BlockDevice`]s.
//!
//! [`probe_pv`] reads one device: the label in sectors 0..4, the PV header,
//! and the newest metadata text of each metadata area. [`assemble`] takes the
//! PVs of every disk, groups them by VG uuid, picks the newest metadata by
//! seqno and maps each LV's segments (linear or striped) onto the PV devices.
//! Everything read is untrusted: sizes, counts and extent ranges are checked
//! against the devices and [`Limits`], and errors name the device, the offset
//! and the field.

pub mod assemble;
pub mod label;
pub mod lv_device;
pub mod metadata;
pub mod pv_header;
pub mod vg;

use std::path::PathBuf;
use std::sync::Arc;

use crate::block::{BlockDevice, DeviceRef};
use crate::error::{DiskError, Layer, Result};
use crate::limits::Limits;

pub use assemble::assemble;
pub use pv_header::DiskLocn;

/// The newest metadata found on a PV.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PvMetadata {
    /// Metadata sequence number (higher is newer).
    pub seqno: u64,
    /// VG name.
    pub vg_name: String,
    /// VG uuid (dashed).
    pub vg_uuid: String,
    /// Absolute offset of the text on the device (for error messages).
    pub text_offset: u64,
    /// The metadata text.
    #[serde(skip)]
    pub text: Arc<str>,
}

/// An LVM2 physical volume found on a device.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PhysicalVolume {
    /// `describe()` of the device it was found on.
    pub device: String,
    /// PV uuid in LVM's dashed 6-4-4-4-4-4-6 form.
    pub pv_uuid: String,
    /// Device size recorded in the PV header, bytes.
    pub device_size: u64,
    /// Start of the data area (first extent), bytes.
    pub pe_start: u64,
    /// Sector (0..4) holding the label.
    pub label_sector: u64,
    /// Metadata areas listed in the PV header.
    pub metadata_areas: Vec<DiskLocn>,
    /// Newest valid metadata over all areas; `None` for an orphan PV or a
    /// PV created with `--metadatacopies 0`.
    pub metadata: Option<PvMetadata>,
    /// Problems that did not stop the probe (e.g. one of two areas corrupt).
    pub warnings: Vec<String>,
}

/// Reads the LVM2 label, PV header and metadata areas of `dev`.
///
/// `Ok(None)`: no label in sectors 0..4. An error: a label is present but it,
/// the PV header, or every metadata area holding text is unusable.
pub fn probe_pv(dev: &dyn BlockDevice, limits: &Limits) -> Result<Option<PhysicalVolume>> {
    let Some(label) = label::find_label(dev)? else {
        return Ok(None);
    };
    let path = PathBuf::from(dev.describe());
    let header = pv_header::parse_pv_header(&label, &path)?;
    let pe_start = header.data_areas.first().map(|d| d.offset).unwrap_or(0);
    if pe_start > dev.size() {
        return Err(DiskError::corrupt(
            &path,
            Layer::Lvm,
            label.byte_offset() + label.header_offset as u64 + 40,
            "pv_header.data_areas[0].offset",
            format!(
                "data area starts at {pe_start}, past the end of the {}-byte device",
                dev.size()
            ),
        ));
    }
    if header.metadata_areas.len() as u64 > limits.max_entries {
        return Err(DiskError::limit(
            &path,
            Layer::Lvm,
            "pv_header.metadata_areas",
            header.metadata_areas.len() as u64,
            limits.max_entries,
        ));
    }
    let mut warnings = Vec::new();
    let mut best: Option<PvMetadata> = None;
    let mut first_error = None;
    let mut any_ok = false;
    for (i, locn) in header.metadata_areas.iter().enumerate() {
        match read_area(dev, *locn, &path, limits) {
            Ok(found) => {
                any_ok = true;
                if let Some(m) = found {
                    if let Some(b) = &best {
                        if b.vg_uuid != m.vg_uuid {
                            warnings.push(format!(
                                "metadata area {i} holds VG {} but another area holds VG {}",
                                m.vg_name, b.vg_name
                            ));
                        }
                    }
                    if best.as_ref().is_none_or(|b| m.seqno > b.seqno) {
                        best = Some(m);
                    }
                }
            }
            Err(e) => {
                warnings.push(format!("metadata area {i} at {}: {e}", locn.offset));
                first_error.get_or_insert(e);
            }
        }
    }
    if let (false, Some(e)) = (any_ok, first_error) {
        return Err(e);
    }
    Ok(Some(PhysicalVolume {
        device: dev.describe(),
        pv_uuid: header.uuid,
        device_size: header.device_size,
        pe_start,
        label_sector: label.sector,
        metadata_areas: header.metadata_areas,
        metadata: best,
        warnings,
    }))
}

fn read_area(
    dev: &dyn BlockDevice,
    locn: DiskLocn,
    path: &std::path::Path,
    limits: &Limits,
) -> Result<Option<PvMetadata>> {
    let mda = pv_header::read_mda_header(dev, locn)?;
    let Some(text) = pv_header::read_mda_text(dev, &mda, limits)? else {
        return Ok(None);
    };
    let origin = vg::TextOrigin {
        path,
        offset: text.text_offset,
    };
    let root = vg::parse_text(&text.text, origin, limits)?;
    let (vg_name, vg_uuid, seqno) = vg::summary(&root, origin)?;
    Ok(Some(PvMetadata {
        seqno,
        vg_name,
        vg_uuid,
        text_offset: text.text_offset,
        text: Arc::from(text.text),
    }))
}

/// A PV as seen from its VG.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PvInVg {
    /// Name in the metadata ("pv0").
    pub name: String,
    /// PV uuid, dashed.
    pub uuid: String,
    /// `describe()` of the device it was found on; `None` when missing.
    pub device: Option<String>,
    /// Start of the first extent on the PV, bytes.
    pub pe_start: u64,
    /// Number of extents.
    pub pe_count: u64,
    /// No device with this PV uuid was given.
    pub missing: bool,
}

/// One segment of an LV.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SegmentInfo {
    /// First LV extent.
    pub start_extent: u64,
    /// Number of LV extents.
    pub extent_count: u64,
    /// "linear", "striped", or the metadata's type for unsupported segments
    /// ("thin", "raid1", "cache", "snapshot", ...).
    pub kind: String,
    /// (PV name, first PV extent) per stripe.
    pub stripes: Vec<(String, u64)>,
    /// Stripe size in bytes for striped segments.
    pub stripe_size: Option<u64>,
}

/// A logical volume.
#[derive(Debug, Clone, serde::Serialize)]
pub struct LogicalVolume {
    /// LV name.
    pub name: String,
    /// LV uuid, dashed.
    pub uuid: String,
    /// Size in bytes.
    pub size: u64,
    /// Segments in extent order.
    pub segments: Vec<SegmentInfo>,
    /// Status flags from the metadata (READ, WRITE, VISIBLE, ...).
    pub status: Vec<String>,
    /// The LV contents; `None` when a PV is missing or a segment type is
    /// not supported (see the VG's warnings).
    #[serde(skip)]
    pub device: Option<DeviceRef>,
}

/// An assembled volume group.
#[derive(Debug, Clone, serde::Serialize)]
pub struct VolumeGroup {
    /// VG name.
    pub name: String,
    /// VG uuid, dashed.
    pub uuid: String,
    /// Sequence number of the metadata used.
    pub seqno: u64,
    /// Extent size, bytes.
    pub extent_size: u64,
    /// PVs in metadata order.
    pub pvs: Vec<PvInVg>,
    /// LVs in metadata order.
    pub lvs: Vec<LogicalVolume>,
    /// Missing PVs, stale metadata, unsupported segment types, ...
    pub warnings: Vec<String>,
}

/// The outcome of assembling one VG: the VG, or why its metadata could not
/// be used.
#[derive(Debug)]
pub struct VolumeGroupResult {
    /// VG name from the PV metadata summary.
    pub name: String,
    /// VG uuid from the PV metadata summary.
    pub uuid: String,
    /// The VG, or the error that stopped it.
    pub result: Result<VolumeGroup, DiskError>,
}
