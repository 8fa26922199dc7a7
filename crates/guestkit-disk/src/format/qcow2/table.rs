//! The two-level cluster map: the L1 table (loaded at open) and L2 tables
//! (loaded on demand into a bounded, sharded cache), and the decoding of one
//! L2 entry into what a guest range maps to.

use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use crate::block::bytes::be64;
use crate::block::DeviceRef;
use crate::error::{DiskError, Layer, Result};

/// Offset bits of L1 and standard L2 entries (bits 9..=55).
const OFFSET_MASK: u64 = 0x00ff_ffff_ffff_fe00;
/// L2 entry: the cluster is compressed.
const L2_COMPRESSED: u64 = 1 << 62;
/// L2 entry: the cluster reads as zeros (v3, without extended L2).
const L2_ZERO: u64 = 1;
/// Subclusters per cluster with extended L2 entries.
const SUBCLUSTERS: u64 = 32;

/// Sizes derived from the header.
#[derive(Debug, Clone, Copy)]
pub(super) struct Geometry {
    pub cluster_bits: u32,
    /// log2 of the number of entries in one L2 table.
    pub l2_bits: u32,
    /// 128-bit L2 entries with subcluster bitmaps.
    pub extended: bool,
}

impl Geometry {
    /// Geometry of an image with `cluster_bits` and optional extended L2.
    pub fn new(cluster_bits: u32, extended: bool) -> Self {
        let entry_bits = if extended { 4 } else { 3 };
        Geometry {
            cluster_bits,
            l2_bits: cluster_bits - entry_bits,
            extended,
        }
    }

    /// Cluster size in bytes.
    pub fn cluster_size(&self) -> u64 {
        1 << self.cluster_bits
    }

    /// Guest bytes covered by one L2 table.
    pub fn l2_span(&self) -> u64 {
        1 << (self.cluster_bits + self.l2_bits)
    }

    /// Bytes of one L2 entry.
    fn entry_bytes(&self) -> u64 {
        if self.extended {
            16
        } else {
            8
        }
    }
}

/// What the guest range `[pos, pos + len)` maps to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Mapping {
    /// Not allocated here: read from the backing image, or zeros.
    Unallocated,
    /// Reads as zeros.
    Zero,
    /// Stored uncompressed at this host offset (of `pos`, not of the cluster).
    Data(u64),
    /// Inside a compressed cluster: its host offset and compressed size.
    Compressed { host: u64, csize: u64 },
}

/// A guest range with one mapping; never crosses a cluster (or, with
/// extended L2, a subcluster) boundary.
#[derive(Debug, Clone, Copy)]
pub(super) struct Piece {
    pub map: Mapping,
    pub len: u64,
}

/// One decoded L2 table: the raw entries, in host byte order.
pub(super) type L2Table = Arc<[u64]>;

/// The L1 table and the L2 cache of one image file.
#[derive(Debug)]
pub(super) struct Tables {
    path: PathBuf,
    file: DeviceRef,
    file_size: u64,
    geo: Geometry,
    l1: Box<[u64]>,
    l1_offset: u64,
    cache: L2Cache,
}

impl Tables {
    /// Wraps a loaded L1 table. `cache_bytes` bounds the L2 cache.
    pub fn new(
        path: PathBuf,
        file: DeviceRef,
        geo: Geometry,
        l1: Box<[u64]>,
        l1_offset: u64,
        cache_bytes: u64,
    ) -> Self {
        let tables = usize::try_from(cache_bytes >> geo.cluster_bits)
            .unwrap_or(usize::MAX)
            .max(1);
        Tables {
            file_size: file.size(),
            path,
            file,
            geo,
            l1,
            l1_offset,
            cache: L2Cache::new(tables),
        }
    }

    /// Reads `l1_size` big-endian L1 entries at `offset`.
    pub fn load_l1(file: &DeviceRef, offset: u64, l1_size: u32) -> Result<Box<[u64]>> {
        let mut raw = vec![0u8; l1_size as usize * 8];
        file.read_at(&mut raw, offset)?;
        Ok(raw
            .chunks_exact(8)
            .map(|c| be64(c, 0).unwrap_or(0))
            .collect())
    }

    /// The geometry.
    pub fn geometry(&self) -> Geometry {
        self.geo
    }

    /// The L2 table covering guest offset `pos`, or `None` when the L1 entry
    /// is empty (the whole span is unallocated). Also returns the table's
    /// host offset, for error messages.
    pub fn l2_for(&self, pos: u64) -> Result<(Option<L2Table>, u64)> {
        let index = pos >> (self.geo.cluster_bits + self.geo.l2_bits);
        let entry_off = self.l1_offset + index * 8;
        let entry = usize::try_from(index)
            .ok()
            .and_then(|i| self.l1.get(i).copied())
            .ok_or_else(|| {
                DiskError::corrupt(
                    &self.path,
                    Layer::Qcow2,
                    entry_off,
                    "L1 table",
                    format!(
                        "guest offset {pos} is past the {} L1 entries",
                        self.l1.len()
                    ),
                )
            })?;
        let l2_off = entry & OFFSET_MASK;
        if l2_off == 0 {
            return Ok((None, 0));
        }
        if let Some(t) = self.cache.get(index) {
            return Ok((Some(t), l2_off));
        }
        let cs = self.geo.cluster_size();
        let fits = l2_off.is_multiple_of(cs)
            && l2_off.checked_add(cs).is_some_and(|e| e <= self.file_size);
        if !fits {
            return Err(DiskError::corrupt(
                &self.path,
                Layer::Qcow2,
                entry_off,
                "L1 entry",
                format!(
                    "L2 table offset {l2_off} is unaligned or past the end of the file ({} bytes)",
                    self.file_size
                ),
            ));
        }
        let mut raw = vec![0u8; cs as usize];
        self.file.read_at(&mut raw, l2_off)?;
        let table: L2Table = raw
            .chunks_exact(8)
            .map(|c| be64(c, 0).unwrap_or(0))
            .collect();
        self.cache.insert(index, table.clone());
        Ok((Some(table), l2_off))
    }

    /// Decodes the mapping of guest offset `pos` from its L2 table (`None`:
    /// unallocated L1 entry). The piece ends at the cluster or subcluster
    /// boundary, or at `end`, whichever is first.
    pub fn piece(&self, l2: Option<&[u64]>, l2_off: u64, pos: u64, end: u64) -> Result<Piece> {
        let geo = self.geo;
        let cs = geo.cluster_size();
        let in_cluster = pos & (cs - 1);
        let cluster_end = pos - in_cluster + cs;
        let Some(l2) = l2 else {
            // The whole L2 span is unallocated.
            let span_end = (pos | (geo.l2_span() - 1)).saturating_add(1);
            return Ok(Piece {
                map: Mapping::Unallocated,
                len: span_end.min(end) - pos,
            });
        };
        let index = (pos >> geo.cluster_bits) & ((1 << geo.l2_bits) - 1);
        let entry_off = l2_off + index * geo.entry_bytes();
        let slot = if geo.extended { index * 2 } else { index } as usize;
        let entry = l2.get(slot).copied().unwrap_or(0);
        let corrupt = |reason: String| {
            DiskError::corrupt(&self.path, Layer::Qcow2, entry_off, "L2 entry", reason)
        };
        let to_cluster_end = cluster_end.min(end) - pos;

        if entry & L2_COMPRESSED != 0 {
            let x = 62 - (geo.cluster_bits - 8);
            let host = entry & ((1u64 << x) - 1);
            let sectors = ((entry & (L2_COMPRESSED - 1)) >> x) + 1;
            let csize = (sectors * 512).saturating_sub(host & 511);
            if host == 0 || host >= self.file_size {
                return Err(corrupt(format!(
                    "compressed cluster at {host} is outside the file ({} bytes)",
                    self.file_size
                )));
            }
            return Ok(Piece {
                map: Mapping::Compressed { host, csize },
                len: to_cluster_end,
            });
        }
        let host = entry & OFFSET_MASK;
        if !geo.extended {
            if entry & L2_ZERO != 0 {
                return Ok(Piece {
                    map: Mapping::Zero,
                    len: to_cluster_end,
                });
            }
            if host == 0 {
                return Ok(Piece {
                    map: Mapping::Unallocated,
                    len: to_cluster_end,
                });
            }
            self.check_host(host, &corrupt)?;
            return Ok(Piece {
                map: Mapping::Data(host + in_cluster),
                len: to_cluster_end,
            });
        }
        // Extended L2: the second word holds the allocation (low 32 bits)
        // and zero (high 32 bits) bitmaps of the 32 subclusters.
        let bitmap = l2.get(slot + 1).copied().unwrap_or(0);
        let sub_bits = geo.cluster_bits - 5;
        let sub = in_cluster >> sub_bits;
        let sub_end = (pos | ((1u64 << sub_bits) - 1)).saturating_add(1);
        let len = sub_end.min(end) - pos;
        let alloc = (bitmap >> sub) & 1 != 0;
        let zero = (bitmap >> (sub + SUBCLUSTERS)) & 1 != 0;
        let map = match (alloc, zero) {
            (true, true) => {
                return Err(corrupt(format!(
                    "subcluster {sub} is marked both allocated and zero"
                )))
            }
            (false, true) => Mapping::Zero,
            (false, false) => Mapping::Unallocated,
            (true, false) => {
                if host == 0 {
                    return Err(corrupt(format!(
                        "subcluster {sub} is allocated but the cluster has no host offset"
                    )));
                }
                self.check_host(host, &corrupt)?;
                Mapping::Data(host + in_cluster)
            }
        };
        Ok(Piece { map, len })
    }

    /// A data cluster must be cluster-aligned and start inside the file.
    fn check_host(&self, host: u64, corrupt: &dyn Fn(String) -> DiskError) -> Result<()> {
        if !host.is_multiple_of(self.geo.cluster_size()) {
            return Err(corrupt(format!("data cluster offset {host} is unaligned")));
        }
        if host >= self.file_size {
            return Err(corrupt(format!(
                "data cluster offset {host} is past the end of the file ({} bytes)",
                self.file_size
            )));
        }
        Ok(())
    }
}

/// Number of independently locked shards of the L2 cache.
const SHARDS: usize = 16;

/// A bounded cache of decoded L2 tables keyed by L1 index, split into shards
/// so concurrent readers rarely contend. Eviction is first-in first-out.
#[derive(Debug)]
struct L2Cache {
    shards: Box<[Mutex<Shard>]>,
    per_shard: usize,
}

#[derive(Debug, Default)]
struct Shard {
    map: HashMap<u64, L2Table>,
    order: VecDeque<u64>,
}

impl L2Cache {
    /// A cache holding at most `tables` L2 tables (at least one).
    fn new(tables: usize) -> Self {
        let shards = tables.clamp(1, SHARDS);
        L2Cache {
            shards: (0..shards).map(|_| Mutex::default()).collect(),
            per_shard: (tables / shards).max(1),
        }
    }

    fn shard(&self, index: u64) -> Option<&Mutex<Shard>> {
        self.shards.get((index % self.shards.len() as u64) as usize)
    }

    fn get(&self, index: u64) -> Option<L2Table> {
        let shard = self.shard(index)?;
        let guard = shard.lock().unwrap_or_else(|e| e.into_inner());
        guard.map.get(&index).cloned()
    }

    fn insert(&self, index: u64, table: L2Table) {
        let Some(shard) = self.shard(index) else {
            return;
        };
        let mut guard = shard.lock().unwrap_or_else(|e| e.into_inner());
        if guard.map.contains_key(&index) {
            return;
        }
        while guard.map.len() >= self.per_shard {
            match guard.order.pop_front() {
                Some(old) => {
                    guard.map.remove(&old);
                }
                None => break,
            }
        }
        guard.map.insert(index, table);
        guard.order.push_back(index);
    }
}
