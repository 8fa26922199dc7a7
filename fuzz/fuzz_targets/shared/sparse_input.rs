//! Sparse fuzz inputs for image formats whose structures sit megabytes apart.
//!
//! An input that starts with `SPRS` is read as a sparse image file: `SPRS`,
//! u32 file size (capped at 1 GiB), then records (u32 offset, u16 length,
//! bytes) placed at their offsets, zeros elsewhere. Seeds are made from real
//! images by keeping only their non-zero 512-byte runs. Included by the vdi,
//! vhd and vhdx targets with `#[path]`.

use guestkit_disk::block::check_range;
use guestkit_disk::{BlockDevice, DeviceRef, MemDevice};
use std::sync::Arc;

/// The device for a fuzz input: sparse when it starts with `SPRS`, otherwise
/// the bytes themselves.
pub fn device(data: &[u8], name: &str) -> DeviceRef {
    match SparseDevice::parse(data, name) {
        Some(sparse) => Arc::new(sparse),
        None => Arc::new(MemDevice::new(data.to_vec(), name)),
    }
}

/// A file of `size` bytes, zero except for the recorded runs.
#[derive(Debug)]
struct SparseDevice {
    name: String,
    size: u64,
    runs: Vec<(u64, Vec<u8>)>,
}

impl SparseDevice {
    fn parse(data: &[u8], name: &str) -> Option<Self> {
        let rest = data.strip_prefix(b"SPRS")?;
        let size = u64::from(u32::from_le_bytes(rest.get(..4)?.try_into().ok()?)).min(1 << 30);
        let mut rest = rest.get(4..)?;
        let mut runs = Vec::new();
        while rest.len() >= 6 {
            let off = u64::from(u32::from_le_bytes(rest[..4].try_into().ok()?));
            let len = usize::from(u16::from_le_bytes(rest[4..6].try_into().ok()?));
            let bytes = rest.get(6..6 + len).unwrap_or(&rest[6..]);
            runs.push((off, bytes.to_vec()));
            rest = &rest[6 + bytes.len()..];
        }
        Some(SparseDevice {
            name: name.to_string(),
            size,
            runs,
        })
    }
}

impl BlockDevice for SparseDevice {
    fn size(&self) -> u64 {
        self.size
    }

    fn read_at(&self, buf: &mut [u8], offset: u64) -> guestkit_disk::Result<()> {
        check_range(|| self.describe(), offset, buf.len(), self.size)?;
        buf.fill(0);
        let end = offset + buf.len() as u64;
        for (start, bytes) in &self.runs {
            let run_end = start + bytes.len() as u64;
            let (lo, hi) = ((*start).max(offset), run_end.min(end));
            if lo < hi {
                buf[(lo - offset) as usize..(hi - offset) as usize]
                    .copy_from_slice(&bytes[(lo - start) as usize..(hi - start) as usize]);
            }
        }
        Ok(())
    }

    fn describe(&self) -> String {
        self.name.clone()
    }
}
