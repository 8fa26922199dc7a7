//! Any bytes as an `rpmdb.sqlite-wal` replayed onto a database page image:
//! the first byte picks the database's page size, the rest is the log.
#![no_main]

use guestkit_rpmdb::{apply_wal, Limits};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&shift, wal)) = data.split_first() else {
        return;
    };
    // A small database whose header names a page size of 512 to 65536.
    let page_size = 512u32 << (shift % 8);
    let mut db = vec![0u8; 2 * 512];
    db[..16].copy_from_slice(b"SQLite format 3\0");
    let field = if page_size == 65_536 { 1 } else { page_size as u16 };
    db[16..18].copy_from_slice(&field.to_be_bytes());
    let limits = Limits {
        max_db_bytes: 64 << 20,
        ..Limits::default()
    };
    if let Ok(replay) = apply_wal(&db, wal, &limits) {
        assert!(replay.bytes.len() as u64 <= limits.max_db_bytes);
    }
});
