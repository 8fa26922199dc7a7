//! md RAID superblocks written by our own code (no mdadm, no kernel):
//! version 1.0, 1.1 and 1.2 RAID1 members on plain files, with the array's
//! data written to each, as `mdadm --create --level=1` lays them out.

use std::fs;
use std::path::{Path, PathBuf};

use crate::disks::{sparse_file, write_at};
use crate::tools::{arg, run};
use crate::tree::write_sample_tree;
use crate::{cached, FixtureError, Result};

/// Array UUID of the fixture pair (RFC 4122 byte order).
pub const ARRAY_UUID: [u8; 16] = [
    0x6d, 0x64, 0x2d, 0x67, 0x75, 0x65, 0x73, 0x74, 0x6b, 0x69, 0x74, 0x2d, 0x72, 0x31, 0x00, 0x01,
];
/// Array name recorded in the superblocks.
pub const ARRAY_NAME: &str = "guestkit:0";
/// Where the data starts on each member of a 1.1 / 1.2 array (mdadm's
/// default for small devices).
pub const DATA_OFFSET: u64 = 1 << 20;

/// Where a superblock version puts the superblock and the data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// Superblock at the end (8 KiB before it, 4 KiB aligned), data at 0.
    V1_0,
    /// Superblock at 0, data after it.
    V1_1,
    /// Superblock at 4 KiB, data after it.
    V1_2,
    /// The old format: superblock in the last 64 KiB-aligned 64 KiB block.
    V0_90,
}

impl Layout {
    /// (superblock offset, data offset, data bytes) on a member of `size` bytes.
    pub fn placement(self, size: u64) -> (u64, u64, u64) {
        match self {
            Layout::V1_0 => {
                let sb = (size - 8192) & !4095;
                (sb, 0, sb)
            }
            Layout::V1_1 => (0, DATA_OFFSET, size - DATA_OFFSET),
            Layout::V1_2 => (4096, DATA_OFFSET, size - DATA_OFFSET),
            Layout::V0_90 => {
                let sb = (size & !65535) - 65536;
                (sb, 0, sb)
            }
        }
    }
}

/// The 1.x superblock checksum (the kernel's `calc_sb_1_csum`).
pub fn sb1_checksum(sb: &[u8]) -> u32 {
    let mut sum: u64 = 0;
    for (i, w) in sb.chunks_exact(4).enumerate() {
        if i != 216 / 4 {
            sum += u64::from(u32::from_le_bytes([w[0], w[1], w[2], w[3]]));
        }
    }
    ((sum & 0xffff_ffff) + (sum >> 32)) as u32
}

/// One member's 1.x RAID1 superblock (256 bytes + one role per member).
pub fn superblock(
    layout: Layout,
    member: u32,
    members: u32,
    member_size: u64,
    events: u64,
) -> Vec<u8> {
    let (super_offset, data_offset, data_bytes) = layout.placement(member_size);
    let mut sb = vec![0u8; 256 + members as usize * 2];
    let put32 =
        |sb: &mut Vec<u8>, at: usize, v: u32| sb[at..at + 4].copy_from_slice(&v.to_le_bytes());
    let put64 =
        |sb: &mut Vec<u8>, at: usize, v: u64| sb[at..at + 8].copy_from_slice(&v.to_le_bytes());
    let data_sectors = data_bytes / 512;
    put32(&mut sb, 0, 0xa92b_4efc);
    put32(&mut sb, 4, 1);
    sb[16..32].copy_from_slice(&ARRAY_UUID);
    sb[32..32 + ARRAY_NAME.len()].copy_from_slice(ARRAY_NAME.as_bytes());
    put64(&mut sb, 64, 1_700_000_000);
    put32(&mut sb, 72, 1); // level
    put64(&mut sb, 80, data_sectors); // size: used sectors per member
    put32(&mut sb, 92, members); // raid_disks
    put64(&mut sb, 128, data_offset / 512);
    put64(&mut sb, 136, data_sectors);
    put64(&mut sb, 144, super_offset / 512);
    put64(&mut sb, 152, u64::MAX); // recovery_offset: fully in sync
    put32(&mut sb, 160, member); // dev_number
    let mut dev_uuid = ARRAY_UUID;
    dev_uuid[15] = 0x10 + member as u8;
    sb[168..184].copy_from_slice(&dev_uuid);
    put64(&mut sb, 192, 1_700_000_100);
    put64(&mut sb, 200, events);
    put64(&mut sb, 208, u64::MAX); // resync_offset: clean
    put32(&mut sb, 220, members); // max_dev
    for role in 0..members {
        let at = 256 + role as usize * 2;
        sb[at..at + 2].copy_from_slice(&(role as u16).to_le_bytes());
    }
    let csum = sb1_checksum(&sb);
    put32(&mut sb, 216, csum);
    sb
}

/// The parameters of one RAID1 member file.
#[derive(Debug, Clone, Copy)]
pub struct Member {
    pub layout: Layout,
    /// Role (slot) of this member.
    pub index: u32,
    /// Members in the array.
    pub members: u32,
    /// Size of the member file.
    pub size: u64,
    /// Event count (the freshest member has the highest).
    pub events: u64,
}

/// Writes a RAID1 member file: its superblock where `layout` puts it, and
/// `data` at the start of its data area.
pub fn write_member(path: &Path, m: Member, data: &[u8]) -> Result<()> {
    sparse_file(path, m.size)?;
    let (super_offset, data_offset, _) = m.layout.placement(m.size);
    write_at(path, data_offset, data)?;
    let sb = match m.layout {
        Layout::V0_90 => superblock_090(m.index, m.members, m.size, m.events),
        _ => superblock(m.layout, m.index, m.members, m.size, m.events),
    };
    write_at(path, super_offset, &sb)
}

/// The cached RAID1 pair: `md0.raw` and `md1.raw` (16 MiB each), the array
/// holding an ext4 filesystem of the sample tree (`array.img`, kept beside
/// them for comparison).
pub fn raid1_pair() -> Result<PathBuf> {
    cached("md-raid1", include_str!("md.rs"), |dir| {
        let size = 16u64 << 20;
        let tree = dir.join("tree");
        fs::create_dir_all(&tree).map_err(|e| FixtureError::io(&tree, e))?;
        write_sample_tree(&tree)?;
        let array = dir.join("array.img");
        sparse_file(&array, size - DATA_OFFSET)?;
        run(
            "mkfs.ext4",
            &["-q", "-F", "-d", arg(&tree)?, "-L", "raid", arg(&array)?],
        )?;
        let data = fs::read(&array).map_err(|e| FixtureError::io(&array, e))?;
        for index in 0..2u32 {
            let member = Member {
                layout: Layout::V1_2,
                index,
                members: 2,
                size,
                events: 42,
            };
            write_member(&dir.join(format!("md{index}.raw")), member, &data)?;
        }
        Ok(())
    })
}

/// One member's 0.90 RAID1 superblock (4 KiB, host byte order = little endian).
pub fn superblock_090(member: u32, members: u32, member_size: u64, events: u64) -> Vec<u8> {
    let (_, _, data_bytes) = Layout::V0_90.placement(member_size);
    let mut words = vec![0u32; 1024];
    let uuid: Vec<u32> = ARRAY_UUID
        .chunks_exact(4)
        .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    words[0] = 0xa92b_4efc;
    words[2] = 90;
    words[5] = uuid[0];
    words[6] = 1_700_000_000; // ctime
    words[7] = 1; // level
    words[8] = (data_bytes / 1024) as u32; // size in KiB
    words[9] = members; // nr_disks
    words[10] = members; // raid_disks
    words[13] = uuid[1];
    words[14] = uuid[2];
    words[15] = uuid[3];
    words[32] = 1_700_000_100; // utime
    words[33] = 1; // state: clean
    words[34] = members; // active
    words[35] = members; // working
    words[39] = events as u32; // events_lo (little-endian hosts)
    words[40] = (events >> 32) as u32; // events_hi
    for d in 0..members as usize {
        let at = 128 + d * 32; // disks[d]: number, major, minor, raid_disk, state
        words[at] = d as u32;
        words[at + 3] = d as u32;
        words[at + 4] = 6; // active | sync
    }
    let this = 992;
    words[this] = member;
    words[this + 3] = member;
    words[this + 4] = 6;
    let sum: u64 = words.iter().map(|&w| u64::from(w)).sum();
    words[38] = ((sum & 0xffff_ffff) + (sum >> 32)) as u32;
    words.iter().flat_map(|w| w.to_le_bytes()).collect()
}
