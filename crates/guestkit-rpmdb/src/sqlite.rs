//! `rpmdb.sqlite`: the `Packages(hnum INTEGER PRIMARY KEY, blob BLOB)` table.
//!
//! The caller's bytes are copied into an in-memory, read-only SQLite
//! database (`sqlite3_deserialize`), so nothing is ever written next to the
//! guest file and no `-wal`/`-shm` file is created. The file is untrusted,
//! so SQLite's defensive settings are on: no triggers, no views, untrusted
//! schema, cell size checks, no memory mapping, bounded value length.

use std::io::Read;

use rusqlite::config::DbConfig;
use rusqlite::limits::Limit;
use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags, MAIN_DB};

use crate::{apply_wal, parse_header_with_limits, Limits, PackageList, RpmError, SQLITE_MAGIC};

const LAYER: &str = "rpm sqlite";

fn err(what: &str, e: rusqlite::Error) -> RpmError {
    RpmError::Sqlite {
        problem: format!("{what}: {e}"),
    }
}

/// Read the packages of an `rpmdb.sqlite` file alone (see
/// [`read_sqlite_with_wal`]).
pub fn read_sqlite(bytes: &[u8], limits: &Limits) -> Result<PackageList, RpmError> {
    read_sqlite_with_wal(bytes, None, limits)
}

/// Read the packages of an `rpmdb.sqlite` file, with the committed
/// transactions of its write-ahead log `rpmdb.sqlite-wal` when one is given.
///
/// rpm checkpoints its log when it closes the database, so a cleanly
/// shut-down guest has everything in the main file; an image taken from a
/// running system may hold its newest transactions only in the log. A log
/// that cannot be replayed (damaged header, another page size) is reported
/// as a warning and the main file is read alone.
///
/// A row whose blob is not a valid header is skipped with a warning naming
/// its `hnum`; a file SQLite cannot open or scan (corrupt b-tree, truncated
/// file) is an error.
pub fn read_sqlite_with_wal(
    bytes: &[u8],
    wal: Option<&[u8]>,
    limits: &Limits,
) -> Result<PackageList, RpmError> {
    limits.check_db_size(LAYER, bytes.len())?;
    if !bytes.starts_with(SQLITE_MAGIC) {
        return Err(RpmError::Sqlite {
            problem: "missing the \"SQLite format 3\" header".into(),
        });
    }
    let mut list = PackageList::default();
    let replayed = match wal
        .filter(|w| !w.is_empty())
        .map(|w| apply_wal(bytes, w, limits))
    {
        Some(Ok(replay)) => {
            list.wal = Some(replay.summary);
            Some(replay.bytes)
        }
        Some(Err(e)) => {
            list.warn(
                "sqlite write-ahead log (the main file is read alone)".into(),
                e,
            );
            None
        }
        None => None,
    };
    let conn = open(replayed.as_deref().unwrap_or(bytes), limits)?;

    // SQLite's recommended check before trusting an unknown file: a damaged
    // b-tree is reported as a warning, and whatever rows can still be
    // scanned are read.
    let check: Vec<String> = {
        let mut stmt = conn
            .prepare("PRAGMA quick_check(5)")
            .map_err(|e| err("PRAGMA quick_check", e))?;
        let rows = stmt
            .query_map([], |r| r.get::<_, String>(0))
            .map_err(|e| err("PRAGMA quick_check", e))?;
        rows.collect::<Result<_, _>>()
            .map_err(|e| err("PRAGMA quick_check", e))?
    };
    if check.iter().any(|l| l != "ok") {
        list.warn(
            "sqlite database".into(),
            RpmError::Sqlite {
                problem: format!("quick_check reports damage: {}", check.join("; ")),
            },
        );
    }

    let mut stmt = conn
        .prepare("SELECT hnum, blob FROM Packages")
        .map_err(|e| err("SELECT hnum, blob FROM Packages", e))?;
    let mut rows = stmt.query([]).map_err(|e| err("query Packages", e))?;
    while let Some(row) = rows.next().map_err(|e| err("scan Packages", e))? {
        let hnum = row.get_ref(0).map_err(|e| err("read hnum", e))?;
        let record = match hnum {
            ValueRef::Integer(n) => format!("sqlite hnum {n}"),
            other => format!("sqlite hnum of type {:?}", other.data_type()),
        };
        let blob = match row.get_ref(1).map_err(|e| err("read blob", e))? {
            ValueRef::Blob(b) => b,
            other => {
                list.warn(
                    record,
                    RpmError::Sqlite {
                        problem: format!("blob column holds {:?}, not a blob", other.data_type()),
                    },
                );
                continue;
            }
        };
        match parse_header_with_limits(blob, limits) {
            Ok(pkg) => list.push(LAYER, pkg, limits)?,
            Err(e) => list.warn(record, e),
        }
    }
    Ok(list)
}

/// Open `bytes` as a private, read-only, in-memory database with the
/// defensive settings on.
fn open(bytes: &[u8], limits: &Limits) -> Result<Connection, RpmError> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX
        | OpenFlags::SQLITE_OPEN_PRIVATE_CACHE;
    let mut conn = Connection::open_in_memory_with_flags(flags)
        .map_err(|e| err("open in-memory database", e))?;
    for (cfg, on) in [
        (DbConfig::SQLITE_DBCONFIG_DEFENSIVE, true),
        (DbConfig::SQLITE_DBCONFIG_TRUSTED_SCHEMA, false),
        (DbConfig::SQLITE_DBCONFIG_ENABLE_TRIGGER, false),
        (DbConfig::SQLITE_DBCONFIG_ENABLE_VIEW, false),
        (DbConfig::SQLITE_DBCONFIG_ENABLE_FKEY, false),
    ] {
        conn.set_db_config(cfg, on)
            .map_err(|e| err("set defensive configuration", e))?;
    }
    // A value longer than the largest header we accept is never read whole.
    let max_len = i32::try_from(limits.max_header_bytes.saturating_add(1024)).unwrap_or(i32::MAX);
    conn.set_limit(Limit::SQLITE_LIMIT_LENGTH, max_len)
        .map_err(|e| err("set length limit", e))?;
    conn.set_limit(Limit::SQLITE_LIMIT_ATTACHED, 0)
        .map_err(|e| err("set attach limit", e))?;

    // rpm keeps its database in WAL mode (header bytes 18/19 = 2). A
    // deserialized database has no WAL file and SQLite refuses to open it in
    // that mode, so the copy handed to SQLite says "rollback journal" (1)
    // instead; a committed rpmdb has its content in the main file.
    let mut patched = [0u8; 2];
    if let Some(v) = bytes.get(18..20) {
        patched.copy_from_slice(v);
        for b in &mut patched {
            if *b == 2 {
                *b = 1;
            }
        }
    }
    let head = bytes.get(..18).unwrap_or(bytes);
    let tail = bytes.get(20..).unwrap_or_default();
    let patched_len = if bytes.len() >= 20 { 2 } else { 0 };
    let reader = head
        .chain(patched.get(..patched_len).unwrap_or_default())
        .chain(tail);
    conn.deserialize_read_exact(MAIN_DB, reader, bytes.len(), true)
        .map_err(|e| err("load database image", e))?;

    for pragma in [
        "PRAGMA query_only = ON",
        "PRAGMA cell_size_check = ON",
        "PRAGMA mmap_size = 0",
        "PRAGMA trusted_schema = OFF",
    ] {
        // mmap_size returns a row; execute_batch ignores it.
        conn.execute_batch(pragma).map_err(|e| err(pragma, e))?;
    }
    Ok(conn)
}
