//! The compressions an initramfs segment may use, detected by magic, and
//! streaming decoders for those the kernel's defaults produce.

use std::fmt;
use std::io::{BufRead, Read, Write};

use super::InitramfsError;

/// How a segment is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Compression {
    /// Plain newc cpio.
    None,
    Gzip,
    Zstd,
    Xz,
    /// Legacy `.lzma` (lzma_alone).
    Lzma,
    /// lz4 legacy frames (`lz4 -l`, what the kernel expects).
    Lz4Legacy,
    /// lz4 frame format.
    Lz4Frame,
    /// bzip2: recognised, not decoded.
    Bzip2,
    /// lzop: recognised, not decoded.
    Lzo,
}

impl fmt::Display for Compression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Compression::None => "cpio",
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
            Compression::Xz => "xz",
            Compression::Lzma => "lzma",
            Compression::Lz4Legacy => "lz4 (legacy)",
            Compression::Lz4Frame => "lz4",
            Compression::Bzip2 => "bzip2",
            Compression::Lzo => "lzo",
        })
    }
}

const LZ4_LEGACY_MAGIC: u32 = 0x184C_2102;
/// Largest decompressed lz4 legacy block (8 MiB).
const LZ4_LEGACY_BLOCK: usize = 8 << 20;

impl Compression {
    /// The compression whose magic starts `head`, if any.
    pub fn detect(head: &[u8]) -> Option<Compression> {
        let table: &[(&[u8], Compression)] = &[
            (b"07070", Compression::None),
            (&[0x1f, 0x8b], Compression::Gzip),
            (&[0x1f, 0x9e], Compression::Gzip),
            (&[0x28, 0xb5, 0x2f, 0xfd], Compression::Zstd),
            (&[0xfd, b'7', b'z', b'X', b'Z', 0], Compression::Xz),
            (&[0x5d, 0, 0], Compression::Lzma),
            (&[0x02, 0x21, 0x4c, 0x18], Compression::Lz4Legacy),
            (&[0x04, 0x22, 0x4d, 0x18], Compression::Lz4Frame),
            (b"BZh", Compression::Bzip2),
            (&[0x89, b'L', b'Z', b'O'], Compression::Lzo),
        ];
        table
            .iter()
            .find(|(magic, _)| head.starts_with(magic))
            .map(|(_, c)| *c)
    }
}

/// Decodes one segment compressed with `c` from `input` into `sink`.
/// `offset` is the segment's offset in the file, for errors. An error
/// raised by the sink itself is kept by the sink; this reports it as a
/// decompression failure, which the caller replaces with the sink's.
pub fn decode<R: BufRead, W: Write>(
    c: Compression,
    input: &mut R,
    sink: &mut W,
    offset: u64,
) -> Result<(), InitramfsError> {
    let fail = |message: String| InitramfsError::Decompress {
        offset,
        compression: c,
        message,
    };
    match c {
        Compression::None => Err(fail("not compressed".into())),
        Compression::Gzip => {
            let mut dec = flate2::bufread::GzDecoder::new(input);
            copy(&mut dec, sink).map_err(fail)
        }
        Compression::Zstd => {
            let mut dec =
                ruzstd::decoding::StreamingDecoder::new(input).map_err(|e| fail(e.to_string()))?;
            copy(&mut dec, sink).map_err(fail)
        }
        Compression::Xz => lzma_rs::xz_decompress(input, sink).map_err(|e| fail(e.to_string())),
        Compression::Lzma => lzma_rs::lzma_decompress(input, sink).map_err(|e| fail(e.to_string())),
        Compression::Lz4Frame => {
            let mut dec = lz4_flex::frame::FrameDecoder::new(input);
            copy(&mut dec, sink).map_err(fail)
        }
        Compression::Lz4Legacy => lz4_legacy(input, sink).map_err(fail),
        Compression::Bzip2 | Compression::Lzo => Err(InitramfsError::Unsupported {
            offset,
            compression: c,
        }),
    }
}

fn copy<R: Read, W: Write>(from: &mut R, to: &mut W) -> Result<(), String> {
    std::io::copy(from, to)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

fn read_u32<R: Read>(input: &mut R) -> Result<Option<u32>, String> {
    let mut b = [0u8; 4];
    let mut got = 0;
    while got < 4 {
        let Some(rest) = b.get_mut(got..) else { break };
        match input.read(rest) {
            Ok(0) if got == 0 => return Ok(None),
            Ok(0) => return Err("stream ends inside a block length".into()),
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e.to_string()),
        }
    }
    Ok(Some(u32::from_le_bytes(b)))
}

/// lz4 legacy: the magic, then blocks of (length, lz4 block) each
/// decoding to at most 8 MiB, until the input ends (or a zero length:
/// padding). A repeated magic starts another stream.
fn lz4_legacy<R: BufRead, W: Write>(input: &mut R, sink: &mut W) -> Result<(), String> {
    let mut out = vec![0u8; LZ4_LEGACY_BLOCK];
    let mut block = Vec::new();
    while let Some(len) = read_u32(input)? {
        if len == LZ4_LEGACY_MAGIC {
            continue;
        }
        if len == 0 {
            break;
        }
        let len = len as usize;
        if len > lz4_flex::block::get_maximum_output_size(LZ4_LEGACY_BLOCK) {
            return Err(format!("block length {len} exceeds the 8 MiB block bound"));
        }
        block.resize(len, 0);
        input
            .read_exact(&mut block)
            .map_err(|e| format!("block of {len} bytes: {e}"))?;
        let n = lz4_flex::block::decompress_into(&block, &mut out).map_err(|e| e.to_string())?;
        sink.write_all(out.get(..n).unwrap_or_default())
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}
