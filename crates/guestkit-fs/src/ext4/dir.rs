//! ext directory entries: linear blocks (htree directories are read through
//! their leaf blocks, which hold ordinary entries), and inline directories.

use guestkit_disk::block::bytes::{le16, le32};

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

/// Parses the entries of one directory block (or inline area) into `out`.
/// Returns a description of the first malformed record, if any; the entries
/// before it are kept.
pub fn parse_block(data: &[u8], has_filetype: bool, out: &mut Vec<DirEntry>) -> Option<String> {
    let mut at = 0usize;
    while at + 8 <= data.len() {
        let inode = le32(data, at).unwrap_or(0);
        let rec_len = usize::from(le16(data, at + 4).unwrap_or(0));
        let name_len = if has_filetype {
            usize::from(data.get(at + 6).copied().unwrap_or(0))
        } else {
            usize::from(le16(data, at + 6).unwrap_or(0))
        };
        if rec_len < 8 || rec_len % 4 != 0 || at + rec_len > data.len() || 8 + name_len > rec_len {
            return Some(format!(
                "directory record at byte {at}: rec_len {rec_len}, name_len {name_len}"
            ));
        }
        if inode != 0 {
            let name = data.get(at + 8..at + 8 + name_len).unwrap_or_default();
            if name != b"." && name != b".." && !name.is_empty() {
                out.push(DirEntry {
                    name: name.to_vec(),
                    inode: u64::from(inode),
                    file_type: if has_filetype {
                        data.get(at + 7).copied().and_then(entry_type)
                    } else {
                        None
                    },
                });
            }
        }
        at += rec_len;
    }
    None
}
