//! The file allocation table: cluster chains, followed with bounds and loop
//! detection.

use guestkit_disk::block::bytes::{le16, le32};

use super::bpb::{FatType, Layout};

/// What a FAT entry says about the cluster after this one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    Cluster(u32),
    End,
    Free,
    Bad,
}

/// The first FAT, held in memory.
#[derive(Debug)]
pub struct Table {
    fat_type: FatType,
    data: Vec<u8>,
    clusters: u32,
}

impl Table {
    pub fn new(layout: &Layout, data: Vec<u8>) -> Table {
        Table {
            fat_type: layout.fat_type,
            data,
            clusters: layout.clusters,
        }
    }

    /// The entry of cluster `c`.
    pub fn next(&self, c: u32) -> Next {
        let raw = match self.fat_type {
            FatType::Fat12 => {
                let at = c as usize + c as usize / 2;
                let v = u32::from(le16(&self.data, at).unwrap_or(0));
                if c.is_multiple_of(2) {
                    v & 0xfff
                } else {
                    v >> 4
                }
            }
            FatType::Fat16 => u32::from(le16(&self.data, c as usize * 2).unwrap_or(0)),
            FatType::Fat32 => le32(&self.data, c as usize * 4).unwrap_or(0) & 0x0fff_ffff,
        };
        let (bad, end) = match self.fat_type {
            FatType::Fat12 => (0xff7, 0xff8),
            FatType::Fat16 => (0xfff7, 0xfff8),
            FatType::Fat32 => (0x0fff_fff7, 0x0fff_fff8),
        };
        match raw {
            0 => Next::Free,
            r if r == bad => Next::Bad,
            r if r >= end => Next::End,
            r => Next::Cluster(r),
        }
    }

    /// Whether `c` is a data cluster of this volume.
    pub fn valid(&self, c: u32) -> bool {
        c >= 2 && c - 2 < self.clusters
    }

    /// The chain starting at `start`, at most `max` clusters long. Errors
    /// name the first cluster that breaks the chain.
    pub fn chain(&self, start: u32, max: u64) -> Result<Vec<u32>, String> {
        let mut out = Vec::new();
        let mut c = start;
        loop {
            if !self.valid(c) {
                return Err(format!(
                    "cluster {c} is outside the volume (2..{})",
                    u64::from(self.clusters) + 2
                ));
            }
            if out.len() as u64 >= max.min(u64::from(self.clusters)) {
                return Err(format!(
                    "the chain from cluster {start} is longer than {} clusters (a loop)",
                    max.min(u64::from(self.clusters))
                ));
            }
            out.push(c);
            match self.next(c) {
                Next::Cluster(n) => c = n,
                Next::End => return Ok(out),
                Next::Free => return Err(format!("cluster {c} is marked free inside a chain")),
                Next::Bad => return Err(format!("cluster {c} is marked bad inside a chain")),
            }
        }
    }
}
