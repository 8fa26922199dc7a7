//! Bounds applied to every value read from an untrusted image.

/// Resource bounds threaded through every reader. A value read from an image that
/// exceeds one of these gives [`crate::DiskError::LimitExceeded`] instead of an
/// allocation or a loop.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest virtual disk size accepted (bytes).
    pub max_virtual_size: u64,
    /// Largest single metadata table (L1, BAT, grain directory, partition array,
    /// LVM text) loaded into memory (bytes).
    pub max_table_bytes: u64,
    /// Deepest backing chain (qcow2 backing files, vmdk parents).
    pub max_chain_depth: usize,
    /// Most partitions / extents / segments / LVs accepted from one table.
    pub max_entries: u64,
    /// Bytes of decoded metadata (e.g. qcow2 L2 tables) kept in caches per image.
    pub max_cache_bytes: u64,
    /// Deepest nesting of volumes (partition in LV in md in partition ...).
    pub max_volume_depth: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_virtual_size: 1 << 50,  // 1 PiB
            max_table_bytes: 256 << 20, // 256 MiB
            max_chain_depth: 16,
            max_entries: 1 << 20,
            max_cache_bytes: 64 << 20,
            max_volume_depth: 8,
        }
    }
}
