//! SHA-256 of image files: streamed, cancellable, with progress, and cached
//! by file identity so an unchanged file is never hashed twice.
//!
//! Everything here is blocking; a worker runs it inside
//! `tokio::task::spawn_blocking`. The cache is any [`ChecksumCache`]:
//! [`crate::SqliteStore`] directly, or any [`JobStore`] through
//! [`BlockingStoreCache`].
//!
//! The cache key is (device, inode, size, mtime in ns): a file rewritten in
//! place gets a new mtime, a replaced file a new inode. Only regular files
//! are cached. A file whose identity changes while it is hashed is an error
//! ([`ChecksumError::Changed`]), never a cached digest.
//!
//! Digests, expected and computed, are [`guestkit_job_spec::Checksum`]
//! (re-exported here): parse an expected one with [`Checksum::parse`] or
//! `str::parse` (`sha256:<hex>` or bare hex); its errors are
//! [`guestkit_job_spec::ChecksumError`], not this module's [`ChecksumError`].

use std::fs::{File, Metadata};
use std::io::{ErrorKind, Read};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

pub use guestkit_job_spec::Checksum;
use sha2::{Digest, Sha256};

use crate::store::{JobStore, StoreError};

/// Bytes read and hashed per step (between progress and cancellation checks).
pub const CHUNK_SIZE: usize = 1 << 20;

/// What identifies one version of a file for the checksum cache.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FileIdentity {
    /// `st_dev`.
    pub device: u64,
    /// `st_ino`.
    pub inode: u64,
    /// `st_size`, bytes.
    pub size: u64,
    /// Modification time, nanoseconds since 1970.
    pub mtime_ns: i64,
    /// Where the file was found (kept for diagnostics; not part of the key).
    pub path: PathBuf,
}

impl FileIdentity {
    /// The identity of a regular file from its metadata; `None` for anything
    /// else (devices, pipes: their size and mtime say nothing of their
    /// content) or an mtime beyond `i64` nanoseconds.
    pub fn of(path: &Path, meta: &Metadata) -> Option<FileIdentity> {
        if !meta.is_file() {
            return None;
        }
        let mtime_ns = meta
            .mtime()
            .checked_mul(1_000_000_000)?
            .checked_add(meta.mtime_nsec())?;
        Some(FileIdentity {
            device: meta.dev(),
            inode: meta.ino(),
            size: meta.size(),
            mtime_ns,
            path: path.to_path_buf(),
        })
    }
}

/// A blocking checksum cache keyed by [`FileIdentity`] (path not compared).
pub trait ChecksumCache {
    /// The digest cached for this identity.
    fn lookup(&self, file: &FileIdentity) -> Result<Option<[u8; 32]>, StoreError>;
    /// Caches the digest of this identity.
    fn remember(&self, file: &FileIdentity, digest: [u8; 32]) -> Result<(), StoreError>;
}

/// Any [`JobStore`]'s cache used from blocking code: each call waits on the
/// runtime. Use it only on a blocking thread (inside `spawn_blocking`); tokio
/// panics when `block_on` is called from an async task.
pub struct BlockingStoreCache<'a> {
    store: &'a dyn JobStore,
    runtime: tokio::runtime::Handle,
}

impl<'a> BlockingStoreCache<'a> {
    /// Wraps `store`; `runtime` is the runtime its futures run on
    /// (`Handle::current()` taken before `spawn_blocking`).
    pub fn new(store: &'a dyn JobStore, runtime: tokio::runtime::Handle) -> Self {
        BlockingStoreCache { store, runtime }
    }
}

impl ChecksumCache for BlockingStoreCache<'_> {
    fn lookup(&self, file: &FileIdentity) -> Result<Option<[u8; 32]>, StoreError> {
        self.runtime.block_on(self.store.cached_checksum(file))
    }

    fn remember(&self, file: &FileIdentity, digest: [u8; 32]) -> Result<(), StoreError> {
        self.runtime
            .block_on(self.store.store_checksum(file, digest))
    }
}

/// A file's SHA-256 and how it was obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileDigest {
    /// The digest.
    pub digest: Checksum,
    /// Taken from the cache, not computed.
    pub cached: bool,
    /// Bytes read and hashed by this call (0 when cached).
    pub bytes_hashed: u64,
}

/// Why a file could not be hashed or verified.
#[derive(Debug, thiserror::Error)]
pub enum ChecksumError {
    /// The file's content is not what was expected.
    #[error("{path}: checksum mismatch: expected sha256:{expected}, found sha256:{actual}")]
    Mismatch {
        /// The file.
        path: PathBuf,
        /// Expected digest, lowercase hex.
        expected: String,
        /// Actual digest, lowercase hex.
        actual: String,
    },
    /// The file could not be opened or its metadata read.
    #[error("{path}: cannot open for hashing: {source}")]
    Open {
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// Reading failed part-way.
    #[error("{path}: read failed at byte {offset}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Bytes read before the failure.
        offset: u64,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The file changed while it was hashed; the digest would be of neither
    /// version.
    #[error("{path}: the file changed while it was hashed ({detail})")]
    Changed {
        /// The file.
        path: PathBuf,
        /// What changed.
        detail: String,
    },
    /// The cancellation check said stop.
    #[error("{path}: hashing cancelled after {bytes_done} of {total} bytes")]
    Cancelled {
        /// The file.
        path: PathBuf,
        /// Bytes hashed before stopping.
        bytes_done: u64,
        /// Bytes in the file (0 when not a regular file).
        total: u64,
    },
    /// The checksum cache failed.
    #[error("{path}: checksum cache: {source}")]
    Cache {
        /// The file.
        path: PathBuf,
        /// The store's error.
        #[source]
        source: StoreError,
    },
}

/// The SHA-256 of the file at `path`, from `cache` when it holds this version
/// of the file, else read in [`CHUNK_SIZE`] steps and then cached.
///
/// `progress(bytes_done, total)` is called after each step (and once with the
/// full size on a cache hit); `total` is 0 for what is not a regular file.
/// `cancelled()` is asked before each step.
pub fn digest_file(
    path: &Path,
    cache: Option<&dyn ChecksumCache>,
    progress: &mut dyn FnMut(u64, u64),
    cancelled: &dyn Fn() -> bool,
) -> Result<FileDigest, ChecksumError> {
    let open_err = |source| ChecksumError::Open {
        path: path.to_path_buf(),
        source,
    };
    let cache_err = |source| ChecksumError::Cache {
        path: path.to_path_buf(),
        source,
    };
    let mut file = File::open(path).map_err(open_err)?;
    let before = file.metadata().map_err(open_err)?;
    let identity = FileIdentity::of(path, &before);
    let total = identity.as_ref().map_or(0, |id| id.size);
    if let (Some(cache), Some(id)) = (cache, &identity) {
        if let Some(digest) = cache.lookup(id).map_err(cache_err)? {
            progress(total, total);
            return Ok(FileDigest {
                digest: Checksum::from_digest(digest),
                cached: true,
                bytes_hashed: 0,
            });
        }
    }

    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; CHUNK_SIZE];
    let mut done: u64 = 0;
    loop {
        if cancelled() {
            return Err(ChecksumError::Cancelled {
                path: path.to_path_buf(),
                bytes_done: done,
                total,
            });
        }
        let n = match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(source) => {
                return Err(ChecksumError::Read {
                    path: path.to_path_buf(),
                    offset: done,
                    source,
                })
            }
        };
        hasher.update(buf.get(..n).unwrap_or_default());
        done = done.saturating_add(u64::try_from(n).unwrap_or(u64::MAX));
        progress(done, total);
    }
    let digest = Checksum::from_digest(hasher.finalize().into());

    if let Some(id) = identity {
        let after = file.metadata().map_err(open_err)?;
        let changed = if FileIdentity::of(path, &after).as_ref() != Some(&id) {
            Some("size or modification time differs from when hashing began".to_owned())
        } else if done != id.size {
            Some(format!("read {done} bytes of a {}-byte file", id.size))
        } else {
            None
        };
        if let Some(detail) = changed {
            return Err(ChecksumError::Changed {
                path: path.to_path_buf(),
                detail,
            });
        }
        if let Some(cache) = cache {
            cache.remember(&id, *digest.digest()).map_err(cache_err)?;
        }
    }
    Ok(FileDigest {
        digest,
        cached: false,
        bytes_hashed: done,
    })
}

/// [`digest_file`], then compares with `expected`: a difference is
/// [`ChecksumError::Mismatch`] naming both digests and the file.
pub fn verify_file(
    path: &Path,
    expected: &Checksum,
    cache: Option<&dyn ChecksumCache>,
    progress: &mut dyn FnMut(u64, u64),
    cancelled: &dyn Fn() -> bool,
) -> Result<FileDigest, ChecksumError> {
    let found = digest_file(path, cache, progress, cancelled)?;
    if found.digest != *expected {
        return Err(ChecksumError::Mismatch {
            path: path.to_path_buf(),
            expected: expected.hex(),
            actual: found.digest.hex(),
        });
    }
    Ok(found)
}
