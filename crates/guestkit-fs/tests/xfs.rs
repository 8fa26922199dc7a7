//! The XFS driver against filesystems made by mkfs.xfs from a protofile of a
//! known tree (v5 and v4), and against damage. Protofiles cannot express
//! hard links, names with spaces or ':', the sticky bit or timestamps: the
//! tree leaves those out and mtimes are not compared.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use guestkit_disk::{open_image, DeviceRef, MemDevice, OpenOptions};
use guestkit_fixtures::fs_images::xfs_protofile;
use guestkit_fixtures::fs_tree::{write_acceptance_tree, TreeOptions};
use guestkit_fs::{xfs, FileSystem, FsError, FsLimits};

const TREE: TreeOptions = TreeOptions {
    files: 300,
    big_dir_entries: 5000,
    depth: 50,
    big_file: 6_000_000,
    colons: false,
    spaces: false,
    hard_links: false,
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

fn make(dir: &Path, tree: &Path, name: &str, args: &[&str]) -> PathBuf {
    let img = dir.join(name);
    std::fs::File::create(&img)
        .unwrap()
        .set_len(512 << 20)
        .unwrap();
    let proto = dir.join(format!("{name}.proto"));
    std::fs::write(&proto, xfs_protofile(tree).unwrap()).unwrap();
    run(Command::new("mkfs.xfs")
        .args(["-q", "-f", "-L", "xfs-test"])
        .args(args)
        .arg("-p")
        .arg(&proto)
        .arg(&img));
    img
}

fn device(path: &Path) -> DeviceRef {
    open_image(path, &OpenOptions::default()).unwrap().device
}

#[test]
fn v5_and_v4_read_back_the_tree() {
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path().join("tree");
    std::fs::create_dir(&tree).unwrap();
    write_acceptance_tree(&tree, TREE).unwrap();
    let mut want = common::walk_host(&tree);
    want.remove(&Vec::new());
    for e in want.values_mut() {
        e.mtime = 0;
        e.mode &= !0o1000;
    }
    for (name, args) in [
        ("v5.img", &[][..]),
        ("v4.img", &["-m", "crc=0"][..]),
        ("v5-1k.img", &["-b", "size=1024"][..]),
    ] {
        let img = make(dir.path(), &tree, name, args);
        let fs = xfs::mount(device(&img), FsLimits::default()).unwrap();
        let mut got = common::walk_fs(&fs);
        got.remove(&Vec::new());
        for e in got.values_mut() {
            e.mtime = 0;
        }
        common::assert_same_listing(&got, &want, name);
    }
}

#[test]
fn probe_agrees_with_blkid() {
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path().join("t");
    std::fs::create_dir(&tree).unwrap();
    let img = make(dir.path(), &tree, "p.img", &[]);
    let info = xfs::probe(device(&img).as_ref()).unwrap().unwrap();
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
    assert!(
        blkid.contains("LABEL=xfs-test") && info.label.as_deref() == Some("xfs-test"),
        "{blkid}"
    );
    assert!(blkid.contains("TYPE=xfs"));
}

/// A small v5 filesystem in memory with one file, plus the file's inode.
fn small() -> (Vec<u8>, u64) {
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path().join("t");
    std::fs::create_dir_all(tree.join("d")).unwrap();
    std::fs::write(tree.join("d/file"), vec![5u8; 100_000]).unwrap();
    let img = make(dir.path(), &tree, "s.img", &[]);
    let fs = xfs::mount(device(&img), FsLimits::default()).unwrap();
    let d = fs.lookup(fs.root(), b"d").unwrap().unwrap();
    let file = fs.lookup(d, b"file").unwrap().unwrap();
    (std::fs::read(&img).unwrap(), file)
}

fn mount(bytes: Vec<u8>) -> Result<xfs::XfsFs, FsError> {
    xfs::mount(
        Arc::new(MemDevice::new(bytes, "damaged-xfs.img")),
        FsLimits::default(),
    )
}

fn inode_offset(bytes: &[u8], ino: u64) -> usize {
    let be32 = |at: usize| u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap());
    let block_size = be32(4) as u64;
    let ag_blocks = be32(84) as u64;
    let inode_size = u16::from_be_bytes([bytes[104], bytes[105]]) as u64;
    let (inop_blog, ag_blk_log) = (bytes[123] as u32, bytes[124] as u32);
    let fsb = ino >> inop_blog;
    let (agno, agbno) = (fsb >> ag_blk_log, fsb & ((1 << ag_blk_log) - 1));
    ((agno * ag_blocks + agbno) * block_size + (ino & ((1 << inop_blog) - 1)) * inode_size) as usize
}

#[test]
fn a_superblock_with_a_bad_checksum_is_corrupt() {
    let (mut bytes, _) = small();
    bytes[108] ^= 0x20; // the label, covered by the CRC
    let err = mount(bytes).unwrap_err();
    assert!(matches!(err, FsError::Corrupt { .. }), "{err}");
    let msg = err.to_string();
    assert!(
        msg.contains("damaged-xfs.img") && msg.contains("xfs") && msg.contains("checksum"),
        "{msg}"
    );
}

#[test]
fn an_inode_with_a_bad_magic_is_named() {
    let (mut bytes, file) = small();
    let at = inode_offset(&bytes, file);
    bytes[at] = 0;
    let fs = mount(bytes).unwrap();
    let err = fs.metadata(file).unwrap_err();
    assert!(
        err.to_string().contains(&format!("inode {file}")) && err.to_string().contains("magic"),
        "{err}"
    );
}

#[test]
fn an_extent_beyond_the_device_is_corrupt() {
    let (mut bytes, file) = small();
    let at = inode_offset(&bytes, file);
    // The file's first extent record starts the data fork (v3 core: 176 bytes):
    // set its start block to the largest representable value.
    let rec = at + 176;
    let hi = u64::from_be_bytes(bytes[rec..rec + 8].try_into().unwrap());
    let lo = u64::from_be_bytes(bytes[rec + 8..rec + 16].try_into().unwrap());
    let hi = hi | 0x1ff;
    let lo = lo | (((1u64 << 43) - 1) << 21);
    bytes[rec..rec + 8].copy_from_slice(&hi.to_be_bytes());
    bytes[rec + 8..rec + 16].copy_from_slice(&lo.to_be_bytes());
    let fs = mount(bytes).unwrap();
    let mut buf = [0u8; 64];
    let err = fs.read(file, 0, &mut buf).unwrap_err();
    assert!(matches!(err, FsError::Corrupt { .. }), "{err}");
    assert!(
        err.to_string().contains(&format!("inode {file}"))
            && err.to_string().contains("outside the filesystem"),
        "{err}"
    );
}

#[test]
fn a_shortform_directory_with_a_huge_count_is_an_error() {
    let (mut bytes, _) = small();
    let root = {
        let fs = mount(bytes.clone()).unwrap();
        fs.root()
    };
    let at = inode_offset(&bytes, root);
    bytes[at + 176] = 0xff; // entry count of the shortform root
    let fs = mount(bytes).unwrap();
    let err = fs.read_dir(root).unwrap_err();
    assert!(matches!(err, FsError::Corrupt { .. }), "{err}");
    assert!(err.to_string().contains(&format!("inode {root}")), "{err}");
}
