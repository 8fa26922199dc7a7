//! The readers against real rpm databases from real distributions
//! (`shared/corpus`, see its README and MANIFEST.json): counts, sample
//! packages field by field, and full name lists where the manifest has them.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use guestkit_rpmdb::{read_database, DbKind, PackageList, RpmPackage};
use serde_json::Value;

fn corpus_dir() -> Option<PathBuf> {
    let dir = match std::env::var_os("GUESTKIT_CORPUS") {
        Some(d) => PathBuf::from(d),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus"),
    };
    if dir.join("MANIFEST.json").is_file() {
        Some(dir)
    } else {
        eprintln!(
            "SKIP: rpm corpus not found at {} (set GUESTKIT_CORPUS to the corpus directory)",
            dir.display()
        );
        None
    }
}

fn kind_of(manifest_kind: &str) -> Option<DbKind> {
    match manifest_kind {
        "rpm-sqlite" => Some(DbKind::Sqlite),
        "rpm-ndb" => Some(DbKind::Ndb),
        "rpm-bdb" => Some(DbKind::Bdb),
        _ => None,
    }
}

/// Read a corpus file; sqlite files go through a private copy in a temp dir
/// first, so nothing can ever appear next to the corpus.
fn read_entry(dir: &Path, rel: &str, kind: DbKind) -> PackageList {
    let src = dir.join(rel);
    let tmp = tempfile::tempdir().expect("tempdir");
    let path = if kind == DbKind::Sqlite {
        let copy = tmp.path().join(kind.file_name());
        std::fs::copy(&src, &copy).expect("copy sqlite db to tempdir");
        copy
    } else {
        src
    };
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    assert_eq!(
        DbKind::detect(&bytes),
        Some(kind),
        "{rel}: content detection"
    );
    read_database(kind, &bytes).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn check_sample(rel: &str, pkgs: &[RpmPackage], want: &Value) {
    let name = want["name"].as_str().expect("sample name");
    let matches: Vec<&RpmPackage> = pkgs.iter().filter(|p| p.name == name).collect();
    assert_eq!(matches.len(), 1, "{rel}: exactly one package named {name}");
    let p = matches[0];
    // The manifest's epoch is rpm's %{EPOCHNUM}: absent counts as 0.
    let epoch = want["epoch"].as_u64().expect("sample epoch");
    assert_eq!(
        u64::from(p.epoch.unwrap_or(0)),
        epoch,
        "{rel}: {name} epoch"
    );
    assert_eq!(
        p.version,
        want["version"].as_str().expect("version"),
        "{rel}: {name} version"
    );
    assert_eq!(
        p.release,
        want["release"].as_str().expect("release"),
        "{rel}: {name} release"
    );
    assert_eq!(
        p.arch.as_deref(),
        want["arch"].as_str(),
        "{rel}: {name} arch"
    );
    assert_eq!(
        p.sourcerpm.as_deref(),
        want["sourcerpm"].as_str(),
        "{rel}: {name} sourcerpm"
    );
}

#[test]
fn corpus_rpm_databases_match_manifest() {
    let Some(dir) = corpus_dir() else { return };
    let manifest: Value = serde_json::from_slice(
        &std::fs::read(dir.join("MANIFEST.json")).expect("read MANIFEST.json"),
    )
    .expect("parse MANIFEST.json");
    let files = manifest["files"].as_array().expect("files[]");
    let mut checked = BTreeSet::new();
    for entry in files {
        let Some(kind) = entry["kind"].as_str().and_then(kind_of) else {
            continue;
        };
        let rel = entry["path"].as_str().expect("path");
        let expected = &entry["expected"];
        let list = read_entry(&dir, rel, kind);
        assert!(
            list.warnings.is_empty(),
            "{rel}: unexpected warnings {:?}",
            list.warnings
        );
        let count = expected["count"].as_u64().expect("count");
        assert_eq!(list.packages.len() as u64, count, "{rel}: package count");
        for p in &list.packages {
            assert!(
                !p.name.is_empty() && !p.version.is_empty() && !p.release.is_empty(),
                "{rel}: {p:?}"
            );
        }
        let samples = expected["sample"].as_array().expect("sample[]");
        assert!(!samples.is_empty(), "{rel}: manifest has samples");
        for s in samples {
            check_sample(rel, &list.packages, s);
        }
        if let Some(all) = expected["all_names"].as_array() {
            let want: Vec<&str> = {
                let mut v: Vec<&str> = all.iter().map(|n| n.as_str().expect("name")).collect();
                v.sort_unstable();
                v
            };
            let mut got: Vec<&str> = list.packages.iter().map(|p| p.name.as_str()).collect();
            got.sort_unstable();
            assert_eq!(got, want, "{rel}: all package names");
        }
        checked.insert(kind_name(kind));
        eprintln!("{rel}: {} packages as expected", list.packages.len());
    }
    assert_eq!(
        checked.into_iter().collect::<Vec<_>>(),
        ["bdb", "ndb", "sqlite"],
        "the manifest covers every rpm database format"
    );
}

fn kind_name(k: DbKind) -> &'static str {
    match k {
        DbKind::Sqlite => "sqlite",
        DbKind::Bdb => "bdb",
        DbKind::Ndb => "ndb",
    }
}

/// Fields beyond the manifest's, checked against what these real headers hold.
#[test]
fn corpus_extra_fields_are_decoded() {
    let Some(dir) = corpus_dir() else { return };
    let list = read_entry(&dir, "rpm/sle15-bci/Packages.db", DbKind::Ndb);
    for p in &list.packages {
        let who = &p.name;
        assert!(
            p.summary.as_deref().is_some_and(|s| !s.is_empty()),
            "{who}: summary"
        );
        assert!(
            p.license.as_deref().is_some_and(|s| !s.is_empty()),
            "{who}: license"
        );
        assert!(p.size.is_some(), "{who}: size");
        // Installed after 2001-09 and before 2100.
        assert!(
            p.install_time
                .is_some_and(|t| (1_000_000_000..4_102_444_800).contains(&t)),
            "{who}: install time"
        );
        assert!(
            p.vendor.as_deref().is_some_and(|v| v.contains("SUSE")),
            "{who}: vendor {:?}",
            p.vendor
        );
    }
    let bash = list
        .packages
        .iter()
        .find(|p| p.name == "bash")
        .expect("bash");
    assert_eq!(bash.evr(), "4.4-19.6.1");

    let bdb = read_entry(&dir, "rpm/scalibr-epoch/Packages", DbKind::Bdb);
    assert_eq!(bdb.packages[0].evr(), "1:0.0.1-rls");
    let json = serde_json::to_value(&bdb.packages[0]).expect("serialize");
    assert_eq!(json["name"], "hello");
    assert_eq!(json["epoch"], 1);
}

fn corpus_bytes(dir: &Path, rel: &str) -> Vec<u8> {
    std::fs::read(dir.join(rel)).unwrap_or_else(|e| panic!("read {rel}: {e}"))
}

fn le32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
}

/// A real RHEL 8 Berkeley DB whose overflow chain is bent back on itself.
#[test]
fn corpus_bdb_with_overflow_loop() {
    let Some(dir) = corpus_dir() else { return };
    let mut db = corpus_bytes(&dir, "rpm/el8-libuuid/Packages");
    let ps = le32(&db, 20) as usize;
    // Find the off-page data item (kind 3) on the hash page.
    let (start, len) = (1..db.len() / ps)
        .filter(|p| matches!(db[p * ps + 25], 2 | 13))
        .find_map(|p| {
            let page = &db[p * ps..(p + 1) * ps];
            let n = u16::from_le_bytes([page[20], page[21]]) as usize;
            (0..n).find_map(|i| {
                let off = u16::from_le_bytes([page[26 + 2 * i], page[27 + 2 * i]]) as usize;
                (page[off] == 3).then(|| (le32(page, off + 4), le32(page, off + 8)))
            })
        })
        .expect("an off-page item");
    let mut last = start as usize;
    while le32(&db, last * ps + 16) != 0 {
        last = le32(&db, last * ps + 16) as usize;
    }
    assert_ne!(
        last, start as usize,
        "the header spans several overflow pages"
    );
    db[last * ps + 16..last * ps + 20].copy_from_slice(&start.to_le_bytes());
    // One byte fewer on the last page: the record is not complete there, so
    // the reader follows the bent link and must notice the loop.
    let used = u16::from_le_bytes([db[last * ps + 22], db[last * ps + 23]]);
    db[last * ps + 22..last * ps + 24].copy_from_slice(&(used - 1).to_le_bytes());
    let list = read_database(DbKind::Bdb, &db).expect("read");
    assert!(list.packages.is_empty());
    assert_eq!(list.warnings.len(), 1, "{:?}", list.warnings);
    assert_eq!(
        list.warnings[0].error,
        guestkit_rpmdb::RpmError::BdbOverflowLoop { start, page: start },
        "{} (record of {len} bytes)",
        list.warnings[0]
    );
}

/// The real SLE 15 ndb database with one slot pointing past the end of the file.
#[test]
fn corpus_ndb_with_slot_past_eof() {
    let Some(dir) = corpus_dir() else { return };
    let mut db = corpus_bytes(&dir, "rpm/sle15-bci/Packages.db");
    // Slot 5 (the fourth package slot): its first block becomes the file's last.
    let last_block = (db.len() / 16 - 1) as u32;
    db[5 * 16 + 8..5 * 16 + 12].copy_from_slice(&last_block.to_le_bytes());
    let list = read_database(DbKind::Ndb, &db).expect("read");
    assert_eq!(list.packages.len(), 34, "every other package is still read");
    assert_eq!(list.warnings.len(), 1);
    assert!(
        matches!(
            list.warnings[0].error,
            guestkit_rpmdb::RpmError::NdbSlotPastEof { slot: 5, .. }
        ),
        "{}",
        list.warnings[0]
    );
}

/// The real CBL-Mariner SQLite database cut in half.
#[test]
fn corpus_sqlite_truncated() {
    let Some(dir) = corpus_dir() else { return };
    let tmp = tempfile::tempdir().expect("tempdir");
    let copy = tmp.path().join("rpmdb.sqlite");
    std::fs::copy(dir.join("rpm/cbl-mariner-2.0/rpmdb.sqlite"), &copy).expect("copy");
    let db = std::fs::read(&copy).expect("read copy");
    let err = read_database(DbKind::Sqlite, &db[..db.len() / 2]).expect_err("truncated");
    assert!(
        matches!(err, guestkit_rpmdb::RpmError::Sqlite { .. }),
        "{err}"
    );
    assert!(err.to_string().starts_with("rpm sqlite: "), "{err}");
}
