//! The virtual disk of a qcow2 image as a [`BlockDevice`].
//!
//! A read walks the guest range cluster by cluster (subcluster by subcluster
//! with extended L2 entries) and merges neighbouring pieces with the same kind
//! of mapping into runs: contiguous host clusters become ONE read of the file,
//! zero and unallocated ranges one fill or one backing read. Compressed
//! clusters are decoded straight into the caller's buffer when the read covers
//! them whole, through a small cache otherwise.

use std::path::PathBuf;
use std::sync::Arc;

use crate::block::{check_range, BlockDevice, DeviceRef};
use crate::error::{DiskError, Layer, Result};

use super::compressed::{with_scratch, ClusterCache, Codec};
use super::table::{Mapping, Tables};

/// A qcow2 virtual disk, read-only.
#[derive(Debug)]
pub(super) struct Qcow2Device {
    pub path: PathBuf,
    pub file: DeviceRef,
    pub size: u64,
    pub tables: Tables,
    pub codec: Codec,
    pub clusters: ClusterCache,
    /// The backing image's virtual disk.
    pub backing: Option<DeviceRef>,
    /// Encryption method; every read fails when set.
    pub encrypted: Option<String>,
}

/// Consecutive guest bytes with one kind of mapping.
#[derive(Debug, Clone, Copy)]
struct Run {
    map: Mapping,
    /// Guest offset of the run.
    pos: u64,
    len: u64,
}

impl Run {
    /// Extends the run by a following piece when both map the same way.
    fn try_extend(&mut self, map: Mapping, len: u64) -> bool {
        let ok = match (self.map, map) {
            (Mapping::Unallocated, Mapping::Unallocated) | (Mapping::Zero, Mapping::Zero) => true,
            (Mapping::Data(a), Mapping::Data(b)) => a.checked_add(self.len) == Some(b),
            _ => false,
        };
        if ok {
            self.len += len;
        }
        ok
    }
}

impl Qcow2Device {
    /// Fills `dst` (the guest range of `run`) from wherever the run maps to.
    fn fill(&self, dst: &mut [u8], run: Run) -> Result<()> {
        match run.map {
            Mapping::Zero => dst.fill(0),
            Mapping::Unallocated => self.read_backing(dst, run.pos)?,
            Mapping::Data(host) => {
                // The cluster starts inside the file (checked when decoded);
                // bytes past the end of the file read as zeros, as in qemu.
                let avail = self.file.size().saturating_sub(host);
                let n = usize::try_from(avail).unwrap_or(usize::MAX).min(dst.len());
                let (head, tail) = dst.split_at_mut(n);
                if !head.is_empty() {
                    self.file.read_at(head, host)?;
                }
                tail.fill(0);
            }
            Mapping::Compressed { host, csize } => {
                self.read_compressed(dst, run.pos, host, csize)?
            }
        }
        Ok(())
    }

    /// Reads an unallocated range from the backing image; zeros where there
    /// is no backing image or beyond its end.
    fn read_backing(&self, dst: &mut [u8], pos: u64) -> Result<()> {
        let Some(backing) = &self.backing else {
            dst.fill(0);
            return Ok(());
        };
        let avail = backing.size().saturating_sub(pos);
        let n = usize::try_from(avail).unwrap_or(usize::MAX).min(dst.len());
        let (head, tail) = dst.split_at_mut(n);
        if !head.is_empty() {
            backing.read_at(head, pos)?;
        }
        tail.fill(0);
        Ok(())
    }

    /// Copies the part of a compressed cluster that `dst` covers.
    fn read_compressed(&self, dst: &mut [u8], pos: u64, host: u64, csize: u64) -> Result<()> {
        let cs = self.tables.geometry().cluster_size();
        let in_cluster = (pos & (cs - 1)) as usize;
        if in_cluster == 0 && dst.len() as u64 == cs {
            return self.decompress(host, csize, dst);
        }
        let data = match self.clusters.get(host) {
            Some(d) => d,
            None => {
                let mut v = vec![0u8; cs as usize];
                self.decompress(host, csize, &mut v)?;
                let d: Arc<[u8]> = v.into();
                self.clusters.insert(host, d.clone());
                d
            }
        };
        let src = in_cluster
            .checked_add(dst.len())
            .and_then(|e| data.get(in_cluster..e))
            .ok_or_else(|| {
                DiskError::corrupt(
                    &self.path,
                    Layer::Qcow2,
                    host,
                    "compressed cluster",
                    "read crosses the cluster end",
                )
            })?;
        dst.copy_from_slice(src);
        Ok(())
    }

    /// Decodes the compressed cluster at `host` into `out` (one cluster).
    fn decompress(&self, host: u64, csize: u64, out: &mut [u8]) -> Result<()> {
        // The last compressed cluster may end short of its sector count.
        let n = csize.min(self.file.size().saturating_sub(host));
        with_scratch(|input, dec| {
            input.clear();
            // csize is at most 2 * 2 MiB (13 sector-count bits of 512 B).
            input.resize(n as usize, 0);
            self.file.read_at(input, host)?;
            dec.decompress(self.codec, input, out).map_err(|reason| {
                DiskError::corrupt(&self.path, Layer::Qcow2, host, "compressed cluster", reason)
            })
        })
    }
}

impl BlockDevice for Qcow2Device {
    fn size(&self) -> u64 {
        self.size
    }

    fn read_at(&self, buf: &mut [u8], offset: u64) -> Result<()> {
        check_range(|| self.describe(), offset, buf.len(), self.size)?;
        if let Some(method) = &self.encrypted {
            return Err(DiskError::Encrypted {
                path: self.path.clone(),
                layer: Layer::Qcow2,
                method: method.clone(),
            });
        }
        let end = offset + buf.len() as u64;
        let span = self.tables.geometry().l2_span();
        let mut pos = offset;
        while pos < end {
            let (l2, l2_off) = self.tables.l2_for(pos)?;
            let span_end = (pos | (span - 1)).saturating_add(1).min(end);
            let mut run: Option<Run> = None;
            while pos < span_end {
                let piece = self.tables.piece(l2.as_deref(), l2_off, pos, span_end)?;
                let merged = run
                    .as_mut()
                    .is_some_and(|r| r.try_extend(piece.map, piece.len));
                if !merged {
                    if let Some(r) = run.take() {
                        self.fill(slice(buf, offset, r)?, r)?;
                    }
                    run = Some(Run {
                        map: piece.map,
                        pos,
                        len: piece.len,
                    });
                }
                pos += piece.len;
            }
            if let Some(r) = run {
                self.fill(slice(buf, offset, r)?, r)?;
            }
        }
        Ok(())
    }

    fn describe(&self) -> String {
        self.path.display().to_string()
    }
}

/// The part of `buf` (which starts at guest offset `base`) that `run` covers.
fn slice(buf: &mut [u8], base: u64, run: Run) -> Result<&mut [u8]> {
    let len = buf.len() as u64;
    let start = run.pos - base;
    let range = usize::try_from(start)
        .ok()
        .zip(usize::try_from(run.len).ok());
    range
        .and_then(|(s, l)| buf.get_mut(s..s.checked_add(l)?))
        .ok_or(DiskError::OutOfRange {
            device: "qcow2 read buffer".into(),
            offset: run.pos,
            len: run.len,
            size: len,
        })
}
