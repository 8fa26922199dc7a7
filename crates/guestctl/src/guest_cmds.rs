//! Commands that read inside the guest through its assembled mounts:
//! `filesystems`, `ls`, `cat`, `stat`, `tar-out`.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::Args;
use guestkit_disk::DeviceRef;
use guestkit_fs::guest::{open_guest, Guest};
use guestkit_fs::{FileType, FsLimits, GuestTree, Metadata};

use crate::disk::{open_all, open_options};
use crate::{human, ImageArgs};

/// The VM's images plus a guest path.
#[derive(Debug, Args)]
pub struct GuestPathArgs {
    /// The VM's disk images, in order, then the guest path.
    #[arg(required = true, num_args = 2..)]
    pub args: Vec<String>,
    #[command(flatten)]
    pub image: ImageArgs,
}

impl GuestPathArgs {
    fn split(&self) -> Result<(Vec<PathBuf>, Vec<u8>)> {
        let Some((path, images)) = self.args.split_last() else {
            bail!("give the VM's images and a guest path");
        };
        if !path.starts_with('/') {
            bail!("the guest path {path:?} must be absolute (start with /)");
        }
        Ok((
            images.iter().map(PathBuf::from).collect(),
            path.as_bytes().to_vec(),
        ))
    }
}

/// Opens the images and assembles the guest.
pub fn guest(images: &[PathBuf], args: &ImageArgs) -> Result<Guest> {
    let opened = open_all(images, args)?;
    let devices: Vec<DeviceRef> = opened.iter().map(|o| o.device.clone()).collect();
    Ok(open_guest(
        &devices,
        &open_options(args)?.limits,
        &FsLimits::default(),
    ))
}

fn tree(guest: &Guest) -> Result<&GuestTree> {
    guest.tree.as_ref().with_context(|| {
        let found: Vec<String> = guest
            .filesystems
            .iter()
            .map(|f| format!("{} ({})", f.volume, f.info.fs_type))
            .collect();
        format!(
            "no operating-system root found (filesystems: {})",
            if found.is_empty() {
                "none".to_string()
            } else {
                found.join(", ")
            }
        )
    })
}

fn warn(guest: &Guest) {
    for w in &guest.warnings {
        eprintln!("guestctl: warning: {w}");
    }
}

/// `guestctl filesystems IMAGE...`
pub fn filesystems(images: &[PathBuf], json: bool, args: &ImageArgs) -> Result<()> {
    let guest = guest(images, args)?;
    let mut out = std::io::stdout().lock();
    let volumes = guest.probed_volumes();
    if json {
        #[derive(serde::Serialize)]
        struct Report<'a> {
            volumes: &'a [guestkit_fs::guest::ProbedVolume],
            filesystems: &'a [guestkit_fs::guest::FoundFs],
            root_candidates: &'a [String],
            mounts: &'a [guestkit_fs::guest::MountReport],
            warnings: &'a [String],
        }
        let report = Report {
            volumes: &volumes,
            filesystems: &guest.filesystems,
            root_candidates: &guest.root_candidates,
            mounts: &guest.mounts,
            warnings: &guest.warnings,
        };
        serde_json::to_writer_pretty(&mut out, &report)?;
        writeln!(out)?;
        return Ok(());
    }
    writeln!(
        out,
        "{:<14} {:<18} {:<38} {:<16} {:>10}  MOUNTPOINT",
        "DEVICE", "TYPE", "UUID", "LABEL", "SIZE"
    )?;
    for v in &volumes {
        writeln!(
            out,
            "{:<14} {:<18} {:<38} {:<16} {:>10}  {}",
            v.volume,
            v.kind,
            v.uuid.as_deref().or(v.magic.as_deref()).unwrap_or("-"),
            v.label.as_deref().unwrap_or("-"),
            human::size(v.size),
            v.mountpoint.as_deref().unwrap_or("-")
        )?;
    }
    warn(&guest);
    Ok(())
}

fn mode_string(md: &Metadata) -> String {
    let kind = match md.file_type {
        FileType::Regular => '-',
        FileType::Directory => 'd',
        FileType::Symlink => 'l',
        FileType::CharDevice => 'c',
        FileType::BlockDevice => 'b',
        FileType::Fifo => 'p',
        FileType::Socket => 's',
    };
    let mut s = String::from(kind);
    let m = md.mode;
    for (shift, special, ch) in [(6, 0o4000, 's'), (3, 0o2000, 's'), (0, 0o1000, 't')] {
        let bits = (m >> shift) & 7;
        s.push(if bits & 4 != 0 { 'r' } else { '-' });
        s.push(if bits & 2 != 0 { 'w' } else { '-' });
        let x = bits & 1 != 0;
        s.push(match (m & special != 0, x) {
            (true, true) => ch,
            (true, false) => ch.to_ascii_uppercase(),
            (false, true) => 'x',
            (false, false) => '-',
        });
    }
    s
}

fn long_line(tree: &GuestTree, md: &Metadata, name: &[u8], full: &[u8]) -> String {
    let size = match md.rdev {
        Some((major, minor)) => format!("{major}, {minor}"),
        None => md.size.to_string(),
    };
    let mut line = format!(
        "{} {:>3} {:>5} {:>5} {:>10} {:>11} {}",
        mode_string(md),
        md.nlink,
        md.uid,
        md.gid,
        size,
        md.mtime.sec,
        String::from_utf8_lossy(name)
    );
    if md.file_type == FileType::Symlink {
        if let Ok(t) = tree.read_link(full) {
            line.push_str(&format!(" -> {}", String::from_utf8_lossy(&t)));
        }
    }
    line
}

fn child_path(dir: &[u8], name: &[u8]) -> Vec<u8> {
    let mut p = dir.to_vec();
    if p.last() != Some(&b'/') {
        p.push(b'/');
    }
    p.extend_from_slice(name);
    p
}

fn list(
    out: &mut impl Write,
    tree: &GuestTree,
    path: &[u8],
    long: bool,
    recursive: bool,
    ancestors: &mut Vec<guestkit_fs::Node>,
) -> Result<()> {
    let md = tree.symlink_metadata(path)?;
    let followed = if md.file_type == FileType::Symlink {
        tree.metadata(path).ok()
    } else {
        Some(md.clone())
    };
    if followed.as_ref().map(|m| m.file_type) != Some(FileType::Directory) {
        let name = path.rsplit(|&b| b == b'/').next().unwrap_or(path);
        if long {
            writeln!(out, "{}", long_line(tree, &md, name, path))?;
        } else {
            out.write_all(name)?;
            writeln!(out)?;
        }
        return Ok(());
    }
    if recursive {
        writeln!(out, "{}:", String::from_utf8_lossy(path))?;
    }
    let mut entries = tree.read_dir(path)?;
    entries.sort_by(|a, b| a.0.name.cmp(&b.0.name));
    let mut subdirs = Vec::new();
    for (entry, node) in &entries {
        let full = child_path(path, &entry.name);
        let md = tree.metadata_of(*node)?;
        if long {
            writeln!(out, "{}", long_line(tree, &md, &entry.name, &full))?;
        } else {
            out.write_all(&entry.name)?;
            writeln!(out)?;
        }
        if recursive && md.file_type == FileType::Directory {
            subdirs.push(full);
        }
    }
    if ancestors.len() > 4096 {
        bail!(
            "{}: directory nesting deeper than 4096",
            String::from_utf8_lossy(path)
        );
    }
    for dir in subdirs {
        let node = tree.resolve(&dir)?.node;
        if ancestors.contains(&node) {
            bail!(
                "{}: a directory cycle (it is its own ancestor)",
                String::from_utf8_lossy(&dir)
            );
        }
        writeln!(out)?;
        ancestors.push(node);
        list(out, tree, &dir, long, recursive, ancestors)?;
        ancestors.pop();
    }
    Ok(())
}

/// `guestctl ls [-l] [-R] IMAGE... PATH`
pub fn ls(args: &GuestPathArgs, long: bool, recursive: bool) -> Result<()> {
    let (images, path) = args.split()?;
    let guest = guest(&images, &args.image)?;
    let tree = tree(&guest)?;
    let mut out = std::io::stdout().lock();
    let mut ancestors = vec![tree.resolve(&path)?.node];
    list(&mut out, tree, &path, long, recursive, &mut ancestors)?;
    Ok(())
}

/// `guestctl cat IMAGE... PATH`
pub fn cat(args: &GuestPathArgs) -> Result<()> {
    let (images, path) = args.split()?;
    let guest = guest(&images, &args.image)?;
    let tree = tree(&guest)?;
    let r = tree.resolve(&path)?;
    let md = tree.metadata_of(r.node)?;
    if md.file_type != FileType::Regular {
        bail!("{}: not a regular file", String::from_utf8_lossy(&path));
    }
    let mut out = std::io::stdout().lock();
    let mut buf = vec![0u8; 1 << 20];
    let mut at = 0u64;
    while at < md.size {
        let n = tree.read_node(r.node, at, &mut buf)?;
        if n == 0 {
            break;
        }
        out.write_all(&buf[..n])?;
        at += n as u64;
    }
    Ok(())
}

/// `guestctl stat IMAGE... PATH`
pub fn stat(args: &GuestPathArgs, json: bool) -> Result<()> {
    let (images, path) = args.split()?;
    let guest = guest(&images, &args.image)?;
    let tree = tree(&guest)?;
    let r = tree.resolve_nofollow(&path)?;
    let md = tree.metadata_of(r.node)?;
    let mut out = std::io::stdout().lock();
    if json {
        serde_json::to_writer_pretty(&mut out, &md)?;
        writeln!(out)?;
        return Ok(());
    }
    let mount = tree
        .mounts()
        .get(r.node.mount)
        .map(|m| m.source.as_str())
        .unwrap_or("?");
    writeln!(out, "  File: {}", String::from_utf8_lossy(&r.path))?;
    writeln!(
        out,
        "  Type: {:?}   Size: {}   Links: {}",
        md.file_type, md.size, md.nlink
    )?;
    writeln!(out, "Device: {mount}   Inode: {}", md.inode)?;
    writeln!(
        out,
        "Access: ({:04o}/{})  Uid: {}  Gid: {}",
        md.mode,
        mode_string(&md),
        md.uid,
        md.gid
    )?;
    for (label, t) in [
        ("Access", md.atime),
        ("Modify", md.mtime),
        ("Change", md.ctime),
    ] {
        writeln!(out, "{label}: {}.{:09}", t.sec, t.nsec)?;
    }
    if let Some(b) = md.btime {
        writeln!(out, " Birth: {}.{:09}", b.sec, b.nsec)?;
    }
    if let Some((major, minor)) = md.rdev {
        writeln!(out, "Device type: {major},{minor}")?;
    }
    Ok(())
}

/// `guestctl tar-out IMAGE... PATH`
pub fn tar_out(args: &GuestPathArgs) -> Result<()> {
    let (images, path) = args.split()?;
    let guest = guest(&images, &args.image)?;
    let tree = tree(&guest)?;
    let out = std::io::BufWriter::with_capacity(1 << 20, std::io::stdout().lock());
    let stats = guestkit_fs::tar::export(tree, &path, out, FsLimits::default().max_walk_depth)?;
    for w in &stats.warnings {
        eprintln!("guestctl: warning: {w}");
    }
    Ok(())
}
