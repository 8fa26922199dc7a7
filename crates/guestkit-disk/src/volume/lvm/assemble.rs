//! Assembling volume groups from the PVs found on several devices: group by
//! VG uuid, take the metadata with the highest seqno, find each PV's device
//! by uuid and build the LV devices.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use crate::block::{BlockDevice, DeviceRef};
use crate::error::{DiskError, Result};
use crate::limits::Limits;

use super::label::SECTOR_SIZE;
use super::lv_device::{Area, LvDevice, Piece};
use super::vg::{self, LvMeta, TextOrigin, VgMeta};
use super::{
    LogicalVolume, PhysicalVolume, PvInVg, PvMetadata, SegmentInfo, VolumeGroup, VolumeGroupResult,
};

/// Groups `pvs` into volume groups and builds their LVs.
///
/// PVs without metadata (`--metadatacopies 0`) are matched to a VG by their
/// uuid. One result per VG uuid, in order of first appearance.
pub fn assemble(pvs: Vec<(PhysicalVolume, DeviceRef)>, limits: &Limits) -> Vec<VolumeGroupResult> {
    // Newest metadata per VG uuid, with the device it came from.
    let mut order: Vec<String> = Vec::new();
    let mut newest: BTreeMap<String, (PvMetadata, String)> = BTreeMap::new();
    let mut stale: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (pv, _) in &pvs {
        let Some(m) = &pv.metadata else { continue };
        match newest.get(&m.vg_uuid) {
            None => {
                order.push(m.vg_uuid.clone());
                newest.insert(m.vg_uuid.clone(), (m.clone(), pv.device.clone()));
            }
            Some((cur, cur_dev)) => {
                let note = |older: &PvMetadata, dev: &str, newer: u64| {
                    format!(
                        "{dev} has older metadata (seqno {}) than the newest (seqno {newer})",
                        older.seqno
                    )
                };
                if m.seqno > cur.seqno {
                    let msg = note(cur, cur_dev, m.seqno);
                    stale.entry(m.vg_uuid.clone()).or_default().push(msg);
                    newest.insert(m.vg_uuid.clone(), (m.clone(), pv.device.clone()));
                } else if m.seqno < cur.seqno {
                    let msg = note(m, &pv.device, cur.seqno);
                    stale.entry(m.vg_uuid.clone()).or_default().push(msg);
                } else if m.text != cur.text {
                    stale.entry(m.vg_uuid.clone()).or_default().push(format!(
                        "{} and {cur_dev} hold different metadata with the same seqno {}",
                        pv.device, m.seqno
                    ));
                }
            }
        }
    }
    order
        .into_iter()
        .filter_map(|uuid| {
            let (meta, dev) = newest.remove(&uuid)?;
            let warnings = stale.remove(&uuid).unwrap_or_default();
            let result = build_vg(&meta, &dev, &pvs, warnings, limits);
            Some(VolumeGroupResult {
                name: meta.vg_name.clone(),
                uuid,
                result,
            })
        })
        .collect()
}

fn build_vg(
    meta: &PvMetadata,
    source_dev: &str,
    pvs: &[(PhysicalVolume, DeviceRef)],
    mut warnings: Vec<String>,
    limits: &Limits,
) -> Result<VolumeGroup> {
    let path = PathBuf::from(source_dev);
    let origin = TextOrigin {
        path: &path,
        offset: meta.text_offset,
    };
    let root = vg::parse_text(&meta.text, origin, limits)?;
    let vgm = vg::build(&root, origin, limits)?;
    let extent_bytes = vgm.extent_size * SECTOR_SIZE; // checked in vg::build

    // PV name -> data area device (a window from pe_start over pe_count extents).
    let mut areas: BTreeMap<&str, DeviceRef> = BTreeMap::new();
    let mut pv_infos = Vec::new();
    for pm in &vgm.pvs {
        let matches: Vec<&(PhysicalVolume, DeviceRef)> = pvs
            .iter()
            .filter(|(p, _)| same_id(&p.pv_uuid, &pm.uuid))
            .collect();
        if matches.len() > 1 {
            warnings.push(format!(
                "PV {} ({}) found on several devices: {}; using the first",
                pm.name,
                pm.uuid,
                matches
                    .iter()
                    .map(|(p, _)| p.device.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        let pe_start = pm.pe_start * SECTOR_SIZE; // bounded in vg::build
        let mut info = PvInVg {
            name: pm.name.clone(),
            uuid: pm.uuid.clone(),
            device: None,
            pe_start,
            pe_count: pm.pe_count,
            missing: true,
        };
        if let Some((pv, dev)) = matches.first() {
            info.device = Some(pv.device.clone());
            info.missing = false;
            let needed = pe_start + pm.pe_count * extent_bytes;
            if needed > dev.size() {
                warnings.push(format!(
                    "PV {} on {}: {} extents from byte {pe_start} need {needed} bytes but the \
                     device has {}; its LVs are unreadable",
                    pm.name,
                    pv.device,
                    pm.pe_count,
                    dev.size()
                ));
            } else {
                areas.insert(pm.name.as_str(), Arc::clone(dev));
            }
        } else {
            warnings.push(format!(
                "PV {} ({}) is missing{}",
                pm.name,
                pm.uuid,
                pm.device_hint
                    .as_deref()
                    .map(|d| format!(" (last seen as {d})"))
                    .unwrap_or_default()
            ));
        }
        pv_infos.push(info);
    }

    let mut lvs = Vec::new();
    for lv in &vgm.lvs {
        lvs.push(build_lv(&vgm, lv, &areas, &pv_infos, &mut warnings)?);
    }
    Ok(VolumeGroup {
        name: vgm.name.clone(),
        uuid: vgm.uuid.clone(),
        seqno: vgm.seqno,
        extent_size: extent_bytes,
        pvs: pv_infos,
        lvs,
        warnings,
    })
}

/// LVM ids compared without their dashes.
fn same_id(a: &str, b: &str) -> bool {
    a.chars()
        .filter(|c| *c != '-')
        .eq(b.chars().filter(|c| *c != '-'))
}

fn build_lv(
    vgm: &VgMeta,
    lv: &LvMeta,
    areas: &BTreeMap<&str, DeviceRef>,
    pv_infos: &[PvInVg],
    warnings: &mut Vec<String>,
) -> Result<LogicalVolume> {
    let extent_bytes = vgm.extent_size * SECTOR_SIZE;
    let name = format!("{}/{}", vgm.name, lv.name);
    let mut segments = Vec::new();
    let mut pieces = Vec::new();
    let mut usable = true;
    let mut total_extents = 0u64;
    for (i, seg) in lv.segments.iter().enumerate() {
        total_extents = seg.start_extent + seg.extent_count; // checked in vg::build
        let supported = seg.seg_type == "striped" || seg.seg_type == "linear";
        let kind = if !supported {
            warnings.push(format!(
                "LV {name} segment {}: unsupported segment type {}",
                i + 1,
                seg.seg_type
            ));
            usable = false;
            seg.seg_type.clone()
        } else if seg.stripes.len() > 1 {
            "striped".to_string()
        } else {
            "linear".to_string()
        };
        let stripe_bytes = seg.stripe_size.map(|s| s * SECTOR_SIZE);
        if supported {
            let mut seg_areas = Vec::new();
            for (pv_name, start) in &seg.stripes {
                match areas.get(pv_name.as_str()) {
                    Some(dev) => {
                        let pe_start = pv_infos
                            .iter()
                            .find(|p| &p.name == pv_name)
                            .map(|p| p.pe_start)
                            .unwrap_or(0);
                        seg_areas.push(Area {
                            device: Arc::clone(dev),
                            offset: pe_start + start * extent_bytes,
                        });
                    }
                    None => {
                        warnings.push(format!(
                            "LV {name} segment {} needs PV {pv_name}, which is missing or \
                             unreadable; the LV has no device",
                            i + 1
                        ));
                        usable = false;
                    }
                }
            }
            let len = seg.extent_count * extent_bytes;
            let per_area = len / (seg.stripes.len().max(1) as u64);
            if let Some(sb) = stripe_bytes {
                if seg.stripes.len() > 1 && !per_area.is_multiple_of(sb) {
                    warnings.push(format!(
                        "LV {name} segment {}: stripe size {sb} does not divide the \
                         {per_area}-byte stripe; the LV has no device",
                        i + 1
                    ));
                    usable = false;
                }
            }
            pieces.push(Piece {
                start: seg.start_extent * extent_bytes,
                len,
                areas: seg_areas,
                stripe_bytes: stripe_bytes.unwrap_or(0),
            });
        }
        segments.push(SegmentInfo {
            start_extent: seg.start_extent,
            extent_count: seg.extent_count,
            kind,
            stripes: seg.stripes.clone(),
            stripe_size: stripe_bytes,
        });
    }
    let size = total_extents.checked_mul(extent_bytes).ok_or_else(|| {
        DiskError::corrupt(
            PathBuf::from(&name),
            crate::error::Layer::Lvm,
            0,
            "extent_count",
            "LV size overflows",
        )
    })?;
    let device = if usable {
        Some(Arc::new(LvDevice::new(name.clone(), pieces)?) as Arc<dyn BlockDevice>)
    } else {
        None
    };
    Ok(LogicalVolume {
        name: lv.name.clone(),
        uuid: lv.uuid.clone(),
        size,
        segments,
        status: lv.status.clone(),
        device,
    })
}
