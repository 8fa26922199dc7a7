//! Btrfs fixtures: a source tree exercising what a filesystem reader must
//! get right (deep nesting, a 5,000-entry directory, holes, symlinks of all
//! kinds, hard links, device nodes, odd names), and the images
//! `mkfs.btrfs --rootdir` builds from it — rootless, no loop, no mount.
//!
//! [`subvolumes`] uses btrfs-progs 6.13+'s `--subvol` and `--compress`
//! (`cargo xtask deps` installs such a btrfs-progs) for real subvolumes and
//! compressed extents.

use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::tools::{arg, run};
use crate::tree::pseudo_random;
use crate::{cached, FixtureError, Result};

const RECIPE: &str = include_str!("fs_btrfs.rs");

fn io<T>(path: &Path, r: std::io::Result<T>) -> Result<T> {
    r.map_err(|e| FixtureError::io(path, e))
}

fn write(path: &Path, data: &[u8]) -> Result<()> {
    if let Some(parent) = path.parent() {
        io(parent, fs::create_dir_all(parent))?;
    }
    io(path, fs::write(path, data))
}

/// Writes the full test tree into `dir` (which must exist).
pub fn write_tree(dir: &Path) -> Result<()> {
    // Nested directories, 60 levels.
    let mut deep = dir.join("deep");
    for level in 0..60 {
        deep = deep.join(format!("d{level:02}"));
    }
    io(&deep, fs::create_dir_all(&deep))?;
    write(&deep.join("bottom.txt"), b"at the bottom\n")?;
    // A directory with 5,000 entries.
    let big = dir.join("big");
    io(&big, fs::create_dir_all(&big))?;
    for i in 0..5000u32 {
        let p = big.join(format!("entry-{i:05}"));
        if i % 500 == 0 {
            io(&p, fs::create_dir(&p))?;
        } else {
            write(&p, format!("{i}\n").as_bytes())?;
        }
    }
    // Files of interesting sizes.
    let files = dir.join("files");
    write(&files.join("empty"), b"")?;
    write(&files.join("one-byte"), b"x")?;
    write(&files.join("one-block"), &pseudo_random(1, 4096))?;
    write(&files.join("inline-max"), &pseudo_random(2, 2000))?;
    write(&files.join("full-3MiB"), &pseudo_random(3, 3 << 20))?;
    write(&files.join("odd-size"), &pseudo_random(4, 1_000_003))?;
    let text: Vec<u8> = (0..20_000)
        .flat_map(|i| format!("line {i} of a compressible text\n").into_bytes())
        .collect();
    write(&files.join("text"), &text)?;
    // Sparse: data at 0, 2 MiB and 5 MiB + 100, a hole at the end.
    {
        use std::io::{Seek, SeekFrom, Write};
        let p = files.join("sparse");
        let mut f = io(&p, fs::File::create(&p))?;
        for (at, seed) in [(0u64, 5u64), (2 << 20, 6), ((5 << 20) + 100, 7)] {
            io(&p, f.seek(SeekFrom::Start(at)))?;
            io(&p, f.write_all(&pseudo_random(seed, 70_000)))?;
        }
        io(&p, f.set_len(7 << 20))?;
    }
    // Symlinks.
    let links = dir.join("links");
    io(&links, fs::create_dir_all(&links))?;
    let long_target = format!("../{}", "long-component/".repeat(20)) + "end";
    for (name, target) in [
        ("short", "../files/one-byte"),
        ("absolute", "/etc/passwd"),
        ("dangling", "does/not/exist"),
        ("dot", "."),
        ("long", long_target.as_str()),
    ] {
        let p = links.join(name);
        io(&p, symlink(target, &p))?;
    }
    // Hard links.
    let hard = dir.join("hard");
    io(&hard, fs::create_dir_all(&hard))?;
    write(&hard.join("a"), b"hard linked\n")?;
    io(&hard, fs::hard_link(hard.join("a"), hard.join("b")))?;
    io(&hard, fs::hard_link(hard.join("a"), files.join("also-a")))?;
    // Special files.
    let dev = dir.join("dev");
    io(&dev, fs::create_dir_all(&dev))?;
    run("mkfifo", &[arg(&dev.join("fifo"))?])?;
    run("mknod", &[arg(&dev.join("null"))?, "c", "1", "3"])?;
    run("mknod", &[arg(&dev.join("sda1"))?, "b", "8", "1"])?;
    // Names.
    let names = dir.join("names");
    for n in [
        "grüße",
        "日本語のファイル",
        "with space",
        "colon:name",
        "emoji-🦀",
        "a b: c",
    ] {
        write(&names.join(n), n.as_bytes())?;
    }
    // Owners, modes, times.
    let owned = files.join("owned");
    write(&owned, b"owned by 1000\n")?;
    run("chown", &["1000:1001", arg(&owned)?])?;
    let setuid = files.join("setuid");
    write(&setuid, b"#!/bin/sh\n")?;
    io(
        &setuid,
        fs::set_permissions(&setuid, fs::Permissions::from_mode(0o4755)),
    )?;
    let sticky = dir.join("tmp");
    io(&sticky, fs::create_dir_all(&sticky))?;
    io(
        &sticky,
        fs::set_permissions(&sticky, fs::Permissions::from_mode(0o1777)),
    )?;
    run(
        "touch",
        &[
            "-h",
            "-d",
            "2001-02-03 04:05:06 UTC",
            arg(&links.join("short"))?,
        ],
    )?;
    run(
        "touch",
        &["-d", "1999-12-31 23:59:59 UTC", arg(&files.join("text"))?],
    )?;
    run(
        "touch",
        &["-d", "2030-01-01 00:00:00 UTC", arg(&names)?, arg(&dev)?],
    )?;
    Ok(())
}

/// The full tree and its image: returns the fixture directory holding
/// `tree/` and `btrfs.img` (256 MiB, default profiles: DUP metadata, SINGLE
/// data, 16 KiB nodes).
pub fn full() -> Result<PathBuf> {
    cached("fs_btrfs_full", RECIPE, |dir| {
        let tree = dir.join("tree");
        io(&tree, fs::create_dir_all(&tree))?;
        write_tree(&tree)?;
        let img = dir.join("btrfs.img");
        let f = io(&img, fs::File::create(&img))?;
        io(&img, f.set_len(256 << 20))?;
        run(
            "mkfs.btrfs",
            &[
                "-q",
                "-L",
                "guestkit-btrfs",
                "--rootdir",
                arg(&tree)?,
                arg(&img)?,
            ],
        )?;
        Ok(())
    })
}

/// Small images for fuzz seeds and quick tests: `small-mixed.img` (2 MiB,
/// mixed block groups, 4 KiB nodes) and `small-dup.img` (16 MiB, DUP data
/// and metadata), each from a few files and links.
pub fn small() -> Result<PathBuf> {
    cached("fs_btrfs_small", RECIPE, |dir| {
        let tree = dir.join("tree");
        write(&tree.join("hello.txt"), b"hello, btrfs\n")?;
        write(&tree.join("sub/data.bin"), &pseudo_random(9, 20_000))?;
        write(&tree.join("sub/empty"), b"")?;
        let text: Vec<u8> = (0..3000)
            .flat_map(|i| format!("text line {i}, compressible\n").into_bytes())
            .collect();
        write(&tree.join("sub/text.txt"), &text)?;
        let l = tree.join("link");
        io(&l, symlink("sub/data.bin", &l))?;
        for (name, size, extra) in [
            ("small-mixed.img", 2u64 << 20, &["-M", "-n", "4096"][..]),
            ("small-dup.img", 16 << 20, &["-m", "dup", "-d", "dup"][..]),
        ] {
            let img = dir.join(name);
            let f = io(&img, fs::File::create(&img))?;
            io(&img, f.set_len(size))?;
            let mut args = vec!["-q"];
            args.extend_from_slice(extra);
            args.extend_from_slice(&["--rootdir", arg(&tree)?, arg(&img)?]);
            run("mkfs.btrfs", &args)?;
        }
        Ok(())
    })
}

/// Compression algorithms `mkfs.btrfs --compress` writes.
pub const COMPRESSIONS: [&str; 3] = ["zlib", "lzo", "zstd"];

/// Real subvolumes and compressed extents, one image per algorithm in
/// [`COMPRESSIONS`]: `subvols-<algo>.img` (64 MiB) from `tree/`, whose
/// `@` is the default subvolume, `@home` a second one and
/// `@/nested-sub` a subvolume inside `@`; `top.txt` stays in the top level.
/// Files hold compressible text, incompressible bytes and a hole.
pub fn subvolumes() -> Result<PathBuf> {
    cached("fs_btrfs_subvolumes", RECIPE, |dir| {
        let tree = dir.join("tree");
        write(&tree.join("top.txt"), b"in the top level\n")?;
        write(&tree.join("@/etc/hostname"), b"subvol-host\n")?;
        let text: Vec<u8> = (0..20_000)
            .flat_map(|i| format!("line {i}: the same words again and again\n").into_bytes())
            .collect();
        write(&tree.join("@/data/text.txt"), &text)?;
        write(
            &tree.join("@/data/random.bin"),
            &pseudo_random(0xb7f5, 300_000),
        )?;
        let sparse = tree.join("@/data/sparse.bin");
        write(&sparse, b"")?;
        let f = io(&sparse, fs::OpenOptions::new().write(true).open(&sparse))?;
        io(&sparse, f.set_len(3 << 20))?;
        use std::os::unix::fs::FileExt;
        io(&sparse, f.write_all_at(&text[..100_000], 1 << 20))?;
        write(&tree.join("@/nested-sub/inner.txt"), &text[..50_000])?;
        write(&tree.join("@home/user/notes.txt"), &text[..200_000])?;
        let l = tree.join("@home/user/link");
        io(&l, symlink("notes.txt", &l))?;
        for algo in COMPRESSIONS {
            let img = dir.join(format!("subvols-{algo}.img"));
            let f = io(&img, fs::File::create(&img))?;
            io(&img, f.set_len(64 << 20))?;
            run(
                "mkfs.btrfs",
                &[
                    "-q",
                    "-L",
                    "subvols",
                    "--rootdir",
                    arg(&tree)?,
                    "--subvol",
                    "default:@",
                    "--subvol",
                    "@home",
                    "--subvol",
                    "@/nested-sub",
                    "--compress",
                    algo,
                    arg(&img)?,
                ],
            )?;
        }
        Ok(())
    })
}
