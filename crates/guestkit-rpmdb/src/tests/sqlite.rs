use rusqlite::{Connection, MAIN_DB};

use super::package;
use crate::{read_sqlite, DbKind, Limits, RpmError};

/// A real SQLite database in rpm's schema, made by SQLite itself.
fn build(wal_header: bool) -> Vec<u8> {
    let mut conn = Connection::open_in_memory().unwrap();
    conn.execute_batch(
        "CREATE TABLE Packages (hnum INTEGER PRIMARY KEY AUTOINCREMENT, blob BLOB NOT NULL);",
    )
    .unwrap();
    for name in ["aaa", "bbb", "ccc"] {
        conn.execute("INSERT INTO Packages (blob) VALUES (?1)", [package(name)])
            .unwrap();
    }
    conn.execute(
        "INSERT INTO Packages (blob) VALUES (?1)",
        [b"not a header".to_vec()],
    )
    .unwrap();
    conn.execute("INSERT INTO Packages (hnum, blob) VALUES (99, 'text')", [])
        .unwrap();
    // Pad with large blobs so the file spans many pages.
    for i in 0..20 {
        let mut big = package(&format!("pad{i:02}"));
        let dl = u32::from_be_bytes(big[4..8].try_into().unwrap());
        big[4..8].copy_from_slice(&(dl + 5000).to_be_bytes());
        big.extend_from_slice(&[0u8; 5000]);
        conn.execute("INSERT INTO Packages (blob) VALUES (?1)", [big])
            .unwrap();
    }
    let mut bytes = conn.serialize(MAIN_DB).unwrap().to_vec();
    if wal_header {
        bytes[18] = 2;
        bytes[19] = 2;
    }
    bytes
}

#[test]
fn reads_rows_and_names_bad_ones() {
    for wal in [false, true] {
        let db = build(wal);
        assert_eq!(DbKind::detect(&db), Some(DbKind::Sqlite));
        let list = read_sqlite(&db, &Limits::default()).expect("read");
        assert_eq!(list.packages.len(), 23, "wal header {wal}");
        assert_eq!(list.packages[0].name, "aaa");
        let w: Vec<String> = list.warnings.iter().map(|w| w.to_string()).collect();
        assert_eq!(w.len(), 2, "{w:?}");
        assert!(
            w[0].starts_with("sqlite hnum 4: skipped: rpm header:"),
            "{w:?}"
        );
        assert!(
            w[1].starts_with("sqlite hnum 99: skipped: rpm sqlite: blob column holds Text"),
            "{w:?}"
        );
    }
}

#[test]
fn truncated_database_is_an_error() {
    let db = build(true);
    let cut = &db[..db.len() / 2];
    match read_sqlite(cut, &Limits::default()) {
        Err(RpmError::Sqlite { problem }) => {
            eprintln!("truncated: {problem}");
            assert!(
                problem.contains("malformed") || problem.contains("corrupt"),
                "{problem}"
            );
        }
        Ok(list) => panic!(
            "read a truncated database: {} packages",
            list.packages.len()
        ),
        Err(e) => panic!("{e}"),
    }
    // Shorter than the SQLite header itself.
    assert!(matches!(
        read_sqlite(&db[..10], &Limits::default()),
        Err(RpmError::Sqlite { .. })
    ));
    assert!(matches!(
        read_sqlite(&db[..100], &Limits::default()),
        Err(RpmError::Sqlite { .. })
    ));
}

#[test]
fn missing_table_is_an_error() {
    let mut conn = Connection::open_in_memory().unwrap();
    conn.execute_batch("CREATE TABLE Other (x);").unwrap();
    let db = conn.serialize(MAIN_DB).unwrap().to_vec();
    let e = read_sqlite(&db, &Limits::default()).unwrap_err();
    assert!(
        e.to_string()
            .contains("rpm sqlite: SELECT hnum, blob FROM Packages: no such table"),
        "{e}"
    );
}

#[test]
fn schema_with_trigger_or_view_cannot_run_code() {
    // A view named Packages: views are off for untrusted files.
    let mut conn = Connection::open_in_memory().unwrap();
    conn.execute_batch(
        "CREATE TABLE t (hnum, blob); CREATE VIEW Packages AS SELECT hnum, blob FROM t;",
    )
    .unwrap();
    let db = conn.serialize(MAIN_DB).unwrap().to_vec();
    let e = read_sqlite(&db, &Limits::default()).unwrap_err();
    assert!(e.to_string().contains("view"), "{e}");
}

#[test]
fn size_and_package_limits() {
    let db = build(false);
    let small = Limits {
        max_db_bytes: 1000,
        ..Limits::default()
    };
    assert!(matches!(
        read_sqlite(&db, &small),
        Err(RpmError::DbTooLarge {
            layer: "rpm sqlite",
            ..
        })
    ));
    let few = Limits {
        max_packages: 2,
        ..Limits::default()
    };
    assert_eq!(
        read_sqlite(&db, &few),
        Err(RpmError::TooManyPackages {
            layer: "rpm sqlite",
            limit: 2
        })
    );
}

#[test]
fn damaged_pages_do_not_panic() {
    let db = build(false);
    let page = u16::from_be_bytes([db[16], db[17]]) as usize;
    for p in 1..db.len() / page {
        for at in [0, 1, 3, 5, 8, 100] {
            let mut b = db.clone();
            b[p * page + at] ^= 0xff;
            let _ = read_sqlite(&b, &Limits::default());
        }
    }
}
