//! The sample guest tree: a small, deterministic directory tree that looks
//! like a Linux root filesystem. Filesystem fixtures are built from it, so
//! later layers can check what they read against what was written.

use std::fs;
use std::path::Path;

use crate::{FixtureError, Result};

/// Deterministic pseudo-random bytes (xorshift64*), the same on every machine.
pub fn pseudo_random(seed: u64, len: usize) -> Vec<u8> {
    let mut state = seed | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        out.extend_from_slice(&state.wrapping_mul(0x2545_f491_4f6c_dd1d).to_le_bytes());
    }
    out.truncate(len);
    out
}

/// Writes the sample tree into `dir` (which must exist).
pub fn write_sample_tree(dir: &Path) -> Result<()> {
    let files: &[(&str, &[u8])] = &[
        (
            "etc/os-release",
            b"PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\nVERSION=\"12 (bookworm)\"\nVERSION_CODENAME=bookworm\nID=debian\n",
        ),
        ("etc/hostname", b"guestkit-demo\n"),
        (
            "etc/fstab",
            b"# <file system> <mount point> <type> <options> <dump> <pass>\nLABEL=root / ext4 errors=remount-ro 0 1\n/dev/vg0/data /srv ext4 defaults 0 2\n",
        ),
        ("etc/debian_version", b"12.7\n"),
        ("bin/sh", b"#!guestkit sample: not a real shell\n"),
        ("usr/bin/true", b"#!guestkit sample: not a real binary\n"),
        ("usr/share/doc/guestkit/README", b"guestkit fixture tree\n"),
        ("home/user/notes.txt", b"hello from inside the image\n"),
    ];
    for (path, content) in files {
        write(dir, path, content)?;
    }
    write(dir, "var/lib/blob.bin", &pseudo_random(0x5eed, 300 * 1024))?;
    let mut nested = dir.join("srv");
    for level in 0..12 {
        nested = nested.join(format!("level{level}"));
    }
    fs::create_dir_all(&nested).map_err(|e| FixtureError::io(&nested, e))?;
    fs::write(nested.join("deep.txt"), b"deep\n").map_err(|e| FixtureError::io(&nested, e))?;
    let link = dir.join("etc/motd");
    std::os::unix::fs::symlink("../usr/share/doc/guestkit/README", &link)
        .map_err(|e| FixtureError::io(&link, e))?;
    Ok(())
}

fn write(dir: &Path, rel: &str, content: &[u8]) -> Result<()> {
    let path = dir.join(rel);
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).map_err(|e| FixtureError::io(parent, e))?;
    }
    fs::write(&path, content).map_err(|e| FixtureError::io(&path, e))
}
