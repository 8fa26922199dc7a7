//! The walk shared by the filesystem fuzz targets: every directory read and
//! looked up (also a missing name), links read, files read at the start, the
//! middle and the end; bounded in depth and in inodes visited.

use guestkit_fs::{FileSystem, FileType, InodeId};

/// Walks from `ino`, visiting at most `budget` inodes.
pub fn walk(fs: &dyn FileSystem, ino: InodeId, depth: u32, budget: &mut u32) {
    if depth > 40 || *budget == 0 {
        return;
    }
    *budget -= 1;
    let Ok(md) = fs.metadata(ino) else { return };
    match md.file_type {
        FileType::Directory => {
            let Ok(entries) = fs.read_dir(ino) else { return };
            for e in entries.iter().take(64) {
                let _ = fs.lookup(ino, &e.name);
                walk(fs, e.inode, depth + 1, budget);
            }
            let _ = fs.lookup(ino, b"no-such-name");
        }
        FileType::Symlink => {
            let _ = fs.read_link(ino);
        }
        FileType::Regular => {
            let mut buf = vec![0u8; 70_000];
            let _ = fs.read(ino, 0, &mut buf);
            let _ = fs.read(ino, md.size / 2, &mut buf[..5000]);
            let _ = fs.read(ino, md.size.saturating_sub(1), &mut buf[..10]);
        }
        _ => {}
    }
}
