//! The extents of a VMDK, laid end to end, as one [`BlockDevice`]: flat
//! extents (a window of a file), zero extents and sparse extents (whose
//! unallocated grains come from the parent disk, or read as zeros).

use crate::block::{check_range, BlockDevice, DeviceRef};
use crate::error::Result;

use super::sparse::SparseExtent;

/// What backs one extent.
#[derive(Debug)]
pub(crate) enum ExtentData {
    /// Bytes of `file` starting at `offset`.
    Flat { file: DeviceRef, offset: u64 },
    /// Zeros.
    Zero,
    /// A hosted sparse extent.
    Sparse(Box<SparseExtent>),
}

/// One extent placed at `start` of the virtual disk.
#[derive(Debug)]
pub(crate) struct PlacedExtent {
    pub start: u64,
    pub len: u64,
    pub data: ExtentData,
}

/// The virtual disk of a VMDK.
#[derive(Debug)]
pub(crate) struct VmdkDevice {
    name: String,
    size: u64,
    extents: Vec<PlacedExtent>,
    parent: Option<DeviceRef>,
}

impl VmdkDevice {
    /// A device from extents of the given lengths, in order. Their sum must
    /// not overflow (checked by the caller).
    pub fn new(name: String, extents: Vec<(u64, ExtentData)>, parent: Option<DeviceRef>) -> Self {
        let mut start = 0u64;
        let extents = extents
            .into_iter()
            .filter(|(len, _)| *len > 0)
            .map(|(len, data)| {
                let e = PlacedExtent { start, len, data };
                start = start.saturating_add(len);
                e
            })
            .collect();
        VmdkDevice {
            name,
            size: start,
            extents,
            parent,
        }
    }

    /// Fills `buf` with the parent's bytes at virtual offset `at`; zeros where
    /// there is no parent or the parent is smaller.
    fn read_parent(&self, buf: &mut [u8], at: u64) -> Result<()> {
        let Some(parent) = &self.parent else {
            buf.fill(0);
            return Ok(());
        };
        let avail = parent.size().saturating_sub(at).min(buf.len() as u64) as usize;
        let (inside, beyond) = buf.split_at_mut(avail);
        if !inside.is_empty() {
            parent.read_at(inside, at)?;
        }
        beyond.fill(0);
        Ok(())
    }
}

impl BlockDevice for VmdkDevice {
    fn size(&self) -> u64 {
        self.size
    }

    fn read_at(&self, buf: &mut [u8], offset: u64) -> Result<()> {
        check_range(|| self.describe(), offset, buf.len(), self.size)?;
        let mut idx = self.extents.partition_point(|e| e.start + e.len <= offset);
        let mut pos = 0usize;
        while pos < buf.len() {
            let at = offset + pos as u64;
            let Some(e) = self.extents.get(idx) else {
                // Unreachable after check_range: extents cover [0, size).
                return Err(crate::error::DiskError::OutOfRange {
                    device: self.describe(),
                    offset: at,
                    len: (buf.len() - pos) as u64,
                    size: self.size,
                });
            };
            let within = at - e.start;
            let n = ((e.len - within) as usize).min(buf.len() - pos);
            let out = &mut buf[pos..pos + n];
            match &e.data {
                ExtentData::Flat { file, offset } => file.read_at(out, offset + within)?,
                ExtentData::Zero => out.fill(0),
                ExtentData::Sparse(s) => {
                    let base = e.start;
                    s.read(out, within, &|b, off| self.read_parent(b, base + off))?
                }
            }
            pos += n;
            idx += 1;
        }
        Ok(())
    }

    fn describe(&self) -> String {
        self.name.clone()
    }
}
