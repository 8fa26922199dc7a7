//! Directory indexes: `$INDEX_ROOT` entries and `INDX` blocks of
//! `$INDEX_ALLOCATION`, each entry keyed by a `$FILE_NAME`.

use guestkit_disk::block::bytes::{le16, le32, le64};

use super::record::{file_name, FileName};

/// Parses the entries after an index header at `header` in `buf`; pushes
/// (record number, name) pairs.
pub fn entries(buf: &[u8], header: usize, out: &mut Vec<(u64, FileName)>) -> Result<(), String> {
    let first = le32(buf, header).ok_or("index header outside the buffer")? as usize;
    let total = le32(buf, header + 4).ok_or("index header outside the buffer")? as usize;
    let end = header
        .checked_add(total)
        .filter(|&e| e <= buf.len())
        .ok_or(format!("index of {total} bytes runs past its buffer"))?;
    let mut at = header + first;
    while at + 16 <= end {
        let reference = le64(buf, at).ok_or("index entry outside the buffer")?;
        let len = usize::from(le16(buf, at + 8).ok_or("index entry outside the buffer")?);
        let key_len = usize::from(le16(buf, at + 10).ok_or("index entry outside the buffer")?);
        let flags = le16(buf, at + 12).unwrap_or(0);
        if len < 16 || at + len > end {
            return Err(format!("index entry at {at} has length {len}"));
        }
        if flags & 0x2 != 0 {
            // The last entry: no key.
            return Ok(());
        }
        let key = buf
            .get(at + 16..at + 16 + key_len)
            .ok_or(format!("index key at {at} runs past its entry"))?;
        if let Some(name) = file_name(key) {
            out.push((reference & 0xffff_ffff_ffff, name));
        }
        at += len;
    }
    Ok(())
}
