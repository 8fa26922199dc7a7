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
