//! The coalescing read loop shared by the block-mapped formats (vdi, vhd,
//! vhdx): a format maps virtual offsets to runs, and runs stored back to back
//! in the image file are read with one file read.

use crate::block::{check_range, BlockDevice};
use crate::error::Result;
use crate::format::ImageSource;

/// Where a run of virtual-disk bytes comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Run {
    /// The bytes are in the image file at this offset.
    Data(u64),
    /// The bytes read as zeros.
    Zero,
}

/// Fills `buf` with the virtual bytes at `offset`, asking `map` where each run
/// lives. `map(virtual_offset, max_len)` returns a run and its length (at least
/// 1, at most `max_len`). Runs stored back to back in the file are read with
/// one file read straight into `buf`; nothing is allocated per call.
fn read_runs(
    source: &ImageSource,
    buf: &mut [u8],
    offset: u64,
    mut map: impl FnMut(u64, usize) -> Result<(Run, usize)>,
) -> Result<()> {
    // Pending coalesced read: (file offset, start in buf, length).
    let mut pending: Option<(u64, usize, usize)> = None;
    let mut pos = 0usize;
    while pos < buf.len() {
        let want = buf.len() - pos;
        let (run, len) = map(offset + pos as u64, want)?;
        let len = len.clamp(1, want);
        match run {
            Run::Data(file_off) => match pending {
                Some((p_off, p_start, p_len)) if p_off + p_len as u64 == file_off => {
                    pending = Some((p_off, p_start, p_len + len));
                }
                _ => {
                    flush(source, buf, pending.take())?;
                    pending = Some((file_off, pos, len));
                }
            },
            Run::Zero => {
                flush(source, buf, pending.take())?;
                if let Some(dst) = buf.get_mut(pos..pos + len) {
                    dst.fill(0);
                }
            }
        }
        pos += len;
    }
    flush(source, buf, pending)
}

fn flush(source: &ImageSource, buf: &mut [u8], pending: Option<(u64, usize, usize)>) -> Result<()> {
    if let Some((file_off, start, len)) = pending {
        if let Some(dst) = buf.get_mut(start..start + len) {
            source.read_at(dst, file_off)?;
        }
    }
    Ok(())
}

/// Where a block-mapped format keeps each run of virtual bytes.
pub(crate) trait RunMap: Send + Sync + std::fmt::Debug {
    /// The run at virtual `offset`, at most `max` bytes long (at least 1).
    fn run(&self, source: &ImageSource, offset: u64, max: usize) -> Result<(Run, usize)>;
}

/// The virtual disk of a block-mapped image: its file, its size and its map.
#[derive(Debug)]
pub(crate) struct MappedDevice<M> {
    source: ImageSource,
    size: u64,
    map: M,
}

impl<M: RunMap> MappedDevice<M> {
    /// A disk of `size` bytes whose runs `map` places in `source`.
    pub(crate) fn new(source: ImageSource, size: u64, map: M) -> Self {
        MappedDevice { source, size, map }
    }
}

impl<M: RunMap> BlockDevice for MappedDevice<M> {
    fn size(&self) -> u64 {
        self.size
    }

    fn read_at(&self, buf: &mut [u8], offset: u64) -> Result<()> {
        check_range(|| self.describe(), offset, buf.len(), self.size)?;
        read_runs(&self.source, buf, offset, |o, m| {
            self.map.run(&self.source, o, m)
        })
    }

    fn describe(&self) -> String {
        self.source.path.display().to_string()
    }
}
