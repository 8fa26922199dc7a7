//! The block device of a logical volume: its segments laid end to end, each
//! a linear slice of one PV or a round-robin of stripes over several.

use crate::block::{check_range, BlockDevice, DeviceRef};
use crate::error::{DiskError, Result};

/// One stripe (or the single area of a linear segment): a PV device and the
/// byte offset on it where this segment's area starts.
#[derive(Debug, Clone)]
pub struct Area {
    /// The PV device.
    pub device: DeviceRef,
    /// Byte offset of the area on the device.
    pub offset: u64,
}

/// A segment mapped to its areas.
#[derive(Debug, Clone)]
pub struct Piece {
    /// First LV byte covered.
    pub start: u64,
    /// Bytes covered.
    pub len: u64,
    /// Areas; one for linear.
    pub areas: Vec<Area>,
    /// Stripe size in bytes (ignored with one area).
    pub stripe_bytes: u64,
}

/// A logical volume as a [`BlockDevice`].
#[derive(Debug)]
pub struct LvDevice {
    name: String,
    size: u64,
    pieces: Vec<Piece>,
}

impl LvDevice {
    /// Composes `pieces`, which must be contiguous from 0, each area fitting
    /// its device (`len / areas` bytes from `offset`) and, when striped, the
    /// per-area length a multiple of the stripe size.
    pub fn new(name: impl Into<String>, pieces: Vec<Piece>) -> Result<Self> {
        let name = name.into();
        let mut size = 0u64;
        for p in &pieces {
            let n = p.areas.len() as u64;
            let bad = |why: String| DiskError::OutOfRange {
                device: format!("{name}: {why}"),
                offset: p.start,
                len: p.len,
                size,
            };
            if p.start != size || n == 0 || !p.len.is_multiple_of(n) {
                return Err(bad("segment layout".into()));
            }
            let per_area = p.len / n;
            if n > 1 && (p.stripe_bytes == 0 || !per_area.is_multiple_of(p.stripe_bytes)) {
                return Err(bad(format!("stripe size {}", p.stripe_bytes)));
            }
            for a in &p.areas {
                match a.offset.checked_add(per_area) {
                    Some(end) if end <= a.device.size() => {}
                    _ => return Err(bad(format!("area past the end of {}", a.device.describe()))),
                }
            }
            size = size
                .checked_add(p.len)
                .ok_or_else(|| bad("size overflow".into()))?;
        }
        Ok(LvDevice { name, size, pieces })
    }

    /// Maps LV byte `pos` inside `piece` to (area, device offset, bytes left
    /// in the contiguous run).
    fn map(piece: &Piece, pos: u64) -> Option<(&Area, u64, u64)> {
        let rel = pos.checked_sub(piece.start)?;
        let n = piece.areas.len() as u64;
        if n == 1 {
            let area = piece.areas.first()?;
            return Some((area, area.offset + rel, piece.len - rel));
        }
        let sb = piece.stripe_bytes;
        let chunk = rel / sb;
        let within = rel % sb;
        let area = piece.areas.get((chunk % n) as usize)?;
        let row = chunk / n;
        Some((area, area.offset + row * sb + within, sb - within))
    }
}

impl BlockDevice for LvDevice {
    fn size(&self) -> u64 {
        self.size
    }

    fn read_at(&self, buf: &mut [u8], offset: u64) -> Result<()> {
        check_range(|| self.describe(), offset, buf.len(), self.size)?;
        let mut done = 0usize;
        while done < buf.len() {
            let pos = offset + done as u64;
            let idx = self.pieces.partition_point(|p| p.start <= pos);
            let mapped = idx
                .checked_sub(1)
                .and_then(|i| self.pieces.get(i))
                .and_then(|p| Self::map(p, pos));
            let Some((area, dev_off, run)) = mapped else {
                return Err(DiskError::OutOfRange {
                    device: self.describe(),
                    offset: pos,
                    len: (buf.len() - done) as u64,
                    size: self.size,
                });
            };
            let n = run.min((buf.len() - done) as u64) as usize;
            let Some(dst) = buf.get_mut(done..done + n) else {
                break;
            };
            area.device.read_at(dst, dev_off)?;
            done += n;
        }
        Ok(())
    }

    fn describe(&self) -> String {
        self.name.clone()
    }
}
