//! Bounds on what a filesystem driver reads on behalf of one request.

/// Bounds applied by every driver and by the guest tree.
#[derive(Debug, Clone)]
pub struct FsLimits {
    /// Most entries returned by one directory read.
    pub max_dir_entries: u64,
    /// Longest symlink target read.
    pub max_symlink_len: u64,
    /// Deepest symlink nesting during path resolution.
    pub max_symlink_depth: u32,
    /// Deepest tree walk (tar-out, recursive listing).
    pub max_walk_depth: u32,
    /// Deepest on-disk tree (extent tree, B+tree) followed.
    pub max_tree_depth: u32,
    /// Bytes of metadata cached per filesystem.
    pub max_cache_bytes: u64,
}

impl Default for FsLimits {
    fn default() -> Self {
        FsLimits {
            max_dir_entries: 1 << 22,
            max_symlink_len: 64 << 10,
            max_symlink_depth: 40,
            max_walk_depth: 4096,
            max_tree_depth: 32,
            max_cache_bytes: 64 << 20,
        }
    }
}
