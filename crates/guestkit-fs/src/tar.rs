//! A subtree of the guest as a tar stream (like `virt-tar-out`): regular
//! files with content, directories, symlinks, hard links, fifos and device
//! nodes, with modes, owners and mtimes; PAX records carry what ustar cannot
//! (long names and link targets, large sizes and ids, sub-second mtimes).

use std::collections::HashMap;
use std::io::Write;

use crate::error::{FsError, Result};
use crate::fs::{FileType, Metadata};
use crate::tree::{GuestTree, Node};

const BLOCK: usize = 512;

/// What an export wrote.
#[derive(Debug, Default, Clone)]
pub struct TarStats {
    pub entries: u64,
    pub file_bytes: u64,
    /// Entries that tar cannot carry (sockets) or that could not be read.
    pub warnings: Vec<String>,
}

fn io(e: std::io::Error) -> FsError {
    FsError::Output(e)
}

/// Writes `value` as a NUL-terminated octal field of `width` bytes; false if
/// it does not fit.
fn octal(field: &mut [u8], value: u64) -> bool {
    let digits = field.len() - 1;
    let text = format!("{value:0digits$o}");
    if text.len() > digits {
        return false;
    }
    field[..digits].copy_from_slice(text.as_bytes());
    field[digits] = 0;
    true
}

fn pax_record(key: &str, value: &[u8]) -> Vec<u8> {
    // "<len> <key>=<value>\n" where <len> counts itself.
    let body = key.len() + value.len() + 3;
    let mut len = body + 1;
    while len.to_string().len() + body != len {
        len = len.to_string().len() + body;
    }
    let mut rec = format!("{len} {key}=").into_bytes();
    rec.extend_from_slice(value);
    rec.push(b'\n');
    rec
}

struct Entry<'a> {
    path: &'a [u8],
    md: &'a Metadata,
    kind: u8,
    link: Option<&'a [u8]>,
    size: u64,
}

fn write_header(out: &mut impl Write, e: &Entry) -> Result<()> {
    let mut pax = Vec::new();
    let mut h = [0u8; BLOCK];
    // Name: ustar name (100) + prefix (155) split at a '/', else PAX.
    let (prefix, name) = split_name(e.path);
    match (prefix, name) {
        (Some(p), n) => {
            h[345..345 + p.len()].copy_from_slice(p);
            h[..n.len()].copy_from_slice(n);
        }
        (None, n) if n.len() <= 100 => h[..n.len()].copy_from_slice(n),
        _ => {
            pax.extend(pax_record("path", e.path));
            let short = &e.path[e.path.len().saturating_sub(99)..];
            h[..short.len()].copy_from_slice(short);
        }
    }
    if let Some(link) = e.link {
        if link.len() <= 100 {
            h[157..157 + link.len()].copy_from_slice(link);
        } else {
            pax.extend(pax_record("linkpath", link));
        }
    }
    octal(&mut h[100..108], u64::from(e.md.mode & 0o7777));
    if !octal(&mut h[108..116], u64::from(e.md.uid)) {
        pax.extend(pax_record("uid", e.md.uid.to_string().as_bytes()));
    }
    if !octal(&mut h[116..124], u64::from(e.md.gid)) {
        pax.extend(pax_record("gid", e.md.gid.to_string().as_bytes()));
    }
    if !octal(&mut h[124..136], e.size) {
        pax.extend(pax_record("size", e.size.to_string().as_bytes()));
    }
    let mtime = e.md.mtime;
    if !octal(&mut h[136..148], u64::try_from(mtime.sec).unwrap_or(0))
        || mtime.sec < 0
        || mtime.nsec != 0
    {
        let value = if mtime.nsec != 0 {
            format!("{}.{:09}", mtime.sec, mtime.nsec)
        } else {
            mtime.sec.to_string()
        };
        pax.extend(pax_record("mtime", value.as_bytes()));
    }
    h[156] = e.kind;
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    if let Some((major, minor)) = e.md.rdev {
        octal(&mut h[329..337], u64::from(major));
        octal(&mut h[337..345], u64::from(minor));
    }
    if !pax.is_empty() {
        let mut ph = [0u8; BLOCK];
        let pname = b"./PaxHeaders/entry";
        ph[..pname.len()].copy_from_slice(pname);
        octal(&mut ph[100..108], 0o644);
        octal(&mut ph[108..116], 0);
        octal(&mut ph[116..124], 0);
        octal(&mut ph[124..136], pax.len() as u64);
        octal(&mut ph[136..148], 0);
        ph[156] = b'x';
        ph[257..263].copy_from_slice(b"ustar\0");
        ph[263..265].copy_from_slice(b"00");
        checksum(&mut ph);
        out.write_all(&ph).map_err(io)?;
        out.write_all(&pax).map_err(io)?;
        pad(out, pax.len() as u64)?;
    }
    checksum(&mut h);
    out.write_all(&h).map_err(io)
}

fn checksum(h: &mut [u8; BLOCK]) {
    h[148..156].fill(b' ');
    let sum: u64 = h.iter().map(|&b| u64::from(b)).sum();
    let text = format!("{sum:06o}\0 ");
    h[148..156].copy_from_slice(text.as_bytes());
}

fn pad(out: &mut impl Write, len: u64) -> Result<()> {
    let rem = (len % BLOCK as u64) as usize;
    if rem != 0 {
        out.write_all(&[0u8; BLOCK][..BLOCK - rem]).map_err(io)?;
    }
    Ok(())
}

/// Splits a path into ustar's prefix (≤ 155) and name (≤ 100) at a `/`.
fn split_name(path: &[u8]) -> (Option<&[u8]>, &[u8]) {
    if path.len() <= 100 {
        return (None, path);
    }
    for (i, &b) in path.iter().enumerate() {
        if b == b'/' && i <= 155 && path.len() - i - 1 <= 100 && i > 0 {
            return (Some(&path[..i]), &path[i + 1..]);
        }
    }
    (None, path)
}

/// Exporter state: hard links seen (node → first path).
struct Exporter<'a, W: Write> {
    tree: &'a GuestTree,
    out: W,
    links: HashMap<Node, Vec<u8>>,
    stats: TarStats,
    max_depth: u32,
    /// Directories on the path being exported: meeting one again is a cycle.
    ancestors: Vec<Node>,
}

impl<W: Write> Exporter<'_, W> {
    fn entry(&mut self, node: Node, path: Vec<u8>, depth: u32) -> Result<()> {
        if depth > self.max_depth {
            return Err(FsError::LimitExceeded {
                device: String::from_utf8_lossy(&path).into_owned(),
                fs: "tar",
                what: "directory depth".into(),
                value: u64::from(depth),
                limit: u64::from(self.max_depth),
            });
        }
        let md = self.tree.metadata_of(node)?;
        let name = if path.is_empty() {
            b".".to_vec()
        } else {
            path.clone()
        };
        if md.file_type != FileType::Directory && md.nlink > 1 {
            if let Some(first) = self.links.get(&node) {
                let first = first.clone();
                let e = Entry {
                    path: &name,
                    md: &md,
                    kind: b'1',
                    link: Some(&first),
                    size: 0,
                };
                self.stats.entries += 1;
                return write_header(&mut self.out, &e);
            }
            self.links.insert(node, name.clone());
        }
        match md.file_type {
            FileType::Regular => {
                let e = Entry {
                    path: &name,
                    md: &md,
                    kind: b'0',
                    link: None,
                    size: md.size,
                };
                write_header(&mut self.out, &e)?;
                let mut buf = vec![0u8; 1 << 20];
                let mut at = 0u64;
                while at < md.size {
                    let want = (md.size - at).min(buf.len() as u64) as usize;
                    let n = self.tree.read_node(node, at, &mut buf[..want])?;
                    if n == 0 {
                        return Err(FsError::Corrupt {
                            device: String::from_utf8_lossy(&name).into_owned(),
                            fs: "tar",
                            what: "file content".into(),
                            inode: Some(node.inode),
                            offset: Some(at),
                            reason: format!("file ends at {at} but its size is {}", md.size),
                        });
                    }
                    self.out.write_all(&buf[..n]).map_err(io)?;
                    at += n as u64;
                }
                pad(&mut self.out, md.size)?;
                self.stats.file_bytes += md.size;
            }
            FileType::Directory => {
                if self.ancestors.contains(&node) {
                    return Err(FsError::Corrupt {
                        device: self
                            .tree
                            .mounts()
                            .get(node.mount)
                            .map(|m| m.source.clone())
                            .unwrap_or_default(),
                        fs: "tree",
                        what: "directory".into(),
                        inode: Some(node.inode),
                        offset: None,
                        reason: format!(
                            "{} is its own ancestor (a directory cycle)",
                            String::from_utf8_lossy(&name)
                        ),
                    });
                }
                let mut dir_name = name.clone();
                dir_name.push(b'/');
                let e = Entry {
                    path: &dir_name,
                    md: &md,
                    kind: b'5',
                    link: None,
                    size: 0,
                };
                write_header(&mut self.out, &e)?;
                let mut guest_path = b"/".to_vec();
                guest_path.extend_from_slice(&path);
                self.ancestors.push(node);
                for (child, child_node) in self.tree.read_dir_node(node, &guest_path)? {
                    let mut child_path = path.clone();
                    if !child_path.is_empty() {
                        child_path.push(b'/');
                    }
                    child_path.extend_from_slice(&child.name);
                    self.entry(child_node, child_path, depth + 1)?;
                }
                self.ancestors.pop();
            }
            FileType::Symlink => {
                let target = self.tree.fs(node)?.read_link(node.inode)?;
                let e = Entry {
                    path: &name,
                    md: &md,
                    kind: b'2',
                    link: Some(&target),
                    size: 0,
                };
                write_header(&mut self.out, &e)?;
            }
            FileType::CharDevice | FileType::BlockDevice | FileType::Fifo => {
                let kind = match md.file_type {
                    FileType::CharDevice => b'3',
                    FileType::BlockDevice => b'4',
                    _ => b'6',
                };
                let e = Entry {
                    path: &name,
                    md: &md,
                    kind,
                    link: None,
                    size: 0,
                };
                write_header(&mut self.out, &e)?;
            }
            FileType::Socket => {
                self.stats.warnings.push(format!(
                    "{}: socket not archived",
                    String::from_utf8_lossy(&name)
                ));
                return Ok(());
            }
        }
        self.stats.entries += 1;
        Ok(())
    }
}

/// Writes the subtree at guest path `path` to `out` as a tar stream; member
/// names are relative to `path`.
pub fn export(tree: &GuestTree, path: &[u8], out: impl Write, max_depth: u32) -> Result<TarStats> {
    let start = tree.resolve(path)?;
    let mut ex = Exporter {
        tree,
        out,
        links: HashMap::new(),
        stats: TarStats::default(),
        max_depth,
        ancestors: vec![start.node],
    };
    let md = tree.metadata_of(start.node)?;
    if md.file_type == FileType::Directory {
        // Children directly, so names are relative and the root entry is "./".
        let e = Entry {
            path: b"./",
            md: &md,
            kind: b'5',
            link: None,
            size: 0,
        };
        write_header(&mut ex.out, &e)?;
        for (child, node) in tree.read_dir_node(start.node, &start.path)? {
            ex.entry(node, child.name, 1)?;
        }
    } else {
        let name = start
            .path
            .rsplit(|&b| b == b'/')
            .next()
            .unwrap_or(b"file")
            .to_vec();
        ex.entry(start.node, name, 1)?;
    }
    ex.out.write_all(&[0u8; BLOCK * 2]).map_err(io)?;
    ex.out.flush().map_err(io)?;
    Ok(ex.stats)
}
