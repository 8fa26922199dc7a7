//! Filesystem acceptance images: the acceptance tree ([`crate::fs_tree`])
//! made into each filesystem type with its own mkfs tool, then placed on an
//! MBR partition, a GPT partition and an LVM logical volume, each as raw and
//! as qcow2.

use std::fs;
use std::path::{Path, PathBuf};

use crate::disks::{sparse_file, splice};
use crate::fs_tree::{write_acceptance_tree, TreeOptions};
use crate::lvm::{write_vg, LvSpec, PvSpec, SegmentSpec, VgSpec};
use crate::tools::{arg, run, run_with_stdin};
use crate::{cached, FixtureError, Result};

const MIB: u64 = 1 << 20;
/// Size of each filesystem (mkfs.xfs -p fails, with a misleading message,
/// when the tree does not fit with room to spare in 512 MiB).
pub(crate) const FS_SIZE: u64 = 1024 * MIB;
/// Where the filesystem starts on the MBR and GPT disks (and the LVM data area).
const START: u64 = MIB;

/// A filesystem type the factory can make from a directory tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FsKind {
    Ext4,
    Btrfs,
    Vfat,
    Xfs,
    Ntfs,
}

impl FsKind {
    /// Lower-case name, as blkid reports the type.
    pub fn name(self) -> &'static str {
        match self {
            FsKind::Ext4 => "ext4",
            FsKind::Btrfs => "btrfs",
            FsKind::Vfat => "vfat",
            FsKind::Xfs => "xfs",
            FsKind::Ntfs => "ntfs",
        }
    }

    /// What this filesystem's mkfs can carry of the acceptance tree.
    pub fn tree_options(self) -> TreeOptions {
        match self {
            // FAT has no symlinks, hard links, device nodes, owners or ':'
            // in names, and mcopy (the only rootless way to fill it) slows
            // down quadratically with directory size: a smaller tree.
            FsKind::Vfat => TreeOptions {
                files: 400,
                big_dir_entries: 600,
                depth: 30,
                big_file: 20_000_000,
                colons: false,
                spaces: true,
                hard_links: false,
                special_files: false,
                symlinks: false,
                owners: false,
            },
            // mkfs.xfs protofiles are whitespace-separated tokens with ':'
            // starting a comment, and cannot express hard links.
            FsKind::Xfs => TreeOptions {
                colons: false,
                spaces: false,
                hard_links: false,
                ..TreeOptions::FULL
            },
            _ => TreeOptions::FULL,
        }
    }

    /// Writes the source tree this filesystem's image is made from.
    pub fn write_tree(self, tree: &Path) -> Result<()> {
        match self {
            FsKind::Ntfs => write_flat_tree(tree),
            _ => write_acceptance_tree(tree, self.tree_options()),
        }
    }

    /// Builds the filesystem image `img` (already sized) from `tree`.
    pub(crate) fn mkfs(self, tree: &Path, img: &Path) -> Result<()> {
        match self {
            FsKind::Ext4 => run(
                "mkfs.ext4",
                &["-q", "-F", "-L", "accept", "-d", arg(tree)?, arg(img)?],
            ),
            // --shrink: without it mkfs.btrfs --rootdir grows the image
            // file to whatever size it likes, beyond the partition.
            FsKind::Vfat => {
                run("mkfs.vfat", &["-F", "32", "-n", "ACCEPT", arg(img)?])?;
                let mut args = vec!["-s", "-m", "-i", arg(img)?];
                let entries: Vec<PathBuf> = fs::read_dir(tree)
                    .map_err(|e| FixtureError::io(tree, e))?
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .collect();
                for e in &entries {
                    args.push(arg(e)?);
                }
                args.push("::/");
                crate::tools::run_env("mcopy", &args, &[("TZ", "UTC")])
            }
            FsKind::Xfs => {
                let proto = img.with_extension("proto");
                fs::write(&proto, xfs_protofile(tree)?).map_err(|e| FixtureError::io(&proto, e))?;
                run(
                    "mkfs.xfs",
                    &["-q", "-f", "-L", "accept", "-p", arg(&proto)?, arg(img)?],
                )
            }
            FsKind::Ntfs => {
                run("mkntfs", &["-F", "-Q", "-q", "-L", "accept", arg(img)?])?;
                let mut names: Vec<PathBuf> = fs::read_dir(tree)
                    .map_err(|e| FixtureError::io(tree, e))?
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .collect();
                names.sort();
                for file in names {
                    let name = file
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default();
                    run(
                        "ntfscp",
                        &["-q", arg(img)?, arg(&file)?, &format!("/{name}")],
                    )?;
                }
                Ok(String::new())
            }
            FsKind::Btrfs => run(
                "mkfs.btrfs",
                &[
                    "-q",
                    "-L",
                    "accept",
                    "--shrink",
                    "--rootdir",
                    arg(tree)?,
                    arg(img)?,
                ],
            ),
        }
        .map(|_| ())
    }
}

/// Where the filesystem sits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// Partition 1 of an MBR disk.
    Mbr,
    /// Partition 1 of a GPT disk.
    Gpt,
    /// LV `vg_accept/data` on a whole-disk PV.
    Lvm,
}

impl Layout {
    /// Every layout.
    pub const ALL: [Layout; 3] = [Layout::Mbr, Layout::Gpt, Layout::Lvm];

    fn name(self) -> &'static str {
        match self {
            Layout::Mbr => "mbr",
            Layout::Gpt => "gpt",
            Layout::Lvm => "lvm",
        }
    }
}

/// The acceptance images of one filesystem type.
#[derive(Debug, Clone)]
pub struct AcceptanceSet {
    /// The source tree the filesystem was made from.
    pub tree: PathBuf,
    /// What the tree holds.
    pub options: TreeOptions,
    /// (layout, raw image, qcow2 image).
    pub images: Vec<(Layout, PathBuf, PathBuf)>,
}

/// Builds (or finds cached) the acceptance images of `kind`.
pub fn acceptance_set(kind: FsKind) -> Result<AcceptanceSet> {
    let recipe = format!(
        "{}\n{}",
        include_str!("fs_images.rs"),
        include_str!("fs_tree.rs")
    );
    let dir = cached(&format!("accept-{}", kind.name()), &recipe, |dir| {
        let tree = dir.join("tree");
        fs::create_dir_all(&tree).map_err(|e| FixtureError::io(&tree, e))?;
        kind.write_tree(&tree)?;
        let img = dir.join("fs.img");
        sparse_file(&img, FS_SIZE)?;
        kind.mkfs(&tree, &img)?;
        check_fits(&img)?;
        for layout in Layout::ALL {
            let disk = dir.join(format!("{}.raw", layout.name()));
            build_disk(layout, &img, &disk)?;
            let qcow2 = disk.with_extension("qcow2");
            run(
                "qemu-img",
                &["convert", "-O", "qcow2", arg(&disk)?, arg(&qcow2)?],
            )?;
        }
        fs::remove_file(&img).map_err(|e| FixtureError::io(&img, e))
    })?;
    Ok(AcceptanceSet {
        tree: dir.join("tree"),
        options: kind.tree_options(),
        images: Layout::ALL
            .iter()
            .map(|&l| {
                let raw = dir.join(format!("{}.raw", l.name()));
                let qcow2 = raw.with_extension("qcow2");
                (l, raw, qcow2)
            })
            .collect(),
    })
}

/// A mkfs.xfs protofile describing the host tree `root` (see mkfs.xfs(8)):
/// types, modes (setuid/setgid, not sticky), owners, file contents, link
/// targets and device numbers.
pub fn xfs_protofile(root: &Path) -> Result<String> {
    let (proto, skipped) = xfs_protofile_skipping(root, false)?;
    debug_assert!(skipped.is_empty());
    Ok(proto)
}

/// Like [`xfs_protofile`]; with `skip` set, entries a protofile cannot
/// name (whitespace, `:`, `$` in the name or link target) are left out and
/// returned (relative to `root`) instead of failing.
pub fn xfs_protofile_skipping(root: &Path, skip: bool) -> Result<(String, Vec<PathBuf>)> {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    fn mode(md: &fs::Metadata, kind: char) -> String {
        let m = md.mode();
        format!(
            "{kind}{}{}{:03o}",
            if m & 0o4000 != 0 { 'u' } else { '-' },
            if m & 0o2000 != 0 { 'g' } else { '-' },
            m & 0o777
        )
    }
    fn token(p: &Path) -> Result<&str> {
        let s = arg(p)?;
        if s.contains(char::is_whitespace) || s.contains(':') || s.contains('$') {
            return Err(FixtureError::Recipe {
                recipe: "xfs protofile".into(),
                message: format!("{s:?} cannot be written in a protofile"),
            });
        }
        Ok(s)
    }
    fn writable(p: &Path) -> bool {
        let name_ok = token(Path::new(p.file_name().unwrap_or_default())).is_ok();
        let target_ok = fs::read_link(p).map(|t| token(&t).is_ok()).unwrap_or(true);
        name_ok && target_ok && token(p).is_ok()
    }
    fn dir(out: &mut String, path: &Path, skip: Option<&mut Vec<PathBuf>>) -> Result<()> {
        let mut skipped = skip;
        let mut entries: Vec<PathBuf> = fs::read_dir(path)
            .map_err(|e| FixtureError::io(path, e))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        entries.sort();
        for p in entries {
            if let Some(list) = skipped.as_deref_mut() {
                if !writable(&p) {
                    list.push(p.clone());
                    continue;
                }
            }
            let md = fs::symlink_metadata(&p).map_err(|e| FixtureError::io(&p, e))?;
            let name = token(Path::new(p.file_name().unwrap_or_default()))?;
            let (uid, gid) = (md.uid(), md.gid());
            let ft = md.file_type();
            if ft.is_dir() {
                out.push_str(&format!("{name} {} {uid} {gid}\n", mode(&md, 'd')));
                dir(out, &p, skipped.as_deref_mut())?;
                out.push_str("$\n");
            } else if ft.is_symlink() {
                let target = fs::read_link(&p).map_err(|e| FixtureError::io(&p, e))?;
                out.push_str(&format!(
                    "{name} {} {uid} {gid} {}\n",
                    mode(&md, 'l'),
                    token(&target)?
                ));
            } else if ft.is_char_device() || ft.is_block_device() {
                let rdev = md.rdev();
                let major = ((rdev >> 8) & 0xfff) | ((rdev >> 32) & !0xfff);
                let minor = (rdev & 0xff) | ((rdev >> 12) & !0xff);
                let kind = if ft.is_char_device() { 'c' } else { 'b' };
                out.push_str(&format!(
                    "{name} {} {uid} {gid} {major} {minor}\n",
                    mode(&md, kind)
                ));
            } else if ft.is_fifo() {
                out.push_str(&format!("{name} {} {uid} {gid}\n", mode(&md, 'p')));
            } else if ft.is_file() {
                out.push_str(&format!(
                    "{name} {} {uid} {gid} {}\n",
                    mode(&md, '-'),
                    token(&p)?
                ));
            }
        }
        Ok(())
    }
    let md = fs::metadata(root).map_err(|e| FixtureError::io(root, e))?;
    let mut out = format!(
        "guestkit\n0 0\n{} {} {}\n",
        mode(&md, 'd'),
        md.uid(),
        md.gid()
    );
    let mut skipped = Vec::new();
    dir(&mut out, root, skip.then_some(&mut skipped))?;
    out.push_str("$\n");
    let skipped = skipped
        .into_iter()
        .map(|p| p.strip_prefix(root).map(Path::to_path_buf).unwrap_or(p))
        .collect();
    Ok((out, skipped))
}

/// The NTFS acceptance tree: ntfscp, the only rootless writer, copies files
/// into existing directories only, so the tree is flat — empty, one-byte,
/// several-MiB and 200 MB files, long, Unicode and spaced names.
pub fn write_flat_tree(tree: &Path) -> Result<()> {
    let write = |name: &str, data: &[u8]| {
        let p = tree.join(name);
        fs::write(&p, data).map_err(|e| FixtureError::io(&p, e))
    };
    write("empty", b"")?;
    write("one", b"1")?;
    write("A Long Name With Spaces.txt", b"long name\n")?;
    write("ünïcødé ファイル.txt", b"unicode\n")?;
    write("several-mib.bin", &crate::tree::pseudo_random(11, 5 << 20))?;
    for i in 0..200u64 {
        write(
            &format!("file-{i:03}.dat"),
            &crate::tree::pseudo_random(i, (i as usize * 613) % 20_000),
        )?;
    }
    let big = tree.join("big-200mb.bin");
    let f = fs::File::create(&big).map_err(|e| FixtureError::io(&big, e))?;
    f.set_len(200_000_000)
        .map_err(|e| FixtureError::io(&big, e))?;
    drop(f);
    let mut f = fs::OpenOptions::new()
        .write(true)
        .open(&big)
        .map_err(|e| FixtureError::io(&big, e))?;
    use std::io::{Seek, SeekFrom, Write};
    for at in [0u64, 99_999_000, 199_900_000] {
        f.seek(SeekFrom::Start(at))
            .map_err(|e| FixtureError::io(&big, e))?;
        f.write_all(&crate::tree::pseudo_random(at, 100_000))
            .map_err(|e| FixtureError::io(&big, e))?;
    }
    Ok(())
}

/// Fails when mkfs grew the image beyond the partition it goes into.
pub(crate) fn check_fits(img: &Path) -> Result<()> {
    let len = fs::metadata(img)
        .map_err(|e| FixtureError::io(img, e))?
        .len();
    if len > FS_SIZE {
        return Err(FixtureError::Recipe {
            recipe: "fs_images".into(),
            message: format!(
                "{} grew to {len} bytes (partition: {FS_SIZE})",
                img.display()
            ),
        });
    }
    Ok(())
}

pub(crate) fn build_disk(layout: Layout, fs_img: &Path, disk: &Path) -> Result<()> {
    let size = FS_SIZE + 2 * MIB;
    sparse_file(disk, size)?;
    let sectors = FS_SIZE / 512;
    match layout {
        Layout::Mbr => {
            let script = format!("label: dos\nstart=2048, size={sectors}, type=83\n");
            run_with_stdin("sfdisk", &["--quiet", arg(disk)?], Some(script.as_bytes()))?;
        }
        Layout::Gpt => {
            let script = format!(
                "label: gpt\nstart=2048, size={sectors}, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, name=\"accept\"\n"
            );
            run_with_stdin("sfdisk", &["--quiet", arg(disk)?], Some(script.as_bytes()))?;
        }
        Layout::Lvm => {
            let pv = PvSpec::new("pv0", disk, 0, size, "/dev/vda");
            let extents = FS_SIZE / MIB;
            let vg = VgSpec::new(
                "vg_accept",
                vec![pv],
                vec![LvSpec::new(
                    "data",
                    vec![SegmentSpec::linear(0, 0, extents)],
                )],
            );
            if vg.pvs.first().map(|p| p.pe_start) != Some(START) {
                return Err(FixtureError::Recipe {
                    recipe: "fs_images".into(),
                    message: "the LVM writer's data area no longer starts at 1 MiB".into(),
                });
            }
            write_vg(&vg)?;
        }
    }
    splice(fs_img, disk, START)
}

/// Size of the benchmark's data file.
pub const BENCH_FILE_SIZE: usize = 100_000_000;

/// The filesystem benchmark image of `kind`, as qcow2 on a GPT partition:
/// the acceptance tree without the sparse file, plus `/big/data.bin` (100 MB
/// of data). Returns the qcow2 path.
pub fn bench_image(kind: FsKind) -> Result<PathBuf> {
    let recipe = format!(
        "{}\n{}",
        include_str!("fs_images.rs"),
        include_str!("fs_tree.rs")
    );
    let dir = cached(&format!("fsbench-{}", kind.name()), &recipe, |dir| {
        let tree = dir.join("tree");
        fs::create_dir_all(&tree).map_err(|e| FixtureError::io(&tree, e))?;
        let options = TreeOptions {
            big_file: 0,
            ..kind.tree_options()
        };
        write_acceptance_tree(&tree, options)?;
        let data = tree.join("big/data.bin");
        fs::write(&data, crate::tree::pseudo_random(77, BENCH_FILE_SIZE))
            .map_err(|e| FixtureError::io(&data, e))?;
        let img = dir.join("fs.img");
        sparse_file(&img, FS_SIZE)?;
        kind.mkfs(&tree, &img)?;
        check_fits(&img)?;
        let disk = dir.join("gpt.raw");
        build_disk(Layout::Gpt, &img, &disk)?;
        run(
            "qemu-img",
            &[
                "convert",
                "-O",
                "qcow2",
                arg(&disk)?,
                arg(&dir.join("gpt.qcow2"))?,
            ],
        )?;
        for f in [&img, &disk] {
            fs::remove_file(f).map_err(|e| FixtureError::io(f, e))?;
        }
        fs::remove_dir_all(&tree).map_err(|e| FixtureError::io(&tree, e))
    })?;
    Ok(dir.join("gpt.qcow2"))
}
