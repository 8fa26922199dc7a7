//! Garbage in the files the inspector parses gives a partial report with
//! warnings naming the file — never a panic, never an unbounded read.

use std::fs;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use guestkit_fs::hostdir::HostDirFs;
use guestkit_fs::{FsLimits, GuestTree};
use guestkit_inspect::{inspect, InspectOptions, Report};

fn write(root: &Path, path: &str, data: &[u8]) {
    let p = root.join(path);
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(p, data).unwrap();
}

fn report(root: &Path) -> Report {
    let fs = HostDirFs::open(root, FsLimits::default()).unwrap();
    let tree = GuestTree::new(Arc::new(fs), "bad", FsLimits::default());
    inspect(
        &tree,
        "bad",
        &InspectOptions {
            deep_scan: true,
            ..InspectOptions::default()
        },
    )
}

fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

#[test]
fn binary_release_files_and_truncated_dpkg_status() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(root, "etc/os-release", &noise(1, 4096));
    write(root, "etc/debian_version", b"\xff\xfe12.\x00\x01");
    fs::create_dir_all(root.join("usr/bin")).unwrap();
    // A dpkg database cut in the middle of a stanza.
    let status = b"Package: bash\nStatus: install ok installed\nVersion: 5.2.15-2+b7\nArchitecture: amd64\n\nPackage: coreutils\nStatus: install ok inst";
    write(root, "var/lib/dpkg/status", status);
    let r = report(root);
    let os = &r.operating_systems[0];
    assert_eq!(os.os.distro.as_deref(), Some("debian"));
    let list = os.packages.as_ref().unwrap();
    assert_eq!(
        list.count, 1,
        "the complete stanza is read, the cut one is not installed"
    );
}

#[test]
fn corrupt_rpm_database_is_a_warning_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(
        root,
        "etc/os-release",
        b"ID=rhel\nVERSION_ID=8.9\nPRETTY_NAME=\"RHEL 8.9\"\n",
    );
    // Berkeley DB hash magic at offset 12, garbage everywhere else.
    let mut db = noise(7, 64 * 1024);
    db[12..16].copy_from_slice(&0x0006_1561u32.to_le_bytes());
    write(root, "var/lib/rpm/Packages", &db);
    let r = report(root);
    let os = &r.operating_systems[0];
    assert_eq!(os.os.distro.as_deref(), Some("rhel"));
    assert!(
        r.warnings
            .iter()
            .any(|w| w.path.as_deref() == Some("/var/lib/rpm/Packages")
                && w.message.contains("rpm bdb")),
        "{:?}",
        r.warnings
    );
}

#[test]
fn a_broken_hive_still_gives_a_windows_report() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let mut software = guestkit_fixtures::windows::software_hive();
    // Damage the cells after the header: the hive opens, lookups fail.
    let len = software.len();
    for b in &mut software[0x1020..len.min(0x1400)] {
        *b ^= 0xa5;
    }
    write(root, "Windows/System32/config/SOFTWARE", &software);
    write(
        root,
        "Windows/System32/config/SYSTEM",
        &guestkit_fixtures::windows::system_hive()[..0x1800],
    );
    let r = report(root);
    let os = &r.operating_systems[0];
    assert_eq!(os.os.os_type, "windows");
    assert!(!r.warnings.is_empty());
    for w in &r.warnings {
        let p = w.path.as_deref().unwrap_or("");
        assert!(p.starts_with("/Windows/System32/config/"), "{w}");
    }
}

#[test]
fn huge_files_are_read_only_up_to_the_cap() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(
        root,
        "etc/os-release",
        b"ID=alpine\nVERSION_ID=3.19.1\nPRETTY_NAME=\"Alpine\"\n",
    );
    // A 1 GB apk database (sparse): a complete record, then a hole.
    let path = root.join("lib/apk/db/installed");
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    let mut f = fs::File::create(&path).unwrap();
    f.write_all(b"P:musl\nV:1.2.4-r2\nA:x86_64\n\n").unwrap();
    f.set_len(1 << 30).unwrap();
    let start = std::time::Instant::now();
    let r = report(root);
    let list = r.operating_systems[0].packages.as_ref().unwrap();
    assert_eq!(list.packages[0].name, "musl");
    assert!(start.elapsed().as_secs() < 30);
    assert!(
        r.warnings
            .iter()
            .any(|w| w.path.as_deref() == Some("/lib/apk/db/installed")),
        "{:?}",
        r.warnings
    );
}
