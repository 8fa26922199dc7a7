//! Parsers of the Btrfs item payloads the reader uses: inode items, dir
//! items / dir index entries, inode refs, file extents, root items and root
//! refs. Each checks its length against the item it came from.

use guestkit_disk::block::bytes::{array, le16, le32, le64};

use super::tree::Key;
use crate::fs::{FileType, Timestamp};

pub const INODE_ITEM_KEY: u8 = 1;
pub const INODE_REF_KEY: u8 = 12;
pub const DIR_ITEM_KEY: u8 = 84;
pub const DIR_INDEX_KEY: u8 = 96;
pub const EXTENT_DATA_KEY: u8 = 108;
pub const ROOT_ITEM_KEY: u8 = 132;
pub const ROOT_BACKREF_KEY: u8 = 144;

/// An inode item.
#[derive(Debug, Clone)]
pub struct InodeItem {
    pub size: u64,
    pub nlink: u32,
    pub uid: u32,
    pub gid: u32,
    pub mode: u32,
    pub rdev: u64,
    pub atime: Timestamp,
    pub ctime: Timestamp,
    pub mtime: Timestamp,
    pub otime: Timestamp,
}

fn timespec(d: &[u8], at: usize) -> Option<Timestamp> {
    Some(Timestamp {
        sec: le64(d, at)? as i64,
        nsec: le32(d, at + 8)?,
    })
}

/// Parses an inode item (160 bytes).
pub fn inode_item(d: &[u8]) -> Option<InodeItem> {
    Some(InodeItem {
        size: le64(d, 16)?,
        nlink: le32(d, 40)?,
        uid: le32(d, 44)?,
        gid: le32(d, 48)?,
        mode: le32(d, 52)?,
        rdev: le64(d, 56)?,
        atime: timespec(d, 112)?,
        ctime: timespec(d, 124)?,
        mtime: timespec(d, 136)?,
        otime: timespec(d, 148)?,
    })
}

/// File type from a mode's format bits.
pub fn mode_type(mode: u32) -> Option<FileType> {
    Some(match mode & 0o170000 {
        0o100000 => FileType::Regular,
        0o040000 => FileType::Directory,
        0o120000 => FileType::Symlink,
        0o020000 => FileType::CharDevice,
        0o060000 => FileType::BlockDevice,
        0o010000 => FileType::Fifo,
        0o140000 => FileType::Socket,
        _ => return None,
    })
}

/// File type from a dir item's type byte.
pub fn dir_type(t: u8) -> Option<FileType> {
    Some(match t {
        1 => FileType::Regular,
        2 => FileType::Directory,
        3 => FileType::CharDevice,
        4 => FileType::BlockDevice,
        5 => FileType::Fifo,
        6 => FileType::Socket,
        7 => FileType::Symlink,
        _ => return None,
    })
}

/// One entry of a DIR_ITEM or DIR_INDEX item.
#[derive(Debug, Clone)]
pub struct DirItem {
    pub location: Key,
    pub ty: u8,
    pub name: Vec<u8>,
}

/// Parses the entries packed in a DIR_ITEM/DIR_INDEX item; `Err` names the
/// byte offset of the bad entry.
pub fn dir_items(d: &[u8]) -> Result<Vec<DirItem>, String> {
    let mut out = Vec::new();
    let mut pos = 0usize;
    while pos < d.len() {
        let location = Key::parse(d, pos).ok_or(format!("dir item at {pos} truncated"))?;
        let data_len = le16(d, pos + 25).ok_or(format!("dir item at {pos} truncated"))? as usize;
        let name_len = le16(d, pos + 27).ok_or(format!("dir item at {pos} truncated"))? as usize;
        let ty = *d
            .get(pos + 29)
            .ok_or(format!("dir item at {pos} truncated"))?;
        let name_start = pos + 30;
        let end = name_start + name_len + data_len;
        let name = d.get(name_start..name_start + name_len).ok_or(format!(
            "dir item at {pos}: name of {name_len} bytes beyond the item"
        ))?;
        if end > d.len() {
            return Err(format!(
                "dir item at {pos}: {data_len} data bytes beyond the item"
            ));
        }
        if name.is_empty() || name.len() > 255 {
            return Err(format!("dir item at {pos}: name length {name_len}"));
        }
        out.push(DirItem {
            location,
            ty,
            name: name.to_vec(),
        });
        pos = end;
    }
    Ok(out)
}

/// Parses the (index, name) pairs of an INODE_REF item.
pub fn inode_refs(d: &[u8]) -> Option<Vec<(u64, Vec<u8>)>> {
    let mut out = Vec::new();
    let mut pos = 0usize;
    while pos < d.len() {
        let index = le64(d, pos)?;
        let len = le16(d, pos + 8)? as usize;
        let name = d.get(pos + 10..pos + 10 + len)?;
        out.push((index, name.to_vec()));
        pos += 10 + len;
    }
    Some(out)
}

/// What a file extent item describes.
#[derive(Debug, Clone)]
pub enum ExtentKind {
    /// Data stored in the item (`data` is compressed if `compression != 0`).
    Inline { data: Vec<u8> },
    /// Data in an extent on disk; `disk_bytenr == 0` is a hole.
    Regular {
        disk_bytenr: u64,
        disk_num_bytes: u64,
        offset: u64,
        num_bytes: u64,
    },
    /// Preallocated, never written: reads as zeros.
    Prealloc,
}

/// A file extent item.
#[derive(Debug, Clone)]
pub struct FileExtent {
    pub ram_bytes: u64,
    pub compression: u8,
    pub encryption: u8,
    pub other_encoding: u16,
    pub kind: ExtentKind,
}

/// Parses a file extent item; `Err` says what is wrong.
pub fn file_extent(d: &[u8]) -> Result<FileExtent, String> {
    let short = || format!("extent item of {} bytes truncated", d.len());
    let ram_bytes = le64(d, 8).ok_or_else(short)?;
    let compression = *d.get(16).ok_or_else(short)?;
    let encryption = *d.get(17).ok_or_else(short)?;
    let other_encoding = le16(d, 18).ok_or_else(short)?;
    let ty = *d.get(20).ok_or_else(short)?;
    let kind = match ty {
        0 => ExtentKind::Inline {
            data: d.get(21..).unwrap_or_default().to_vec(),
        },
        1 | 2 => {
            let disk_bytenr = le64(d, 21).ok_or_else(short)?;
            let disk_num_bytes = le64(d, 29).ok_or_else(short)?;
            let offset = le64(d, 37).ok_or_else(short)?;
            let num_bytes = le64(d, 45).ok_or_else(short)?;
            if ty == 2 {
                ExtentKind::Prealloc
            } else {
                ExtentKind::Regular {
                    disk_bytenr,
                    disk_num_bytes,
                    offset,
                    num_bytes,
                }
            }
        }
        t => return Err(format!("extent type {t}")),
    };
    Ok(FileExtent {
        ram_bytes,
        compression,
        encryption,
        other_encoding,
        kind,
    })
}

/// The parts of a root item the reader uses.
#[derive(Debug, Clone)]
pub struct RootItem {
    pub root_dirid: u64,
    pub bytenr: u64,
    pub level: u8,
    pub uuid: Option<[u8; 16]>,
}

/// Parses a root item (239 bytes, or longer with UUIDs).
pub fn root_item(d: &[u8]) -> Option<RootItem> {
    Some(RootItem {
        root_dirid: le64(d, 168)?,
        bytenr: le64(d, 176)?,
        level: *d.get(238)?,
        uuid: array::<16>(d, 247).filter(|u| u.iter().any(|&b| b != 0)),
    })
}

/// A ROOT_REF / ROOT_BACKREF: the directory and name of a subvolume in its
/// parent.
#[derive(Debug, Clone)]
pub struct RootRef {
    pub dirid: u64,
    pub name: Vec<u8>,
}

/// Parses a root ref.
pub fn root_ref(d: &[u8]) -> Option<RootRef> {
    let len = le16(d, 16)? as usize;
    Some(RootRef {
        dirid: le64(d, 0)?,
        name: d.get(18..18 + len)?.to_vec(),
    })
}
