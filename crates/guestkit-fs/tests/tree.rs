//! Path resolution inside the guest: confinement, symlinks, mounts.

use std::os::unix::fs::symlink;
use std::path::Path;
use std::sync::Arc;

use guestkit_fs::hostdir::HostDirFs;
use guestkit_fs::{FileType, FsError, FsLimits, GuestTree};

fn fs(dir: &Path) -> Arc<HostDirFs> {
    Arc::new(HostDirFs::open(dir, FsLimits::default()).unwrap())
}

/// A guest root with etc/, a home mount point, and hostile symlinks.
fn guest() -> (tempfile::TempDir, tempfile::TempDir, GuestTree) {
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    std::fs::create_dir_all(r.join("etc")).unwrap();
    std::fs::create_dir_all(r.join("usr/share/doc")).unwrap();
    std::fs::create_dir_all(r.join("home")).unwrap();
    std::fs::create_dir_all(r.join("a/b")).unwrap();
    std::fs::write(r.join("etc/hostname"), b"guest\n").unwrap();
    std::fs::write(r.join("etc/shadow"), b"guest shadow\n").unwrap();
    std::fs::write(r.join("usr/share/doc/README"), b"readme\n").unwrap();
    symlink("/usr/share/doc/README", r.join("etc/motd")).unwrap();
    symlink("../../../../etc/shadow", r.join("a/b/escape")).unwrap();
    symlink("/", r.join("a/rootlink")).unwrap();
    symlink("loop2", r.join("a/loop1")).unwrap();
    symlink("loop1", r.join("a/loop2")).unwrap();
    symlink("/etc", r.join("etclink")).unwrap();
    let home = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(home.path().join("user")).unwrap();
    std::fs::write(home.path().join("user/notes"), b"notes\n").unwrap();
    symlink("../../etc/hostname", home.path().join("user/host")).unwrap();
    let mut tree = GuestTree::new(fs(r), "root", FsLimits::default());
    tree.mount(b"/home", fs(home.path()), "home").unwrap();
    (root, home, tree)
}

#[test]
fn dotdot_stops_at_the_guest_root() {
    let (_r, _h, tree) = guest();
    let got = tree.read_file(b"/../../../etc/hostname", 1024).unwrap();
    assert_eq!(got, b"guest\n");
    assert_eq!(tree.resolve(b"/../..").unwrap().path, b"/");
}

#[test]
fn absolute_symlinks_are_rerooted_at_the_guest_root() {
    let (_r, _h, tree) = guest();
    assert_eq!(tree.read_file(b"/etc/motd", 1024).unwrap(), b"readme\n");
    assert_eq!(
        tree.read_file(b"/a/rootlink/etc/hostname", 1024).unwrap(),
        b"guest\n"
    );
    assert_eq!(
        tree.resolve(b"/etclink/motd").unwrap().path,
        b"/usr/share/doc/README"
    );
}

#[test]
fn escaping_symlinks_resolve_inside_the_guest() {
    let (_r, _h, tree) = guest();
    // ../../../../etc/shadow from /a/b is the guest's /etc/shadow, never the host's.
    assert_eq!(
        tree.read_file(b"/a/b/escape", 1024).unwrap(),
        b"guest shadow\n"
    );
    assert_eq!(tree.resolve(b"/a/b/escape").unwrap().path, b"/etc/shadow");
}

#[test]
fn symlink_loops_are_an_error() {
    let (_r, _h, tree) = guest();
    let err = tree.resolve(b"/a/loop1").unwrap_err();
    assert!(matches!(err, FsError::SymlinkLoop { .. }), "{err}");
    assert!(err.to_string().contains("/a/loop"), "{err}");
    // lstat of the link itself works.
    let md = tree.symlink_metadata(b"/a/loop1").unwrap();
    assert_eq!(md.file_type, FileType::Symlink);
    assert_eq!(tree.read_link(b"/a/loop1").unwrap(), b"loop2");
}

#[test]
fn mounts_cover_their_directory_and_dotdot_leaves_them() {
    let (_r, _h, tree) = guest();
    assert_eq!(
        tree.read_file(b"/home/user/notes", 1024).unwrap(),
        b"notes\n"
    );
    // A relative link in the mounted filesystem climbs out through the mount point.
    assert_eq!(
        tree.read_file(b"/home/user/host", 1024).unwrap(),
        b"guest\n"
    );
    let names: Vec<Vec<u8>> = tree
        .read_dir(b"/home")
        .unwrap()
        .into_iter()
        .map(|(e, _)| e.name)
        .collect();
    assert_eq!(names, [b"user".to_vec()]);
    let root_names: Vec<Vec<u8>> = tree
        .read_dir(b"/")
        .unwrap()
        .into_iter()
        .map(|(e, _)| e.name)
        .collect();
    assert!(root_names.contains(&b"home".to_vec()));
}

#[test]
fn errors_name_the_guest_path() {
    let (_r, _h, tree) = guest();
    let err = tree.resolve(b"/etc/nonexistent/x").unwrap_err();
    assert!(matches!(err, FsError::NotFound { .. }));
    assert_eq!(
        err.to_string(),
        "/etc/nonexistent: no such file or directory"
    );
    let err = tree.resolve(b"/etc/hostname/x").unwrap_err();
    assert!(matches!(err, FsError::WrongType { .. }), "{err}");
    assert!(err.to_string().starts_with("/etc/hostname"), "{err}");
}

#[test]
fn large_files_are_refused_by_read_file() {
    let (_r, _h, tree) = guest();
    let err = tree.read_file(b"/etc/hostname", 3).unwrap_err();
    assert!(matches!(err, FsError::LimitExceeded { .. }), "{err}");
}
