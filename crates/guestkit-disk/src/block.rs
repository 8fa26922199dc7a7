//! The [`BlockDevice`] contract and the small devices every layer stacks on.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crate::error::{DiskError, Result};

/// A read-only, fixed-size array of bytes read by position.
///
/// `read_at` takes `&self` and keeps no seek state, so one device can serve
/// several filesystems and threads at once. Image formats, partitions, LVM
/// volumes and md arrays are all `BlockDevice`s stacked on each other.
pub trait BlockDevice: Send + Sync + fmt::Debug {
    /// Size of the device in bytes.
    fn size(&self) -> u64;

    /// Fills `buf` with the bytes at `offset`. The whole range must lie inside
    /// the device; otherwise [`DiskError::OutOfRange`] is returned.
    fn read_at(&self, buf: &mut [u8], offset: u64) -> Result<()>;

    /// A short human description used in errors (e.g. the image path, or
    /// `disk0p2`).
    fn describe(&self) -> String;
}

/// Shared handle to a device.
pub type DeviceRef = Arc<dyn BlockDevice>;

/// Checks that `[offset, offset + len)` lies within `size`.
pub fn check_range(
    describe: impl FnOnce() -> String,
    offset: u64,
    len: usize,
    size: u64,
) -> Result<()> {
    let len = len as u64;
    match offset.checked_add(len) {
        Some(end) if end <= size => Ok(()),
        _ => Err(DiskError::OutOfRange {
            device: describe(),
            offset,
            len,
            size,
        }),
    }
}

/// A window `[offset, offset + size)` of another device: a partition, an LV
/// segment, an extent.
#[derive(Debug, Clone)]
pub struct SliceDevice {
    inner: DeviceRef,
    offset: u64,
    size: u64,
    name: String,
}

impl SliceDevice {
    /// A window of `inner`; fails when the window does not fit inside it.
    pub fn new(inner: DeviceRef, offset: u64, size: u64, name: impl Into<String>) -> Result<Self> {
        let name = name.into();
        check_range(|| inner.describe(), offset, 0, inner.size())?;
        match offset.checked_add(size) {
            Some(end) if end <= inner.size() => {}
            _ => {
                return Err(DiskError::OutOfRange {
                    device: format!("{} (window {name})", inner.describe()),
                    offset,
                    len: size,
                    size: inner.size(),
                })
            }
        }
        Ok(SliceDevice {
            inner,
            offset,
            size,
            name,
        })
    }

    /// Offset of the window inside the underlying device.
    pub fn offset(&self) -> u64 {
        self.offset
    }
}

impl BlockDevice for SliceDevice {
    fn size(&self) -> u64 {
        self.size
    }

    fn read_at(&self, buf: &mut [u8], offset: u64) -> Result<()> {
        check_range(|| self.describe(), offset, buf.len(), self.size)?;
        self.inner.read_at(buf, self.offset + offset)
    }

    fn describe(&self) -> String {
        self.name.clone()
    }
}

/// A device held in memory (tests, fuzzing, decoded metadata).
#[derive(Clone)]
pub struct MemDevice {
    data: Arc<[u8]>,
    name: String,
}

impl fmt::Debug for MemDevice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemDevice")
            .field("name", &self.name)
            .field("len", &self.data.len())
            .finish()
    }
}

impl MemDevice {
    /// A device holding `data`.
    pub fn new(data: impl Into<Arc<[u8]>>, name: impl Into<String>) -> Self {
        MemDevice {
            data: data.into(),
            name: name.into(),
        }
    }
}

impl BlockDevice for MemDevice {
    fn size(&self) -> u64 {
        self.data.len() as u64
    }

    fn read_at(&self, buf: &mut [u8], offset: u64) -> Result<()> {
        check_range(|| self.describe(), offset, buf.len(), self.size())?;
        let start = offset as usize;
        let src = self
            .data
            .get(start..start + buf.len())
            .ok_or_else(|| DiskError::OutOfRange {
                device: self.describe(),
                offset,
                len: buf.len() as u64,
                size: self.size(),
            })?;
        buf.copy_from_slice(src);
        Ok(())
    }

    fn describe(&self) -> String {
        self.name.clone()
    }
}

/// Counters of the I/O done against image files. One value is shared by every
/// file of an image chain so a caller sees the total.
#[derive(Debug, Default)]
pub struct IoStats {
    bytes_read: AtomicU64,
    reads: AtomicU64,
}

impl IoStats {
    /// Records one read of `len` bytes.
    pub fn record(&self, len: u64) {
        self.bytes_read.fetch_add(len, Ordering::Relaxed);
        self.reads.fetch_add(1, Ordering::Relaxed);
    }

    /// Total bytes read so far.
    pub fn bytes_read(&self) -> u64 {
        self.bytes_read.load(Ordering::Relaxed)
    }

    /// Number of read calls so far.
    pub fn reads(&self) -> u64 {
        self.reads.load(Ordering::Relaxed)
    }
}

/// Wraps any device and counts the bytes read through it.
#[derive(Debug)]
pub struct CountingDevice {
    inner: DeviceRef,
    stats: Arc<IoStats>,
}

impl CountingDevice {
    /// Counts reads of `inner` into `stats`.
    pub fn new(inner: DeviceRef, stats: Arc<IoStats>) -> Self {
        CountingDevice { inner, stats }
    }

    /// The counters.
    pub fn stats(&self) -> &Arc<IoStats> {
        &self.stats
    }
}

impl BlockDevice for CountingDevice {
    fn size(&self) -> u64 {
        self.inner.size()
    }

    fn read_at(&self, buf: &mut [u8], offset: u64) -> Result<()> {
        self.inner.read_at(buf, offset)?;
        self.stats.record(buf.len() as u64);
        Ok(())
    }

    fn describe(&self) -> String {
        self.inner.describe()
    }
}

/// Little-endian / big-endian field readers over a byte slice that never panic:
/// a field outside the slice reads as `None`.
pub mod bytes {
    /// `N` bytes at `at`.
    pub fn array<const N: usize>(data: &[u8], at: usize) -> Option<[u8; N]> {
        data.get(at..at.checked_add(N)?)?.try_into().ok()
    }
    /// u16 little-endian at `at`.
    pub fn le16(data: &[u8], at: usize) -> Option<u16> {
        array(data, at).map(u16::from_le_bytes)
    }
    /// u32 little-endian at `at`.
    pub fn le32(data: &[u8], at: usize) -> Option<u32> {
        array(data, at).map(u32::from_le_bytes)
    }
    /// u64 little-endian at `at`.
    pub fn le64(data: &[u8], at: usize) -> Option<u64> {
        array(data, at).map(u64::from_le_bytes)
    }
    /// u16 big-endian at `at`.
    pub fn be16(data: &[u8], at: usize) -> Option<u16> {
        array(data, at).map(u16::from_be_bytes)
    }
    /// u32 big-endian at `at`.
    pub fn be32(data: &[u8], at: usize) -> Option<u32> {
        array(data, at).map(u32::from_be_bytes)
    }
    /// u64 big-endian at `at`.
    pub fn be64(data: &[u8], at: usize) -> Option<u64> {
        array(data, at).map(u64::from_be_bytes)
    }
}
