//! Container formats: detection by content and one reader per format, each
//! giving a read-only [`BlockDevice`] of the virtual disk.

mod qcow2;
mod raw;
mod runs;
mod vdi;
mod vhd;
mod vhdx;
mod vmdk;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;

use serde::Serialize;

use crate::block::{BlockDevice, DeviceRef, IoStats};
use crate::error::{DiskError, Layer, Result};
use crate::file::FileDevice;
use crate::limits::Limits;
use crate::paths::ImageRoots;

/// A container format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ImageFormat {
    Raw,
    Qcow2,
    Vmdk,
    Vdi,
    Vhdx,
    /// Microsoft VHD, called `vpc` by qemu.
    Vhd,
}

impl ImageFormat {
    /// The canonical lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            ImageFormat::Raw => "raw",
            ImageFormat::Qcow2 => "qcow2",
            ImageFormat::Vmdk => "vmdk",
            ImageFormat::Vdi => "vdi",
            ImageFormat::Vhdx => "vhdx",
            ImageFormat::Vhd => "vhd",
        }
    }

    /// The layer that reports errors for this format.
    pub fn layer(self) -> Layer {
        match self {
            ImageFormat::Raw => Layer::Raw,
            ImageFormat::Qcow2 => Layer::Qcow2,
            ImageFormat::Vmdk => Layer::Vmdk,
            ImageFormat::Vdi => Layer::Vdi,
            ImageFormat::Vhdx => Layer::Vhdx,
            ImageFormat::Vhd => Layer::Vhd,
        }
    }
}

impl fmt::Display for ImageFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Error of [`ImageFormat::from_str`].
#[derive(Debug, thiserror::Error)]
#[error("unknown image format {0:?} (expected raw, qcow2, vmdk, vdi, vhdx, vhd or vpc)")]
pub struct UnknownFormat(pub String);

impl FromStr for ImageFormat {
    type Err = UnknownFormat;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s.to_ascii_lowercase().as_str() {
            "raw" | "img" => ImageFormat::Raw,
            "qcow2" => ImageFormat::Qcow2,
            "vmdk" => ImageFormat::Vmdk,
            "vdi" => ImageFormat::Vdi,
            "vhdx" => ImageFormat::Vhdx,
            "vhd" | "vpc" => ImageFormat::Vhd,
            _ => return Err(UnknownFormat(s.to_string())),
        })
    }
}

/// Detects the container format from the content, never the file name.
pub fn detect(file: &dyn BlockDevice) -> Result<ImageFormat> {
    let mut head = [0u8; 512];
    let n = usize::try_from(file.size().min(512)).unwrap_or(512);
    file.read_at(&mut head[..n], 0)?;
    let head = &head[..n];
    if head.starts_with(b"QFI\xfb") {
        return Ok(ImageFormat::Qcow2);
    }
    if head.starts_with(b"KDMV") || head.starts_with(b"COWD") || is_vmdk_descriptor(head) {
        return Ok(ImageFormat::Vmdk);
    }
    if head.starts_with(b"vhdxfile") {
        return Ok(ImageFormat::Vhdx);
    }
    if head.len() >= 0x44 && head[0x40..0x44] == 0xbeda_107f_u32.to_le_bytes() {
        return Ok(ImageFormat::Vdi);
    }
    if head.starts_with(b"conectix") {
        return Ok(ImageFormat::Vhd);
    }
    // A fixed VHD has only a footer: 512 bytes from the end, or 511 in images
    // written by old Virtual PC versions.
    for footer_len in [512u64, 511] {
        if file.size() >= footer_len {
            let mut cookie = [0u8; 8];
            file.read_at(&mut cookie, file.size() - footer_len)?;
            if &cookie == b"conectix" {
                return Ok(ImageFormat::Vhd);
            }
        }
    }
    Ok(ImageFormat::Raw)
}

/// A text VMDK descriptor: starts with a comment line naming the file type,
/// or a `version=` / `CID=` line.
fn is_vmdk_descriptor(head: &[u8]) -> bool {
    let text = String::from_utf8_lossy(head);
    let trimmed = text.trim_start();
    trimmed.starts_with("# Disk DescriptorFile")
        || (trimmed.contains("createType=") && trimmed.contains("CID="))
}

/// One internal snapshot stored in an image.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct SnapshotInfo {
    pub id: String,
    pub name: String,
    /// Size of the saved VM state (0 for a disk-only snapshot).
    pub vm_state_size: u64,
    /// Creation time, seconds since the Unix epoch.
    pub date_sec: u64,
    /// Guest clock at the snapshot, nanoseconds.
    pub vm_clock_nsec: u64,
    /// Virtual disk size at the snapshot, when the format records it.
    pub disk_size: Option<u64>,
}

/// What `guestctl disk info` reports about one image file.
#[derive(Debug, Clone, Serialize)]
pub struct ImageInfo {
    pub path: PathBuf,
    pub format: ImageFormat,
    pub virtual_size: u64,
    /// Size of the image file.
    pub file_size: u64,
    /// Bytes the host filesystem allocated for the file (sparse files use less).
    pub allocated_bytes: u64,
    /// Encryption method when the image is encrypted (reads then fail).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encrypted: Option<String>,
    /// Format-specific facts (cluster size, subformat, compression, flags).
    pub details: BTreeMap<String, String>,
    /// Internal snapshots.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub snapshots: Vec<SnapshotInfo>,
    /// Extra data files (vmdk extents).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub extents: Vec<PathBuf>,
    /// The backing image, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backing: Option<Box<ImageInfo>>,
}

/// The bytes of one image file, as handed to a format reader.
#[derive(Debug, Clone)]
pub struct ImageSource {
    /// Where the image lives (used in errors and to resolve backing files).
    pub path: PathBuf,
    /// The file's bytes.
    pub device: DeviceRef,
    /// Bytes the host allocated for the file.
    pub allocated: u64,
}

impl ImageSource {
    /// A source for an opened host file.
    pub fn from_file(file: FileDevice) -> Self {
        ImageSource {
            path: file.path().to_path_buf(),
            allocated: file.allocated(),
            device: Arc::new(file),
        }
    }

    /// Size of the image file.
    pub fn size(&self) -> u64 {
        self.device.size()
    }

    /// Reads exactly `buf.len()` bytes at `offset` of the image file.
    pub fn read_at(&self, buf: &mut [u8], offset: u64) -> Result<()> {
        self.device.read_at(buf, offset)
    }

    /// Reads a `len`-byte structure at `offset`, or fails with a `Corrupt`
    /// error naming `field` when the file is too short to hold it.
    pub fn read_struct(
        &self,
        layer: Layer,
        offset: u64,
        len: usize,
        field: &str,
    ) -> Result<Vec<u8>> {
        let end = offset.checked_add(len as u64);
        if end.is_none_or(|end| end > self.size()) {
            return Err(DiskError::corrupt(
                &self.path,
                layer,
                offset,
                field,
                format!(
                    "{len} bytes needed at offset {offset} but the file is only {} bytes long",
                    self.size()
                ),
            ));
        }
        let mut buf = vec![0u8; len];
        self.read_at(&mut buf, offset)?;
        Ok(buf)
    }
}

impl ImageInfo {
    /// Basic facts for an image stored in `source`.
    pub fn new(source: &ImageSource, format: ImageFormat, virtual_size: u64) -> Self {
        ImageInfo {
            path: source.path.clone(),
            format,
            virtual_size,
            file_size: source.size(),
            allocated_bytes: source.allocated,
            encrypted: None,
            details: BTreeMap::new(),
            snapshots: Vec::new(),
            extents: Vec::new(),
            backing: None,
        }
    }

    /// Adds a format-specific fact.
    pub fn detail(&mut self, key: &str, value: impl fmt::Display) {
        self.details.insert(key.to_string(), value.to_string());
    }

    /// The chain from this image down to its base, this image first.
    pub fn chain(&self) -> Vec<&ImageInfo> {
        let mut out = vec![self];
        let mut cur = self;
        while let Some(b) = cur.backing.as_deref() {
            out.push(b);
            cur = b;
        }
        out
    }
}

/// An opened image: its facts and the device of its virtual disk.
#[derive(Debug, Clone)]
pub struct OpenedImage {
    pub info: ImageInfo,
    pub device: DeviceRef,
}

/// Caller's options for [`open_image`].
#[derive(Debug, Clone, Default)]
pub struct OpenOptions {
    /// Bounds on everything read from the image.
    pub limits: Limits,
    /// Directories backing files and extents may come from. Empty means the
    /// directory of the opened image only.
    pub roots: ImageRoots,
    /// The format the caller says the image has; a disagreement with the
    /// content is an error naming both.
    pub stated_format: Option<ImageFormat>,
}

/// State carried while opening an image and its backing chain.
#[derive(Debug)]
pub struct OpenContext<'a> {
    /// Bounds on everything read from the image.
    pub limits: &'a Limits,
    roots: &'a ImageRoots,
    stats: Arc<IoStats>,
    /// Canonical paths of the images above this one in the chain (loop check).
    chain: Vec<PathBuf>,
}

impl<'a> OpenContext<'a> {
    /// Current depth in the backing chain (0 for the top image).
    pub fn depth(&self) -> usize {
        self.chain.len().saturating_sub(1)
    }

    /// The I/O counters shared by every file of this image.
    pub fn stats(&self) -> &Arc<IoStats> {
        &self.stats
    }

    /// Resolves a path named inside `from_image` (backing file or extent)
    /// within the allowed roots.
    pub fn resolve(&self, from_image: &Path, referenced: &str, layer: Layer) -> Result<PathBuf> {
        self.roots.resolve(from_image, referenced, layer)
    }

    /// Opens a data file named inside `from_image` (e.g. a vmdk extent) read-only.
    pub fn open_referenced_file(
        &self,
        from_image: &Path,
        referenced: &str,
        layer: Layer,
    ) -> Result<ImageSource> {
        let path = self.resolve(from_image, referenced, layer)?;
        Ok(ImageSource::from_file(FileDevice::open(
            &path,
            self.stats.clone(),
        )?))
    }

    /// Opens the backing image named inside `from_image`, checking the chain
    /// depth and refusing loops.
    pub fn open_backing(
        &self,
        from_image: &Path,
        referenced: &str,
        stated: Option<ImageFormat>,
        layer: Layer,
    ) -> Result<OpenedImage> {
        let path = self.resolve(from_image, referenced, layer)?;
        if self.chain.contains(&path) {
            return Err(DiskError::PathRefused {
                path: from_image.to_path_buf(),
                layer,
                referenced: referenced.to_string(),
                reason: "backing chain loops back to an image already in the chain".into(),
            });
        }
        if self.chain.len() > self.limits.max_chain_depth {
            return Err(DiskError::limit(
                from_image,
                layer,
                "backing chain depth",
                self.chain.len() as u64,
                self.limits.max_chain_depth as u64,
            ));
        }
        let mut chain = self.chain.clone();
        chain.push(path.clone());
        let ctx = OpenContext {
            limits: self.limits,
            roots: self.roots,
            stats: self.stats.clone(),
            chain,
        };
        open_with(&path, stated, &ctx)
    }
}

/// Opens the image at `path` read-only, detecting its format by content.
pub fn open_image(path: &Path, options: &OpenOptions) -> Result<OpenedImage> {
    open_image_counted(path, options, Arc::new(IoStats::default()))
}

/// Like [`open_image`], counting every byte read from the image's files into
/// `stats`.
pub fn open_image_counted(
    path: &Path,
    options: &OpenOptions,
    stats: Arc<IoStats>,
) -> Result<OpenedImage> {
    let canonical = path.canonicalize().map_err(|source| DiskError::Io {
        path: path.to_path_buf(),
        layer: Layer::File,
        offset: 0,
        source,
    })?;
    let default_roots;
    let roots = if options.roots.is_empty() {
        default_roots = ImageRoots::new([canonical.parent().unwrap_or(Path::new("/"))]);
        &default_roots
    } else {
        &options.roots
    };
    let ctx = OpenContext {
        limits: &options.limits,
        roots,
        stats,
        chain: vec![canonical.clone()],
    };
    open_with(&canonical, options.stated_format, &ctx)
}

/// Opens an image whose bytes are already in `device` (fuzzing, tests, remote
/// sources). `name` is used in errors and to resolve backing files, which must
/// lie inside `options.roots` (with no roots, none can be opened).
pub fn open_device(device: DeviceRef, name: &Path, options: &OpenOptions) -> Result<OpenedImage> {
    let ctx = OpenContext {
        limits: &options.limits,
        roots: &options.roots,
        stats: Arc::new(IoStats::default()),
        chain: vec![name.to_path_buf()],
    };
    let source = ImageSource {
        path: name.to_path_buf(),
        device,
        allocated: 0,
    };
    open_source(source, options.stated_format, &ctx)
}

fn open_with(path: &Path, stated: Option<ImageFormat>, ctx: &OpenContext) -> Result<OpenedImage> {
    let file = FileDevice::open(path, ctx.stats.clone())?;
    open_source(ImageSource::from_file(file), stated, ctx)
}

fn open_source(
    source: ImageSource,
    stated: Option<ImageFormat>,
    ctx: &OpenContext,
) -> Result<OpenedImage> {
    let path = source.path.clone();
    let path = path.as_path();
    let detected = detect(source.device.as_ref())?;
    if let Some(stated) = stated {
        if stated != detected {
            return Err(DiskError::FormatMismatch {
                path: path.to_path_buf(),
                stated: stated.to_string(),
                detected: detected.to_string(),
            });
        }
    }
    let opened = match detected {
        ImageFormat::Raw => raw::open(source, ctx)?,
        ImageFormat::Qcow2 => qcow2::open(source, ctx)?,
        ImageFormat::Vmdk => vmdk::open(source, ctx)?,
        ImageFormat::Vdi => vdi::open(source, ctx)?,
        ImageFormat::Vhdx => vhdx::open(source, ctx)?,
        ImageFormat::Vhd => vhd::open(source, ctx)?,
    };
    let size = opened.device.size();
    if size > ctx.limits.max_virtual_size {
        return Err(DiskError::limit(
            path,
            detected.layer(),
            "virtual size",
            size,
            ctx.limits.max_virtual_size,
        ));
    }
    Ok(opened)
}
