//! Read the installed-package database of rpm-based Linux guests from bytes.
//!
//! Three on-disk formats are in use:
//!
//! * **SQLite** `rpmdb.sqlite` (Fedora ≥ 33, RHEL 9, CBL-Mariner/Azure Linux):
//!   a `Packages(hnum, blob)` table, read with the bundled SQLite from an
//!   in-memory, read-only copy with SQLite's defensive settings on, after
//!   the committed transactions of its write-ahead log `rpmdb.sqlite-wal`
//!   are replayed onto that copy by our own code ([`apply_wal`]);
//! * **Berkeley DB hash** `Packages` (RHEL/CentOS ≤ 8, older Fedora/SUSE):
//!   read by our own page walker ([`read_bdb`]);
//! * **ndb** `Packages.db` (SUSE since SLE 15 SP3 / openSUSE): read by our own
//!   slot/blob walker ([`read_ndb`]).
//!
//! Every record is an rpm header blob, decoded by [`parse_header`] into an
//! [`RpmPackage`]. No rpm binary runs, no file is opened: the caller hands in
//! the bytes. Guest files are untrusted input, so every offset, count and
//! chain read from them is checked, allocations are bounded by [`Limits`], and
//! a damaged record is skipped with a [`RecordWarning`] while the rest is
//! still read.

// Guest files are untrusted: no panicking shortcuts outside the tests.
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing,
        clippy::arithmetic_side_effects
    )
)]

mod bdb;
mod bytes;
mod error;
mod header;
mod ndb;
#[cfg(feature = "sqlite")]
mod sqlite;
mod sqlite_wal;
#[cfg(test)]
mod tests;

pub use bdb::read_bdb;
pub use error::{RecordWarning, RpmError};
pub use header::{parse_header, parse_header_with_limits};
pub use ndb::read_ndb;
#[cfg(feature = "sqlite")]
pub use sqlite::{read_sqlite, read_sqlite_with_wal};
pub use sqlite_wal::{apply_wal, WalReplay, WalSummary};

/// The first 16 bytes of every SQLite 3 database.
pub(crate) const SQLITE_MAGIC: &[u8] = b"SQLite format 3\0";

/// Without the `sqlite` feature (the fuzz build leaves SQLite out), an
/// `rpmdb.sqlite` is recognised but not read.
#[cfg(not(feature = "sqlite"))]
pub fn read_sqlite(bytes: &[u8], limits: &Limits) -> Result<PackageList, RpmError> {
    read_sqlite_with_wal(bytes, None, limits)
}

/// Without the `sqlite` feature, an `rpmdb.sqlite` is recognised but not read.
#[cfg(not(feature = "sqlite"))]
pub fn read_sqlite_with_wal(
    _bytes: &[u8],
    _wal: Option<&[u8]>,
    _limits: &Limits,
) -> Result<PackageList, RpmError> {
    Err(RpmError::Sqlite {
        problem: "this build of guestkit has no SQLite support (cargo feature `sqlite`)".into(),
    })
}

use serde::Serialize;

/// One installed package, as recorded in its rpm header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RpmPackage {
    /// `NAME` (tag 1000).
    pub name: String,
    /// `EPOCH` (tag 1003); `None` when the package has no epoch (rpm treats that as 0).
    pub epoch: Option<u32>,
    /// `VERSION` (tag 1001).
    pub version: String,
    /// `RELEASE` (tag 1002).
    pub release: String,
    /// `ARCH` (tag 1022); absent for `gpg-pubkey` pseudo-packages.
    pub arch: Option<String>,
    /// `SOURCERPM` (tag 1044), e.g. `bash-4.4-19.6.1.src.rpm`.
    pub sourcerpm: Option<String>,
    /// `VENDOR` (tag 1011).
    pub vendor: Option<String>,
    /// `SUMMARY` (tag 1004, first i18n string).
    pub summary: Option<String>,
    /// `LICENSE` (tag 1014).
    pub license: Option<String>,
    /// Installed size in bytes: `LONGSIZE` (5009) if present, else `SIZE` (1009).
    pub size: Option<u64>,
    /// `INSTALLTIME` (tag 1008), seconds since the Unix epoch.
    pub install_time: Option<u64>,
    /// `MODULARITYLABEL` (tag 5096), set for packages from a RHEL/Fedora module stream.
    pub modularity_label: Option<String>,
}

impl RpmPackage {
    /// `[epoch:]version-release`, the form rpm and vulnerability databases compare.
    ///
    /// The epoch is written only when the header has one (also when it is 0,
    /// matching rpm's `%{EVR}`).
    pub fn evr(&self) -> String {
        match self.epoch {
            Some(e) => format!("{e}:{}-{}", self.version, self.release),
            None => format!("{}-{}", self.version, self.release),
        }
    }
}

/// Bounds on what a reader accepts from an untrusted database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Most packages read from one database; more is an error.
    pub max_packages: usize,
    /// Largest header blob accepted (a record over it is skipped with a warning).
    pub max_header_bytes: usize,
    /// Largest database accepted.
    pub max_db_bytes: u64,
}

impl Default for Limits {
    /// 200 000 packages, 64 MiB per header, 2 GiB per database: far above
    /// any real distribution, far below what would hurt a worker.
    fn default() -> Self {
        Limits {
            max_packages: 200_000,
            max_header_bytes: 64 << 20,
            max_db_bytes: 2 << 30,
        }
    }
}

impl Limits {
    pub(crate) fn check_db_size(&self, layer: &'static str, len: usize) -> Result<(), RpmError> {
        let size = u64::try_from(len).unwrap_or(u64::MAX);
        if size > self.max_db_bytes {
            return Err(RpmError::DbTooLarge {
                layer,
                size,
                limit: self.max_db_bytes,
            });
        }
        Ok(())
    }
}

/// What a database reader found: the packages it could read and the records
/// it had to skip.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PackageList {
    /// Packages in database order.
    pub packages: Vec<RpmPackage>,
    /// Records that were skipped, each naming its key or offset.
    pub warnings: Vec<RecordWarning>,
    /// What was replayed from `rpmdb.sqlite-wal` before reading, when a
    /// log was given and could be replayed.
    pub wal: Option<WalSummary>,
}

impl PackageList {
    pub(crate) fn push(
        &mut self,
        layer: &'static str,
        pkg: RpmPackage,
        limits: &Limits,
    ) -> Result<(), RpmError> {
        if self.packages.len() >= limits.max_packages {
            return Err(RpmError::TooManyPackages {
                layer,
                limit: limits.max_packages,
            });
        }
        self.packages.push(pkg);
        Ok(())
    }

    pub(crate) fn warn(&mut self, record: String, error: RpmError) {
        self.warnings.push(RecordWarning { record, error });
    }
}

/// The three rpm database formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum DbKind {
    /// `rpmdb.sqlite`.
    Sqlite,
    /// Berkeley DB hash `Packages`.
    Bdb,
    /// SUSE ndb `Packages.db`.
    Ndb,
}

impl DbKind {
    /// Recognise the format by content (never by file name): the SQLite
    /// header string, the ndb `RpmP` magic, or the Berkeley DB hash magic
    /// 0x061561 at offset 12 in either byte order.
    pub fn detect(bytes: &[u8]) -> Option<DbKind> {
        if bytes.starts_with(SQLITE_MAGIC) {
            Some(DbKind::Sqlite)
        } else if bytes.starts_with(ndb::NDB_MAGIC) {
            Some(DbKind::Ndb)
        } else if bdb::has_hash_magic(bytes) {
            Some(DbKind::Bdb)
        } else {
            None
        }
    }

    /// The usual file name of this format under `/var/lib/rpm` or
    /// `/usr/lib/sysimage/rpm`.
    pub fn file_name(self) -> &'static str {
        match self {
            DbKind::Sqlite => "rpmdb.sqlite",
            DbKind::Bdb => "Packages",
            DbKind::Ndb => "Packages.db",
        }
    }
}

/// Read a database of the given kind with the default [`Limits`].
pub fn read_database(kind: DbKind, bytes: &[u8]) -> Result<PackageList, RpmError> {
    read_database_with_limits(kind, bytes, &Limits::default())
}

/// Read a database of the given kind with explicit [`Limits`].
pub fn read_database_with_limits(
    kind: DbKind,
    bytes: &[u8],
    limits: &Limits,
) -> Result<PackageList, RpmError> {
    match kind {
        DbKind::Sqlite => read_sqlite(bytes, limits),
        DbKind::Bdb => read_bdb(bytes, limits),
        DbKind::Ndb => read_ndb(bytes, limits),
    }
}

/// Detect the format with [`DbKind::detect`] and read it with the default [`Limits`].
pub fn read_any(bytes: &[u8]) -> Result<(DbKind, PackageList), RpmError> {
    let kind = DbKind::detect(bytes).ok_or(RpmError::UnknownFormat {
        len: bytes.len().min(16),
    })?;
    Ok((kind, read_database(kind, bytes)?))
}
