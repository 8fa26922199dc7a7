//! The ext2/3/4 driver against images made by mke2fs from a known tree, in
//! every layout mke2fs offers (block maps, extents, 1 KiB blocks, inline
//! data, with and without metadata_csum and 64bit), and against damage.

mod common;

use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use guestkit_disk::{DeviceRef, MemDevice};
use guestkit_fixtures::fs_tree::{write_acceptance_tree, TreeOptions};
use guestkit_fs::{ext4, FileSystem, FsError, FsLimits};

const SMALL: TreeOptions = TreeOptions {
    files: 300,
    big_dir_entries: 5000,
    depth: 60,
    big_file: 5_000_000,
    ..TreeOptions::FULL
};

fn run(cmd: &mut Command) {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Builds an image of `tree` with `mke2fs -t TYPE OPTIONS -d TREE`.
fn make(dir: &Path, tree: &Path, name: &str, args: &[&str]) -> DeviceRef {
    let img = dir.join(name);
    std::fs::File::create(&img)
        .unwrap()
        .set_len(64 << 20)
        .unwrap();
    run(Command::new("mke2fs")
        .args(["-q", "-F"])
        .args(args)
        .arg("-d")
        .arg(tree)
        .arg(&img));
    Arc::new(MemDevice::new(std::fs::read(&img).unwrap(), name))
}

fn tree(dir: &Path) -> std::path::PathBuf {
    let t = dir.join("tree");
    std::fs::create_dir(&t).unwrap();
    write_acceptance_tree(&t, SMALL).unwrap();
    t
}

#[test]
fn every_mke2fs_layout_reads_back_the_tree() {
    let dir = tempfile::tempdir().unwrap();
    let t = tree(dir.path());
    let mut want = common::walk_host(&t);
    want.remove(&Vec::new());
    for (name, args) in [
        ("ext2", &["-t", "ext2"][..]),
        ("ext3", &["-t", "ext3"][..]),
        ("ext4", &["-t", "ext4"][..]),
        ("ext4-1k", &["-t", "ext4", "-b", "1024"][..]),
        ("ext4-noextent", &["-t", "ext4", "-O", "^extent,^64bit"][..]),
        (
            "ext4-nocsum",
            &["-t", "ext4", "-O", "^metadata_csum,^64bit"][..],
        ),
        ("ext4-inline", &["-t", "ext4", "-O", "inline_data"][..]),
        (
            "ext4-metabg",
            &["-t", "ext4", "-O", "meta_bg,^resize_inode"][..],
        ),
    ] {
        let dev = make(dir.path(), &t, name, args);
        let info = ext4::probe(dev.as_ref())
            .unwrap()
            .expect("an ext filesystem");
        let expected_type = if name.starts_with("ext4") {
            "ext4"
        } else {
            name
        };
        assert_eq!(info.fs_type, expected_type, "{name}");
        let fs = ext4::mount(dev, FsLimits::default()).unwrap();
        let mut got = common::walk_fs(&fs);
        got.remove(&Vec::new());
        got.retain(|p, _| !p.starts_with(b"lost+found"));
        let mut want = want.clone();
        if name == "ext4-inline" {
            // mke2fs 1.47.0 -O inline_data -d records a sparse file that ends
            // in data 3,904 bytes short (debugfs shows the same size): compare
            // that file's size with debugfs, the rest with the tree.
            let sparse = b"big/sparse.bin".to_vec();
            let ours = got.remove(&sparse).unwrap().size;
            want.remove(&sparse);
            let stat = Command::new("debugfs")
                .args(["-R", "stat /big/sparse.bin"])
                .arg(dir.path().join(name))
                .output()
                .unwrap();
            let stat = String::from_utf8_lossy(&stat.stdout);
            assert!(
                stat.contains(&format!("Size: {ours}\n")),
                "{ours} vs {stat}"
            );
        }
        common::assert_same_listing(&got, &want, name);
    }
}

#[test]
fn probe_agrees_with_blkid() {
    let dir = tempfile::tempdir().unwrap();
    let t = dir.path().join("t");
    std::fs::create_dir(&t).unwrap();
    let img = dir.path().join("fs.img");
    std::fs::File::create(&img)
        .unwrap()
        .set_len(16 << 20)
        .unwrap();
    run(Command::new("mkfs.ext4")
        .args([
            "-q",
            "-L",
            "my-label",
            "-U",
            "0b1c2d3e-4f50-4162-8374-95a6b7c8d9e0",
        ])
        .arg(&img));
    let dev = MemDevice::new(std::fs::read(&img).unwrap(), "fs.img");
    let info = ext4::probe(&dev).unwrap().unwrap();
    let blkid = Command::new("blkid")
        .args(["-o", "export"])
        .arg(&img)
        .output()
        .unwrap();
    let blkid = String::from_utf8_lossy(&blkid.stdout);
    assert!(
        blkid.contains(&format!("UUID={}", info.uuid.as_deref().unwrap())),
        "{blkid}"
    );
    assert!(blkid.contains("LABEL=my-label") && info.label.as_deref() == Some("my-label"));
    assert!(blkid.contains("TYPE=ext4"));
    assert_eq!(info.size, 16 << 20);
}

fn damaged(edit: impl Fn(&mut Vec<u8>, &ext4::Ext4Fs)) -> Result<(ext4::Ext4Fs, Vec<u8>), FsError> {
    let dir = tempfile::tempdir().unwrap();
    let t = dir.path().join("t");
    std::fs::create_dir_all(t.join("d")).unwrap();
    std::fs::write(t.join("d/file"), vec![7u8; 50_000]).unwrap();
    let img = dir.path().join("fs.img");
    std::fs::File::create(&img)
        .unwrap()
        .set_len(8 << 20)
        .unwrap();
    run(Command::new("mkfs.ext4")
        .args(["-q", "-O", "^metadata_csum"])
        .arg("-d")
        .arg(&t)
        .arg(&img));
    let mut bytes = std::fs::read(&img).unwrap();
    let clean = ext4::mount(
        Arc::new(MemDevice::new(bytes.clone(), "damaged.img")),
        FsLimits::default(),
    )
    .unwrap();
    edit(&mut bytes, &clean);
    let fs = ext4::mount(
        Arc::new(MemDevice::new(bytes.clone(), "damaged.img")),
        FsLimits::default(),
    )?;
    Ok((fs, bytes))
}

fn ino(fs: &dyn FileSystem, path: &[&[u8]]) -> u64 {
    let mut cur = fs.root();
    for name in path {
        cur = fs.lookup(cur, name).unwrap().unwrap();
    }
    cur
}

fn expect_corrupt(err: FsError, needles: &[&str]) {
    assert!(matches!(err, FsError::Corrupt { .. }), "{err}");
    let msg = err.to_string();
    for n in needles {
        assert!(msg.contains(n), "{msg:?} lacks {n:?}");
    }
}

#[test]
fn a_superblock_with_absurd_geometry_is_refused() {
    let err = damaged(|b, _| b[1024 + 0x18..1024 + 0x1c].copy_from_slice(&9u32.to_le_bytes()))
        .unwrap_err();
    expect_corrupt(err, &["damaged.img", "ext4", "s_log_block_size"]);
    let err = damaged(|b, _| b[1024 + 0x4..1024 + 0x8].copy_from_slice(&u32::MAX.to_le_bytes()))
        .unwrap_err();
    expect_corrupt(err, &["damaged.img", "ext4", "do not fit"]);
}

#[test]
fn an_extent_outside_the_volume_names_the_inode() {
    let (fs, _) = damaged(|b, fs| {
        let file = ino(fs, &[b"d", b"file"]);
        // Find the inode in the table and point its first extent far away.
        let md = fs.metadata(file).unwrap();
        assert_eq!(md.size, 50_000);
        let needle = [0x0a, 0xf3]; // extent header magic in i_block
        let mut hits = 0;
        let mut at = 0;
        while let Some(pos) = b[at..].windows(2).position(|w| w == needle) {
            let base = at + pos;
            // i_block starts 0x28 into the inode; the first extent's start is at +12+8.
            let size_at = base - 0x28 + 4;
            if u32::from_le_bytes(b[size_at..size_at + 4].try_into().unwrap()) == 50_000 {
                b[base + 20..base + 24].copy_from_slice(&0x00ff_ffffu32.to_le_bytes());
                hits += 1;
            }
            at = base + 2;
        }
        assert_eq!(hits, 1);
    })
    .unwrap();
    let file = ino(&fs, &[b"d", b"file"]);
    let mut buf = [0u8; 16];
    let err = fs.read(file, 0, &mut buf).unwrap_err();
    expect_corrupt(
        err,
        &[
            "damaged.img",
            "ext4",
            &format!("inode {file}"),
            "outside the filesystem",
        ],
    );
}

#[test]
fn a_garbage_directory_record_names_the_directory() {
    let (fs, _) = damaged(|b, fs| {
        let d = ino(fs, &[b"d"]);
        // The directory's data block starts with the "." entry: inode d, rec_len 12.
        let mut pat = d.to_le_bytes()[..4].to_vec();
        pat.extend_from_slice(&[12, 0, 1, 2, b'.', 0, 0, 0]);
        let pos = b.windows(pat.len()).position(|w| w == pat).unwrap();
        b[pos + 4..pos + 6].copy_from_slice(&3u16.to_le_bytes()); // rec_len 3
    })
    .unwrap();
    let d = ino(&fs, &[b"d"]);
    let err = fs.read_dir(d).unwrap_err();
    expect_corrupt(
        err,
        &["damaged.img", "ext4", &format!("inode {d}"), "rec_len 3"],
    );
}

#[test]
fn unused_inodes_and_out_of_range_numbers_are_errors() {
    let (fs, _) = damaged(|_, _| {}).unwrap();
    expect_corrupt(fs.metadata(0).unwrap_err(), &["inode 0"]);
    expect_corrupt(fs.metadata(u64::from(u32::MAX)).unwrap_err(), &["outside"]);
    expect_corrupt(fs.metadata(500).unwrap_err(), &["inode 500", "unused"]);
}

#[test]
fn a_journal_needing_recovery_is_read_with_a_warning() {
    let (fs, _) = damaged(|b, _| {
        let at = 1024 + 0x60;
        let incompat = u32::from_le_bytes(b[at..at + 4].try_into().unwrap()) | 0x4;
        b[at..at + 4].copy_from_slice(&incompat.to_le_bytes());
    })
    .unwrap();
    assert!(fs
        .info()
        .warnings
        .iter()
        .any(|w| w.contains("journal needs recovery")));
    assert_eq!(
        fs.metadata(ino(&fs, &[b"d", b"file"])).unwrap().size,
        50_000
    );
}

#[test]
fn unknown_incompatible_features_are_unsupported() {
    let dev: DeviceRef = {
        let (_, mut bytes) = damaged(|_, _| {}).unwrap();
        let at = 1024 + 0x60;
        let incompat = u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) | 0x4000_0000;
        bytes[at..at + 4].copy_from_slice(&incompat.to_le_bytes());
        Arc::new(MemDevice::new(bytes, "future.img"))
    };
    assert!(dev.size() > 0);
    let err = ext4::mount(dev, FsLimits::default()).unwrap_err();
    assert!(matches!(err, FsError::Unsupported { .. }), "{err}");
    assert!(err.to_string().contains("0x40000000"), "{err}");
}

#[test]
fn a_directory_cycle_stops_tar_out_with_an_error() {
    // d/sub's entry is pointed back at d itself: a cycle a walker must catch.
    let (fs, _) = damaged(|b, fs| {
        let d = ino(fs, &[b"d"]);
        let file = ino(fs, &[b"d", b"file"]);
        // d's block holds ".", "..", "file": make "file" point at d (as a dir).
        let mut pat = (file as u32).to_le_bytes().to_vec();
        pat.extend_from_slice(&[0, 0, 4, 1, b'f', b'i', b'l', b'e']);
        let pos = b
            .windows(pat.len())
            .position(|w| w[..4] == pat[..4] && w[6..] == pat[6..])
            .unwrap();
        b[pos..pos + 4].copy_from_slice(&(d as u32).to_le_bytes());
        b[pos + 7] = 2; // file type: directory
    })
    .unwrap();
    let tree = guestkit_fs::GuestTree::new(Arc::new(fs), "damaged.img", FsLimits::default());
    let err = guestkit_fs::tar::export(&tree, b"/", std::io::sink(), 4096).unwrap_err();
    assert!(err.to_string().contains("directory cycle"), "{err}");
}
