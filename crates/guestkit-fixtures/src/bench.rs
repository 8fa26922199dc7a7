//! The benchmark image: a 1 GiB virtual disk of mixed content — about 85 %
//! allocated (incompressible runs, text-like runs, sparse scattered bytes) and
//! 15 % holes — as raw, qcow2 and zlib-compressed qcow2, cached.

use std::fs::File;
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::tools::{arg, run};
use crate::{cached, FixtureError, Result};

/// Virtual size of the benchmark disk.
pub const BENCH_DISK_SIZE: u64 = 1 << 30;

/// The three files of the benchmark image.
#[derive(Debug, Clone)]
pub struct BenchImages {
    pub raw: PathBuf,
    pub qcow2: PathBuf,
    pub qcow2_zlib: PathBuf,
}

/// Builds (or finds cached) the benchmark images.
pub fn bench_images() -> Result<BenchImages> {
    let dir = cached("bench-1g", include_str!("bench.rs"), |dir| {
        let raw = dir.join("bench.raw");
        write_mixed_disk(&raw, BENCH_DISK_SIZE)?;
        run(
            "qemu-img",
            &[
                "convert",
                "-O",
                "qcow2",
                arg(&raw)?,
                arg(&dir.join("bench.qcow2"))?,
            ],
        )?;
        run(
            "qemu-img",
            &[
                "convert",
                "-c",
                "-O",
                "qcow2",
                arg(&raw)?,
                arg(&dir.join("bench-zlib.qcow2"))?,
            ],
        )?;
        Ok(())
    })?;
    Ok(BenchImages {
        raw: dir.join("bench.raw"),
        qcow2: dir.join("bench.qcow2"),
        qcow2_zlib: dir.join("bench-zlib.qcow2"),
    })
}

/// A small, fast, deterministic generator (xorshift64*), so the image is the
/// same on every machine.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn fill(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            let v = self.next().to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
    }
}

/// Writes the mixed-content disk in 1 MiB units: of every 20 units, 3 are
/// holes, 9 random, 7 text-like and 1 sparse (a few bytes in a hole).
fn write_mixed_disk(path: &Path, size: u64) -> Result<()> {
    const UNIT: usize = 1 << 20;
    let io = |e| FixtureError::io(path, e);
    let mut f = File::create(path).map_err(io)?;
    f.set_len(size).map_err(io)?;
    let mut rng = XorShift(0x6775_6573_746b_6974);
    let mut buf = vec![0u8; UNIT];
    let text: Vec<u8> = (0..UNIT)
        .map(|i| b"Lorem ipsum guestkit dolor sit amet, 0123456789\n"[i % 48])
        .collect();
    for unit in 0..size / UNIT as u64 {
        let at = unit * UNIT as u64;
        match unit % 20 {
            0..=2 => continue,
            3..=11 => {
                rng.fill(&mut buf);
                f.seek(SeekFrom::Start(at)).map_err(io)?;
                f.write_all(&buf).map_err(io)?;
            }
            12..=18 => {
                let mut line = text.clone();
                line[..8].copy_from_slice(&unit.to_le_bytes());
                f.seek(SeekFrom::Start(at)).map_err(io)?;
                f.write_all(&line).map_err(io)?;
            }
            _ => {
                f.seek(SeekFrom::Start(at + 4093)).map_err(io)?;
                f.write_all(&unit.to_le_bytes()).map_err(io)?;
            }
        }
    }
    f.sync_all().map_err(io)
}
