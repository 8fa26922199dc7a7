//! The device as Btrfs sees it: logical reads through the chunk map, and
//! tree nodes read, checked (checksum, bytenr, fsid, level) and cached.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use guestkit_disk::block::bytes::{array, le32, le64};
use guestkit_disk::DeviceRef;

use super::chunk::ChunkMap;
use super::superblock::{Superblock, CSUM_CRC32C};
use super::{corrupt, crc, limit_exceeded};
use crate::error::Result;
use crate::limits::FsLimits;

/// Size of a tree-node header.
pub const HEADER_SIZE: usize = 101;

/// The mounted device with its superblock and chunk map.
#[derive(Debug)]
pub struct Volume {
    pub dev: DeviceRef,
    pub name: String,
    pub sb: Superblock,
    pub chunks: ChunkMap,
    pub limits: FsLimits,
    cache: Mutex<NodeCache>,
}

#[derive(Debug, Default)]
struct NodeCache {
    nodes: HashMap<u64, Arc<[u8]>>,
    bytes: u64,
}

impl Volume {
    /// A volume over `dev` with the bootstrap chunk map.
    pub fn new(dev: DeviceRef, sb: Superblock, chunks: ChunkMap, limits: FsLimits) -> Volume {
        Volume {
            name: dev.describe(),
            dev,
            sb,
            chunks,
            limits,
            cache: Mutex::new(NodeCache::default()),
        }
    }

    /// Reads `buf.len()` bytes at logical address `logical` (one chunk),
    /// from the first copy.
    pub fn read_logical(
        &self,
        logical: u64,
        buf: &mut [u8],
        what: &str,
        inode: Option<u64>,
    ) -> Result<()> {
        self.read_copy(logical, buf, 0, what, inode)
    }

    fn read_copy(
        &self,
        logical: u64,
        buf: &mut [u8],
        copy: usize,
        what: &str,
        inode: Option<u64>,
    ) -> Result<()> {
        let phys = self.chunks.map(
            logical,
            buf.len() as u64,
            copy,
            self.dev.size(),
            &self.name,
            what,
            inode,
        )?;
        self.dev.read_at(buf, phys)?;
        Ok(())
    }

    /// Reads the tree node at `logical`, which must be at `level`. With DUP
    /// metadata a copy that fails its checks is replaced by the next one;
    /// when all fail, the first copy's error is returned.
    pub fn read_node(&self, logical: u64, level: u8, what: &str) -> Result<Arc<[u8]>> {
        if let Ok(cache) = self.cache.lock() {
            if let Some(n) = cache.nodes.get(&logical) {
                return self.check_level(n.clone(), logical, level, what);
            }
        }
        let mut first_err = None;
        for copy in 0..self.chunks.copies(logical) {
            match self.read_node_copy(logical, copy, what) {
                Ok(node) => {
                    self.cache_node(logical, node.clone());
                    return self.check_level(node, logical, level, what);
                }
                Err(e) => {
                    first_err.get_or_insert(e);
                }
            }
        }
        Err(first_err.unwrap_or_else(|| {
            corrupt(
                &self.name,
                what,
                None,
                Some(logical),
                "no copy of the node".into(),
            )
        }))
    }

    fn read_node_copy(&self, logical: u64, copy: usize, what: &str) -> Result<Arc<[u8]>> {
        let nodesize = self.sb.nodesize as usize;
        let mut buf = vec![0u8; nodesize];
        self.read_copy(logical, &mut buf, copy, what, None)?;
        let bad = |reason: String| corrupt(&self.name, what, None, Some(logical), reason);
        if self.sb.csum_type == CSUM_CRC32C {
            let stored = le32(&buf, 0).unwrap_or_default();
            let computed = crc::crc32c(buf.get(0x20..).unwrap_or_default());
            if stored != computed {
                return Err(bad(format!(
                    "tree node checksum mismatch: stored {stored:#010x}, computed {computed:#010x}"
                )));
            }
        }
        if array::<16>(&buf, 0x20) != Some(self.sb.metadata_fsid) {
            return Err(bad("tree node fsid differs from the superblock's".into()));
        }
        let bytenr = le64(&buf, 0x30).unwrap_or_default();
        if bytenr != logical {
            return Err(bad(format!("tree node says it is at {bytenr:#x}")));
        }
        super::tree::validate_node(self, &buf, logical, what)?;
        Ok(buf.into())
    }

    fn cache_node(&self, logical: u64, node: Arc<[u8]>) {
        let size = node.len() as u64;
        if let Ok(mut cache) = self.cache.lock() {
            if cache.bytes + size > self.limits.max_cache_bytes {
                cache.nodes.clear();
                cache.bytes = 0;
            }
            if size <= self.limits.max_cache_bytes {
                cache.bytes += size;
                cache.nodes.insert(logical, node);
            }
        }
    }

    fn check_level(
        &self,
        node: Arc<[u8]>,
        logical: u64,
        level: u8,
        what: &str,
    ) -> Result<Arc<[u8]>> {
        let got = node.get(0x64).copied().unwrap_or(u8::MAX);
        if got != level {
            return Err(corrupt(
                &self.name,
                what,
                None,
                Some(logical),
                format!("tree node level {got}, expected {level}"),
            ));
        }
        Ok(node)
    }

    /// Checks a tree level read from the image against the depth limit.
    pub fn check_tree_level(&self, level: u8, what: &str) -> Result<()> {
        let max = self.limits.max_tree_depth.min(8);
        if u32::from(level) >= max {
            return Err(limit_exceeded(
                &self.name,
                format!("{what} tree level"),
                u64::from(level),
                u64::from(max).saturating_sub(1),
            ));
        }
        Ok(())
    }
}
