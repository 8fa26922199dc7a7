//! tar-out streams are extracted by GNU tar into exactly the tree exported.

mod common;

use std::os::unix::fs::symlink;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use guestkit_fs::hostdir::HostDirFs;
use guestkit_fs::{FsLimits, GuestTree};

fn run(cmd: &mut Command) {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn build_source(dir: &Path) {
    let long_dir = dir.join("d".repeat(120)).join("e".repeat(120));
    std::fs::create_dir_all(&long_dir).unwrap();
    std::fs::write(long_dir.join("f".repeat(150)), b"long path\n").unwrap();
    std::fs::create_dir_all(dir.join("etc")).unwrap();
    std::fs::write(dir.join("etc/hostname"), b"guest\n").unwrap();
    std::fs::write(dir.join("empty"), b"").unwrap();
    let big: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(dir.join("big.bin"), &big).unwrap();
    std::fs::write(dir.join("name with spaces: and colons"), b"x").unwrap();
    std::fs::write(dir.join("ünïcødé"), b"u").unwrap();
    symlink("etc/hostname", dir.join("rel-link")).unwrap();
    symlink("/etc/hostname", dir.join("abs-link")).unwrap();
    symlink("x".repeat(300), dir.join("long-target-link")).unwrap();
    std::fs::hard_link(dir.join("etc/hostname"), dir.join("hard-link")).unwrap();
    run(Command::new("mkfifo").arg(dir.join("fifo")));
    run(Command::new("mknod")
        .arg(dir.join("null"))
        .args(["c", "1", "3"]));
    run(Command::new("mknod")
        .arg(dir.join("loop9"))
        .args(["b", "7", "9"]));
    run(Command::new("chown")
        .args(["-h", "1234:5678"])
        .arg(dir.join("etc/hostname")));
    run(Command::new("chmod").args(["4755"]).arg(dir.join("empty")));
    run(Command::new("touch")
        .args(["-h", "-d", "2001-02-03 04:05:06.123456789"])
        .arg(dir.join("abs-link")));
    run(Command::new("touch")
        .args(["-d", "1999-12-31 23:59:59"])
        .arg(dir.join("big.bin")));
}

#[test]
fn gnu_tar_extracts_the_exported_tree_exactly() {
    let src = tempfile::tempdir().unwrap();
    build_source(src.path());
    let fs = Arc::new(HostDirFs::open(src.path(), FsLimits::default()).unwrap());
    let tree = GuestTree::new(fs, "src", FsLimits::default());
    let mut stream = Vec::new();
    let stats = guestkit_fs::tar::export(&tree, b"/", &mut stream, 4096).unwrap();
    assert!(stats.warnings.is_empty(), "{:?}", stats.warnings);
    let out = tempfile::tempdir().unwrap();
    let archive = out.path().join("a.tar");
    std::fs::write(&archive, &stream).unwrap();
    let dest = out.path().join("x");
    std::fs::create_dir(&dest).unwrap();
    run(Command::new("tar")
        .args(["-x", "--numeric-owner", "--same-permissions", "-f"])
        .arg(&archive)
        .arg("-C")
        .arg(&dest));
    let mut want = common::walk_host(src.path());
    let mut got = common::walk_host(&dest);
    // The extraction directory itself is not part of the archive's content.
    want.remove(&Vec::new());
    got.remove(&Vec::new());
    common::assert_same_listing(&got, &want, "tar round trip");
    // Hard links stay hard links.
    use std::os::unix::fs::MetadataExt;
    let a = std::fs::metadata(dest.join("etc/hostname")).unwrap().ino();
    let b = std::fs::metadata(dest.join("hard-link")).unwrap().ino();
    assert_eq!(a, b);
    // Sub-second mtimes travel in PAX records.
    let t = std::fs::symlink_metadata(dest.join("abs-link"))
        .unwrap()
        .mtime_nsec();
    assert_eq!(t, 123_456_789);
}

#[test]
fn a_single_file_exports_as_one_member() {
    let src = tempfile::tempdir().unwrap();
    build_source(src.path());
    let fs = Arc::new(HostDirFs::open(src.path(), FsLimits::default()).unwrap());
    let tree = GuestTree::new(fs, "src", FsLimits::default());
    let mut stream = Vec::new();
    let stats = guestkit_fs::tar::export(&tree, b"/etc/hostname", &mut stream, 4096).unwrap();
    assert_eq!(stats.entries, 1);
    let list = Command::new("tar")
        .args(["-t", "-f", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    list.stdin.as_ref().unwrap().write_all(&stream).unwrap();
    let out = list.wait_with_output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "hostname\n");
}
