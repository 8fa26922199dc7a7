//! qcow2 images (qemu's copy-on-write format, versions 2 and 3).
//!
//! Opening reads and checks the header and its extensions, loads the L1 table,
//! opens the backing chain through [`OpenContext::open_backing`] (which confines
//! paths and refuses loops) and lists internal snapshots. The returned device
//! maps guest reads through the L1/L2 tables; see [`device`] for the read path.
//!
//! Supported: compat 0.10 and 1.1, 512 B .. 2 MiB clusters, zero clusters,
//! zlib (raw deflate) and zstd compressed clusters, extended L2 entries with
//! subclusters, backing files with a stated format. Encrypted images open (so
//! their facts can be shown) but every read fails with
//! [`DiskError::Encrypted`]. External data files are refused as unsupported.

mod compressed;
mod device;
mod header;
mod snapshot;
mod table;

use std::sync::Arc;

use crate::error::{DiskError, Layer, Result};
use crate::format::{ImageFormat, ImageInfo, ImageSource, OpenContext, OpenedImage};

use compressed::{ClusterCache, Codec};
use device::Qcow2Device;
use header::{Header, AUTOCLEAR_BITMAPS, COMPAT_LAZY_REFCOUNTS, INCOMPAT_CORRUPT, INCOMPAT_DIRTY};
use table::{Geometry, Tables};

/// Opens a qcow2 image stored in `source`.
pub(crate) fn open(source: ImageSource, ctx: &OpenContext) -> Result<OpenedImage> {
    let h = header::parse(&source)?;
    let path = source.path.clone();
    let limits = ctx.limits;
    if h.size > limits.max_virtual_size {
        return Err(DiskError::limit(
            &path,
            Layer::Qcow2,
            "virtual size",
            h.size,
            limits.max_virtual_size,
        ));
    }
    let geo = Geometry::new(h.cluster_bits, h.extended_l2());
    let l1 = load_l1(&source, &h, geo, limits.max_table_bytes)?;

    let backing_name = header::backing_name(&source, &h)?;
    let backing = match &backing_name {
        Some(name) => {
            let stated = match &h.backing_format {
                Some(f) => Some(f.parse::<ImageFormat>().map_err(|_| {
                    DiskError::unsupported(&path, Layer::Qcow2, format!("backing format {f:?}"))
                })?),
                None => None,
            };
            Some(ctx.open_backing(&path, name, stated, Layer::Qcow2)?)
        }
        None => None,
    };
    let snapshots = snapshot::read(&source, &h, limits)?;

    let mut info = ImageInfo::new(&source, ImageFormat::Qcow2, h.size);
    describe(&mut info, &h, backing_name.as_deref());
    info.snapshots = snapshots;
    let encrypted = match h.crypt_method {
        1 => Some("aes".to_string()),
        2 => Some("luks".to_string()),
        _ => None,
    };
    info.encrypted = encrypted.clone();
    let backing_device = backing.as_ref().map(|b| b.device.clone());
    info.backing = backing.map(|b| Box::new(b.info));

    let codec = if h.compression_type == 1 {
        Codec::Zstd
    } else {
        Codec::Deflate
    };
    let tables = Tables::new(
        path.clone(),
        source.device.clone(),
        geo,
        l1,
        h.l1_table_offset,
        limits.max_cache_bytes,
    );
    let device = Qcow2Device {
        path,
        file: source.device.clone(),
        size: h.size,
        tables,
        codec,
        clusters: ClusterCache::new(h.cluster_size(), limits.max_cache_bytes / 4),
        backing: backing_device,
        encrypted,
    };
    Ok(OpenedImage {
        info,
        device: Arc::new(device),
    })
}

/// Checks the L1 table's size and place against the limits, the virtual size
/// and the file, then loads it.
fn load_l1(
    source: &ImageSource,
    h: &Header,
    geo: Geometry,
    max_table_bytes: u64,
) -> Result<Box<[u64]>> {
    let path = source.path.as_path();
    let l1_bytes = u64::from(h.l1_size) * 8;
    if l1_bytes > max_table_bytes {
        return Err(DiskError::limit(
            path,
            Layer::Qcow2,
            "L1 table bytes (l1_size * 8)",
            l1_bytes,
            max_table_bytes,
        ));
    }
    let needed = h.size.div_ceil(geo.l2_span());
    if u64::from(h.l1_size) < needed {
        return Err(DiskError::corrupt(
            path,
            Layer::Qcow2,
            36,
            "l1_size",
            format!(
                "{} entries cannot map a virtual size of {} bytes ({needed} needed)",
                h.l1_size, h.size
            ),
        ));
    }
    if h.l1_size == 0 {
        return Ok(Box::default());
    }
    let fits = h.l1_table_offset.is_multiple_of(h.cluster_size())
        && h.l1_table_offset
            .checked_add(l1_bytes)
            .is_some_and(|e| e <= source.size());
    if !fits {
        return Err(DiskError::corrupt(
            path,
            Layer::Qcow2,
            40,
            "l1_table_offset",
            format!(
                "L1 table of {l1_bytes} bytes at {} is unaligned or past the end of the file ({} bytes)",
                h.l1_table_offset,
                source.size()
            ),
        ));
    }
    Tables::load_l1(&source.device, h.l1_table_offset, h.l1_size)
}

/// Records the header's facts in `info.details`.
fn describe(info: &mut ImageInfo, h: &Header, backing_name: Option<&str>) {
    let compat = if h.version == 2 { "0.10" } else { "1.1" };
    info.detail("version", h.version);
    info.detail("compat", compat);
    info.detail("cluster_size", h.cluster_size());
    info.detail("compression_type", h.compression_name());
    info.detail("extended_l2", h.extended_l2());
    info.detail("refcount_bits", 1u64 << h.refcount_order.min(6));
    info.detail("dirty", h.incompatible & INCOMPAT_DIRTY != 0);
    info.detail("corrupt", h.incompatible & INCOMPAT_CORRUPT != 0);
    info.detail("lazy_refcounts", h.compatible & COMPAT_LAZY_REFCOUNTS != 0);
    info.detail("l1_size", h.l1_size);
    if let Some(name) = backing_name {
        info.detail("backing_file", name);
    }
    if let Some(fmt) = &h.backing_format {
        info.detail("backing_format", fmt);
    }
    if h.autoclear & AUTOCLEAR_BITMAPS != 0 {
        info.detail("bitmaps", h.nb_bitmaps.unwrap_or(0));
    }
    if let Some((off, len)) = h.crypto_header {
        info.detail("crypto_header", format!("{len} bytes at {off}"));
    }
}
