//! Btrfs driver tests on real `mkfs.btrfs` images patched in memory:
//! compressed extents (data compressed by real tools: python3's zlib, the
//! zstd and lzop CLIs — hand-made extents of every kind beside the ones `mkfs.btrfs --compress`
//! writes, tested in btrfs.rs) and corrupted
//! structures, each of which must give a typed error naming the device, the
//! inode and what was wrong.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::Arc;

use guestkit_disk::{DeviceRef, MemDevice};
use guestkit_fixtures::fs_btrfs;
use guestkit_fs::btrfs::{self, BtrfsFs};
use guestkit_fs::{FileSystem, FsError, FsLimits};

const HEADER: usize = 101;

fn crc32c(data: &[u8]) -> u32 {
    let mut c = !0u32;
    for &b in data {
        c ^= u32::from(b);
        for _ in 0..8 {
            c = if c & 1 != 0 {
                (c >> 1) ^ 0x82F6_3B78
            } else {
                c >> 1
            };
        }
    }
    !c
}

struct Img {
    data: Vec<u8>,
    nodesize: usize,
    fsid: [u8; 16],
}

fn load() -> Img {
    load_named("small-mixed.img")
}

fn load_named(name: &str) -> Img {
    let dir = fs_btrfs::small().unwrap();
    let data = std::fs::read(dir.join(name)).unwrap();
    let sb = &data[0x10000..0x11000];
    Img {
        nodesize: u32::from_le_bytes(sb[0x94..0x98].try_into().unwrap()) as usize,
        fsid: sb[0x20..0x30].try_into().unwrap(),
        data,
    }
}

fn host_file(rel: &str) -> Vec<u8> {
    std::fs::read(fs_btrfs::small().unwrap().join("tree").join(rel)).unwrap()
}

impl Img {
    fn dev(&self) -> DeviceRef {
        Arc::new(MemDevice::new(self.data.clone(), "patched.img"))
    }

    fn mount(&self) -> Result<BtrfsFs, FsError> {
        btrfs::mount(self.dev(), FsLimits::default())
    }

    fn fix_super(&mut self) {
        let c = crc32c(&self.data[0x10020..0x11000]);
        self.data[0x10000..0x10004].copy_from_slice(&c.to_le_bytes());
    }

    /// Offsets of valid tree nodes (any copy) of `level`.
    fn nodes(&self, level: u8) -> Vec<usize> {
        let mut out = Vec::new();
        let mut at = 0x20000;
        while at + self.nodesize <= self.data.len() {
            let n = &self.data[at..at + self.nodesize];
            if n[0x20..0x30] == self.fsid
                && n[0x64] == level
                && u32::from_le_bytes(n[0..4].try_into().unwrap()) == crc32c(&n[0x20..])
            {
                out.push(at);
            }
            at += 4096;
        }
        out
    }

    /// Calls `f(objectid, type, offset, item data)` on every item of every
    /// leaf copy; leaves where `f` returned true get their checksum fixed.
    /// Returns how many items were patched.
    fn patch_items(&mut self, mut f: impl FnMut(u64, u8, u64, &mut [u8]) -> bool) -> usize {
        let mut count = 0;
        for at in self.nodes(0) {
            let node = &mut self.data[at..at + self.nodesize];
            let nritems = u32::from_le_bytes(node[0x60..0x64].try_into().unwrap()) as usize;
            let mut changed = false;
            for i in 0..nritems {
                let p = HEADER + 25 * i;
                let obj = u64::from_le_bytes(node[p..p + 8].try_into().unwrap());
                let ty = node[p + 8];
                let off = u64::from_le_bytes(node[p + 9..p + 17].try_into().unwrap());
                let doff = u32::from_le_bytes(node[p + 17..p + 21].try_into().unwrap()) as usize;
                let dsize = u32::from_le_bytes(node[p + 21..p + 25].try_into().unwrap()) as usize;
                if f(
                    obj,
                    ty,
                    off,
                    &mut node[HEADER + doff..HEADER + doff + dsize],
                ) {
                    changed = true;
                    count += 1;
                }
            }
            if changed {
                let c = crc32c(&node[0x20..]);
                node[0..4].copy_from_slice(&c.to_le_bytes());
            }
        }
        count
    }

    /// Offsets of valid tree nodes of any level.
    fn all_nodes(&self) -> Vec<usize> {
        let mut v: Vec<usize> = (0..8).flat_map(|l| self.nodes(l)).collect();
        v.sort_unstable();
        v
    }

    fn bytenr_at(&self, at: usize) -> u64 {
        u64::from_le_bytes(self.data[at + 0x30..at + 0x38].try_into().unwrap())
    }
}

#[test]
fn dup_metadata_falls_back_to_the_second_copy() {
    let want = {
        let img = load_named("small-dup.img");
        let fs = img.mount().unwrap();
        let mut buf = vec![0u8; 1 << 17];
        let ino = ino_of_fs(&fs, &["sub", "text.txt"]);
        let n = fs.read(ino, 0, &mut buf).unwrap();
        buf.truncate(n);
        buf
    };
    assert!(want == host_file("sub/text.txt"), "unpatched content");
    // Break the first copy (lower physical offset) of every node.
    let mut img = load_named("small-dup.img");
    let nodes = img.all_nodes();
    let mut seen = std::collections::HashSet::new();
    for &at in &nodes {
        if seen.insert(img.bytenr_at(at)) {
            img.data[at + 200] ^= 0xff;
        }
    }
    assert!(
        seen.len() >= 3 && nodes.len() > seen.len(),
        "nodes have second copies: {} nodes, {} addresses",
        nodes.len(),
        seen.len()
    );
    let fs = img.mount().unwrap();
    let ino = ino_of_fs(&fs, &["sub", "text.txt"]);
    let mut buf = vec![0u8; 1 << 17];
    let n = fs.read(ino, 0, &mut buf).unwrap();
    assert!(buf[..n] == want[..]);
    // Break the second copies too: now it is an error.
    for at in img.all_nodes() {
        img.data[at + 200] ^= 0xff;
    }
    let e = img.mount().unwrap_err();
    assert!(corrupt_text(&e).contains("checksum mismatch"), "{e}");
}

fn ino_of_fs(fs: &BtrfsFs, path: &[&str]) -> u64 {
    let mut ino = fs.root();
    for p in path {
        ino = fs.lookup(ino, p.as_bytes()).unwrap().unwrap();
    }
    ino
}

/// Inode number (objectid) of `path` in the unpatched image.
fn ino_of(img: &Img, path: &[&str]) -> u64 {
    let fs = img.mount().unwrap();
    let mut ino = fs.root();
    for p in path {
        ino = fs.lookup(ino, p.as_bytes()).unwrap().unwrap();
    }
    ino
}

fn pipe(program: &str, args: &[&str], input: &[u8]) -> Vec<u8> {
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{program}: {e}"));
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&input).unwrap());
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    assert!(out.status.success(), "{program} failed");
    out.stdout
}

fn be32(d: &[u8], at: usize) -> u32 {
    u32::from_be_bytes(d[at..at + 4].try_into().unwrap())
}

/// The raw LZO1X stream of one `lzop` block compressing `chunk`.
fn lzop_block(chunk: &[u8]) -> Vec<u8> {
    let f = pipe("lzop", &["-c", "-1"], chunk);
    assert_eq!(&f[..9], b"\x89LZO\x00\r\n\x1a\n");
    let version = u16::from_be_bytes([f[9], f[10]]);
    let mut p = 9 + 2 + 2; // version, lib version
    if version >= 0x0940 {
        p += 2; // version needed
    }
    p += 1; // method
    if version >= 0x0940 {
        p += 1; // level
    }
    let flags = be32(&f, p);
    p += 4;
    if flags & 0x800 != 0 {
        p += 4; // filter
    }
    p += 4 + 4; // mode, mtime low
    if version >= 0x0940 {
        p += 4; // mtime high
    }
    let name_len = f[p] as usize;
    p += 1 + name_len + 4; // name, header checksum
    let dst_len = be32(&f, p) as usize;
    let src_len = be32(&f, p + 4) as usize;
    p += 8;
    assert_eq!(dst_len, chunk.len());
    assert!(src_len < dst_len, "chunk did not compress");
    if flags & 0x1 != 0 {
        p += 4; // adler32 of the uncompressed data
    }
    if flags & 0x100 != 0 {
        p += 4; // crc32 of the uncompressed data
    }
    if flags & 0x2 != 0 {
        p += 4;
    }
    if flags & 0x200 != 0 {
        p += 4;
    }
    f[p..p + src_len].to_vec()
}

/// Btrfs's LZO extent format around per-4-KiB LZO1X segments.
fn btrfs_lzo(data: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8; 4];
    for chunk in data.chunks(4096) {
        let seg = lzop_block(chunk);
        if 4096 - out.len() % 4096 < 4 {
            out.resize(out.len().next_multiple_of(4096), 0);
        }
        out.extend_from_slice(&(seg.len() as u32).to_le_bytes());
        out.extend_from_slice(&seg);
    }
    let total = out.len() as u32;
    out[..4].copy_from_slice(&total.to_le_bytes());
    out
}

/// Replaces the single regular extent of sub/text.txt with `compressed`
/// data of `kind` (1 zlib, 2 lzo, 3 zstd) and checks the file reads back.
fn compressed_roundtrip(kind: u8, compress: impl Fn(&[u8]) -> Vec<u8>) {
    let mut img = load();
    let text = host_file("sub/text.txt");
    let ino = ino_of(&img, &["sub", "text.txt"]);
    let phys = img
        .data
        .windows(64)
        .position(|w| w == &text[..64])
        .expect("file data in the image");
    assert_eq!(&img.data[phys..phys + text.len()], &text[..]);
    let packed = compress(&text);
    assert!(packed.len() < text.len(), "{kind}: {} bytes", packed.len());
    img.data[phys..phys + text.len()].fill(0);
    img.data[phys..phys + packed.len()].copy_from_slice(&packed);
    let mut extents = 0;
    img.patch_items(|obj, ty, _, d| {
        if obj == ino && ty == 108 {
            assert_eq!(d[20], 1, "regular extent");
            d[16] = kind;
            extents += 1;
            true
        } else {
            false
        }
    });
    assert!(extents >= 1);
    let fs = img.mount().unwrap();
    let mut buf = vec![0u8; text.len() + 10];
    let n = fs.read(ino, 0, &mut buf).unwrap();
    assert_eq!(n, text.len());
    assert!(buf[..n] == text[..], "kind {kind}: content differs");
    let mut part = vec![0u8; 5000];
    let n = fs.read(ino, 30_001, &mut part).unwrap();
    assert!(part[..n] == text[30_001..30_001 + n]);
}

#[test]
fn zlib_extent_compressed_by_python() {
    compressed_roundtrip(1, |d| {
        pipe(
            "python3",
            &[
                "-c",
                "import sys,zlib; sys.stdout.buffer.write(zlib.compress(sys.stdin.buffer.read()))",
            ],
            d,
        )
    });
}

#[test]
fn zstd_extent_compressed_by_zstd_cli() {
    compressed_roundtrip(3, |d| pipe("zstd", &["-q", "-c", "-3"], d));
}

#[test]
fn lzo_extent_compressed_by_lzop() {
    compressed_roundtrip(2, btrfs_lzo);
}

fn corrupt_text(e: &FsError) -> String {
    assert!(
        matches!(e, FsError::Corrupt { fs: "btrfs", .. }),
        "expected Corrupt, got {e:?}"
    );
    let s = e.to_string();
    assert!(s.contains("patched.img") && s.contains("btrfs"), "{s}");
    s
}

#[test]
fn corrupted_superblock_checksum() {
    let mut img = load();
    img.data[0x10000 + 0x200] ^= 0x55;
    let e = img.mount().unwrap_err();
    assert!(corrupt_text(&e).contains("checksum mismatch"), "{e}");
    assert!(btrfs::probe(img.dev().as_ref()).is_err());
}

#[test]
fn absurd_superblock_values() {
    let mut img = load();
    img.data[0x10000 + 0xc6] = 200; // root level
    img.fix_super();
    let e = img.mount().unwrap_err();
    assert!(matches!(e, FsError::LimitExceeded { .. }), "{e:?}");

    let mut img = load();
    img.data[0x10000 + 0x94..0x10000 + 0x98].copy_from_slice(&3u32.to_le_bytes());
    img.fix_super();
    assert!(corrupt_text(&img.mount().unwrap_err()).contains("nodesize"));

    let mut img = load();
    img.data[0x10000 + 0xa0..0x10000 + 0xa4].copy_from_slice(&0xffff_fff0u32.to_le_bytes());
    img.fix_super();
    assert!(corrupt_text(&img.mount().unwrap_err()).contains("sys_chunk_array_size"));
}

#[test]
fn tree_node_checksum_and_counts() {
    // A flipped byte in every leaf: the checksum catches it.
    let mut img = load();
    for at in img.nodes(0) {
        img.data[at + 3000] ^= 1;
    }
    let e = img.mount().unwrap_err();
    assert!(corrupt_text(&e).contains("checksum mismatch"), "{e}");

    // An absurd item count in every leaf (checksums fixed).
    let mut img = load();
    for at in img.nodes(0) {
        let n = &mut img.data[at..at + img.nodesize];
        n[0x60..0x64].copy_from_slice(&0x7fff_ffffu32.to_le_bytes());
        let c = crc32c(&n[0x20..]);
        n[0..4].copy_from_slice(&c.to_le_bytes());
    }
    let e = img.mount().unwrap_err();
    assert!(corrupt_text(&e).contains("items"), "{e}");
}

#[test]
fn extent_pointer_outside_the_device() {
    let mut img = load();
    let ino = ino_of(&img, &["sub", "data.bin"]);
    let n = img.patch_items(|obj, ty, _, d| {
        if obj == ino && ty == 108 && d[20] == 1 {
            d[21..29].copy_from_slice(&(1u64 << 50).to_le_bytes());
            true
        } else {
            false
        }
    });
    assert!(n >= 1);
    let fs = img.mount().unwrap();
    let e = fs.read(ino, 0, &mut [0u8; 100]).unwrap_err();
    let s = corrupt_text(&e);
    assert!(
        matches!(e, FsError::Corrupt { inode: Some(i), .. } if i == ino),
        "{e:?}"
    );
    assert!(s.contains("0x4000000000000") && s.contains("chunk"), "{s}");
}

#[test]
fn absurd_compressed_and_symlink_sizes() {
    let mut img = load();
    let data = ino_of(&img, &["sub", "data.bin"]);
    let link = ino_of(&img, &["link"]);
    img.patch_items(|obj, ty, _, d| {
        if obj == data && ty == 108 {
            d[16] = 1; // zlib
            d[8..16].copy_from_slice(&(1u64 << 40).to_le_bytes()); // ram_bytes
            true
        } else if obj == link && ty == 1 {
            d[16..24].copy_from_slice(&(1u64 << 40).to_le_bytes()); // size
            true
        } else {
            false
        }
    });
    let fs = img.mount().unwrap();
    let e = fs.read(data, 0, &mut [0u8; 100]).unwrap_err();
    assert!(corrupt_text(&e).contains("compressed extent"), "{e}");
    assert!(matches!(e, FsError::Corrupt { inode: Some(i), .. } if i == data));
    let e = fs.read_link(link).unwrap_err();
    assert!(matches!(e, FsError::LimitExceeded { .. }), "{e:?}");
    assert!(e.to_string().contains(&format!("inode {link}")), "{e}");
}

#[test]
fn dir_entry_to_garbage_inode_and_self_cycle() {
    let mut img = load();
    let root = ino_of(&img, &[]);
    let hello = ino_of(&img, &["hello.txt"]);
    let sub = ino_of(&img, &["sub"]);
    // hello.txt's DIR_INDEX entry now names inode 999999; sub's names the
    // root directory itself.
    img.patch_items(|obj, ty, _, d| {
        if obj == root && ty == 96 {
            let loc = u64::from_le_bytes(d[0..8].try_into().unwrap());
            if loc == hello {
                d[0..8].copy_from_slice(&999_999u64.to_le_bytes());
                return true;
            }
        }
        false
    });
    let fs = img.mount().unwrap();
    let entries = fs.read_dir(root).unwrap();
    let bad = entries.iter().find(|e| e.name == b"hello.txt").unwrap();
    assert_eq!(bad.inode, 999_999);
    let e = fs.metadata(bad.inode).unwrap_err();
    assert!(corrupt_text(&e).contains("no inode item"), "{e}");
    assert!(matches!(
        e,
        FsError::Corrupt {
            inode: Some(999_999),
            ..
        }
    ));

    let mut img = load();
    img.patch_items(|obj, ty, _, d| {
        if obj == root && ty == 96 && u64::from_le_bytes(d[0..8].try_into().unwrap()) == sub {
            d[0..8].copy_from_slice(&root.to_le_bytes());
            return true;
        }
        false
    });
    let fs = img.mount().unwrap();
    let e = fs.read_dir(root).unwrap_err();
    assert!(corrupt_text(&e).contains("contains itself"), "{e}");
}

#[test]
fn truncated_image() {
    let mut img = load();
    img.data.truncate(img.data.len() / 2);
    let fs = img.mount();
    // The superblock and system chunk are at the start; the rest of the
    // chunks now point past the end: a typed error, never a panic.
    match fs {
        Err(e) => assert!(
            matches!(e, FsError::Corrupt { .. } | FsError::Disk(_)),
            "{e:?}"
        ),
        Ok(fs) => {
            let _ = fs.read_dir(fs.root());
        }
    }
}

type LeafItem = ((u64, u8, u64), Vec<u8>);

impl Img {
    /// Rewrites every valid copy of the leaves owned by tree `owner`: `f`
    /// edits the list of items, which is then sorted and packed back.
    fn rewrite_leaves(&mut self, owner: u64, f: impl Fn(&mut Vec<LeafItem>)) -> usize {
        let mut count = 0;
        for at in self.nodes(0) {
            let node = &mut self.data[at..at + self.nodesize];
            if u64::from_le_bytes(node[0x58..0x60].try_into().unwrap()) != owner {
                continue;
            }
            let nritems = u32::from_le_bytes(node[0x60..0x64].try_into().unwrap()) as usize;
            let mut items: Vec<LeafItem> = (0..nritems)
                .map(|i| {
                    let p = HEADER + 25 * i;
                    let key = (
                        u64::from_le_bytes(node[p..p + 8].try_into().unwrap()),
                        node[p + 8],
                        u64::from_le_bytes(node[p + 9..p + 17].try_into().unwrap()),
                    );
                    let off = u32::from_le_bytes(node[p + 17..p + 21].try_into().unwrap()) as usize;
                    let size =
                        u32::from_le_bytes(node[p + 21..p + 25].try_into().unwrap()) as usize;
                    (key, node[HEADER + off..HEADER + off + size].to_vec())
                })
                .collect();
            f(&mut items);
            items.sort_by_key(|(k, _)| *k);
            node[HEADER..].fill(0);
            let mut data_end = self.nodesize - HEADER;
            for (i, ((obj, ty, off), data)) in items.iter().enumerate() {
                data_end -= data.len();
                let p = HEADER + 25 * i;
                node[p..p + 8].copy_from_slice(&obj.to_le_bytes());
                node[p + 8] = *ty;
                node[p + 9..p + 17].copy_from_slice(&off.to_le_bytes());
                node[p + 17..p + 21].copy_from_slice(&(data_end as u32).to_le_bytes());
                node[p + 21..p + 25].copy_from_slice(&(data.len() as u32).to_le_bytes());
                node[HEADER + data_end..HEADER + data_end + data.len()].copy_from_slice(data);
            }
            assert!(
                HEADER + 25 * items.len() <= HEADER + data_end,
                "leaf overflow"
            );
            node[0x60..0x64].copy_from_slice(&(items.len() as u32).to_le_bytes());
            let c = crc32c(&node[0x20..]);
            node[0..4].copy_from_slice(&c.to_le_bytes());
            count += 1;
        }
        count
    }
}

/// Turns directory `sub` of small-dup.img into subvolume 256 the way the
/// kernel links one: a ROOT_ITEM (sharing the top level's tree, with `sub`
/// as its root directory, as a snapshot shares nodes), a ROOT_BACKREF and
/// ROOT_REF naming it `sub` in directory 256 of the top level, and the dir
/// entries of `sub` pointing at the ROOT_ITEM. With `default`, the root
/// tree's `default` entry names subvolume 256.
fn make_subvolume(default: bool) -> (Img, u64) {
    let mut img = load_named("small-dup.img");
    let sub = ino_of(&img, &["sub"]);
    let root_dir = ino_of(&img, &[]);
    let n = img.rewrite_leaves(1, |items| {
        let fs_root = items
            .iter()
            .find(|(k, _)| *k == (5, 132, 0))
            .unwrap()
            .1
            .clone();
        let mut child = fs_root;
        child[168..176].copy_from_slice(&sub.to_le_bytes()); // root_dirid
        child[247..263].copy_from_slice(&[0xab; 16]); // uuid
        items.push(((256, 132, 0), child));
        let mut rref = Vec::new();
        rref.extend_from_slice(&root_dir.to_le_bytes());
        rref.extend_from_slice(&1u64.to_le_bytes());
        rref.extend_from_slice(&3u16.to_le_bytes());
        rref.extend_from_slice(b"sub");
        items.push(((256, 144, 5), rref.clone()));
        items.push(((5, 156, 256), rref));
        if default {
            for (k, d) in items.iter_mut() {
                if k.0 == 6 && k.1 == 84 {
                    d[0..8].copy_from_slice(&256u64.to_le_bytes());
                }
            }
        }
    });
    assert!(n >= 1, "root tree leaf found");
    let patched = img.patch_items(|obj, ty, _, d| {
        if obj == root_dir
            && (ty == 84 || ty == 96)
            && u64::from_le_bytes(d[0..8].try_into().unwrap()) == sub
        {
            d[0..8].copy_from_slice(&256u64.to_le_bytes());
            d[8] = 132;
            d[9..17].copy_from_slice(&u64::MAX.to_le_bytes());
            true
        } else {
            false
        }
    });
    assert!(patched >= 2, "DIR_ITEM and DIR_INDEX of sub");
    (img, sub)
}

#[test]
fn subvolume_boundaries_are_crossed() {
    let (img, sub) = make_subvolume(false);
    let fs = img.mount().unwrap();
    assert_eq!(fs.subvolume_id(), 5);
    let subs = fs.subvolumes().unwrap();
    let got: Vec<(u64, Option<u64>, &str)> = subs
        .iter()
        .map(|s| (s.id, s.parent_id, s.path.as_str()))
        .collect();
    assert_eq!(got, vec![(5, None, ""), (256, Some(5), "sub")]);
    assert_eq!(
        subs[1].uuid.as_deref(),
        Some("abababab-abab-abab-abab-abababababab")
    );
    // The entry crosses into subvolume 256: its root directory is `sub`.
    let crossed = fs.lookup(fs.root(), b"sub").unwrap().unwrap();
    assert_eq!(crossed, (256 << 40) | sub);
    let listed = fs.read_dir(fs.root()).unwrap();
    assert_eq!(
        listed.iter().find(|e| e.name == b"sub").unwrap().inode,
        crossed
    );
    let text = fs.lookup(crossed, b"text.txt").unwrap().unwrap();
    assert_eq!(text >> 40, 256);
    let mut buf = vec![0u8; 1 << 17];
    let n = fs.read(text, 0, &mut buf).unwrap();
    assert!(buf[..n] == host_file("sub/text.txt")[..]);
    // The whole walk still equals the source tree.
    let tree = fs_btrfs::small().unwrap().join("tree");
    let want = common::walk_host(&tree);
    common::assert_same_listing(&common::walk_fs(&fs), &want, "with subvolume");

    // Mounting the subvolume by path or id shows `sub` as the root.
    let want_sub = common::walk_host(&tree.join("sub"));
    for sel in [
        btrfs::SubvolSelector::Path("/sub".into()),
        btrfs::SubvolSelector::Id(256),
    ] {
        let fs = btrfs::mount_subvolume(img.dev(), FsLimits::default(), sel).unwrap();
        assert_eq!(fs.subvolume_id(), 256);
        assert_eq!(fs.root(), sub);
        common::assert_same_listing(&common::walk_fs(&fs), &want_sub, "subvolume 256");
    }
}

#[test]
fn default_subvolume_is_mounted() {
    let (img, sub) = make_subvolume(true);
    let fs = img.mount().unwrap();
    assert_eq!(fs.subvolume_id(), 256);
    assert_eq!(fs.root(), sub);
    assert!(fs.lookup(fs.root(), b"data.bin").unwrap().is_some());
    let top = btrfs::mount_subvolume(img.dev(), FsLimits::default(), btrfs::SubvolSelector::Id(5))
        .unwrap();
    assert!(top.lookup(top.root(), b"hello.txt").unwrap().is_some());
}
