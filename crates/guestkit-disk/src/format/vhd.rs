//! Microsoft VHD images (qemu's `vpc`): fixed and dynamic.
//!
//! Every VHD ends with a 512-byte big-endian footer (`conectix`; images made
//! before Virtual PC 2004 have a 511-byte one). A fixed disk is the raw data
//! followed by the footer. A dynamic disk starts with a copy of the footer,
//! then a dynamic-disk header (`cxsparse`) pointing at the block allocation
//! table (BAT, big-endian u32 sector numbers). Each allocated block is a sector
//! bitmap followed by the block's data; a clear bit means the sector was never
//! written and reads as zeros.
//!
//! The virtual size follows qemu: images written by Virtual PC and by qemu
//! without `force_size` are sized by their CHS geometry; Hyper-V, disk2vhd,
//! XenServer, XenConverter and `force_size` qemu images (`qem2`), and images
//! with the maximum geometry, by the footer's current size.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use crate::block::bytes;
use crate::error::{DiskError, Layer, Result};
use crate::format::runs::{MappedDevice, Run, RunMap};
use crate::format::{ImageFormat, ImageInfo, ImageSource, OpenContext, OpenedImage};
use crate::uuid::uuid_be;

const FOOTER: usize = 512;
const DYN_HEADER: usize = 1024;
const TYPE_FIXED: u32 = 2;
const TYPE_DYNAMIC: u32 = 3;
const TYPE_DIFF: u32 = 4;
const UNALLOCATED: u32 = 0xffff_ffff;
/// 65535 cylinders × 16 heads × 255 sectors: the largest CHS geometry.
const MAX_GEOMETRY_SECTORS: u64 = 65535 * 16 * 255;
/// qemu's limit: 2040 GiB.
const MAX_SECTORS: u64 = 0xff00_0000;

fn corrupt(path: &Path, offset: u64, field: &str, reason: impl Into<String>) -> DiskError {
    DiskError::corrupt(path, Layer::Vhd, offset, field, reason)
}

/// One's complement of the byte sum, with the checksum field counted as zero.
fn checksum(data: &[u8], field_at: usize) -> u32 {
    let sum = data
        .iter()
        .enumerate()
        .filter(|(i, _)| !(field_at..field_at + 4).contains(i))
        .fold(0u32, |acc, (_, &b)| acc.wrapping_add(u32::from(b)));
    !sum
}

fn verify_checksum(path: &Path, data: &[u8], at: u64, field_at: usize, what: &str) -> Result<()> {
    let stored = bytes::be32(data, field_at).unwrap_or(0);
    let computed = checksum(data, field_at);
    if stored != computed {
        return Err(corrupt(
            path,
            at + field_at as u64,
            &format!("{what} checksum"),
            format!("stored {stored:#010x}, computed {computed:#010x}"),
        ));
    }
    Ok(())
}

/// Finds the footer: at the end of the file (512 bytes, or 511 for old
/// images), else the copy at offset 0 of a dynamic disk whose tail was lost.
fn find_footer(source: &ImageSource) -> Result<(Vec<u8>, u64)> {
    let size = source.size();
    for len in [FOOTER as u64, FOOTER as u64 - 1] {
        if size >= len {
            let mut buf = vec![0u8; FOOTER];
            if let Some(dst) = buf.get_mut(..len as usize) {
                source.read_at(dst, size - len)?;
            }
            if buf.starts_with(b"conectix") {
                return Ok((buf, size - len));
            }
        }
    }
    if size >= FOOTER as u64 {
        let mut buf = vec![0u8; FOOTER];
        source.read_at(&mut buf, 0)?;
        if buf.starts_with(b"conectix") {
            return Ok((buf, 0));
        }
    }
    Err(corrupt(
        &source.path,
        size.saturating_sub(FOOTER as u64),
        "footer",
        format!("no `conectix` footer at the end of the file ({size} bytes) nor at offset 0"),
    ))
}

/// The virtual size qemu gives this footer, in bytes.
fn virtual_size(path: &Path, footer: &[u8]) -> Result<(u64, &'static str)> {
    let cyls = u64::from(bytes::be16(footer, 56).unwrap_or(0));
    let heads = u64::from(footer.get(58).copied().unwrap_or(0));
    let secs = u64::from(footer.get(59).copied().unwrap_or(0));
    let chs = cyls * heads * secs;
    let creator = bytes::array::<4>(footer, 28).unwrap_or_default();
    let sized_by_current = matches!(&creator, b"win " | b"qem2" | b"d2v " | b"CTXS" | b"tap\0");
    let current = bytes::be64(footer, 48).unwrap_or(0) / 512;
    let (sectors, basis) = if sized_by_current || chs == MAX_GEOMETRY_SECTORS {
        (current, "current_size")
    } else {
        (chs, "geometry")
    };
    if sectors > MAX_SECTORS {
        return Err(corrupt(
            path,
            if basis == "geometry" { 56 } else { 48 },
            "disk size",
            format!("{sectors} sectors ({basis}) is more than the 2040 GiB a VHD can address"),
        ));
    }
    Ok((sectors * 512, basis))
}

/// Cached state of one block's sector bitmap.
#[derive(Debug)]
enum Bitmap {
    /// Every sector of the block is present.
    Full,
    /// The bitmap bytes (bit 7 of byte 0 is sector 0).
    Partial(Box<[u8]>),
}

/// The virtual disk of a dynamic VHD.
#[derive(Debug)]
struct DynamicMap {
    block_size: u64,
    bitmap_bytes: u64,
    bat: Vec<u32>,
    bitmaps: Mutex<HashMap<usize, Arc<Bitmap>>>,
    max_cached: usize,
}

impl DynamicMap {
    fn bitmap(&self, source: &ImageSource, index: usize, block_off: u64) -> Result<Arc<Bitmap>> {
        if let Ok(cache) = self.bitmaps.lock() {
            if let Some(b) = cache.get(&index) {
                return Ok(b.clone());
            }
        }
        // bitmap_bytes is bounded by the block size (≤ 256 MiB / 4096).
        let mut raw = vec![0u8; self.bitmap_bytes as usize];
        source.read_at(&mut raw, block_off)?;
        let sectors = (self.block_size / 512) as usize;
        let full_bytes = sectors / 8;
        let full = raw
            .get(..full_bytes)
            .is_some_and(|b| b.iter().all(|&x| x == 0xff));
        let bitmap = Arc::new(if full {
            Bitmap::Full
        } else {
            Bitmap::Partial(raw.into_boxed_slice())
        });
        if let Ok(mut cache) = self.bitmaps.lock() {
            if cache.len() >= self.max_cached {
                cache.clear();
            }
            cache.insert(index, bitmap.clone());
        }
        Ok(bitmap)
    }
}

impl RunMap for DynamicMap {
    fn run(&self, source: &ImageSource, off: u64, max: usize) -> Result<(Run, usize)> {
        let index = off / self.block_size;
        let within = off % self.block_size;
        let len = (self.block_size - within).min(max as u64);
        let entry = usize::try_from(index)
            .ok()
            .and_then(|i| self.bat.get(i).copied())
            .unwrap_or(UNALLOCATED);
        if entry == UNALLOCATED {
            return Ok((Run::Zero, len as usize));
        }
        let block_off = u64::from(entry) * 512;
        let data_off = block_off + self.bitmap_bytes;
        match &*self.bitmap(source, index as usize, block_off)? {
            Bitmap::Full => Ok((Run::Data(data_off + within), len as usize)),
            Bitmap::Partial(bits) => {
                let is_set = |sector: u64| {
                    bits.get((sector / 8) as usize)
                        .is_some_and(|b| b & (0x80 >> (sector % 8)) != 0)
                };
                let first = within / 512;
                let present = is_set(first);
                // Extend the run over sectors with the same state.
                let mut end = (first + 1) * 512;
                while end < within + len && is_set(end / 512) == present {
                    end += 512;
                }
                let run_len = (end.min(within + len) - within) as usize;
                if present {
                    Ok((Run::Data(data_off + within), run_len))
                } else {
                    Ok((Run::Zero, run_len))
                }
            }
        }
    }
}

/// Opens a VHD image.
pub(crate) fn open(source: ImageSource, ctx: &OpenContext) -> Result<OpenedImage> {
    let path = source.path.clone();
    let limits = ctx.limits;
    let (footer, footer_at) = find_footer(&source)?;
    verify_checksum(&path, &footer, footer_at, 64, "footer")?;
    let disk_type = bytes::be32(&footer, 60).unwrap_or(0);
    let (size, basis) = virtual_size(&path, &footer)?;
    if size > limits.max_virtual_size {
        return Err(DiskError::limit(
            &path,
            Layer::Vhd,
            "virtual size",
            size,
            limits.max_virtual_size,
        ));
    }
    let mut info = ImageInfo::new(&source, ImageFormat::Vhd, size);
    let creator = bytes::array::<4>(&footer, 28).unwrap_or_default();
    info.detail(
        "creator_app",
        String::from_utf8_lossy(&creator).trim_end_matches(['\0', ' ']),
    );
    info.detail("size_from", basis);
    info.detail("current_size", bytes::be64(&footer, 48).unwrap_or(0));
    info.detail(
        "uuid",
        uuid_be(&bytes::array(&footer, 68).unwrap_or_default()),
    );
    if footer_at != source.size().saturating_sub(FOOTER as u64) {
        info.detail(
            "footer",
            format!(
                "{} bytes at {footer_at}",
                source.size() - footer_at.min(source.size())
            ),
        );
    }

    match disk_type {
        TYPE_FIXED => {
            if footer_at == 0 && source.size() > FOOTER as u64 {
                return Err(corrupt(
                    &path,
                    0,
                    "footer",
                    "a fixed disk must have its footer at the end of the file",
                ));
            }
            if size > footer_at {
                return Err(corrupt(
                    &path,
                    48,
                    "disk size",
                    format!(
                        "fixed disk of {size} bytes does not fit before the footer at {footer_at}"
                    ),
                ));
            }
            info.detail("subformat", "fixed");
            let device = crate::block::SliceDevice::new(
                source.device.clone(),
                0,
                size,
                path.display().to_string(),
            )?;
            Ok(OpenedImage {
                info,
                device: Arc::new(device),
            })
        }
        TYPE_DYNAMIC => {
            info.detail("subformat", "dynamic");
            open_dynamic(source, &footer, size, info, ctx)
        }
        TYPE_DIFF => Err(DiskError::unsupported(
            &path,
            Layer::Vhd,
            "differencing disk (parent locators are not followed)",
        )),
        other => Err(corrupt(
            &path,
            footer_at + 60,
            "disk type",
            format!("unknown type {other}"),
        )),
    }
}

fn open_dynamic(
    source: ImageSource,
    footer: &[u8],
    size: u64,
    mut info: ImageInfo,
    ctx: &OpenContext,
) -> Result<OpenedImage> {
    let path = source.path.clone();
    let limits = ctx.limits;
    let header_at = bytes::be64(footer, 16).unwrap_or(u64::MAX);
    let h = source
        .read_struct(Layer::Vhd, header_at, DYN_HEADER, "dynamic disk header")
        .map_err(|_| {
            corrupt(
                &path,
                16,
                "data offset",
                format!(
                    "dynamic disk header at {header_at} is past the end of the file ({} bytes)",
                    source.size()
                ),
            )
        })?;
    if !h.starts_with(b"cxsparse") {
        return Err(corrupt(
            &path,
            header_at,
            "dynamic disk header",
            "no `cxsparse` cookie",
        ));
    }
    verify_checksum(&path, &h, header_at, 36, "dynamic disk header")?;
    let bat_at = bytes::be64(&h, 16).unwrap_or(u64::MAX);
    let entries = bytes::be32(&h, 28).unwrap_or(0);
    let block_size = bytes::be32(&h, 32).unwrap_or(0);
    if !block_size.is_power_of_two() || !(512..=(256 << 20)).contains(&block_size) {
        return Err(corrupt(
            &path,
            header_at + 32,
            "block size",
            format!("{block_size} is not a power of two between 512 B and 256 MiB"),
        ));
    }
    let block_size = u64::from(block_size);
    if u64::from(entries) * block_size < size {
        return Err(corrupt(
            &path,
            header_at + 28,
            "max table entries",
            format!("{entries} blocks of {block_size} bytes cannot hold the disk of {size} bytes"),
        ));
    }
    let bat_bytes = u64::from(entries) * 4;
    if bat_bytes > limits.max_table_bytes {
        return Err(DiskError::limit(
            &path,
            Layer::Vhd,
            "BAT bytes",
            bat_bytes,
            limits.max_table_bytes,
        ));
    }
    let bat_raw = source
        .read_struct(Layer::Vhd, bat_at, bat_bytes as usize, "BAT")
        .map_err(|_| {
            corrupt(
                &path,
                header_at + 16,
                "table offset",
                format!(
                    "BAT of {bat_bytes} bytes at {bat_at} is past the end of the file ({} bytes)",
                    source.size()
                ),
            )
        })?;
    let bitmap_bytes = (block_size / 512).div_ceil(8).next_multiple_of(512);
    let used_blocks = size.div_ceil(block_size);
    let mut bat = Vec::with_capacity(entries as usize);
    let mut allocated = 0u64;
    for (i, chunk) in bat_raw.chunks_exact(4).enumerate() {
        let entry = bytes::be32(chunk, 0).unwrap_or(UNALLOCATED);
        let index = i as u64;
        if entry != UNALLOCATED && index < used_blocks {
            allocated += 1;
            let used = (size - index * block_size).min(block_size);
            let start = u64::from(entry) * 512;
            let end = start + bitmap_bytes + used;
            if end > source.size() {
                return Err(corrupt(
                    &path,
                    bat_at + index * 4,
                    &format!("BAT entry {i}"),
                    format!("block at sector {entry} (bytes {start}..{end}) is past the end of the file ({} bytes)", source.size()),
                ));
            }
        }
        bat.push(entry);
    }
    info.detail("block_size", block_size);
    info.detail("blocks_allocated", allocated);
    let max_cached = usize::try_from(limits.max_cache_bytes / bitmap_bytes.max(64))
        .unwrap_or(usize::MAX)
        .max(1);
    let map = DynamicMap {
        block_size,
        bitmap_bytes,
        bat,
        bitmaps: Mutex::new(HashMap::new()),
        max_cached,
    };
    let device = MappedDevice::new(source, size, map);
    Ok(OpenedImage {
        info,
        device: Arc::new(device),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::block::IoStats;
    use crate::block::MemDevice;
    use crate::limits::Limits;
    use crate::paths::ImageRoots;

    /// Images from before Virtual PC 2004 end with a 511-byte footer.
    #[test]
    fn fixed_disk_with_511_byte_footer() {
        let dir = tempfile::tempdir().unwrap();
        let raw = dir.path().join("d.raw");
        let mut content = vec![0u8; 4 << 20];
        for (i, b) in content.iter_mut().enumerate() {
            *b = (i * 7 % 251) as u8;
        }
        std::fs::write(&raw, &content).unwrap();
        let img = dir.path().join("d.vhd");
        let status = std::process::Command::new("qemu-img")
            .args(["convert", "-q", "-f", "raw", "-O", "vpc", "-o"])
            .args(["subformat=fixed,force_size=on"])
            .arg(&raw)
            .arg(&img)
            .status()
            .unwrap();
        assert!(status.success());
        let mut bytes = std::fs::read(&img).unwrap();
        assert_eq!(bytes.pop(), Some(0), "the footer's last byte is reserved");
        let limits = Limits::default();
        let roots = ImageRoots::default();
        let ctx = OpenContext {
            limits: &limits,
            roots: &roots,
            stats: Arc::new(IoStats::default()),
            chain: vec![img.clone()],
        };
        let source = ImageSource {
            path: img.clone(),
            device: Arc::new(MemDevice::new(bytes, "d.vhd")),
            allocated: 0,
        };
        let opened = open(source, &ctx).unwrap();
        assert_eq!(
            opened.info.details["footer"],
            format!("511 bytes at {}", 4 << 20)
        );
        assert_eq!(opened.device.size(), 4 << 20);
        let mut back = vec![0u8; 4 << 20];
        opened.device.read_at(&mut back, 0).unwrap();
        assert!(back == content);
    }
}
