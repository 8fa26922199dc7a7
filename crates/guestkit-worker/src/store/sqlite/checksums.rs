//! The checksum cache table: one digest per file identity, one identity per
//! path.

use rusqlite::{params, Connection, OptionalExtension};

use super::rows::{u64_bits, Env};
use super::state::{commit, write_tx};
use super::R;
use crate::checksum::FileIdentity;
use crate::store::StoreError;

pub(super) fn cached_checksum(
    conn: &Connection,
    env: &Env<'_>,
    file: &FileIdentity,
) -> R<Option<[u8; 32]>> {
    let blob: Option<Vec<u8>> = conn
        .query_row(
            "SELECT sha256 FROM file_checksums
             WHERE device = ?1 AND inode = ?2 AND size = ?3 AND mtime_ns = ?4",
            params![
                u64_bits(file.device),
                u64_bits(file.inode),
                u64_bits(file.size),
                file.mtime_ns
            ],
            |row| row.get(0),
        )
        .optional()
        .map_err(|e| env.db(e))?;
    blob.map(|b| {
        <[u8; 32]>::try_from(b.as_slice()).map_err(|_| StoreError::Corrupt {
            store: env.store.to_owned(),
            what: format!("file_checksums row of {}", file.path.display()),
            detail: format!("digest of {} bytes, expected 32", b.len()),
        })
    })
    .transpose()
}

pub(super) fn store_checksum(
    conn: &mut Connection,
    env: &Env<'_>,
    file: &FileIdentity,
    digest: [u8; 32],
) -> R<()> {
    let path = file.path.to_string_lossy();
    let tx = write_tx(conn, env)?;
    // The file at this path changed: its old identities are of no more use.
    tx.execute("DELETE FROM file_checksums WHERE path = ?1", [&path])
        .map_err(|e| env.db(e))?;
    tx.execute(
        "INSERT OR REPLACE INTO file_checksums
             (device, inode, size, mtime_ns, path, sha256, stored_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            u64_bits(file.device),
            u64_bits(file.inode),
            u64_bits(file.size),
            file.mtime_ns,
            path,
            digest.as_slice(),
            env.now_ms()
        ],
    )
    .map_err(|e| env.db(e))?;
    commit(tx, env)
}
