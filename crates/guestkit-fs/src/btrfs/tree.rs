//! Generic B-tree search over Btrfs tree nodes: range scans and floor
//! lookups, bounded by the tree-depth limit and a node budget, with every
//! node checked on read (see [`super::volume::Volume::read_node`]).

use guestkit_disk::block::bytes::{le32, le64};

use super::volume::{Volume, HEADER_SIZE};
use super::{corrupt, limit_exceeded};
use crate::error::Result;

/// A Btrfs key: (objectid, type, offset), ordered in that order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Key {
    pub objectid: u64,
    pub ty: u8,
    pub offset: u64,
}

impl Key {
    /// A key.
    pub const fn new(objectid: u64, ty: u8, offset: u64) -> Key {
        Key {
            objectid,
            ty,
            offset,
        }
    }

    /// Parses a key at `at` (17 bytes).
    pub fn parse(data: &[u8], at: usize) -> Option<Key> {
        Some(Key {
            objectid: le64(data, at)?,
            ty: *data.get(at.checked_add(8)?)?,
            offset: le64(data, at.checked_add(9)?)?,
        })
    }
}

/// A leaf item copied out of its node.
#[derive(Debug, Clone)]
pub struct Item {
    pub key: Key,
    pub data: Vec<u8>,
}

/// A tree root: its node address and level.
#[derive(Debug, Clone, Copy)]
pub struct Root {
    pub bytenr: u64,
    pub level: u8,
    /// Name for errors ("root tree", "fs tree 256", …).
    pub id: u64,
}

const KEY_PTR_SIZE: usize = 33;
const ITEM_SIZE: usize = 25;

fn what(root: &Root) -> String {
    match root.id {
        1 => "root tree".into(),
        3 => "chunk tree".into(),
        id => format!("fs tree {id}"),
    }
}

struct Search<'a> {
    vol: &'a Volume,
    what: String,
    min: Key,
    max: Key,
    limit: usize,
    budget: usize,
    out: Vec<Item>,
}

/// Node header fields: (nritems, level).
fn header(node: &[u8]) -> (usize, u8) {
    (
        le32(node, 0x60).unwrap_or_default() as usize,
        node.get(0x64).copied().unwrap_or_default(),
    )
}

fn key_ptr(vol: &Volume, node: &[u8], i: usize, logical: u64, what: &str) -> Result<(Key, u64)> {
    let at = HEADER_SIZE + i * KEY_PTR_SIZE;
    match (Key::parse(node, at), le64(node, at + 17)) {
        (Some(k), Some(p)) => Ok((k, p)),
        _ => Err(corrupt(
            &vol.name,
            what,
            None,
            Some(logical),
            format!("key pointer {i} outside the node"),
        )),
    }
}

fn leaf_item(
    vol: &Volume,
    node: &[u8],
    i: usize,
    logical: u64,
    what: &str,
) -> Result<(Key, std::ops::Range<usize>)> {
    let at = HEADER_SIZE + i * ITEM_SIZE;
    let bad = |reason: String| corrupt(&vol.name, what, None, Some(logical), reason);
    let key = Key::parse(node, at).ok_or_else(|| bad(format!("item {i} outside the leaf")))?;
    let off =
        le32(node, at + 17).ok_or_else(|| bad(format!("item {i} outside the leaf")))? as usize;
    let size =
        le32(node, at + 21).ok_or_else(|| bad(format!("item {i} outside the leaf")))? as usize;
    let start = HEADER_SIZE + off;
    let end = start + size;
    if end > node.len() {
        return Err(bad(format!(
            "item {i} data [{off}, +{size}) outside the leaf"
        )));
    }
    Ok((key, start..end))
}

fn check_nritems(
    vol: &Volume,
    nritems: usize,
    level: u8,
    logical: u64,
    what: &str,
    is_root: bool,
) -> Result<()> {
    let per = if level == 0 { ITEM_SIZE } else { KEY_PTR_SIZE };
    let max = (vol.sb.nodesize as usize - HEADER_SIZE) / per;
    if nritems > max || (nritems == 0 && !is_root) || (nritems == 0 && level > 0) {
        return Err(corrupt(
            &vol.name,
            what,
            None,
            Some(logical),
            format!("node holds {nritems} items (1..={max} expected)"),
        ));
    }
    Ok(())
}

impl Search<'_> {
    /// Visits the node at `logical` of `level`; keys in it lie in `[lo, hi)`.
    fn visit(
        &mut self,
        logical: u64,
        level: u8,
        lo: Option<Key>,
        hi: Option<Key>,
        is_root: bool,
    ) -> Result<()> {
        if self.budget == 0 {
            return Err(limit_exceeded(
                &self.vol.name,
                format!("{} nodes visited by one search", self.what),
                u64::MAX,
                0,
            ));
        }
        self.budget -= 1;
        let node = self.vol.read_node(logical, level, &self.what)?;
        let (nritems, _) = header(&node);
        check_nritems(self.vol, nritems, level, logical, &self.what, is_root)?;
        // Keys were checked to be in order when the node was read, so the
        // start is found by binary search.
        let in_bounds = |k: Key| lo.is_none_or(|l| k >= l) && hi.is_none_or(|h| k < h);
        let vol = self.vol;
        let what = self.what.clone();
        let out_of_order = move |key: Key| {
            corrupt(
                &vol.name,
                &what,
                None,
                Some(logical),
                format!("key {key:?} outside the range its parent gives"),
            )
        };
        if level == 0 {
            let key_at = |i: usize| Key::parse(&node, HEADER_SIZE + i * ITEM_SIZE);
            let start = partition_point(nritems, |i| key_at(i).is_some_and(|k| k < self.min));
            for i in start..nritems {
                let (key, range) = leaf_item(self.vol, &node, i, logical, &self.what)?;
                if !in_bounds(key) || (i == 0 && lo.is_some_and(|l| key != l)) {
                    return Err(out_of_order(key));
                }
                if key > self.max {
                    break;
                }
                if self.out.len() >= self.limit {
                    return Err(limit_exceeded(
                        &self.vol.name,
                        format!("items in one {} search", self.what),
                        self.out.len() as u64 + 1,
                        self.limit as u64,
                    ));
                }
                self.out.push(super::tree::Item {
                    key,
                    data: node.get(range).unwrap_or_default().to_vec(),
                });
            }
            return Ok(());
        }
        let key_at = |i: usize| Key::parse(&node, HEADER_SIZE + i * KEY_PTR_SIZE);
        // Child i holds keys in [key(i), key(i + 1)): start at the last child
        // whose first key is <= min.
        let start = partition_point(nritems, |i| key_at(i).is_some_and(|k| k <= self.min))
            .saturating_sub(1);
        for i in start..nritems {
            let (key, ptr) = key_ptr(self.vol, &node, i, logical, &self.what)?;
            if !in_bounds(key) || (i == 0 && lo.is_some_and(|l| key != l)) {
                return Err(out_of_order(key));
            }
            if key > self.max {
                break;
            }
            let next = if i + 1 < nritems {
                Some(key_ptr(self.vol, &node, i + 1, logical, &self.what)?.0)
            } else {
                hi
            };
            if next.is_some_and(|n| n <= self.min) {
                continue;
            }
            self.visit(ptr, level - 1, Some(key), next, false)?;
        }
        Ok(())
    }
}

/// The first index in `0..len` for which `before` is false (`before` must be
/// true then false along the range).
fn partition_point(len: usize, before: impl Fn(usize) -> bool) -> usize {
    let (mut lo, mut hi) = (0, len);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if before(mid) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    lo
}

/// Checks a node's layout once, when it is read: its item count fits, its
/// keys are strictly increasing, and every leaf item's data lies inside it.
pub(super) fn validate_node(vol: &Volume, node: &[u8], logical: u64, what: &str) -> Result<()> {
    let (nritems, level) = header(node);
    let per = if level == 0 { ITEM_SIZE } else { KEY_PTR_SIZE };
    let max = node.len().saturating_sub(HEADER_SIZE) / per;
    if nritems > max {
        return Err(corrupt(
            &vol.name,
            what,
            None,
            Some(logical),
            format!("node holds {nritems} items (at most {max} fit)"),
        ));
    }
    let mut prev: Option<Key> = None;
    for i in 0..nritems {
        let key = if level == 0 {
            leaf_item(vol, node, i, logical, what)?.0
        } else {
            key_ptr(vol, node, i, logical, what)?.0
        };
        if prev.is_some_and(|p| key <= p) {
            return Err(corrupt(
                &vol.name,
                what,
                None,
                Some(logical),
                format!(
                    "{} key {key:?} out of order",
                    if level == 0 { "leaf" } else { "node" }
                ),
            ));
        }
        prev = Some(key);
    }
    Ok(())
}

/// All items with `min <= key <= max` in the tree at `root`, in key order;
/// more than `limit` items is an error.
pub fn search(vol: &Volume, root: &Root, min: Key, max: Key, limit: usize) -> Result<Vec<Item>> {
    let what = what(root);
    vol.check_tree_level(root.level, &what)?;
    let mut s = Search {
        vol,
        what,
        min,
        max,
        limit,
        budget: limit.saturating_mul(2).saturating_add(1024),
        out: Vec::new(),
    };
    s.visit(root.bytenr, root.level, None, None, true)?;
    Ok(s.out)
}

/// The item with exactly `key`, if any.
pub fn get(vol: &Volume, root: &Root, key: Key) -> Result<Option<Item>> {
    Ok(search(vol, root, key, key, 1)?.into_iter().next())
}

/// The last item with a key `<= key`, if any.
pub fn floor(vol: &Volume, root: &Root, key: Key) -> Result<Option<Item>> {
    let what = what(root);
    vol.check_tree_level(root.level, &what)?;
    let mut logical = root.bytenr;
    let mut level = root.level;
    let mut is_root = true;
    loop {
        let node = vol.read_node(logical, level, &what)?;
        let (nritems, _) = header(&node);
        check_nritems(vol, nritems, level, logical, &what, is_root)?;
        is_root = false;
        if level == 0 {
            let mut found = None;
            for i in 0..nritems {
                let (k, range) = leaf_item(vol, &node, i, logical, &what)?;
                if k > key {
                    break;
                }
                found = Some(Item {
                    key: k,
                    data: node.get(range).unwrap_or_default().to_vec(),
                });
            }
            return Ok(found);
        }
        let mut child = None;
        for i in 0..nritems {
            let (k, ptr) = key_ptr(vol, &node, i, logical, &what)?;
            if k > key {
                break;
            }
            child = Some(ptr);
        }
        match child {
            Some(ptr) => {
                logical = ptr;
                level -= 1;
            }
            None => return Ok(None),
        }
    }
}
