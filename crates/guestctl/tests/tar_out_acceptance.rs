//! Filesystem acceptance: for each filesystem type, on MBR, GPT and LVM, in
//! raw and qcow2, `guestctl tar-out IMAGE /` extracted by GNU tar equals the
//! source tree the image was made from — paths, types, sizes, modes, owners,
//! mtimes, symlink targets and the SHA-256 of every file.

#[path = "../../guestkit-fs/tests/common/mod.rs"]
mod common;

use std::path::Path;
use std::process::{Command, Stdio};

use guestkit_fixtures::fs_images::{acceptance_set, FsKind};

/// Streams `guestctl tar-out IMAGE /` into `tar -x` in `dest`.
fn tar_out_into(image: &Path, dest: &Path) {
    let mut producer = Command::new(env!("CARGO_BIN_EXE_guestctl"))
        .args(["tar-out"])
        .arg(image)
        .arg("/")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = producer.stdout.take().unwrap();
    let consumer = Command::new("tar")
        .args([
            "-x",
            "--numeric-owner",
            "--same-permissions",
            "-f",
            "-",
            "-C",
        ])
        .arg(dest)
        .stdin(stdout)
        .output()
        .unwrap();
    let produced = producer.wait_with_output().unwrap();
    assert!(
        produced.status.success(),
        "guestctl tar-out {}: {}",
        image.display(),
        String::from_utf8_lossy(&produced.stderr)
    );
    assert!(
        consumer.status.success(),
        "tar -x: {}",
        String::from_utf8_lossy(&consumer.stderr)
    );
}

/// What a filesystem's mkfs tool does not carry from the source tree, and
/// the test therefore does not compare.
#[derive(Default)]
struct NotCarried {
    /// Paths the filesystem adds (e.g. ext4's `lost+found`).
    added: &'static [&'static [u8]],
    /// Device numbers of device nodes (recorded as 0, 0).
    rdev: bool,
    /// FAT: modes (0o755 directories, 0o644 files), owners (root), mtimes
    /// to two seconds, no directory mtimes.
    fat: bool,
    /// Modification times.
    mtime: bool,
    /// The sticky bit.
    sticky: bool,
}

/// What a FAT volume keeps of an entry.
fn fat_view(e: &mut common::Entry) {
    e.uid = 0;
    e.gid = 0;
    let dir = e.file_type == guestkit_fs::FileType::Directory;
    // mcopy does not set the read-only attribute from host modes (`mattrib`
    // shows only A), so every file is 0o644.
    e.mode = if dir { 0o755 } else { 0o644 };
    e.mtime = if dir { 0 } else { e.mtime - e.mtime % 2 };
}

fn check(kind: FsKind, not_carried: NotCarried) {
    let set = acceptance_set(kind).unwrap();
    let mut want = common::walk_host(&set.tree);
    want.remove(&Vec::new());
    if not_carried.rdev {
        for entry in want.values_mut() {
            if entry.rdev.is_some() {
                entry.rdev = Some((0, 0));
            }
        }
    }
    if not_carried.fat {
        want.values_mut().for_each(fat_view);
    }
    for e in want.values_mut() {
        if not_carried.mtime {
            e.mtime = 0;
        }
        if not_carried.sticky {
            e.mode &= !0o1000;
        }
    }
    let ignore = not_carried.added;
    for (layout, raw, qcow2) in &set.images {
        for image in [raw, qcow2] {
            let dest = tempfile::tempdir().unwrap();
            tar_out_into(image, dest.path());
            let mut got = common::walk_host(dest.path());
            got.remove(&Vec::new());
            got.retain(|path, _| !ignore.iter().any(|i| path.starts_with(i)));
            if not_carried.mtime {
                got.values_mut().for_each(|e| e.mtime = 0);
            }
            if not_carried.fat {
                // Extraction stamps directories with the archive's times.
                got.values_mut()
                    .filter(|e| e.file_type == guestkit_fs::FileType::Directory)
                    .for_each(|e| e.mtime = 0);
            }
            common::assert_same_listing(
                &got,
                &want,
                &format!("{} on {layout:?} ({})", kind.name(), image.display()),
            );
        }
    }
}

#[test]
fn btrfs_tar_out_equals_the_source_tree() {
    // mkfs.btrfs --rootdir (btrfs-progs 6.2) writes rdev 0 into the inode of
    // every device node (seen with `btrfs inspect-internal dump-tree`), so
    // device numbers cannot be compared; their types, modes and owners are.
    check(
        FsKind::Btrfs,
        NotCarried {
            rdev: true,
            ..NotCarried::default()
        },
    );
}

#[test]
fn ext4_tar_out_equals_the_source_tree() {
    // mkfs.ext4 adds lost+found; everything else is carried.
    check(
        FsKind::Ext4,
        NotCarried {
            added: &[b"lost+found"],
            ..NotCarried::default()
        },
    );
}

#[test]
fn vfat_tar_out_equals_the_source_tree() {
    // FAT carries names, sizes, content and 2-second mtimes of files; the
    // tree holds no symlinks, devices, hard links, owners or ':' names.
    check(
        FsKind::Vfat,
        NotCarried {
            fat: true,
            ..NotCarried::default()
        },
    );
}

#[test]
fn xfs_tar_out_equals_the_source_tree() {
    // Built from a mkfs.xfs protofile: no hard links, no names with spaces
    // or ':', no sticky bit, and every inode gets the time of mkfs.
    check(
        FsKind::Xfs,
        NotCarried {
            mtime: true,
            sticky: true,
            ..NotCarried::default()
        },
    );
}

#[test]
fn ntfs_tar_out_equals_the_source_tree() {
    // Filled by ntfscp: a flat tree, files 0o644 owned by root (as FAT
    // shows them), stamped with the time of copying.
    check(
        FsKind::Ntfs,
        NotCarried {
            fat: true,
            mtime: true,
            ..NotCarried::default()
        },
    );
}

/// `listing` with every path put under `prefix/` (its root entry dropped:
/// a mountpoint's own attributes are compared by existence only).
fn under(prefix: &[u8], listing: common::Listing) -> common::Listing {
    listing
        .into_iter()
        .filter(|(path, _)| !path.is_empty())
        .map(|(path, e)| {
            let mut p = prefix.to_vec();
            p.push(b'/');
            p.extend_from_slice(&path);
            (p, e)
        })
        .collect()
}

fn is_under(path: &[u8], dir: &[u8]) -> bool {
    path.starts_with(dir) && path.get(dir.len()) == Some(&b'/')
}

#[test]
fn multi_filesystem_guest_reads_through_fstab_like_one_volume() {
    // The demo VM: ext4 root on an LV, ext4 /boot on a partition, vfat
    // /boot/efi, ext4 /var on an LV, /home on the Btrfs subvolume @home of
    // an LV (zstd-compressed) — the tar of / must be the source trees
    // composed the way fstab mounts them, each mount hiding what is below.
    let image = guestkit_fixtures::demo::demo_disk().unwrap();
    let dir = image.parent().unwrap();
    let mounts: [(&[u8], common::Listing); 4] = [
        (b"boot", common::walk_host(&dir.join("boot-tree"))),
        (b"var", common::walk_host(&dir.join("var-tree"))),
        (b"home", common::walk_host(&dir.join("home-tree/@home"))),
        (b"boot/efi", {
            let mut efi = common::walk_host(&dir.join("efi-tree"));
            efi.values_mut().for_each(fat_view);
            efi
        }),
    ];
    let mut want = common::walk_host(&dir.join("root-tree"));
    want.remove(&Vec::new());
    for (point, tree) in mounts {
        want.retain(|p, _| !is_under(p, point));
        want.extend(under(point, tree));
    }
    let dest = tempfile::tempdir().unwrap();
    tar_out_into(&image, dest.path());
    let mut got = common::walk_host(dest.path());
    got.remove(&Vec::new());
    // mkfs.ext4 adds lost+found to each ext4 filesystem.
    got.retain(|p, _| !p.ends_with(b"lost+found") && !is_under(p, b"lost+found"));
    for listing in [&mut got, &mut want] {
        for (path, e) in listing.iter_mut() {
            let mountpoint =
                [&b"boot"[..], b"var", b"home", b"boot/efi"].contains(&path.as_slice());
            // FAT keeps no directory times and mcopy stamps files with the
            // copy time; mountpoints are the mounted roots.
            if is_under(path, b"boot/efi") || mountpoint {
                e.mtime = 0;
            }
            if mountpoint {
                (e.mode, e.uid, e.gid) = (0, 0, 0);
            }
        }
    }
    common::assert_same_listing(&got, &want, "demo VM through its fstab");
    assert!(got.len() >= 40, "{} entries", got.len());
    for needle in [
        &b"home/user/journal.txt"[..],
        b"var/lib/dpkg/status",
        b"boot/efi/EFI/debian/grub.cfg",
        b"boot/grub/grub.cfg",
        b"etc/fstab",
    ] {
        assert!(
            got.contains_key(needle),
            "{}",
            String::from_utf8_lossy(needle)
        );
    }
    // What the mounts hide is not there.
    assert!(!got.contains_key(&b"var/lib/blob.bin"[..]));
    assert!(!got.contains_key(&b"home/user/notes.txt"[..]));
}
