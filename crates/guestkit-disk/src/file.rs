//! Image files on the host, opened read-only and read by position.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::block::{check_range, BlockDevice, IoStats};
use crate::error::{DiskError, Layer, Result};

/// A host file opened read-only. Every read is counted in the shared
/// [`IoStats`].
#[derive(Debug)]
pub struct FileDevice {
    file: File,
    path: PathBuf,
    size: u64,
    allocated: u64,
    stats: Arc<IoStats>,
}

impl FileDevice {
    /// Opens `path` read-only (never for writing).
    pub fn open(path: &Path, stats: Arc<IoStats>) -> Result<Self> {
        let io = |source| DiskError::Io {
            path: path.to_path_buf(),
            layer: Layer::File,
            offset: 0,
            source,
        };
        let file = File::open(path).map_err(io)?;
        let meta = file.metadata().map_err(io)?;
        if !meta.is_file() {
            return Err(DiskError::unsupported(
                path,
                Layer::File,
                "input: not a regular file",
            ));
        }
        Ok(FileDevice {
            file,
            path: path.to_path_buf(),
            size: meta.len(),
            allocated: meta.blocks().saturating_mul(512),
            stats,
        })
    }

    /// The host path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Bytes the host filesystem has allocated for the file.
    pub fn allocated(&self) -> u64 {
        self.allocated
    }

    /// The shared counters.
    pub fn stats(&self) -> &Arc<IoStats> {
        &self.stats
    }

    /// Reads up to `buf.len()` bytes at `offset`, stopping at end of file;
    /// returns how many bytes were read. For headers of files that may be short.
    pub fn read_prefix(&self, buf: &mut [u8], offset: u64) -> Result<usize> {
        let avail = self.size.saturating_sub(offset);
        let n = buf.len().min(usize::try_from(avail).unwrap_or(usize::MAX));
        if n > 0 {
            self.read_at(&mut buf[..n], offset)?;
        }
        Ok(n)
    }
}

impl BlockDevice for FileDevice {
    fn size(&self) -> u64 {
        self.size
    }

    fn read_at(&self, buf: &mut [u8], offset: u64) -> Result<()> {
        check_range(|| self.describe(), offset, buf.len(), self.size)?;
        self.file
            .read_exact_at(buf, offset)
            .map_err(|source| DiskError::Io {
                path: self.path.clone(),
                layer: Layer::File,
                offset,
                source,
            })?;
        self.stats.record(buf.len() as u64);
        Ok(())
    }

    fn describe(&self) -> String {
        self.path.display().to_string()
    }
}
