//! The filesystem acceptance tree: one source tree every filesystem image is
//! built from, so that `guestctl tar-out IMAGE /` can be compared with it —
//! 10,000 files, a 20,000-entry directory, nesting 100 deep, a 200 MB file
//! with holes and data, relative / absolute / dangling / looping symlinks,
//! hard links, a fifo, device nodes, Unicode names, names with spaces and
//! colons, varied modes, owners and mtimes.

use std::fs::{self, File};
use std::io::{Seek, SeekFrom, Write};
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::Path;
use std::process::Command;

use crate::tree::pseudo_random;
use crate::{FixtureError, Result};

/// What a filesystem (or its mkfs tool) can carry; the tree leaves out the
/// rest, and each test says which.
#[derive(Debug, Clone, Copy)]
pub struct TreeOptions {
    /// Number of small files spread over the tree (besides the big directory).
    pub files: usize,
    /// Entries of the one big directory.
    pub big_dir_entries: usize,
    /// Depth of the deep nesting.
    pub depth: usize,
    /// Size of the sparse big file.
    pub big_file: u64,
    /// Names containing ':'.
    pub colons: bool,
    /// Names containing spaces.
    pub spaces: bool,
    /// Hard links.
    pub hard_links: bool,
    /// Device nodes and the fifo.
    pub special_files: bool,
    /// Symlinks.
    pub symlinks: bool,
    /// Owners other than root.
    pub owners: bool,
}

impl TreeOptions {
    /// Everything, at the sizes the acceptance asks for.
    pub const FULL: TreeOptions = TreeOptions {
        files: 10_000,
        big_dir_entries: 20_000,
        depth: 100,
        big_file: 200_000_000,
        colons: true,
        spaces: true,
        hard_links: true,
        special_files: true,
        symlinks: true,
        owners: true,
    };
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> FixtureError + '_ {
    move |e| FixtureError::io(path, e)
}

fn write(path: &Path, data: &[u8]) -> Result<()> {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).map_err(io(parent))?;
    }
    fs::write(path, data).map_err(io(path))
}

fn run(cmd: &mut Command) -> Result<()> {
    let out = cmd.output().map_err(|e| FixtureError::Tool {
        command: format!("{cmd:?}"),
        message: e.to_string(),
    })?;
    if !out.status.success() {
        return Err(FixtureError::Tool {
            command: format!("{cmd:?}"),
            message: String::from_utf8_lossy(&out.stderr).into_owned(),
        });
    }
    Ok(())
}

/// Writes the acceptance tree into the empty directory `dir`.
pub fn write_acceptance_tree(dir: &Path, o: TreeOptions) -> Result<()> {
    // Small files across 100 directories, sizes 0 .. ~9 KiB.
    for i in 0..o.files {
        let path = dir.join(format!("files/d{:03}/f{i:05}.txt", i % 100));
        let len = (i * 37) % 9000;
        write(&path, &pseudo_random(i as u64, len))?;
    }
    // The big directory.
    let big = dir.join("bigdir");
    fs::create_dir_all(&big).map_err(io(&big))?;
    for i in 0..o.big_dir_entries {
        let p = big.join(format!("entry-{i:05}"));
        File::create(&p).map_err(io(&p))?;
    }
    // Deep nesting.
    let mut deep = dir.join("deep");
    for level in 0..o.depth {
        deep = deep.join(format!("l{level}"));
    }
    write(&deep.join("bottom.txt"), b"at the bottom\n")?;
    // The big sparse file: data at the start, the middle and the end.
    let bigf = dir.join("big/sparse.bin");
    if let Some(parent) = bigf.parent() {
        fs::create_dir_all(parent).map_err(io(parent))?;
    }
    let mut f = File::create(&bigf).map_err(io(&bigf))?;
    f.set_len(o.big_file).map_err(io(&bigf))?;
    for (k, at) in [
        0,
        o.big_file / 3,
        o.big_file / 2 + 12_345,
        o.big_file.saturating_sub(70_000),
    ]
    .into_iter()
    .enumerate()
    {
        f.seek(SeekFrom::Start(at)).map_err(io(&bigf))?;
        f.write_all(&pseudo_random(1000 + k as u64, 65_536))
            .map_err(io(&bigf))?;
    }
    drop(f);
    // Names.
    write(&dir.join("names/ünïcødé_ファイル.txt"), b"unicode\n")?;
    if o.spaces {
        write(&dir.join("names/with spaces in it"), b"spaces\n")?;
    }
    if o.colons {
        write(&dir.join("names/with:colons:here"), b"colons\n")?;
    }
    // Modes.
    for (name, mode) in [
        ("setuid", 0o4755),
        ("setgid", 0o2750),
        ("private", 0o600),
        ("readonly", 0o444),
    ] {
        let p = dir.join(format!("modes/{name}"));
        write(&p, name.as_bytes())?;
        fs::set_permissions(&p, fs::Permissions::from_mode(mode)).map_err(io(&p))?;
    }
    let sticky = dir.join("modes/sticky-dir");
    fs::create_dir_all(&sticky).map_err(io(&sticky))?;
    fs::set_permissions(&sticky, fs::Permissions::from_mode(0o1777)).map_err(io(&sticky))?;
    if o.symlinks {
        let l = dir.join("links");
        fs::create_dir_all(&l).map_err(io(&l))?;
        for (name, target) in [
            ("relative", "../names/ünïcødé_ファイル.txt"),
            ("absolute", "/files/d000/f00000.txt"),
            ("dangling", "nowhere/at/all"),
            ("loop-a", "loop-b"),
            ("loop-b", "loop-a"),
            ("escape", "../../../../../../etc/shadow"),
            ("dir-link", "../deep"),
        ] {
            symlink(target, l.join(name)).map_err(io(&l))?;
        }
        let long_target = format!("../{}", "long-target/".repeat(20));
        symlink(long_target, l.join("long")).map_err(io(&l))?;
    }
    if o.hard_links {
        let a = dir.join("hard/original");
        write(&a, b"one file, two names\n")?;
        fs::hard_link(&a, dir.join("hard/second-name")).map_err(io(&a))?;
    }
    if o.special_files {
        let d = dir.join("dev");
        fs::create_dir_all(&d).map_err(io(&d))?;
        run(Command::new("mkfifo").arg(d.join("fifo")))?;
        run(Command::new("mknod")
            .arg(d.join("null"))
            .args(["c", "1", "3"]))?;
        run(Command::new("mknod")
            .arg(d.join("sda"))
            .args(["b", "8", "0"]))?;
        run(Command::new("mknod")
            .arg(d.join("big-minor"))
            .args(["c", "240", "200000"]))?;
    }
    if o.owners {
        run(Command::new("chown")
            .args(["-R", "1000:1000"])
            .arg(dir.join("names")))?;
        run(Command::new("chown")
            .args(["4242:77"])
            .arg(dir.join("modes/private")))?;
    }
    // Fixed mtimes (seconds precision), deepest first so parents keep theirs.
    run(Command::new("find").arg(dir).args([
        "-depth",
        "-exec",
        "touch",
        "-h",
        "-d",
        "2024-05-06 07:08:09",
        "{}",
        "+",
    ]))?;
    run(Command::new("touch")
        .args(["-d", "1999-12-31 23:59:58"])
        .arg(dir.join("big/sparse.bin")))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_tree_has_every_kind_of_entry() {
        let dir = tempfile_dir();
        let o = TreeOptions {
            files: 50,
            big_dir_entries: 100,
            depth: 10,
            big_file: 1 << 20,
            ..TreeOptions::FULL
        };
        write_acceptance_tree(&dir, o).unwrap();
        assert_eq!(fs::read_dir(dir.join("bigdir")).unwrap().count(), 100);
        assert!(dir
            .join("deep/l0/l1/l2/l3/l4/l5/l6/l7/l8/l9/bottom.txt")
            .is_file());
        assert_eq!(
            fs::metadata(dir.join("big/sparse.bin")).unwrap().len(),
            1 << 20
        );
        assert!(fs::symlink_metadata(dir.join("links/loop-a"))
            .unwrap()
            .file_type()
            .is_symlink());
        fs::remove_dir_all(&dir).unwrap();
    }

    fn tempfile_dir() -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("gk-tree-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).unwrap();
        d
    }
}
