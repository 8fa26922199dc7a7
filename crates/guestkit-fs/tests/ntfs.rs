//! The NTFS driver against volumes made by mkntfs and filled by ntfscp.
//! ntfscp (the only rootless writer) copies files into existing directories
//! and stamps them with the time of copying: the tree is flat and mtimes are
//! not compared; names, sizes and content are.

mod common;

use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use guestkit_disk::MemDevice;
use guestkit_fs::{ntfs, FileSystem, FsError, FsLimits};
use sha2::{Digest, Sha256};

fn run(cmd: &mut Command) {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn files() -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<(String, Vec<u8>)> = vec![
        ("empty".into(), Vec::new()),
        ("one".into(), b"1".to_vec()),
        (
            "A Long Name With Spaces.txt".into(),
            b"long name\n".to_vec(),
        ),
        ("ünïcødé ファイル.txt".into(), b"unicode\n".to_vec()),
        (
            "big.bin".into(),
            (0..3_000_000u32)
                .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
                .collect(),
        ),
    ];
    for i in 0..40 {
        v.push((format!("file-{i:02}.dat"), vec![i as u8; i * 997]));
    }
    v
}

fn make(dir: &Path) -> Vec<u8> {
    let img = dir.join("n.img");
    std::fs::File::create(&img)
        .unwrap()
        .set_len(64 << 20)
        .unwrap();
    run(Command::new("mkntfs")
        .args(["-F", "-Q", "-q", "-s", "512", "-c", "4096", "-L", "WINVOL"])
        .arg(&img));
    for (i, (name, data)) in files().iter().enumerate() {
        let src = dir.join(format!("src{i}"));
        std::fs::write(&src, data).unwrap();
        run(Command::new("ntfscp")
            .arg("-q")
            .arg(&img)
            .arg(&src)
            .arg(format!("/{name}")));
    }
    std::fs::read(&img).unwrap()
}

fn mount(bytes: Vec<u8>) -> Result<ntfs::NtfsFs, FsError> {
    ntfs::mount(
        Arc::new(MemDevice::new(bytes, "n.img")),
        FsLimits::default(),
    )
}

#[test]
fn files_read_back_by_name_size_and_content() {
    let dir = tempfile::tempdir().unwrap();
    let fs = mount(make(dir.path())).unwrap();
    assert_eq!(fs.info().label.as_deref(), Some("WINVOL"));
    let mut names: Vec<String> = fs
        .read_dir(fs.root())
        .unwrap()
        .into_iter()
        .map(|e| String::from_utf8(e.name).unwrap())
        .collect();
    names.sort();
    let mut want: Vec<String> = files().into_iter().map(|(n, _)| n).collect();
    want.sort();
    assert_eq!(names, want, "metafiles ($MFT …) are not listed");
    for (name, data) in files() {
        let ino = fs.lookup(fs.root(), name.as_bytes()).unwrap().unwrap();
        let md = fs.metadata(ino).unwrap();
        assert_eq!(md.size, data.len() as u64, "{name}");
        assert_eq!((md.mode, md.uid), (0o644, 0), "{name}");
        let mut buf = vec![0u8; data.len() + 10];
        let mut got = Vec::new();
        let mut off = 0;
        loop {
            let n = fs.read(ino, off, &mut buf).unwrap();
            if n == 0 {
                break;
            }
            got.extend_from_slice(&buf[..n]);
            off += n as u64;
        }
        assert_eq!(Sha256::digest(&got), Sha256::digest(&data), "{name}");
    }
    // Lookups ignore case.
    assert!(fs.lookup(fs.root(), b"BIG.BIN").unwrap().is_some());
}

#[test]
fn probe_agrees_with_blkid() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = make(dir.path());
    let fs = mount(bytes).unwrap();
    let blkid = Command::new("blkid")
        .args(["-o", "export"])
        .arg(dir.path().join("n.img"))
        .output()
        .unwrap();
    let blkid = String::from_utf8_lossy(&blkid.stdout);
    assert!(
        blkid.contains(&format!("UUID={}", fs.info().uuid.as_deref().unwrap())),
        "{blkid}"
    );
    assert!(
        blkid.contains("LABEL=WINVOL") && blkid.contains("TYPE=ntfs"),
        "{blkid}"
    );
}

fn record_offset(bytes: &[u8], n: u64) -> usize {
    // $MFT starts at the boot sector's MFT cluster; records are 1 KiB here.
    let cluster = u16::from_le_bytes([bytes[11], bytes[12]]) as u64 * bytes[13] as u64;
    let mft = u64::from_le_bytes(bytes[0x30..0x38].try_into().unwrap());
    (mft * cluster + n * 1024) as usize
}

#[test]
fn a_record_whose_fixup_does_not_match_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = make(dir.path());
    let root = record_offset(&bytes, 5);
    bytes[root + 510] ^= 0xff; // end of sector 0 no longer carries the USN
    let err = mount(bytes)
        .and_then(|fs| fs.read_dir(fs.root()))
        .unwrap_err();
    assert!(matches!(err, FsError::Corrupt { .. }), "{err}");
    let msg = err.to_string();
    assert!(
        msg.contains("n.img")
            && msg.contains("ntfs")
            && msg.contains("inode 5")
            && msg.contains("update sequence"),
        "{msg}"
    );
}

#[test]
fn a_data_run_outside_the_volume_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = make(dir.path());
    let fs = mount(bytes.clone()).unwrap();
    let big = fs.lookup(fs.root(), b"big.bin").unwrap().unwrap();
    let mut bytes = bytes;
    let at = record_offset(&bytes, big);
    // Find the $DATA attribute's mapping pairs and make the first run's LCN huge.
    let rec = &bytes[at..at + 1024];
    let mut a = u16::from_le_bytes([rec[0x14], rec[0x15]]) as usize;
    loop {
        let kind = u32::from_le_bytes(rec[a..a + 4].try_into().unwrap());
        let len = u32::from_le_bytes(rec[a + 4..a + 8].try_into().unwrap()) as usize;
        if kind == 0x80 {
            break;
        }
        a += len;
    }
    let pairs = a + u16::from_le_bytes([rec[a + 32], rec[a + 33]]) as usize;
    let header = bytes[at + pairs];
    let (len_bytes, off_bytes) = ((header & 0xf) as usize, (header >> 4) as usize);
    let lcn_at = at + pairs + 1 + len_bytes;
    bytes[lcn_at..lcn_at + off_bytes].fill(0x7f);
    let fs = mount(bytes).unwrap();
    let mut buf = vec![0u8; 4096];
    let err = fs.read(big, 0, &mut buf).unwrap_err();
    assert!(err.to_string().contains("outside the volume"), "{err}");
    assert!(err.to_string().contains(&format!("inode {big}")), "{err}");
}

#[test]
fn a_boot_sector_with_an_absurd_cluster_is_corrupt() {
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = make(dir.path());
    bytes[13] = 3; // 3 sectors per cluster
    let err = mount(bytes).unwrap_err();
    assert!(
        matches!(err, FsError::Corrupt { .. }) && err.to_string().contains("sectors per cluster"),
        "{err}"
    );
}
