//! The FAT driver against volumes made by mkfs.vfat and filled by mcopy
//! (mcopy is slow with big directories, so the tree is small).
//! FAT carries names, sizes, content, directories and 2-second mtimes; it has
//! no symlinks, devices, owners, modes or hard links, and no two names that
//! differ only in case — the tree here holds only what FAT carries.

mod common;

use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use guestkit_disk::MemDevice;
use guestkit_fs::{fat, FileSystem, FileType, FsError, FsLimits};

fn run(cmd: &mut Command) {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn write(p: &Path, data: &[u8]) {
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, data).unwrap();
}

fn source_tree(dir: &Path) {
    let mut deep = dir.join("deep");
    for i in 0..20 {
        deep = deep.join(format!("level{i}"));
    }
    write(&deep.join("bottom.txt"), b"bottom\n");
    for i in 0..300 {
        write(
            &dir.join(format!("many/entry number {i:04}.txt")),
            format!("{i}").as_bytes(),
        );
    }
    write(
        &dir.join("A Rather Long File Name With Spaces.text"),
        b"long name\n",
    );
    write(&dir.join("ünïcødé ファイル.txt"), b"unicode\n");
    write(&dir.join("SHORT.TXT"), b"upper 8.3\n");
    write(&dir.join("lower.txt"), b"lower 8.3\n");
    write(&dir.join("empty"), b"");
    write(&dir.join("one"), b"1");
    let big: Vec<u8> = (0..1_500_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    write(&dir.join("big/data.bin"), &big);
    run(Command::new("find").arg(dir).args([
        "-exec",
        "touch",
        "-d",
        "2024-05-06 07:08:10",
        "{}",
        "+",
    ]));
}

fn make(dir: &Path, tree: &Path, bits: &str, size_mb: u64) -> Arc<MemDevice> {
    let img = dir.join(format!("fat{bits}.img"));
    std::fs::File::create(&img)
        .unwrap()
        .set_len(size_mb << 20)
        .unwrap();
    run(Command::new("mkfs.vfat")
        .args(["-F", bits, "-i", "12AB34CD", "-n", "GUESTKIT"])
        .arg(&img));
    let mut cmd = Command::new("mcopy");
    cmd.env("TZ", "UTC").args(["-s", "-m", "-i"]).arg(&img);
    for e in std::fs::read_dir(tree).unwrap() {
        cmd.arg(e.unwrap().path());
    }
    run(cmd.arg("::/"));
    run(Command::new("mattrib")
        .arg("-i")
        .arg(&img)
        .args(["+r", "::/one"]));
    Arc::new(MemDevice::new(
        std::fs::read(&img).unwrap(),
        format!("fat{bits}.img"),
    ))
}

/// What FAT carries of a host listing: directories 0o755 and files 0o644
/// owned by root, mtimes to two seconds, no directory mtimes compared.
fn fat_view(mut l: common::Listing) -> common::Listing {
    for e in l.values_mut() {
        e.uid = 0;
        e.gid = 0;
        e.mode = if e.file_type == FileType::Directory {
            0o755
        } else {
            0o644
        };
        e.mtime -= e.mtime % 2;
        if e.file_type == FileType::Directory {
            e.mtime = 0;
        }
    }
    l
}

#[test]
fn fat12_16_32_read_back_the_tree() {
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path().join("tree");
    std::fs::create_dir(&tree).unwrap();
    source_tree(&tree);
    let mut want = fat_view(common::walk_host(&tree));
    want.remove(&Vec::new());
    if let Some(one) = want.get_mut(b"one".as_slice()) {
        one.mode = 0o444;
    }
    for (bits, size) in [("12", 16), ("16", 32), ("32", 64)] {
        let dev = make(dir.path(), &tree, bits, size);
        let info = fat::probe(dev.as_ref()).unwrap().expect("FAT");
        assert_eq!(info.uuid.as_deref(), Some("12AB-34CD"));
        assert_eq!(info.label.as_deref(), Some("GUESTKIT"));
        let fs = fat::mount(dev, FsLimits::default()).unwrap();
        let mut got = common::walk_fs(&fs);
        got.remove(&Vec::new());
        for e in got.values_mut() {
            if e.file_type == FileType::Directory {
                e.mtime = 0;
            }
        }
        common::assert_same_listing(&got, &want, &format!("FAT{bits}"));
        // The read-only attribute (set with mattrib) shows as mode 0o444.
        let ro = fs.lookup(fs.root(), b"one").unwrap().unwrap();
        assert_eq!(fs.metadata(ro).unwrap().mode, 0o444, "FAT{bits}");
        // Lookups ignore case, as FAT does.
        let upper = fs
            .lookup(fs.root(), b"a rather long file name with spaces.TEXT")
            .unwrap();
        assert!(upper.is_some());
    }
}

#[test]
fn probe_agrees_with_blkid() {
    let dir = tempfile::tempdir().unwrap();
    let img = dir.path().join("efi.img");
    std::fs::File::create(&img)
        .unwrap()
        .set_len(33 << 20)
        .unwrap();
    run(Command::new("mkfs.vfat")
        .args(["-F", "32", "-i", "0BADF00D", "-n", "EFI"])
        .arg(&img));
    let dev = MemDevice::new(std::fs::read(&img).unwrap(), "efi.img");
    let info = fat::probe(&dev).unwrap().unwrap();
    let blkid = Command::new("blkid")
        .args(["-o", "export"])
        .arg(&img)
        .output()
        .unwrap();
    let blkid = String::from_utf8_lossy(&blkid.stdout);
    assert!(
        blkid.contains("UUID=0BAD-F00D") && info.uuid.as_deref() == Some("0BAD-F00D"),
        "{blkid}"
    );
    assert!(
        blkid.contains("LABEL=EFI") && info.label.as_deref() == Some("EFI"),
        "{blkid}"
    );
    assert!(blkid.contains("TYPE=vfat"));
}

/// A FAT16 volume with one 100 KiB file, and the byte offset of its FAT.
fn one_file() -> (Vec<u8>, usize) {
    let dir = tempfile::tempdir().unwrap();
    let img = dir.path().join("f.img");
    std::fs::File::create(&img)
        .unwrap()
        .set_len(16 << 20)
        .unwrap();
    run(Command::new("mkfs.vfat").args(["-F", "16"]).arg(&img));
    let file = dir.path().join("FILE.BIN");
    std::fs::write(&file, vec![9u8; 100 * 1024]).unwrap();
    run(Command::new("mcopy")
        .arg("-i")
        .arg(&img)
        .arg(&file)
        .arg("::/"));
    let bytes = std::fs::read(&img).unwrap();
    let reserved = u16::from_le_bytes([bytes[14], bytes[15]]) as usize;
    (bytes, reserved * 512)
}

fn read_file(bytes: Vec<u8>) -> Result<usize, FsError> {
    let fs = fat::mount(
        Arc::new(MemDevice::new(bytes, "damaged.img")),
        FsLimits::default(),
    )?;
    let ino = fs.lookup(fs.root(), b"file.bin")?.unwrap();
    let mut buf = vec![0u8; 200 * 1024];
    fs.read(ino, 0, &mut buf)
}

#[test]
fn a_fat_chain_loop_is_an_error_naming_the_file() {
    let (mut bytes, fat) = one_file();
    // The file starts at cluster 3 (cluster 2 is... whichever): point the
    // second cluster of its chain back at the first.
    let first = (2..100usize)
        .find(|&c| u16::from_le_bytes([bytes[fat + c * 2], bytes[fat + c * 2 + 1]]) != 0)
        .unwrap();
    let second = u16::from_le_bytes([bytes[fat + first * 2], bytes[fat + first * 2 + 1]]) as usize;
    bytes[fat + second * 2..fat + second * 2 + 2].copy_from_slice(&(first as u16).to_le_bytes());
    let err = read_file(bytes).unwrap_err();
    assert!(matches!(err, FsError::Corrupt { .. }), "{err}");
    let msg = err.to_string();
    assert!(
        msg.contains("damaged.img") && msg.contains("vfat") && msg.contains("cluster chain"),
        "{msg}"
    );
}

#[test]
fn a_cluster_outside_the_volume_is_an_error() {
    let (mut bytes, fat) = one_file();
    let first = (2..100usize)
        .find(|&c| u16::from_le_bytes([bytes[fat + c * 2], bytes[fat + c * 2 + 1]]) != 0)
        .unwrap();
    bytes[fat + first * 2..fat + first * 2 + 2].copy_from_slice(&0xfff0u16.to_le_bytes());
    let err = read_file(bytes).unwrap_err();
    assert!(err.to_string().contains("outside the volume"), "{err}");
}

#[test]
fn a_boot_sector_with_no_sectors_per_cluster_is_corrupt() {
    let (mut bytes, _) = one_file();
    bytes[13] = 0;
    let err = fat::mount(
        Arc::new(MemDevice::new(bytes, "damaged.img")),
        FsLimits::default(),
    )
    .unwrap_err();
    assert!(matches!(err, FsError::Corrupt { .. }), "{err}");
    assert!(err.to_string().contains("0 sectors per cluster"), "{err}");
}
