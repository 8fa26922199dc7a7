//! VMDK images: a text descriptor (separate file, or embedded in a sparse
//! file) naming extents — flat, zero or hosted sparse (`KDMV`, plain or
//! streamOptimized) — and optionally a parent disk.
//!
//! Supported layouts: monolithicSparse, streamOptimized (footer grain
//! directory included), monolithicFlat, twoGbMaxExtentSparse,
//! twoGbMaxExtentFlat, vmfs/custom descriptors with FLAT/VMFS/ZERO/SPARSE
//! extents, delta links through `parentFileNameHint`. ESX `COWD` sparse files,
//! SESPARSE and raw-device extents are refused as unsupported.

pub(crate) mod descriptor;
mod extent;
mod sparse;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::block::DeviceRef;
use crate::error::{DiskError, Layer, Result};
use crate::format::{ImageFormat, ImageInfo, ImageSource, OpenContext, OpenedImage};

use descriptor::{Access, Descriptor, ExtentKind, ParseError};
use extent::{ExtentData, VmdkDevice};
use sparse::{Budget, SparseExtent, SparseHeader};

const SECTOR: u64 = 512;
/// Largest descriptor read (text file or embedded).
pub(crate) const MAX_DESCRIPTOR_BYTES: u64 = 1 << 20;

/// Opens a VMDK: a sparse file (`KDMV`) or a text descriptor.
pub(crate) fn open(source: ImageSource, ctx: &OpenContext) -> Result<OpenedImage> {
    let mut magic = [0u8; 4];
    if source.size() >= 4 {
        source.read_at(&mut magic, 0)?;
    }
    match &magic {
        b"COWD" => Err(cowd_unsupported(&source.path)),
        b"KDMV" => open_monolithic(source, ctx),
        _ => open_descriptor_file(source, ctx),
    }
}

fn cowd_unsupported(path: &Path) -> DiskError {
    DiskError::unsupported(
        path,
        Layer::Vmdk,
        "ESX COWD sparse extent (vmfsSparse); convert it with vmkfstools or qemu-img first",
    )
}

fn parse_error(path: &Path, at: u64, e: ParseError) -> DiskError {
    match e {
        ParseError::TooManyExtents { limit } => {
            DiskError::limit(path, Layer::Vmdk, "descriptor extents", limit + 1, limit)
        }
        e @ ParseError::Syntax { .. } => {
            DiskError::corrupt(path, Layer::Vmdk, at, "descriptor", e.to_string())
        }
    }
}

/// A sparse file opened directly: one sparse extent, with its embedded
/// descriptor giving the parent and the details.
fn open_monolithic(source: ImageSource, ctx: &OpenContext) -> Result<OpenedImage> {
    let path = source.path.clone();
    let header = sparse::read_header(&source)?;
    let desc = embedded_descriptor(&source, &header, ctx)?;
    if let Some(d) = &desc {
        if !d.extents.is_empty() && d.total_sectors() != Some(header.capacity_sectors) {
            return Err(DiskError::corrupt(
                &path,
                Layer::Vmdk,
                header.descriptor_offset.saturating_mul(SECTOR),
                "descriptor extents",
                format!(
                    "extents total {} sectors but the sparse header's capacity is {} sectors",
                    d.total_sectors()
                        .map_or_else(|| "overflowing".to_string(), |t| t.to_string()),
                    header.capacity_sectors
                ),
            ));
        }
    }
    let mut budget = Budget::new(ctx.limits, 1);
    let extent = SparseExtent::open(source.clone(), header, ctx.limits, &mut budget)?;
    let capacity = extent.capacity();
    let desc = desc.unwrap_or_default();
    let mut details = Details::default();
    details.sparse(&extent);
    let extents = vec![(capacity, ExtentData::Sparse(Box::new(extent)))];
    finish(source, ctx, &desc, extents, vec![path], details)
}

/// Reads and parses the descriptor embedded in a sparse file, if any.
fn embedded_descriptor(
    source: &ImageSource,
    header: &SparseHeader,
    ctx: &OpenContext,
) -> Result<Option<Descriptor>> {
    if header.descriptor_offset == 0 || header.descriptor_sectors == 0 {
        return Ok(None);
    }
    let path = source.path.as_path();
    let len = header
        .descriptor_sectors
        .checked_mul(SECTOR)
        .filter(|&l| l <= MAX_DESCRIPTOR_BYTES)
        .ok_or_else(|| {
            DiskError::limit(
                path,
                Layer::Vmdk,
                "embedded descriptor bytes",
                header.descriptor_sectors.saturating_mul(SECTOR),
                MAX_DESCRIPTOR_BYTES,
            )
        })?;
    let at = header
        .descriptor_offset
        .checked_mul(SECTOR)
        .filter(|at| at.checked_add(len).is_some_and(|e| e <= source.size()))
        .ok_or_else(|| {
            DiskError::corrupt(
                path,
                Layer::Vmdk,
                28,
                "descriptorOffset",
                format!(
                    "embedded descriptor ({len} bytes at sector {}) lies past the end of the file ({} bytes)",
                    header.descriptor_offset,
                    source.size()
                ),
            )
        })?;
    let mut text = vec![0u8; len as usize];
    source.read_at(&mut text, at)?;
    descriptor::parse(&text, ctx.limits.max_entries)
        .map(Some)
        .map_err(|e| parse_error(path, at, e))
}

/// A text descriptor file naming its extents.
fn open_descriptor_file(source: ImageSource, ctx: &OpenContext) -> Result<OpenedImage> {
    let path = source.path.clone();
    if source.size() > MAX_DESCRIPTOR_BYTES {
        return Err(DiskError::limit(
            &path,
            Layer::Vmdk,
            "descriptor file bytes",
            source.size(),
            MAX_DESCRIPTOR_BYTES,
        ));
    }
    let mut text = vec![0u8; source.size() as usize];
    source.read_at(&mut text, 0)?;
    let desc =
        descriptor::parse(&text, ctx.limits.max_entries).map_err(|e| parse_error(&path, 0, e))?;
    let create_type = desc.create_type.as_deref().unwrap_or("");
    if matches!(
        create_type,
        "fullDevice"
            | "partitionedDevice"
            | "vmfsRaw"
            | "vmfsRDM"
            | "vmfsRawDeviceMap"
            | "vmfsPassthroughRawDeviceMap"
    ) {
        return Err(DiskError::unsupported(
            &path,
            Layer::Vmdk,
            format!("createType {create_type} (the disk is a host device)"),
        ));
    }
    if desc.extents.is_empty() {
        return Err(DiskError::corrupt(
            &path,
            Layer::Vmdk,
            0,
            "descriptor",
            "no extent lines",
        ));
    }
    let mut total = 0u64;
    let sparse_count = desc
        .extents
        .iter()
        .filter(|e| matches!(e.kind, ExtentKind::Sparse | ExtentKind::VmfsSparse))
        .count();
    let mut budget = Budget::new(ctx.limits, sparse_count as u64);
    // Extent files by canonical path: a file named on many lines is opened once.
    let mut files: HashMap<PathBuf, ImageSource> = HashMap::new();
    let mut extents = Vec::with_capacity(desc.extents.len());
    let mut extent_paths: Vec<PathBuf> = Vec::new();
    let mut details = Details::default();
    for line in &desc.extents {
        let bytes = line.sectors.checked_mul(SECTOR);
        total = bytes
            .and_then(|b| total.checked_add(b))
            .filter(|&t| t <= ctx.limits.max_virtual_size)
            .ok_or_else(|| {
                DiskError::limit(
                    &path,
                    Layer::Vmdk,
                    "extents total size",
                    total.saturating_add(line.sectors.saturating_mul(SECTOR)),
                    ctx.limits.max_virtual_size,
                )
            })?;
        let bytes = bytes.unwrap_or(0);
        let here = |reason: String| {
            DiskError::corrupt(
                &path,
                Layer::Vmdk,
                0,
                format!("extent line {}", line.line),
                reason,
            )
        };
        if line.access == Access::Denied {
            return Err(DiskError::unsupported(
                &path,
                Layer::Vmdk,
                format!("NOACCESS extent on descriptor line {}", line.line),
            ));
        }
        let name = match (&line.kind, &line.file) {
            (ExtentKind::Zero, _) => {
                extents.push((bytes, ExtentData::Zero));
                continue;
            }
            (ExtentKind::SeSparse | ExtentKind::RawDevice, _) => {
                return Err(DiskError::unsupported(
                    &path,
                    Layer::Vmdk,
                    format!("{:?} extent on descriptor line {}", line.kind, line.line),
                ))
            }
            (_, Some(name)) => name,
            (_, None) => return Err(here("no file name".into())),
        };
        let canonical = ctx.resolve(&path, name, Layer::Vmdk)?;
        let file = match files.get(&canonical) {
            Some(f) => f.clone(),
            None => {
                let f = ctx.open_referenced_file(&path, name, Layer::Vmdk)?;
                extent_paths.push(f.path.clone());
                files.insert(canonical, f.clone());
                f
            }
        };
        match line.kind {
            ExtentKind::Flat => {
                let start = line.offset.checked_mul(SECTOR);
                let fits = start
                    .and_then(|s| s.checked_add(bytes))
                    .is_some_and(|end| end <= file.size());
                if !fits {
                    return Err(here(format!(
                        "flat extent {name:?} of {bytes} bytes at sector {} does not fit in the file ({} bytes)",
                        line.offset,
                        file.size()
                    )));
                }
                extents.push((
                    bytes,
                    ExtentData::Flat {
                        file: file.device.clone(),
                        offset: start.unwrap_or(0),
                    },
                ));
            }
            _ => {
                let mut magic = [0u8; 4];
                if file.size() >= 4 {
                    file.read_at(&mut magic, 0)?;
                }
                if &magic == b"COWD" {
                    return Err(cowd_unsupported(&file.path));
                }
                let header = sparse::read_header(&file)?;
                if header.capacity_sectors != line.sectors {
                    return Err(here(format!(
                        "sparse extent {name:?} has a capacity of {} sectors, the descriptor says {}",
                        header.capacity_sectors, line.sectors
                    )));
                }
                let s = SparseExtent::open(file, header, ctx.limits, &mut budget)?;
                details.sparse(&s);
                extents.push((bytes, ExtentData::Sparse(Box::new(s))));
            }
        }
    }
    finish(source, ctx, &desc, extents, extent_paths, details)
}

/// Facts gathered from the sparse extents.
#[derive(Default)]
struct Details {
    sparse_version: Option<u32>,
    grain_size: Option<u64>,
    compression: Option<&'static str>,
}

impl Details {
    fn sparse(&mut self, s: &SparseExtent) {
        self.sparse_version.get_or_insert(s.header.version);
        self.grain_size.get_or_insert(s.grain_bytes());
        let c = if s.header.compressed() || s.flagged_compressed() {
            "deflate"
        } else {
            "none"
        };
        self.compression.get_or_insert(c);
    }
}

/// Opens the parent, builds the device and the info.
fn finish(
    source: ImageSource,
    ctx: &OpenContext,
    desc: &Descriptor,
    extents: Vec<(u64, ExtentData)>,
    extent_paths: Vec<PathBuf>,
    details: Details,
) -> Result<OpenedImage> {
    let path = source.path.clone();
    let parent = match desc.parent_hint.as_deref().filter(|h| !h.is_empty()) {
        Some(hint) => Some(ctx.open_backing(&path, hint, None, Layer::Vmdk)?),
        None => None,
    };
    let device = VmdkDevice::new(
        path.display().to_string(),
        extents,
        parent.as_ref().map(|p| p.device.clone()),
    );
    let mut info = ImageInfo::new(
        &source,
        ImageFormat::Vmdk,
        crate::block::BlockDevice::size(&device),
    );
    if let Some(t) = &desc.create_type {
        info.detail("create_type", t);
    }
    if let Some(v) = &desc.version {
        info.detail("descriptor_version", v);
    }
    if let Some(v) = details.sparse_version {
        info.detail("version", v);
    }
    if let Some(g) = details.grain_size {
        info.detail("grain_size", g);
    }
    if let Some(c) = details.compression {
        info.detail("compression", c);
    }
    if let Some(c) = &desc.cid {
        info.detail("cid", c);
    }
    if let Some(c) = &desc.parent_cid {
        info.detail("parent_cid", c);
    }
    if let Some(h) = &desc.parent_hint {
        info.detail("parent_hint", h);
    }
    for (key, name) in [
        ("ddb.adapterType", "adapter_type"),
        ("ddb.virtualHWVersion", "hw_version"),
        ("ddb.uuid.image", "uuid"),
        ("ddb.toolsVersion", "tools_version"),
    ] {
        if let Some(v) = desc.ddb.get(key) {
            info.detail(name, v);
        }
    }
    info.detail("extent_count", desc.extents.len().max(1));
    info.extents = extent_paths;
    info.backing = parent.map(|p| Box::new(p.info));
    let device: DeviceRef = Arc::new(device);
    Ok(OpenedImage { info, device })
}
