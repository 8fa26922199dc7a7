//! An rpm SQLite database caught mid-change: the corpus's real CBL-Mariner
//! 2.0 rpmdb, changed through SQLite in WAL mode with the log not yet
//! checkpointed, as in an image of a running system. Inspection replays the
//! log: a package removed there is gone, though the main file still has it.

mod common;

use guestkit_fixtures::corpus::corpus_files;
use guestkit_inspect::{inspect_root, InspectOptions, OsReport, Section};
use rusqlite::Connection;

const DB: &str = "/var/lib/rpm/rpmdb.sqlite";

fn inspect(files: &[(&str, &[u8])]) -> (OsReport, Vec<guestkit_inspect::Warning>) {
    let dir = tempfile::tempdir().expect("tempdir");
    for (path, content) in files {
        common::write(dir.path(), path, content);
    }
    let options = InspectOptions {
        sections: vec![Section::Packages],
        ..InspectOptions::default()
    };
    inspect_root(&common::open(dir.path()), "wal", None, &options)
}

fn names(report: &OsReport) -> Vec<&str> {
    let list = report.packages.as_ref().expect("packages");
    list.packages.iter().map(|p| p.name.as_str()).collect()
}

#[test]
fn a_package_removed_in_the_log_is_gone() {
    let Some((corpus, files)) = corpus_files() else {
        return;
    };
    let file = files
        .iter()
        .find(|f| f.path == "rpm/cbl-mariner-2.0/rpmdb.sqlite")
        .expect("the Mariner rpmdb is in the manifest");
    let work = tempfile::tempdir().expect("tempdir");
    let db = work.path().join("rpmdb.sqlite");
    std::fs::copy(corpus.join(&file.path), &db).expect("copy");

    // `rpm -e curl`, as far as the tables go, left in the log.
    let conn = Connection::open(&db).expect("open");
    let mode: String = conn
        .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
        .expect("wal");
    assert_eq!(mode, "wal");
    conn.execute_batch("PRAGMA wal_autocheckpoint = 0")
        .expect("pragma");
    let hnum: i64 = conn
        .query_row("SELECT hnum FROM Name WHERE key = 'curl'", [], |r| r.get(0))
        .expect("curl is installed");
    // Its rows in every index table (Name, Basenames, …), then its header.
    let indexes: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT IN ('Packages') AND name NOT LIKE 'sqlite_%'")
        .and_then(|mut q| q.query_map([], |r| r.get(0))?.collect())
        .expect("tables");
    let mut removal = String::from("BEGIN;");
    for table in &indexes {
        removal.push_str(&format!("DELETE FROM \"{table}\" WHERE hnum = {hnum};"));
    }
    removal.push_str(&format!(
        "DELETE FROM Packages WHERE hnum = {hnum}; COMMIT;"
    ));
    conn.execute_batch(&removal).expect("remove curl");
    let main = std::fs::read(&db).expect("main file");
    let wal = std::fs::read(work.path().join("rpmdb.sqlite-wal")).expect("log");
    assert!(!wal.is_empty());
    drop(conn);

    let (alone, warnings) = inspect(&[(DB, &main)]);
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(names(&alone).len(), 129);
    assert!(
        names(&alone).contains(&"curl"),
        "the main file still has it"
    );

    let wal_path = format!("{DB}-wal");
    let (live, warnings) = inspect(&[(DB, &main), (&wal_path, &wal)]);
    assert!(warnings.is_empty(), "{warnings:?}");
    let list = live.packages.as_ref().expect("packages");
    assert_eq!((list.database.as_str(), list.count), ("rpm-sqlite", 128));
    assert!(!names(&live).contains(&"curl"));
    assert!(names(&live).contains(&"glibc"));

    // A damaged log: the main file alone, and a warning saying so.
    let mut bad = wal.clone();
    bad[12] ^= 1;
    let (damaged, warnings) = inspect(&[(DB, &main), (&wal_path, &bad)]);
    assert_eq!(damaged.packages.as_ref().expect("packages").count, 129);
    assert!(
        warnings.iter().any(|w| w.path.as_deref() == Some(DB)
            && w.message
                .contains("rpm sqlite wal: file offset 24: header checksum")),
        "{warnings:?}"
    );
}
