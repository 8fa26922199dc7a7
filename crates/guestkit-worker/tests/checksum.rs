//! Checksums of real files, compared with the `sha256sum` command, and the
//! cache kept in a real SQLite store.

mod common;

use std::cell::Cell;
use std::fs::{File, FileTimes};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, SystemTime};

use common::TestDb;
use guestkit_worker::checksum::CHUNK_SIZE;
use guestkit_worker::{
    digest_file, verify_file, BlockingStoreCache, Checksum, ChecksumCache, ChecksumError, JobStore,
};

fn never() -> bool {
    false
}

/// Deterministic, non-repeating content of `len` bytes.
fn write_test_file(path: &Path, len: usize, seed: u32) {
    let mut state = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
    let bytes: Vec<u8> = (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            state.to_le_bytes()[0]
        })
        .collect();
    std::fs::write(path, bytes).unwrap();
}

/// What the real `sha256sum` prints for the file.
fn sha256sum(path: &Path) -> String {
    let out = Command::new("sha256sum").arg(path).output().unwrap();
    assert!(out.status.success(), "sha256sum failed: {out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    text.split_whitespace().next().unwrap().to_owned()
}

#[test]
fn digest_matches_sha256sum_with_progress_in_chunks() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("disk.raw");
    let len = 3 * CHUNK_SIZE + 12_345;
    write_test_file(&path, len, 1);
    let mut calls = vec![];
    let got = digest_file(
        &path,
        None,
        &mut |done, total| calls.push((done, total)),
        &never,
    )
    .unwrap();
    assert_eq!(got.digest.hex(), sha256sum(&path));
    assert!(!got.cached);
    assert_eq!(got.bytes_hashed, len as u64);
    let total = len as u64;
    assert!(calls.len() >= 4, "{calls:?}");
    assert!(calls.windows(2).all(|w| w[0].0 < w[1].0), "{calls:?}");
    assert!(calls.iter().all(|&(done, t)| t == total && done <= total));
    assert_eq!(calls.last(), Some(&(total, total)));

    // Empty file: the well-known empty digest.
    let empty = dir.path().join("empty");
    std::fs::write(&empty, b"").unwrap();
    let got = digest_file(&empty, None, &mut |_, _| {}, &never).unwrap();
    assert_eq!(got.digest.hex(), sha256sum(&empty));
}

#[test]
fn an_unchanged_file_is_hashed_once_and_a_changed_one_again() {
    let db = TestDb::new();
    let store = db.open();
    let path = db.dir.path().join("image.qcow2");
    write_test_file(&path, CHUNK_SIZE + 7, 2);
    let expected = Checksum::parse(&format!("sha256:{}", sha256sum(&path))).unwrap();

    let first = verify_file(&path, &expected, Some(&store), &mut |_, _| {}, &never).unwrap();
    assert_eq!(
        (first.cached, first.bytes_hashed),
        (false, CHUNK_SIZE as u64 + 7)
    );
    let mut calls = vec![];
    let second = verify_file(
        &path,
        &expected,
        Some(&store),
        &mut |d, t| calls.push((d, t)),
        &never,
    )
    .unwrap();
    assert_eq!((second.cached, second.bytes_hashed), (true, 0));
    assert_eq!(second.digest, expected);
    assert_eq!(calls, [(CHUNK_SIZE as u64 + 7, CHUNK_SIZE as u64 + 7)]);

    // The cache is in the file: another connection sees it.
    let other = db.open();
    let third = digest_file(&path, Some(&other), &mut |_, _| {}, &never).unwrap();
    assert!(third.cached);

    // Rewritten with other content of another size: hashed again.
    write_test_file(&path, 1000, 3);
    let changed = digest_file(&path, Some(&store), &mut |_, _| {}, &never).unwrap();
    assert_eq!((changed.cached, changed.bytes_hashed), (false, 1000));
    assert_eq!(changed.digest.hex(), sha256sum(&path));

    // Same size, same inode, only the content and mtime differ: hashed again.
    write_test_file(&path, 1000, 4);
    let later = SystemTime::UNIX_EPOCH + Duration::from_secs(2_000_000_000);
    File::options()
        .write(true)
        .open(&path)
        .unwrap()
        .set_times(FileTimes::new().set_modified(later))
        .unwrap();
    let rewritten = digest_file(&path, Some(&store), &mut |_, _| {}, &never).unwrap();
    assert_eq!((rewritten.cached, rewritten.bytes_hashed), (false, 1000));
    assert_eq!(rewritten.digest.hex(), sha256sum(&path));
    assert_ne!(rewritten.digest, changed.digest);
}

#[test]
fn a_mismatch_names_the_file_and_both_digests() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("image.vmdk");
    write_test_file(&path, 4096, 5);
    let wrong = Checksum::parse(&"ab".repeat(32)).unwrap();
    let err = verify_file(&path, &wrong, None, &mut |_, _| {}, &never).unwrap_err();
    let actual = sha256sum(&path);
    match &err {
        ChecksumError::Mismatch {
            path: p,
            expected,
            actual: a,
        } => {
            assert_eq!(p, &path);
            assert_eq!(expected, &"ab".repeat(32));
            assert_eq!(a, &actual);
        }
        other => panic!("expected a mismatch, got {other}"),
    }
    let message = err.to_string();
    assert!(message.contains(&path.display().to_string()), "{message}");
    assert!(message.contains(&actual), "{message}");

    let missing = dir.path().join("absent.qcow2");
    let err = digest_file(&missing, None, &mut |_, _| {}, &never).unwrap_err();
    assert!(matches!(err, ChecksumError::Open { .. }), "{err}");
    assert!(err.to_string().contains("absent.qcow2"), "{err}");
}

#[test]
fn cancellation_stops_between_chunks_and_caches_nothing() {
    let db = TestDb::new();
    let store = db.open();
    let path = db.dir.path().join("big.raw");
    write_test_file(&path, 3 * CHUNK_SIZE, 6);
    let checks = Cell::new(0);
    let cancel_after_two = || {
        checks.set(checks.get() + 1);
        checks.get() > 2
    };
    let err = digest_file(&path, Some(&store), &mut |_, _| {}, &cancel_after_two).unwrap_err();
    match err {
        ChecksumError::Cancelled {
            bytes_done, total, ..
        } => {
            assert_eq!(bytes_done, 2 * CHUNK_SIZE as u64);
            assert_eq!(total, 3 * CHUNK_SIZE as u64);
        }
        other => panic!("expected cancellation, got {other}"),
    }
    let full = digest_file(&path, Some(&store), &mut |_, _| {}, &never).unwrap();
    assert!(!full.cached);
}

#[test]
fn expected_checksum_forms_are_the_protocol_ones() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("disk.img");
    std::fs::write(&path, b"test").unwrap();
    let hex = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
    assert_eq!(sha256sum(&path), hex);
    let digest = Checksum::parse(hex).unwrap();
    assert_eq!(digest.hex(), hex);
    assert_eq!(digest.to_string(), format!("sha256:{hex}"));
    for form in [
        format!("sha256:{hex}"),
        format!("SHA256:{}", hex.to_uppercase()),
        format!("  sha256:{hex}\n"),
        hex.to_uppercase(),
    ] {
        let expected: Checksum = form.parse().unwrap();
        assert_eq!(expected, digest, "{form:?}");
        let found = verify_file(&path, &expected, None, &mut |_, _| {}, &never).unwrap();
        assert_eq!(found.digest, digest);
    }
    for bad in [
        "",
        "sha256:",
        &hex[..63],
        &format!("{hex}0"),
        &format!("md5:{hex}"),
        &format!("{}zz", &hex[..62]),
        &format!("sha256: {hex}"),
    ] {
        assert!(Checksum::parse(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn a_non_regular_file_is_hashed_but_never_cached() {
    let db = TestDb::new();
    let store = db.open();
    let dev_null = Path::new("/dev/null");
    for _ in 0..2 {
        let got = digest_file(dev_null, Some(&store), &mut |_, _| {}, &never).unwrap();
        assert!(!got.cached);
        assert_eq!(
            got.digest.hex(),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn any_job_store_serves_as_cache_from_a_blocking_task() {
    let db = TestDb::new();
    let store: std::sync::Arc<dyn JobStore> = std::sync::Arc::new(db.open());
    let path = db.dir.path().join("image.raw");
    write_test_file(&path, 100_000, 7);
    let runtime = tokio::runtime::Handle::current();
    let (first, second) = {
        let (store, path) = (store.clone(), path.clone());
        tokio::task::spawn_blocking(move || {
            let cache = BlockingStoreCache::new(store.as_ref(), runtime);
            let cache: &dyn ChecksumCache = &cache;
            let first = digest_file(&path, Some(cache), &mut |_, _| {}, &never).unwrap();
            let second = digest_file(&path, Some(cache), &mut |_, _| {}, &never).unwrap();
            (first, second)
        })
        .await
        .unwrap()
    };
    assert_eq!((first.cached, second.cached), (false, true));
    assert_eq!(first.digest.hex(), sha256sum(&path));
    let meta = std::fs::metadata(&path).unwrap();
    let identity = guestkit_worker::FileIdentity::of(&path, &meta).unwrap();
    assert_eq!(
        store.cached_checksum(&identity).await.unwrap(),
        Some(*first.digest.digest())
    );
}
