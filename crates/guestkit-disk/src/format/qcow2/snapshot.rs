//! The internal snapshot table: listed for `disk info`, never read through.

use crate::block::bytes::{be16, be32, be64};
use crate::error::{DiskError, Layer, Result};
use crate::format::{ImageSource, SnapshotInfo};
use crate::limits::Limits;

use super::header::Header;

/// Fixed part of a snapshot table entry.
const ENTRY_FIXED: u64 = 40;
/// Largest extra data qemu accepts per snapshot.
const MAX_EXTRA: u32 = 1024;
/// Most snapshots qemu accepts.
const MAX_SNAPSHOTS: u32 = 65536;

/// Reads the snapshot table named by the header.
pub(super) fn read(source: &ImageSource, h: &Header, limits: &Limits) -> Result<Vec<SnapshotInfo>> {
    let path = source.path.as_path();
    let count = h.nb_snapshots;
    if count == 0 {
        return Ok(Vec::new());
    }
    let limit = limits.max_entries.min(u64::from(MAX_SNAPSHOTS));
    if u64::from(count) > limit {
        return Err(DiskError::limit(
            path,
            Layer::Qcow2,
            "nb_snapshots",
            u64::from(count),
            limit,
        ));
    }
    let file_size = source.size();
    let corrupt = |offset: u64, field: &str, reason: String| {
        DiskError::corrupt(path, Layer::Qcow2, offset, field, reason)
    };
    if !h.snapshots_offset.is_multiple_of(h.cluster_size()) || h.snapshots_offset >= file_size {
        return Err(corrupt(
            64,
            "snapshots_offset",
            format!(
                "{} is unaligned or past the end of the file ({file_size} bytes)",
                h.snapshots_offset
            ),
        ));
    }
    let mut out = Vec::with_capacity(count as usize);
    let mut off = h.snapshots_offset;
    let mut total = 0u64;
    for i in 0..count {
        let mut fixed = [0u8; ENTRY_FIXED as usize];
        let read_at = |buf: &mut [u8], at: u64, field: &str| -> Result<()> {
            let fits = at
                .checked_add(buf.len() as u64)
                .is_some_and(|e| e <= file_size);
            if !fits {
                return Err(corrupt(
                    at,
                    field,
                    format!("snapshot {i} runs past the end of the file ({file_size} bytes)"),
                ));
            }
            source.read_at(buf, at)
        };
        read_at(&mut fixed, off, "snapshot table entry")?;
        let id_len = be16(&fixed, 12).unwrap_or(0);
        let name_len = be16(&fixed, 14).unwrap_or(0);
        let date_sec = be32(&fixed, 16).unwrap_or(0);
        let vm_clock_nsec = be64(&fixed, 24).unwrap_or(0);
        let vm_state_small = be32(&fixed, 32).unwrap_or(0);
        let extra_len = be32(&fixed, 36).unwrap_or(0);
        if extra_len > MAX_EXTRA {
            return Err(corrupt(
                off + 36,
                "snapshot extra_data_size",
                format!("{extra_len} is above {MAX_EXTRA}"),
            ));
        }
        let var = u64::from(extra_len) + u64::from(id_len) + u64::from(name_len);
        let entry_len = (ENTRY_FIXED + var).div_ceil(8) * 8;
        total += entry_len;
        if total > limits.max_table_bytes {
            return Err(DiskError::limit(
                path,
                Layer::Qcow2,
                "snapshot table bytes",
                total,
                limits.max_table_bytes,
            ));
        }
        // At most 1024 + 2 * 65535 bytes.
        let mut rest = vec![0u8; var as usize];
        read_at(&mut rest, off + ENTRY_FIXED, "snapshot table entry")?;
        let (extra, strings) = rest
            .split_at_checked(extra_len as usize)
            .unwrap_or_default();
        let (id, name) = strings
            .split_at_checked(usize::from(id_len))
            .unwrap_or_default();
        let vm_state_size = if extra_len >= 8 {
            be64(extra, 0).unwrap_or(0)
        } else {
            u64::from(vm_state_small)
        };
        let disk_size = if extra_len >= 16 {
            be64(extra, 8)
        } else {
            None
        };
        out.push(SnapshotInfo {
            id: String::from_utf8_lossy(id).into_owned(),
            name: String::from_utf8_lossy(name).into_owned(),
            vm_state_size,
            date_sec: u64::from(date_sec),
            vm_clock_nsec,
            disk_size,
        });
        off += entry_len;
    }
    Ok(out)
}
