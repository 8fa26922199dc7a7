//! XFS directories: shortform (in the inode), and block / leaf / node / btree
//! forms, whose entries all live in data blocks in the first 32 GiB of the
//! directory's address space.

use guestkit_disk::block::bytes::{be16, be32, be64};

use crate::fs::{DirEntry, FileType};

fn entry_type(t: u8) -> Option<FileType> {
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

/// Parses a shortform directory held in the data fork.
pub fn shortform(fork: &[u8], ftype: bool, out: &mut Vec<DirEntry>) -> Result<(), String> {
    let count = usize::from(*fork.first().ok_or("empty shortform directory")?);
    let i8count = usize::from(*fork.get(1).ok_or("short shortform header")?);
    let ino_len = if i8count > 0 { 8 } else { 4 };
    let mut at = 2 + ino_len; // count, i8count, parent
    for i in 0..count.max(i8count) {
        let namelen = usize::from(*fork.get(at).ok_or(format!("entry {i} outside the fork"))?);
        let name_at = at + 3; // namelen u8, offset u16
        let name = fork
            .get(name_at..name_at + namelen)
            .ok_or(format!("entry {i} name outside the fork"))?;
        let mut p = name_at + namelen;
        let file_type = if ftype {
            let t = fork.get(p).copied();
            p += 1;
            t.and_then(entry_type)
        } else {
            None
        };
        let inode = if ino_len == 8 {
            be64(fork, p).ok_or(format!("entry {i} inode outside the fork"))?
        } else {
            u64::from(be32(fork, p).ok_or(format!("entry {i} inode outside the fork"))?)
        };
        if namelen == 0 {
            return Err(format!("entry {i} has an empty name"));
        }
        out.push(DirEntry {
            name: name.to_vec(),
            inode,
            file_type,
        });
        at = p + ino_len;
    }
    Ok(())
}

/// Parses one directory data block (`XD2B`/`XD2D`, `XDB3`/`XDD3`).
pub fn data_block(
    block: &[u8],
    v5: bool,
    ftype: bool,
    out: &mut Vec<DirEntry>,
) -> Result<(), String> {
    let magic = be32(block, 0).ok_or("short directory block")?;
    let (header, is_block_form) = match (magic, v5) {
        (0x5844_3242, false) => (16, true),  // XD2B
        (0x5844_3244, false) => (16, false), // XD2D
        (0x5844_4233, true) => (64, true),   // XDB3
        (0x5844_4433, true) => (64, false),  // XDD3
        _ => return Err(format!("bad directory block magic {magic:#010x}")),
    };
    let mut end = block.len();
    if is_block_form {
        // Tail: leaf count and stale count; the leaf entries precede it.
        let count = be32(block, block.len().saturating_sub(8)).ok_or("short block tail")? as usize;
        end = block
            .len()
            .checked_sub(8 + count.checked_mul(8).ok_or("leaf count overflow")?)
            .filter(|&e| e >= header)
            .ok_or(format!("{count} leaf entries do not fit the block"))?;
    }
    let mut at = header;
    while at + 8 <= end {
        if be16(block, at) == Some(0xffff) {
            // Unused space: tag 0xffff, then its length.
            let len = usize::from(be16(block, at + 2).unwrap_or(0));
            if len < 8 || len % 8 != 0 {
                return Err(format!("free space of {len} bytes at {at}"));
            }
            at += len;
            continue;
        }
        let inode = be64(block, at).ok_or("entry outside the block")?;
        let namelen = usize::from(*block.get(at + 8).ok_or("entry outside the block")?);
        let name = block
            .get(at + 9..at + 9 + namelen)
            .ok_or(format!("entry at {at} runs past the block"))?;
        let file_type = if ftype {
            block.get(at + 9 + namelen).copied().and_then(entry_type)
        } else {
            None
        };
        let len = (9 + namelen + usize::from(ftype) + 2).next_multiple_of(8);
        if namelen == 0 {
            return Err(format!("entry at {at} has an empty name"));
        }
        if name != b"." && name != b".." {
            out.push(DirEntry {
                name: name.to_vec(),
                inode,
                file_type,
            });
        }
        at += len;
    }
    Ok(())
}
