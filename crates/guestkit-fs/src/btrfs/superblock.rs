//! The Btrfs superblock: the primary copy at 64 KiB, checked with its
//! CRC-32C, and the fields the reader needs (tree roots, sizes, features,
//! the bootstrap chunk array).

use guestkit_disk::block::bytes::{array, le16, le32, le64};
use guestkit_disk::BlockDevice;

use super::{corrupt, crc, unsupported};
use crate::error::Result;

/// Byte offset of the primary superblock.
pub const SUPER_OFFSET: u64 = 0x1_0000;
/// Size of the superblock.
pub const SUPER_SIZE: usize = 4096;
/// `_BHRfS_M`.
pub const MAGIC: &[u8; 8] = b"_BHRfS_M";

const SYS_CHUNK_ARRAY: usize = 0x32b;
const SYS_CHUNK_ARRAY_MAX: usize = 2048;

/// Incompatible features this reader understands.
const INCOMPAT_KNOWN: u64 = 0x1 // mixed backref
    | 0x2 // default subvol
    | 0x4 // mixed groups
    | 0x8 // compress lzo
    | 0x10 // compress zstd
    | 0x20 // big metadata
    | 0x40 // extended iref
    | 0x80 // raid56 (chunks refused individually)
    | 0x100 // skinny metadata
    | 0x200 // no holes
    | 0x400 // metadata uuid
    | 0x800 // raid1c34 (chunks refused individually)
    | 0x1000 // zoned
    | 0x1_0000; // simple quota
const INCOMPAT_METADATA_UUID: u64 = 0x400;

/// Checksum algorithms of `csum_type`.
pub const CSUM_CRC32C: u16 = 0;

/// The superblock fields the reader uses.
#[derive(Debug, Clone)]
pub struct Superblock {
    pub fsid: [u8; 16],
    /// The fsid stamped into tree-node headers (differs with METADATA_UUID).
    pub metadata_fsid: [u8; 16],
    pub root: u64,
    pub chunk_root: u64,
    pub total_bytes: u64,
    pub root_dir_objectid: u64,
    pub num_devices: u64,
    pub sectorsize: u32,
    pub nodesize: u32,
    pub csum_type: u16,
    pub root_level: u8,
    pub chunk_root_level: u8,
    pub devid: u64,
    pub label: String,
    pub sys_chunk_array: Vec<u8>,
}

/// Reads the primary superblock; `None` when the magic is absent.
pub fn read(dev: &dyn BlockDevice) -> Result<Option<Superblock>> {
    let name = dev.describe();
    if dev.size() < SUPER_OFFSET + SUPER_SIZE as u64 {
        return Ok(None);
    }
    let mut buf = vec![0u8; SUPER_SIZE];
    dev.read_at(&mut buf, SUPER_OFFSET)?;
    if buf.get(0x40..0x48) != Some(&MAGIC[..]) {
        return Ok(None);
    }
    parse(&buf, &name).map(Some)
}

fn field<T>(v: Option<T>, name: &str, field: &str) -> Result<T> {
    v.ok_or_else(|| {
        corrupt(
            name,
            "superblock",
            None,
            Some(SUPER_OFFSET),
            format!("field {field} outside the superblock"),
        )
    })
}

/// Parses and checks a superblock read from `name`.
pub fn parse(buf: &[u8], name: &str) -> Result<Superblock> {
    let bad = |reason: String| corrupt(name, "superblock", None, Some(SUPER_OFFSET), reason);
    let csum_type = field(le16(buf, 0xc4), name, "csum_type")?;
    if csum_type == CSUM_CRC32C {
        let stored = field(le32(buf, 0), name, "csum")?;
        let body = buf.get(0x20..SUPER_SIZE).unwrap_or_default();
        let computed = crc::crc32c(body);
        if stored != computed {
            return Err(bad(format!(
                "checksum mismatch: stored {stored:#010x}, computed {computed:#010x}"
            )));
        }
    } else if csum_type > 3 {
        return Err(bad(format!("unknown checksum type {csum_type}")));
    }
    let bytenr = field(le64(buf, 0x30), name, "bytenr")?;
    if bytenr != SUPER_OFFSET {
        return Err(bad(format!(
            "bytenr {bytenr:#x}, expected {SUPER_OFFSET:#x}"
        )));
    }
    let sectorsize = field(le32(buf, 0x90), name, "sectorsize")?;
    let nodesize = field(le32(buf, 0x94), name, "nodesize")?;
    if !sectorsize.is_power_of_two() || !(4096..=65536).contains(&sectorsize) {
        return Err(bad(format!(
            "sectorsize {sectorsize} is not a power of two in 4 KiB..64 KiB"
        )));
    }
    if !nodesize.is_power_of_two() || !(4096..=65536).contains(&nodesize) || nodesize < sectorsize {
        return Err(bad(format!(
            "nodesize {nodesize} is not a power of two in sectorsize..64 KiB"
        )));
    }
    let sys_len = field(le32(buf, 0xa0), name, "sys_chunk_array_size")? as usize;
    if sys_len > SYS_CHUNK_ARRAY_MAX {
        return Err(bad(format!(
            "sys_chunk_array_size {sys_len} exceeds {SYS_CHUNK_ARRAY_MAX}"
        )));
    }
    let incompat_flags = field(le64(buf, 0xbc), name, "incompat_flags")?;
    let unknown = incompat_flags & !INCOMPAT_KNOWN;
    if unknown != 0 {
        return Err(unsupported(
            name,
            format!("incompatible features {unknown:#x} (e.g. extent-tree-v2, raid-stripe-tree)"),
        ));
    }
    let fsid = field(array::<16>(buf, 0x20), name, "fsid")?;
    let metadata_fsid = if incompat_flags & INCOMPAT_METADATA_UUID != 0 {
        field(array::<16>(buf, 0x23b), name, "metadata_uuid")?
    } else {
        fsid
    };
    let root_level = field(buf.get(0xc6).copied(), name, "root_level")?;
    let chunk_root_level = field(buf.get(0xc7).copied(), name, "chunk_root_level")?;
    let label_raw = field(buf.get(0x12b..0x22b), name, "label")?;
    let label_len = label_raw
        .iter()
        .position(|&b| b == 0)
        .unwrap_or(label_raw.len());
    let label =
        String::from_utf8_lossy(label_raw.get(..label_len).unwrap_or_default()).into_owned();
    let sys_chunk_array = field(
        buf.get(SYS_CHUNK_ARRAY..SYS_CHUNK_ARRAY + sys_len),
        name,
        "sys_chunk_array",
    )?
    .to_vec();
    Ok(Superblock {
        fsid,
        metadata_fsid,
        root: field(le64(buf, 0x50), name, "root")?,
        chunk_root: field(le64(buf, 0x58), name, "chunk_root")?,
        total_bytes: field(le64(buf, 0x70), name, "total_bytes")?,
        root_dir_objectid: field(le64(buf, 0x80), name, "root_dir_objectid")?,
        num_devices: field(le64(buf, 0x88), name, "num_devices")?,
        sectorsize,
        nodesize,
        csum_type,
        root_level,
        chunk_root_level,
        devid: field(le64(buf, 0xc9), name, "dev_item.devid")?,
        label,
        sys_chunk_array,
    })
}

/// Formats a UUID the usual way (8-4-4-4-12 hex digits, bytes in order).
pub fn uuid_text(b: &[u8; 16]) -> String {
    let mut s = String::with_capacity(36);
    for (i, byte) in b.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            s.push('-');
        }
        s.push_str(&format!("{byte:02x}"));
    }
    s
}

/// Name of a checksum type, for warnings.
pub fn csum_name(t: u16) -> &'static str {
    match t {
        0 => "crc32c",
        1 => "xxhash64",
        2 => "sha256",
        3 => "blake2b",
        _ => "unknown",
    }
}
