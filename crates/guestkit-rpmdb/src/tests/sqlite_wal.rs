//! The write-ahead log, written by SQLite itself into a real file: replayed
//! transactions are seen, a transaction cut short or a damaged frame ends the
//! replay at the last whole commit, and a log that cannot be replayed leaves
//! the main file to be read alone with a warning naming the offset.

use std::path::Path;

use rusqlite::Connection;

use super::package;
use crate::{apply_wal, read_sqlite_with_wal, Limits, RpmError, WalSummary};

const PAGE: usize = 4096;

fn insert(conn: &Connection, blob: &[u8]) {
    conn.execute("INSERT INTO Packages (blob) VALUES (?1)", [blob])
        .unwrap();
}

/// A package header padded past one page, so its transaction spans frames.
fn big_package(name: &str) -> Vec<u8> {
    let mut big = package(name);
    let dl = u32::from_be_bytes(big[4..8].try_into().unwrap());
    big[4..8].copy_from_slice(&(dl + 3 * PAGE as u32).to_be_bytes());
    big.extend_from_slice(&vec![0u8; 3 * PAGE]);
    big
}

/// A database of a running system, as SQLite leaves it on disk: `aaa` and
/// `bbb` checkpointed into the main file; then, only in the log, three
/// transactions: `ccc` added, `aaa` removed, `ddd` (several pages) added.
/// Returns the main file and the log, read while the connection is open.
fn live_database(dir: &Path) -> (Vec<u8>, Vec<u8>) {
    let path = dir.join("rpmdb.sqlite");
    let conn = Connection::open(&path).unwrap();
    let mode: String = conn
        .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    conn.execute_batch(
        "PRAGMA wal_autocheckpoint = 0;
         CREATE TABLE Packages (hnum INTEGER PRIMARY KEY AUTOINCREMENT, blob BLOB NOT NULL);",
    )
    .unwrap();
    insert(&conn, &package("aaa"));
    insert(&conn, &package("bbb"));
    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
        .unwrap();
    insert(&conn, &package("ccc"));
    conn.execute("DELETE FROM Packages WHERE hnum = 1", [])
        .unwrap();
    insert(&conn, &big_package("ddd"));
    let main = std::fs::read(&path).unwrap();
    let wal = std::fs::read(dir.join("rpmdb.sqlite-wal")).unwrap();
    drop(conn);
    (main, wal)
}

fn names(main: &[u8], wal: Option<&[u8]>) -> Vec<String> {
    let list = read_sqlite_with_wal(main, wal, &Limits::default()).expect("read");
    list.packages.into_iter().map(|p| p.name).collect()
}

/// Frames of the log: (offset, page number, database size if a commit).
fn frames(wal: &[u8]) -> Vec<(usize, u32, u32)> {
    let mut out = Vec::new();
    let mut at = 32;
    while at + 24 + PAGE <= wal.len() {
        let page = u32::from_be_bytes(wal[at..at + 4].try_into().unwrap());
        let size = u32::from_be_bytes(wal[at + 4..at + 8].try_into().unwrap());
        out.push((at, page, size));
        at += 24 + PAGE;
    }
    out
}

#[test]
fn committed_transactions_in_the_log_are_seen() {
    let dir = tempfile::tempdir().unwrap();
    let (main, wal) = live_database(dir.path());
    assert_eq!(names(&main, None), ["aaa", "bbb"], "the main file alone");
    assert_eq!(names(&main, Some(&wal)), ["bbb", "ccc", "ddd"]);
    let list = read_sqlite_with_wal(&main, Some(&wal), &Limits::default()).unwrap();
    let summary = list.wal.expect("replayed");
    assert_eq!(summary.transactions, 3);
    assert_eq!(summary.uncommitted_frames, 0);
    assert_eq!(summary.frames, frames(&wal).len());
    assert!(list.warnings.is_empty(), "{:?}", list.warnings);
    // An empty log (checkpointed and truncated) changes nothing.
    assert_eq!(names(&main, Some(&[])), ["aaa", "bbb"]);
}

#[test]
fn a_transaction_cut_short_is_left_out() {
    let dir = tempfile::tempdir().unwrap();
    let (main, wal) = live_database(dir.path());
    let all = frames(&wal);
    let commits: Vec<usize> = (0..all.len()).filter(|&i| all[i].2 != 0).collect();
    assert_eq!(commits.len(), 3, "{all:?}");
    let last_start = commits[1] + 1;
    assert!(
        commits[2] > last_start,
        "the last transaction spans frames: {all:?}"
    );
    // Cut the log inside the last transaction, after some of its frames.
    let cut = &wal[..all[commits[2]].0];
    assert_eq!(names(&main, Some(cut)), ["bbb", "ccc"]);
    let summary = apply_wal(&main, cut, &Limits::default()).unwrap().summary;
    assert_eq!(
        summary,
        WalSummary {
            transactions: 2,
            frames: commits[1] + 1,
            uncommitted_frames: commits[2] - last_start,
        }
    );
}

#[test]
fn the_replay_ends_at_the_first_damaged_frame() {
    let dir = tempfile::tempdir().unwrap();
    let (main, wal) = live_database(dir.path());
    let all = frames(&wal);
    let second_commit = (0..all.len()).filter(|&i| all[i].2 != 0).nth(1).unwrap();
    // A flipped byte in the page of the second transaction's commit frame:
    // its checksum fails, so the log ends after the first transaction.
    let mut damaged = wal.clone();
    damaged[all[second_commit].0 + 24 + 100] ^= 0xff;
    assert_eq!(names(&main, Some(&damaged)), ["aaa", "bbb", "ccc"]);
    // A frame with other salts (left from before a checkpoint) ends it too.
    let mut stale = wal.clone();
    stale[all[second_commit].0 + 8] ^= 0x01;
    assert_eq!(names(&main, Some(&stale)), ["aaa", "bbb", "ccc"]);
}

/// The log with its checksums recomputed (over big-endian words, magic
/// 0x377f0683, as a big-endian machine writes it, or little-endian), so a
/// test can change frame headers and still have a valid log.
fn resummed(wal: &[u8], big_endian: bool) -> Vec<u8> {
    let word = |b: &[u8]| {
        let b: [u8; 4] = b.try_into().unwrap();
        if big_endian {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        }
    };
    let sums = |mut s: (u32, u32), data: &[u8]| {
        for w in data.chunks(8) {
            s.0 = s.0.wrapping_add(word(&w[0..4])).wrapping_add(s.1);
            s.1 = s.1.wrapping_add(word(&w[4..8])).wrapping_add(s.0);
        }
        s
    };
    let mut out = wal.to_vec();
    let magic: u32 = if big_endian { 0x377f_0683 } else { 0x377f_0682 };
    out[0..4].copy_from_slice(&magic.to_be_bytes());
    let mut s = sums((0, 0), &out[..24]);
    out[24..28].copy_from_slice(&s.0.to_be_bytes());
    out[28..32].copy_from_slice(&s.1.to_be_bytes());
    for (at, _, _) in frames(wal) {
        s = sums(s, &out[at..at + 8]);
        s = sums(s, &out[at + 24..at + 24 + PAGE]);
        out[at + 16..at + 20].copy_from_slice(&s.0.to_be_bytes());
        out[at + 20..at + 24].copy_from_slice(&s.1.to_be_bytes());
    }
    out
}

#[test]
fn big_endian_checksums_are_read() {
    let dir = tempfile::tempdir().unwrap();
    let (main, wal) = live_database(dir.path());
    assert_eq!(
        u32::from_be_bytes(wal[0..4].try_into().unwrap()),
        0x377f_0682,
        "SQLite on this machine writes little-endian sums"
    );
    assert_eq!(resummed(&wal, false), wal, "the test's sums are SQLite's");
    assert_eq!(
        names(&main, Some(&resummed(&wal, true))),
        ["bbb", "ccc", "ddd"]
    );
}

/// A change made to a log by a test.
type Damage = fn(&mut Vec<u8>);

#[test]
fn a_log_that_cannot_be_replayed_leaves_the_main_file_alone() {
    let dir = tempfile::tempdir().unwrap();
    let (main, wal) = live_database(dir.path());
    let cases: [(&str, Damage, &str); 5] = [
        (
            "short",
            |w| w.truncate(20),
            "file offset 0: 20 bytes are too short",
        ),
        ("magic", |w| w[3] = 0, "file offset 0: magic 0x377f0600"),
        ("version", |w| w[7] ^= 1, "file offset 4: format version"),
        (
            "page size",
            |w| w[8..12].copy_from_slice(&8192u32.to_be_bytes()),
            "file offset 8: page size 8192 differs from the database's (4096)",
        ),
        (
            "header sum",
            |w| w[12] ^= 1,
            "file offset 24: header checksum",
        ),
    ];
    for (what, damage, expected) in cases {
        let mut bad = wal.clone();
        damage(&mut bad);
        let list = read_sqlite_with_wal(&main, Some(&bad), &Limits::default()).expect(what);
        let names: Vec<&str> = list.packages.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["aaa", "bbb"], "{what}");
        assert_eq!(list.wal, None, "{what}");
        let warnings: Vec<String> = list.warnings.iter().map(|w| w.to_string()).collect();
        assert_eq!(warnings.len(), 1, "{what}: {warnings:?}");
        assert!(
            warnings[0].contains(&format!("rpm sqlite wal: {expected}")),
            "{what}: {warnings:?}"
        );
    }
}

#[test]
fn the_replayed_size_is_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let (main, wal) = live_database(dir.path());
    let tight = Limits {
        max_db_bytes: main.len() as u64,
        ..Limits::default()
    };
    assert!(matches!(
        apply_wal(&main, &wal, &tight),
        Err(RpmError::DbTooLarge {
            layer: "rpm sqlite wal",
            ..
        })
    ));
    // Through the reader: a warning, the main file read alone.
    let list = read_sqlite_with_wal(&main, Some(&wal), &tight).unwrap();
    assert_eq!(list.packages.len(), 2);
    assert_eq!(list.warnings.len(), 1);
}

#[test]
fn damaged_logs_do_not_panic() {
    let dir = tempfile::tempdir().unwrap();
    let (main, wal) = live_database(dir.path());
    for at in (0..wal.len()).step_by(61) {
        let mut bad = wal.clone();
        bad[at] ^= 0x5a;
        let _ = read_sqlite_with_wal(&main, Some(&bad), &Limits::default());
        let _ = apply_wal(&main, &bad[..at], &Limits::default());
    }
}

#[test]
fn frames_past_the_final_size_are_not_allocated() {
    let dir = tempfile::tempdir().unwrap();
    let (main, wal) = live_database(dir.path());
    let all = frames(&wal);
    // A valid frame for page 4294967295 is dropped by the final size.
    let mut far_page = wal.clone();
    far_page[all[0].0..all[0].0 + 4].copy_from_slice(&u32::MAX.to_be_bytes());
    let replay = apply_wal(&main, &resummed(&far_page, false), &Limits::default()).unwrap();
    let last_commit = all.iter().rev().find(|f| f.2 != 0).unwrap();
    assert_eq!(replay.bytes.len(), last_commit.2 as usize * PAGE);
    // A commit claiming 4294967295 pages is refused, not allocated.
    let mut huge = wal.clone();
    let at = last_commit.0;
    huge[at + 4..at + 8].copy_from_slice(&u32::MAX.to_be_bytes());
    let e = apply_wal(&main, &resummed(&huge, false), &Limits::default()).unwrap_err();
    assert!(
        e.to_string()
            .starts_with("rpm sqlite wal: database of 17592186040320 bytes exceeds"),
        "{e}"
    );
}
