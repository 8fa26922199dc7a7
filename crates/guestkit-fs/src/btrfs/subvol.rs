//! Subvolumes: the root items of the root tree, their parents and paths
//! (from ROOT_BACKREF and INODE_REF items), the default subvolume, and the
//! selection of the subvolume to mount (fstab's `subvol=` / `subvolid=`).

use std::collections::HashMap;

use super::items::{
    dir_items, inode_refs, root_item, root_ref, RootItem, DIR_ITEM_KEY, INODE_REF_KEY,
    ROOT_BACKREF_KEY, ROOT_ITEM_KEY,
};
use super::superblock::uuid_text;
use super::tree::{get, search, Key, Root};
use super::volume::Volume;
use super::{corrupt, crc, limit_exceeded};
use crate::error::Result;

/// The top-level subvolume (FS_TREE).
pub const FS_TREE_OBJECTID: u64 = 5;
const FIRST_FREE_OBJECTID: u64 = 256;
const LAST_FREE_OBJECTID: u64 = u64::MAX - 255;

/// Which subvolume to mount.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubvolSelector {
    /// The default subvolume (`btrfs subvolume set-default`), else the top level.
    Default,
    /// By id (`subvolid=`); 5 is the top level.
    Id(u64),
    /// By path from the top level (`subvol=`), e.g. `@` or `/@home`.
    Path(String),
}

/// One subvolume, as `btrfs subvolume list` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubvolInfo {
    /// Subvolume (tree) id.
    pub id: u64,
    /// Id of the subvolume holding it (`None` for the top level, 5).
    pub parent_id: Option<u64>,
    /// Path from the top level, without a leading `/` (`""` for the top level).
    pub path: String,
    /// The subvolume's UUID, where its root item records one.
    pub uuid: Option<String>,
}

/// Whether `id` can name a subvolume tree.
pub fn is_subvol_id(id: u64) -> bool {
    id == FS_TREE_OBJECTID || (FIRST_FREE_OBJECTID..=LAST_FREE_OBJECTID).contains(&id)
}

/// The latest root item of tree `id`.
pub fn find_root(vol: &Volume, root_tree: &Root, id: u64) -> Result<Option<RootItem>> {
    let items = search(
        vol,
        root_tree,
        Key::new(id, ROOT_ITEM_KEY, 0),
        Key::new(id, ROOT_ITEM_KEY, u64::MAX),
        vol.limits.max_dir_entries as usize,
    )?;
    match items.last() {
        None => Ok(None),
        Some(it) => root_item(&it.data).map(Some).ok_or_else(|| {
            corrupt(
                &vol.name,
                "root item",
                None,
                Some(id),
                format!("root item of tree {id} is {} bytes", it.data.len()),
            )
        }),
    }
}

/// The default subvolume's id: the `default` dir item of the root tree's
/// directory, else the top level.
pub fn default_subvol(vol: &Volume, root_tree: &Root) -> Result<u64> {
    let dir = vol.sb.root_dir_objectid;
    let key = Key::new(dir, DIR_ITEM_KEY, crc::name_hash(b"default"));
    let Some(item) = get(vol, root_tree, key)? else {
        return Ok(FS_TREE_OBJECTID);
    };
    let entries = dir_items(&item.data)
        .map_err(|r| corrupt(&vol.name, "root tree dir item", Some(dir), None, r))?;
    Ok(entries
        .iter()
        .find(|e| e.name == b"default")
        .map(|e| e.location.objectid)
        .filter(|&id| id != 0)
        .unwrap_or(FS_TREE_OBJECTID))
}

/// All subvolumes with their parents and paths.
pub fn list(vol: &Volume, root_tree: &Root) -> Result<Vec<SubvolInfo>> {
    let limit = vol.limits.max_dir_entries as usize;
    let all = search(
        vol,
        root_tree,
        Key::new(0, 0, 0),
        Key::new(u64::MAX, u8::MAX, u64::MAX),
        limit,
    )?;
    let mut roots: HashMap<u64, RootItem> = HashMap::new();
    let mut backrefs: HashMap<u64, (u64, super::items::RootRef)> = HashMap::new();
    for it in &all {
        let id = it.key.objectid;
        if !is_subvol_id(id) {
            continue;
        }
        if it.key.ty == ROOT_ITEM_KEY {
            if let Some(r) = root_item(&it.data) {
                roots.insert(id, r);
            }
        } else if it.key.ty == ROOT_BACKREF_KEY && !backrefs.contains_key(&id) {
            let r = root_ref(&it.data).ok_or_else(|| {
                corrupt(
                    &vol.name,
                    "root backref",
                    None,
                    Some(id),
                    "root backref truncated".into(),
                )
            })?;
            backrefs.insert(id, (it.key.offset, r));
        }
    }
    let mut paths: HashMap<u64, String> = HashMap::new();
    let mut ids: Vec<u64> = roots.keys().copied().collect();
    ids.sort_unstable();
    let mut out = Vec::new();
    for &id in &ids {
        let path = path_of(vol, id, &roots, &backrefs, &mut paths, 0)?;
        let Some(r) = roots.get(&id) else { continue };
        out.push(SubvolInfo {
            id,
            parent_id: backrefs.get(&id).map(|(p, _)| *p),
            path: path.unwrap_or_default(),
            uuid: r.uuid.as_ref().map(uuid_text),
        });
    }
    Ok(out)
}

/// Path of subvolume `id` from the top level; `None` when it is detached
/// (no backref, being deleted).
fn path_of(
    vol: &Volume,
    id: u64,
    roots: &HashMap<u64, RootItem>,
    backrefs: &HashMap<u64, (u64, super::items::RootRef)>,
    memo: &mut HashMap<u64, String>,
    depth: u32,
) -> Result<Option<String>> {
    if id == FS_TREE_OBJECTID {
        return Ok(Some(String::new()));
    }
    if let Some(p) = memo.get(&id) {
        return Ok(Some(p.clone()));
    }
    if depth > vol.limits.max_walk_depth {
        return Err(limit_exceeded(
            &vol.name,
            format!("nesting of subvolume {id}"),
            u64::from(depth),
            u64::from(vol.limits.max_walk_depth),
        ));
    }
    let Some((parent, rref)) = backrefs.get(&id) else {
        return Ok(None);
    };
    let Some(parent_path) = path_of(vol, *parent, roots, backrefs, memo, depth + 1)? else {
        return Ok(None);
    };
    let Some(parent_root) = roots.get(parent) else {
        return Ok(None);
    };
    let tree = Root {
        bytenr: parent_root.bytenr,
        level: parent_root.level,
        id: *parent,
    };
    let dir_path = dir_path(vol, &tree, rref.dirid, parent_root.root_dirid)?;
    let mut path = parent_path;
    for part in dir_path.iter().chain(std::iter::once(&rref.name)) {
        if !path.is_empty() {
            path.push('/');
        }
        path.push_str(&String::from_utf8_lossy(part));
    }
    memo.insert(id, path.clone());
    Ok(Some(path))
}

/// Names from `top` down to `dir` in `tree`, following INODE_REF items up.
fn dir_path(vol: &Volume, tree: &Root, mut dir: u64, top: u64) -> Result<Vec<Vec<u8>>> {
    let mut parts = Vec::new();
    while dir != top {
        if parts.len() as u64 >= u64::from(vol.limits.max_walk_depth) {
            return Err(limit_exceeded(
                &vol.name,
                format!("depth of directory {dir} in tree {}", tree.id),
                parts.len() as u64,
                u64::from(vol.limits.max_walk_depth),
            ));
        }
        let refs = search(
            vol,
            tree,
            Key::new(dir, INODE_REF_KEY, 0),
            Key::new(dir, INODE_REF_KEY, u64::MAX),
            16,
        )?;
        let it = refs.first().ok_or_else(|| {
            corrupt(
                &vol.name,
                "inode ref",
                Some(dir),
                None,
                format!("directory {dir} of tree {} has no inode ref", tree.id),
            )
        })?;
        let (_, name) = inode_refs(&it.data)
            .and_then(|v| v.into_iter().next())
            .ok_or_else(|| {
                corrupt(
                    &vol.name,
                    "inode ref",
                    Some(dir),
                    None,
                    "inode ref truncated".into(),
                )
            })?;
        parts.push(name);
        dir = it.key.offset;
    }
    parts.reverse();
    Ok(parts)
}
