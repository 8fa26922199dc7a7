//! Btrfs driver tests against images built by `mkfs.btrfs --rootdir` from
//! trees written by the fixture factory, with real subvolumes and zlib, lzo
//! and zstd extents (`--subvol`, `--compress`).

mod common;

use std::path::Path;
use std::sync::Arc;

use guestkit_disk::{DeviceRef, FileDevice, IoStats, MemDevice};
use guestkit_fixtures::fs_btrfs;
use guestkit_fixtures::tools::run;
use guestkit_fs::btrfs::{self, SubvolSelector};
use guestkit_fs::{FileSystem, FileType, FsError, FsLimits};

fn open(path: &Path) -> DeviceRef {
    Arc::new(FileDevice::open(path, Arc::new(IoStats::default())).unwrap())
}

/// The host listing adjusted for what mkfs.btrfs cannot carry: its
/// `--rootdir` copy stores every device number as 0 (types, modes, owners and
/// times are carried; the test asserts the device nodes are there).
fn want_listing(tree: &Path) -> common::Listing {
    let mut want = common::walk_host(tree);
    for e in want.values_mut() {
        if matches!(e.file_type, FileType::CharDevice | FileType::BlockDevice) {
            e.rdev = Some((0, 0));
        }
    }
    want
}

#[test]
fn full_tree_matches_host() {
    let dir = fs_btrfs::full().unwrap();
    let fs = btrfs::mount(open(&dir.join("btrfs.img")), FsLimits::default()).unwrap();
    let got = common::walk_fs(&fs);
    let want = want_listing(&dir.join("tree"));
    common::assert_same_listing(&got, &want, "btrfs full tree");
    assert!(got.len() > 5060, "{} entries", got.len());
    assert_eq!(got[&b"dev/null"[..]].file_type, FileType::CharDevice);
    assert_eq!(got[&b"dev/sda1"[..]].file_type, FileType::BlockDevice);
    assert_eq!(got[&b"dev/fifo"[..]].file_type, FileType::Fifo);
    assert_eq!(
        got[&b"links/long"[..]].target.as_ref().unwrap().len(),
        3 + 15 * 20 + 3
    );
}

#[test]
fn probe_matches_dump_super() {
    let dir = fs_btrfs::full().unwrap();
    let img = dir.join("btrfs.img");
    let dev = open(&img);
    let info = btrfs::probe(dev.as_ref()).unwrap().unwrap();
    let dump = run(
        "btrfs",
        &["inspect-internal", "dump-super", img.to_str().unwrap()],
    )
    .unwrap();
    let field = |name: &str| {
        dump.lines()
            .find_map(|l| l.strip_prefix(name).map(|v| v.trim().to_string()))
            .unwrap_or_else(|| panic!("{name} in {dump}"))
    };
    assert_eq!(info.fs_type, "btrfs");
    assert_eq!(info.uuid.as_deref(), Some(field("fsid").as_str()));
    assert_eq!(info.label.as_deref(), Some("guestkit-btrfs"));
    assert_eq!(info.block_size.to_string(), field("sectorsize"));
    assert_eq!(info.size.to_string(), field("total_bytes"));
    assert!(info.warnings.is_empty(), "{:?}", info.warnings);
    // Not btrfs: zeros.
    let zeros = MemDevice::new(vec![0u8; 1 << 20], "zeros");
    assert!(btrfs::probe(&zeros).unwrap().is_none());
}

#[test]
fn lookup_agrees_with_read_dir() {
    let dir = fs_btrfs::full().unwrap();
    let fs = btrfs::mount(open(&dir.join("btrfs.img")), FsLimits::default()).unwrap();
    let big = fs.lookup(fs.root(), b"big").unwrap().unwrap();
    let entries = fs.read_dir(big).unwrap();
    assert_eq!(entries.len(), 5000);
    for e in &entries {
        assert_eq!(
            fs.lookup(big, &e.name).unwrap(),
            Some(e.inode),
            "{:?}",
            e.name
        );
    }
    assert_eq!(fs.lookup(big, b"entry-05000").unwrap(), None);
    let names = fs.lookup(fs.root(), b"names").unwrap().unwrap();
    for n in ["grüße", "日本語のファイル", "colon:name", "a b: c"] {
        let ino = fs.lookup(names, n.as_bytes()).unwrap().unwrap();
        let mut buf = vec![0u8; 64];
        let k = fs.read(ino, 0, &mut buf).unwrap();
        assert_eq!(&buf[..k], n.as_bytes());
    }
    // Hard links share an inode.
    let hard = fs.lookup(fs.root(), b"hard").unwrap().unwrap();
    let a = fs.lookup(hard, b"a").unwrap().unwrap();
    assert_eq!(fs.lookup(hard, b"b").unwrap(), Some(a));
    assert_eq!(fs.metadata(a).unwrap().nlink, 3);
    // Wrong types are typed errors.
    assert!(matches!(fs.read_dir(a), Err(FsError::WrongType { .. })));
    assert!(matches!(fs.read_link(a), Err(FsError::WrongType { .. })));
    assert!(matches!(
        fs.read(hard, 0, &mut [0u8; 4]),
        Err(FsError::WrongType { .. })
    ));
}

#[test]
fn partial_reads_match_host_bytes() {
    let dir = fs_btrfs::full().unwrap();
    let fs = btrfs::mount(open(&dir.join("btrfs.img")), FsLimits::default()).unwrap();
    let files = fs.lookup(fs.root(), b"files").unwrap().unwrap();
    for name in ["sparse", "odd-size", "full-3MiB", "inline-max", "one-byte"] {
        let host = std::fs::read(dir.join("tree/files").join(name)).unwrap();
        let ino = fs.lookup(files, name.as_bytes()).unwrap().unwrap();
        let len = host.len() as u64;
        for (off, n) in [
            (0u64, 1usize),
            (1, 4095),
            (4095, 2),
            (len / 3, 70_001),
            (len.saturating_sub(5), 100),
            (2 << 20, 4096),
            (len, 10),
            (len + 100, 10),
        ] {
            let mut buf = vec![0xaau8; n];
            let got = fs.read(ino, off, &mut buf).unwrap();
            let start = (off as usize).min(host.len());
            let end = (start + n).min(host.len());
            assert_eq!(got, end - start, "{name} at {off}");
            assert!(buf[..got] == host[start..end], "{name} bytes at {off}+{n}");
        }
    }
}

#[test]
fn subvolumes_of_a_plain_filesystem() {
    // An image without subvolumes: only the top level is listed, and
    // selectors naming anything else are "not found".
    let dir = fs_btrfs::small().unwrap();
    let img = dir.join("small-mixed.img");
    let fs = btrfs::mount(open(&img), FsLimits::default()).unwrap();
    let subs = fs.subvolumes().unwrap();
    assert_eq!(subs.len(), 1, "{subs:?}");
    assert_eq!(
        (subs[0].id, subs[0].parent_id, subs[0].path.as_str()),
        (5, None, "")
    );
    assert_eq!(fs.subvolume_id(), 5);
    for sel in [
        SubvolSelector::Id(5),
        SubvolSelector::Path("/".into()),
        SubvolSelector::Default,
    ] {
        let fs = btrfs::mount_subvolume(open(&img), FsLimits::default(), sel).unwrap();
        assert_eq!(fs.subvolume_id(), 5);
        assert!(fs.lookup(fs.root(), b"hello.txt").unwrap().is_some());
    }
    for sel in [
        SubvolSelector::Id(256),
        SubvolSelector::Id(7),
        SubvolSelector::Path("@home".into()),
    ] {
        let err = btrfs::mount_subvolume(open(&img), FsLimits::default(), sel.clone()).unwrap_err();
        assert!(matches!(err, FsError::NotFound { .. }), "{sel:?}: {err}");
    }
}

#[test]
fn small_images_match_host() {
    let dir = fs_btrfs::small().unwrap();
    let want = want_listing(&dir.join("tree"));
    for name in ["small-mixed.img", "small-dup.img"] {
        let fs = btrfs::mount(open(&dir.join(name)), FsLimits::default()).unwrap();
        common::assert_same_listing(&common::walk_fs(&fs), &want, name);
    }
}

#[test]
fn limits_are_enforced() {
    let dir = fs_btrfs::full().unwrap();
    let limits = FsLimits {
        max_dir_entries: 100,
        max_symlink_len: 16,
        ..FsLimits::default()
    };
    let fs = btrfs::mount(open(&dir.join("btrfs.img")), limits).unwrap();
    let big = fs.lookup(fs.root(), b"big").unwrap().unwrap();
    let e = fs.read_dir(big).unwrap_err();
    assert!(
        matches!(e, FsError::LimitExceeded { limit: 100, .. }),
        "{e:?}"
    );
    // Lookup goes through the name-hash index and needs no full listing.
    assert!(fs.lookup(big, b"entry-04999").unwrap().is_some());
    let links = fs.lookup(fs.root(), b"links").unwrap().unwrap();
    let long = fs.lookup(links, b"long").unwrap().unwrap();
    let e = fs.read_link(long).unwrap_err();
    assert!(
        matches!(e, FsError::LimitExceeded { limit: 16, .. }),
        "{e:?}"
    );
    let short = fs.lookup(links, b"dot").unwrap().unwrap();
    assert_eq!(fs.read_link(short).unwrap(), b".");
    // A tiny metadata cache still reads everything right.
    let limits = FsLimits {
        max_cache_bytes: 0,
        ..FsLimits::default()
    };
    let fs = btrfs::mount(open(&dir.join("btrfs.img")), limits).unwrap();
    let names = fs.lookup(fs.root(), b"names").unwrap().unwrap();
    assert_eq!(fs.read_dir(names).unwrap().len(), 6);
}

/// `(subvolume id, compression type)` pairs of the regular extents
/// `btrfs inspect-internal dump-tree` lists in `img`: proof, independent of
/// our reader, that the data really is compressed.
fn compressed_extents(img: &Path) -> usize {
    let dump = run(
        "btrfs",
        &["inspect-internal", "dump-tree", img.to_str().unwrap()],
    )
    .unwrap();
    dump.lines()
        .filter(|l| l.contains("compression") && !l.contains("compression 0"))
        .count()
}

#[test]
fn real_subvolumes_and_compressed_extents() {
    let dir = fs_btrfs::subvolumes().unwrap();
    let tree = dir.join("tree");
    for algo in fs_btrfs::COMPRESSIONS {
        let img = dir.join(format!("subvols-{algo}.img"));
        assert!(
            compressed_extents(&img) > 3,
            "{algo}: no compressed extents"
        );
        let top =
            btrfs::mount_subvolume(open(&img), FsLimits::default(), SubvolSelector::Id(5)).unwrap();
        let mut subs: Vec<(String, Option<u64>)> = top
            .subvolumes()
            .unwrap()
            .into_iter()
            .map(|s| (s.path, s.parent_id))
            .collect();
        subs.sort();
        let id_of = |p: &str| {
            top.subvolumes()
                .unwrap()
                .into_iter()
                .find(|s| s.path == p)
                .map(|s| s.id)
                .unwrap()
        };
        let (at, home) = (id_of("@"), id_of("@home"));
        assert_eq!(
            subs,
            [
                ("".to_string(), None),
                ("@".to_string(), Some(5)),
                ("@/nested-sub".to_string(), Some(at)),
                ("@home".to_string(), Some(5)),
            ],
            "{algo}"
        );
        // The default subvolume is @ (mkfs --subvol default:@).
        let default = btrfs::mount(open(&img), FsLimits::default()).unwrap();
        assert_eq!(default.subvolume_id(), at, "{algo}");
        common::assert_same_listing(
            &common::walk_fs(&default),
            &common::walk_host(&tree.join("@")),
            algo,
        );
        for sel in [
            SubvolSelector::Path("@home".into()),
            SubvolSelector::Path("/@home".into()),
            SubvolSelector::Id(home),
        ] {
            let fs = btrfs::mount_subvolume(open(&img), FsLimits::default(), sel).unwrap();
            assert_eq!(fs.subvolume_id(), home);
            common::assert_same_listing(
                &common::walk_fs(&fs),
                &common::walk_host(&tree.join("@home")),
                algo,
            );
        }
        let nested = btrfs::mount_subvolume(
            open(&img),
            FsLimits::default(),
            SubvolSelector::Path("@/nested-sub".into()),
        )
        .unwrap();
        common::assert_same_listing(
            &common::walk_fs(&nested),
            &common::walk_host(&tree.join("@/nested-sub")),
            algo,
        );
        // The top level: top.txt beside the subvolumes' roots.
        let top_names: Vec<Vec<u8>> = top
            .read_dir(top.root())
            .unwrap()
            .into_iter()
            .map(|e| e.name)
            .collect();
        for want in [&b"top.txt"[..], b"@", b"@home"] {
            assert!(
                top_names.iter().any(|n| n == want),
                "{algo}: {:?}",
                String::from_utf8_lossy(want)
            );
        }
    }
}
