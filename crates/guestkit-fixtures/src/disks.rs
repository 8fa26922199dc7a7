//! Partitioned base disks, built with `sfdisk` on plain files and filesystems
//! written straight into partition offsets (`mkfs.ext4 -d TREE -E offset=N`)
//! or built beside and spliced in. Each disk comes with `<name>.json`: the
//! recipe's intent (sfdisk's own JSON dump of the table plus what was put in
//! each partition), so tests compare guestkit's view with it.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::tools::{arg, run, run_with_stdin};
use crate::tree::{pseudo_random, write_sample_tree};
use crate::{cached, FixtureError, Result};

const SECTOR: u64 = 512;

/// Fixed identities, so the recipes are reproducible.
pub mod ids {
    pub const MBR_LABEL_ID: &str = "0x47b5e7c1";
    pub const MBR_ROOT_FS_UUID: &str = "6f1e7b1c-2f4d-4c1a-9a57-1d2e3f405162";
    pub const MBR_HOME_FS_UUID: &str = "7a2b8c3d-3e5f-4d2b-8b68-2e3f40516273";
    pub const MBR_SWAP_UUID: &str = "8b3c9d4e-4f60-4e3c-9c79-3f4051627384";
    pub const GPT_DISK_GUID: &str = "5A1C0D2E-3B4F-4A6B-8C7D-9E0F1A2B3C4D";
    pub const GPT_ROOT_FS_UUID: &str = "9c4d0e5f-5071-4f4d-8d8a-405162738495";
    pub const GPT_SWAP_UUID: &str = "ad5e1f60-6182-4a5e-9e9b-5162738495a6";
    pub const EFI_VOLUME_ID: &str = "1234ABCD";
    pub const LUKS2_UUID: &str = "be6f2071-7293-4b6f-af0c-62738495a6b7";
    pub const LUKS1_UUID: &str = "cf703182-83a4-4c70-b01d-738495a6b7c8";
    /// GPT partition UUIDs, in partition order.
    pub const GPT_PART_UUIDS: [&str; 5] = [
        "11111111-2222-4333-8444-000000000001",
        "11111111-2222-4333-8444-000000000002",
        "11111111-2222-4333-8444-000000000003",
        "11111111-2222-4333-8444-000000000004",
        "11111111-2222-4333-8444-000000000005",
    ];
}

/// Creates a sparse file of `size` bytes.
pub fn sparse_file(path: &Path, size: u64) -> Result<()> {
    File::create(path)
        .and_then(|f| f.set_len(size))
        .map_err(|e| FixtureError::io(path, e))
}

/// Copies `src` into `dst` at byte `offset` without truncating `dst`
/// (`dd conv=notrunc`), skipping all-zero blocks so `dst` stays sparse.
pub fn splice(src: &Path, dst: &Path, offset: u64) -> Result<()> {
    let mut input = File::open(src).map_err(|e| FixtureError::io(src, e))?;
    let mut output = OpenOptions::new()
        .write(true)
        .open(dst)
        .map_err(|e| FixtureError::io(dst, e))?;
    let mut buf = vec![0u8; 1 << 16];
    let mut at = offset;
    loop {
        let n = input.read(&mut buf).map_err(|e| FixtureError::io(src, e))?;
        if n == 0 {
            break;
        }
        if buf[..n].iter().any(|&b| b != 0) {
            output
                .seek(SeekFrom::Start(at))
                .and_then(|_| output.write_all(&buf[..n]))
                .map_err(|e| FixtureError::io(dst, e))?;
        }
        at += n as u64;
    }
    Ok(())
}

/// Writes `data` into `dst` at `offset`.
pub fn write_at(dst: &Path, offset: u64, data: &[u8]) -> Result<()> {
    let mut f = OpenOptions::new()
        .write(true)
        .open(dst)
        .map_err(|e| FixtureError::io(dst, e))?;
    f.seek(SeekFrom::Start(offset))
        .and_then(|_| f.write_all(data))
        .map_err(|e| FixtureError::io(dst, e))
}

/// One partition as sfdisk reports it (`sfdisk --json`), in bytes.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct PartitionSpec {
    pub number: u32,
    pub start: u64,
    pub size: u64,
    #[serde(rename = "type")]
    pub type_id: String,
    pub name: Option<String>,
    pub uuid: Option<String>,
    pub bootable: bool,
    /// What the recipe put there: `ext4`, `swap`, `vfat`, `random`, `empty`,
    /// `extended`.
    pub content: String,
}

/// The recipe's intent for one disk, written as `<name>.json` beside it.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct DiskManifest {
    pub label: String,
    pub label_id: String,
    pub size: u64,
    pub partitions: Vec<PartitionSpec>,
}

/// Reads back the partition table with `sfdisk --json` and records `contents`
/// (by partition number) beside each entry.
fn manifest(disk: &Path, contents: &[(u32, &str)]) -> Result<DiskManifest> {
    let json = run("sfdisk", &["--json", arg(disk)?])?;
    let v: serde_json::Value = serde_json::from_str(&json).map_err(|e| FixtureError::Recipe {
        recipe: disk.display().to_string(),
        message: format!("sfdisk --json: {e}"),
    })?;
    let table = &v["partitiontable"];
    let sector = table["sectorsize"].as_u64().unwrap_or(SECTOR);
    let mut partitions = Vec::new();
    for p in table["partitions"].as_array().cloned().unwrap_or_default() {
        let node = p["node"].as_str().unwrap_or_default();
        let number: u32 = node
            .rsplit(|c: char| !c.is_ascii_digit())
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        let content = contents
            .iter()
            .find(|(n, _)| *n == number)
            .map(|(_, c)| *c)
            .unwrap_or("empty");
        partitions.push(PartitionSpec {
            number,
            start: p["start"].as_u64().unwrap_or(0) * sector,
            size: p["size"].as_u64().unwrap_or(0) * sector,
            type_id: p["type"].as_str().unwrap_or_default().to_string(),
            name: p["name"].as_str().map(str::to_string),
            uuid: p["uuid"].as_str().map(str::to_string),
            bootable: p["bootable"].as_bool().unwrap_or(false),
            content: content.to_string(),
        });
    }
    let size = fs::metadata(disk)
        .map_err(|e| FixtureError::io(disk, e))?
        .len();
    Ok(DiskManifest {
        label: table["label"].as_str().unwrap_or_default().to_string(),
        label_id: table["id"].as_str().unwrap_or_default().to_string(),
        size,
        partitions,
    })
}

fn write_manifest(path: &Path, m: &DiskManifest) -> Result<()> {
    let text = serde_json::to_string_pretty(m).map_err(|e| FixtureError::Recipe {
        recipe: path.display().to_string(),
        message: e.to_string(),
    })?;
    fs::write(path, text).map_err(|e| FixtureError::io(path, e))
}

/// Loads the manifest written beside `disk`.
pub fn load_manifest(disk: &Path) -> Result<DiskManifest> {
    let path = disk.with_extension("json");
    let text = fs::read_to_string(&path).map_err(|e| FixtureError::io(&path, e))?;
    serde_json::from_str(&text).map_err(|e| FixtureError::Recipe {
        recipe: path.display().to_string(),
        message: e.to_string(),
    })
}

fn partition(m: &DiskManifest, number: u32) -> Result<&PartitionSpec> {
    m.partitions
        .iter()
        .find(|p| p.number == number)
        .ok_or_else(|| FixtureError::Recipe {
            recipe: m.label.clone(),
            message: format!("sfdisk made no partition {number}"),
        })
}

/// `mkfs.ext4 -d TREE` straight into `disk` at the partition's offset.
fn ext4_into(disk: &Path, p: &PartitionSpec, tree: &Path, uuid: &str, label: &str) -> Result<()> {
    let offset = format!("offset={}", p.start);
    let size = format!("{}k", p.size / 1024);
    run(
        "mkfs.ext4",
        &[
            "-q",
            "-F",
            "-d",
            arg(tree)?,
            "-E",
            &offset,
            "-U",
            uuid,
            "-L",
            label,
            arg(disk)?,
            &size,
        ],
    )?;
    Ok(())
}

/// `mkswap` on a file beside the disk, spliced into the partition.
fn swap_into(disk: &Path, p: &PartitionSpec, work: &Path, uuid: &str, label: &str) -> Result<()> {
    let swap = work.join(format!("swap-{}.img", p.number));
    sparse_file(&swap, p.size)?;
    run("mkswap", &["-q", "-U", uuid, "-L", label, arg(&swap)?])?;
    splice(&swap, disk, p.start)?;
    fs::remove_file(&swap).map_err(|e| FixtureError::io(&swap, e))
}

/// Mixed data: random, text-like and holes, so image formats see allocated,
/// partial and empty clusters.
fn mixed_into(disk: &Path, p: &PartitionSpec, seed: u64) -> Result<()> {
    let unit = 192 * 1024u64;
    let mut at = 0;
    let mut i = 0u64;
    while at + unit <= p.size {
        match i % 4 {
            0 => write_at(disk, p.start + at, &pseudo_random(seed + i, unit as usize))?,
            1 => {
                let text: Vec<u8> = format!("guestkit partition {} unit {i}\n", p.number)
                    .bytes()
                    .cycle()
                    .take(unit as usize / 3)
                    .collect();
                write_at(disk, p.start + at + 777, &text)?;
            }
            2 => write_at(disk, p.start + at + 4093, &i.to_le_bytes())?,
            _ => {}
        }
        at += unit + 4096 * (i % 3);
        i += 1;
    }
    Ok(())
}

/// MBR disk (64 MiB): two primaries (1 bootable ext4 "root" from the sample
/// tree, 2 mixed data), an extended partition (3) holding three logicals
/// (5 ext4 "home", 6 swap, 7 mixed data).
pub fn mbr_disk() -> Result<PathBuf> {
    let dir = cached("disk-mbr", include_str!("disks.rs"), |dir| {
        let tree = dir.join("tree");
        fs::create_dir_all(&tree).map_err(|e| FixtureError::io(&tree, e))?;
        write_sample_tree(&tree)?;
        let disk = dir.join("mbr.raw");
        sparse_file(&disk, 64 << 20)?;
        let script = format!(
            "label: dos\nlabel-id: {}\nunit: sectors\n\
             start=2048, size=24576, type=83, bootable\n\
             start=26624, size=8192, type=83\n\
             start=34816, type=5\n\
             size=24576, type=83\n\
             size=16384, type=82\n\
             type=83\n",
            ids::MBR_LABEL_ID
        );
        run_with_stdin("sfdisk", &["--quiet", arg(&disk)?], Some(script.as_bytes()))?;
        let m = manifest(
            &disk,
            &[
                (1, "ext4"),
                (2, "random"),
                (3, "extended"),
                (5, "ext4"),
                (6, "swap"),
                (7, "random"),
            ],
        )?;
        ext4_into(
            &disk,
            partition(&m, 1)?,
            &tree,
            ids::MBR_ROOT_FS_UUID,
            "root",
        )?;
        mixed_into(&disk, partition(&m, 2)?, 2)?;
        let home = dir.join("home-tree");
        fs::create_dir_all(home.join("user")).map_err(|e| FixtureError::io(&home, e))?;
        fs::write(home.join("user/hello.txt"), b"hi\n").map_err(|e| FixtureError::io(&home, e))?;
        ext4_into(
            &disk,
            partition(&m, 5)?,
            &home,
            ids::MBR_HOME_FS_UUID,
            "home",
        )?;
        swap_into(&disk, partition(&m, 6)?, dir, ids::MBR_SWAP_UUID, "swap0")?;
        mixed_into(&disk, partition(&m, 7)?, 7)?;
        write_manifest(&disk.with_extension("json"), &m)
    })?;
    Ok(dir.join("mbr.raw"))
}

/// GPT disk (64 MiB): 1 "EFI system" (vfat), 2 "root" (ext4 from the sample
/// tree), 3 "data" (mixed data), 4 "swap", 5 "lvm" (Linux LVM type, empty).
pub fn gpt_disk() -> Result<PathBuf> {
    let dir = cached("disk-gpt", include_str!("disks.rs"), |dir| {
        let tree = dir.join("tree");
        fs::create_dir_all(&tree).map_err(|e| FixtureError::io(&tree, e))?;
        write_sample_tree(&tree)?;
        let disk = dir.join("gpt.raw");
        sparse_file(&disk, 64 << 20)?;
        let u = ids::GPT_PART_UUIDS;
        let script = format!(
            "label: gpt\nlabel-id: {}\nunit: sectors\nfirst-lba: 2048\n\
             start=2048, size=8192, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, name=\"EFI system\", uuid={}\n\
             start=10240, size=32768, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, name=\"root\", uuid={}\n\
             start=43008, size=40960, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, name=\"data\", uuid={}\n\
             start=83968, size=8192, type=0657FD6D-A4AB-43C4-84E5-0933C84B4F4F, name=\"swap\", uuid={}\n\
             start=92160, size=20480, type=E6D6D379-F507-44C2-A23C-238F2A3DF928, name=\"lvm\", uuid={}\n",
            ids::GPT_DISK_GUID, u[0], u[1], u[2], u[3], u[4]
        );
        run_with_stdin("sfdisk", &["--quiet", arg(&disk)?], Some(script.as_bytes()))?;
        let m = manifest(
            &disk,
            &[
                (1, "vfat"),
                (2, "ext4"),
                (3, "random"),
                (4, "swap"),
                (5, "empty"),
            ],
        )?;
        let efi = partition(&m, 1)?;
        let efi_img = dir.join("efi.img");
        sparse_file(&efi_img, efi.size)?;
        run(
            "mkfs.vfat",
            &["-i", ids::EFI_VOLUME_ID, "-n", "EFI", arg(&efi_img)?],
        )?;
        splice(&efi_img, &disk, efi.start)?;
        fs::remove_file(&efi_img).map_err(|e| FixtureError::io(&efi_img, e))?;
        ext4_into(
            &disk,
            partition(&m, 2)?,
            &tree,
            ids::GPT_ROOT_FS_UUID,
            "root",
        )?;
        mixed_into(&disk, partition(&m, 3)?, 3)?;
        swap_into(&disk, partition(&m, 4)?, dir, ids::GPT_SWAP_UUID, "swap1")?;
        write_manifest(&disk.with_extension("json"), &m)
    })?;
    Ok(dir.join("gpt.raw"))
}

/// LUKS2 and LUKS1 volumes on plain files (`cryptsetup luksFormat` needs no
/// root on a file). Key file `key` beside them. Returns (luks2, luks1).
pub fn luks_volumes() -> Result<(PathBuf, PathBuf)> {
    let dir = cached("luks", include_str!("disks.rs"), |dir| {
        let key = dir.join("key");
        fs::write(&key, b"guestkit fixture key").map_err(|e| FixtureError::io(&key, e))?;
        for (name, kind, uuid) in [
            ("luks2.raw", "luks2", ids::LUKS2_UUID),
            ("luks1.raw", "luks1", ids::LUKS1_UUID),
        ] {
            let path = dir.join(name);
            sparse_file(&path, 24 << 20)?;
            let mut args = vec![
                "luksFormat",
                "--batch-mode",
                "--type",
                kind,
                "--pbkdf",
                "pbkdf2",
                "--pbkdf-force-iterations",
                "1000",
                "--uuid",
                uuid,
                "--key-file",
                arg(&key)?,
            ];
            if kind == "luks2" {
                args.extend(["--label", "secret"]);
            }
            args.push(arg(&path)?);
            run("cryptsetup", &args)?;
        }
        Ok(())
    })?;
    Ok((dir.join("luks2.raw"), dir.join("luks1.raw")))
}
