//! Lists the files of a Linux initramfs without unpacking it: the
//! concatenation of uncompressed newc cpio archives (early microcode,
//! firmware) and compressed ones (gzip, zstd, xz, lzma, lz4) that the
//! kernel unpacks at boot. Used to tell whether a guest's boot image
//! carries the drivers another hypervisor needs.
//!
//! The input is untrusted: every segment is parsed as a stream, names are
//! bounded, entries are counted, and decompressed bytes are capped, so a
//! crafted or huge file costs bounded memory and time.

mod cpio;
mod decompress;

use std::io::{BufRead, Read};

use thiserror::Error;

pub use cpio::{module_of, CpioParser, Entry};
pub use decompress::Compression;

/// Bounds on what an initramfs may make us do.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Most entries listed, over all segments.
    pub max_entries: usize,
    /// Longest entry name, NUL included.
    pub max_name_len: usize,
    /// Most bytes decompressed, over all segments.
    pub max_decompressed: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_entries: 500_000,
            max_name_len: 4096,
            max_decompressed: 4 << 30,
        }
    }
}

/// Why an initramfs could not be listed. Offsets are in the file, or in
/// the decompressed stream of the segment named.
#[derive(Debug, Error)]
pub enum InitramfsError {
    #[error("initramfs: read failed at offset {offset}: {source}")]
    Io {
        offset: u64,
        #[source]
        source: std::io::Error,
    },
    #[error("initramfs: bad cpio header at offset {offset}: {reason}")]
    BadHeader { offset: u64, reason: String },
    #[error(
        "initramfs: archive ends at offset {offset} inside the entry whose header is at {entry}"
    )]
    Truncated { offset: u64, entry: u64 },
    #[error("initramfs: {compression} segment at offset {offset} is not supported")]
    Unsupported {
        offset: u64,
        compression: Compression,
    },
    #[error("initramfs: {compression} segment at offset {offset}: {message}")]
    Decompress {
        offset: u64,
        compression: Compression,
        message: String,
    },
    #[error("initramfs: more than {limit} {what}")]
    Limit { what: &'static str, limit: u64 },
    #[error("initramfs: unrecognised data at offset {offset} (starts {start:02x?})")]
    Unrecognised { offset: u64, start: Vec<u8> },
}

impl InitramfsError {
    fn bad_header(offset: u64, reason: impl Into<String>) -> Self {
        InitramfsError::BadHeader {
            offset,
            reason: reason.into(),
        }
    }
}

/// One segment of the file: an uncompressed archive or a compressed run
/// of archives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    /// Offset of the segment in the file.
    pub offset: u64,
    pub compression: Compression,
    /// Entries listed from it.
    pub entries: usize,
}

/// What an initramfs holds.
#[derive(Debug, Clone, Default)]
pub struct Initramfs {
    pub segments: Vec<Segment>,
    /// Every entry, in archive order (a later entry with the same path
    /// replaces an earlier one when the kernel unpacks).
    pub entries: Vec<Entry>,
    /// Whether the whole file was read (false when [`list_until`] was
    /// satisfied early).
    pub complete: bool,
}

impl Initramfs {
    /// Whether it holds the kernel module `name` (`virtio_blk` matches
    /// `…/virtio_blk.ko`, `.ko.xz`, `.ko.zst`, `.ko.gz`; `-` and `_` are
    /// the same in module names).
    pub fn has_module(&self, name: &str) -> bool {
        let want = name.replace('-', "_");
        self.entries
            .iter()
            .any(|e| e.module_name().is_some_and(|m| m == want))
    }

    /// Whether it holds a file at `path` (with or without a leading `/`).
    pub fn has_path(&self, path: &str) -> bool {
        let want = path.trim_start_matches('/');
        self.entries
            .iter()
            .any(|e| e.path.trim_start_matches("./").trim_start_matches('/') == want)
    }
}

/// Lists the initramfs read from `source`.
pub fn list(source: impl Read, limits: &Limits) -> Result<Initramfs, InitramfsError> {
    list_until(source, limits, &mut |_| false)
}

/// Watches entries as they are listed, for [`list_until`].
struct Watch<'a> {
    enough: &'a mut dyn FnMut(&Entry) -> bool,
    /// Entries of the current segment already shown to `enough`.
    seen: usize,
    satisfied: bool,
}

impl Watch<'_> {
    /// Shows `enough` the entries it has not seen; true once it is
    /// satisfied.
    fn look(&mut self, entries: &[Entry]) -> bool {
        for e in entries.get(self.seen..).unwrap_or_default() {
            if !self.satisfied && (self.enough)(e) {
                self.satisfied = true;
            }
        }
        self.seen = entries.len();
        self.satisfied
    }
}

/// Lists the initramfs read from `source` until `enough` returns true for
/// an entry (everything needed has been seen): the rest of the file is
/// then neither read nor decompressed, and the listing is marked
/// incomplete. A large initramfs costs a decompression of tens of
/// megabytes; a question answered early need not pay it.
pub fn list_until(
    source: impl Read,
    limits: &Limits,
    enough: &mut dyn FnMut(&Entry) -> bool,
) -> Result<Initramfs, InitramfsError> {
    let mut watch = Watch {
        enough,
        seen: 0,
        satisfied: false,
    };
    let mut reader = Counting::new(source);
    let mut out = Initramfs::default();
    let mut budget = Budget {
        left: limits.max_decompressed,
        limit: limits.max_decompressed,
    };
    loop {
        reader.skip_zeros()?;
        let head = reader.peek(8)?;
        if head.is_empty() {
            break;
        }
        let offset = reader.offset;
        let compression = Compression::detect(&head);
        let parser_limits = Limits {
            max_entries: limits.max_entries.saturating_sub(out.entries.len()),
            ..*limits
        };
        // Offsets of a plain archive count in the file; those of a
        // compressed one in its decompressed stream.
        let mut parser = match compression {
            Some(Compression::None) => CpioParser::at(parser_limits, offset),
            _ => CpioParser::new(parser_limits),
        };
        watch.seen = 0;
        match compression {
            Some(Compression::None) => {
                uncompressed_archive(&mut reader, &mut parser, &mut watch)?;
            }
            Some(c) => {
                let mut sink = CpioSink {
                    parser: &mut parser,
                    budget: &mut budget,
                    segment: offset,
                    compression: c,
                    error: None,
                    watch: &mut watch,
                };
                let decoded = decompress::decode(c, &mut reader, &mut sink, offset);
                if let Some(e) = sink.error.take() {
                    return Err(e);
                }
                if !sink.watch.satisfied {
                    decoded?;
                    if let Some(e) = parser.unfinished() {
                        return Err(e);
                    }
                }
            }
            None => {
                return Err(InitramfsError::Unrecognised {
                    offset,
                    start: head,
                });
            }
        }
        let entries = parser.into_entries();
        out.segments.push(Segment {
            offset,
            compression: compression.unwrap_or(Compression::None),
            entries: entries.len(),
        });
        out.entries.extend(entries);
        if watch.satisfied {
            return Ok(out);
        }
    }
    out.complete = true;
    Ok(out)
}

/// One uncompressed archive, parsed from the file up to its trailer.
fn uncompressed_archive<R: Read>(
    reader: &mut Counting<R>,
    parser: &mut CpioParser,
    watch: &mut Watch<'_>,
) -> Result<(), InitramfsError> {
    while !parser.at_end() && !watch.look(parser.entries()) {
        let offset = reader.offset;
        let buf = reader
            .fill_buf()
            .map_err(|source| InitramfsError::Io { offset, source })?;
        if buf.is_empty() {
            return Err(parser.unfinished().unwrap_or(InitramfsError::Truncated {
                offset,
                entry: offset,
            }));
        }
        let used = parser.feed(buf)?;
        reader.consume(used);
    }
    Ok(())
}

/// Decompressed bytes still allowed.
struct Budget {
    left: u64,
    limit: u64,
}

/// Where a decompressor writes: the cpio parser of the segment, which
/// may hold several concatenated archives separated by zero padding.
struct CpioSink<'a, 'b> {
    parser: &'a mut CpioParser,
    budget: &'a mut Budget,
    segment: u64,
    compression: Compression,
    /// The first parse error (the decompressor only sees an I/O error).
    error: Option<InitramfsError>,
    watch: &'a mut Watch<'b>,
}

impl CpioSink<'_, '_> {
    fn take(&mut self, data: &[u8]) -> Result<(), InitramfsError> {
        if data.len() as u64 > self.budget.left {
            return Err(InitramfsError::Limit {
                what: "decompressed bytes",
                limit: self.budget.limit,
            });
        }
        self.budget.left -= data.len() as u64;
        let mut rest = data;
        while !rest.is_empty() {
            if self.parser.at_end() {
                let zeros = rest.iter().take_while(|b| **b == 0).count();
                rest = rest.get(zeros..).unwrap_or_default();
                if rest.is_empty() {
                    break;
                }
                self.parser.restart();
            }
            let used = self.parser.feed(rest).map_err(|e| match e {
                InitramfsError::BadHeader { offset, reason } => InitramfsError::Decompress {
                    offset: self.segment,
                    compression: self.compression,
                    message: format!("bad cpio header at decompressed offset {offset}: {reason}"),
                },
                other => other,
            })?;
            rest = rest.get(used..).unwrap_or_default();
        }
        Ok(())
    }

    /// Whether the watcher has what it needs (the decoder is then
    /// stopped).
    fn satisfied(&mut self) -> bool {
        self.watch.look(self.parser.entries())
    }
}

impl std::io::Write for CpioSink<'_, '_> {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        if self.error.is_some() || self.watch.satisfied {
            return Err(std::io::Error::other("initramfs listing stopped"));
        }
        match self.take(data) {
            Ok(()) if self.satisfied() => Err(std::io::Error::other("initramfs listing complete")),
            Ok(()) => Ok(data.len()),
            Err(e) => {
                let msg = e.to_string();
                self.error = Some(e);
                Err(std::io::Error::other(msg))
            }
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A buffered reader that knows its offset in the file and can look a
/// few bytes ahead across refills.
struct Counting<R> {
    inner: R,
    buf: Vec<u8>,
    pos: usize,
    len: usize,
    offset: u64,
}

impl<R: Read> Counting<R> {
    fn new(inner: R) -> Self {
        Counting {
            inner,
            buf: vec![0; 1 << 16],
            pos: 0,
            len: 0,
            offset: 0,
        }
    }

    fn io(&self, source: std::io::Error) -> InitramfsError {
        InitramfsError::Io {
            offset: self.offset,
            source,
        }
    }

    /// Makes at least `n` bytes available unless the file ends first.
    fn ensure(&mut self, n: usize) -> Result<(), InitramfsError> {
        if self.len - self.pos >= n {
            return Ok(());
        }
        self.buf.copy_within(self.pos..self.len, 0);
        self.len -= self.pos;
        self.pos = 0;
        while self.len < n.min(self.buf.len()) {
            let Some(space) = self.buf.get_mut(self.len..) else {
                break;
            };
            match self.inner.read(space) {
                Ok(0) => break,
                Ok(got) => self.len += got,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(self.io(e)),
            }
        }
        Ok(())
    }

    fn skip_zeros(&mut self) -> Result<(), InitramfsError> {
        loop {
            self.ensure(1)?;
            let buf = self.buf.get(self.pos..self.len).unwrap_or_default();
            if buf.is_empty() {
                return Ok(());
            }
            let zeros = buf.iter().take_while(|b| **b == 0).count();
            let all = zeros == buf.len();
            self.consume(zeros);
            if !all {
                return Ok(());
            }
        }
    }

    /// Up to `n` bytes ahead, without consuming them.
    fn peek(&mut self, n: usize) -> Result<Vec<u8>, InitramfsError> {
        self.ensure(n)?;
        let end = self.len.min(self.pos + n);
        Ok(self.buf.get(self.pos..end).unwrap_or_default().to_vec())
    }
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        let n = {
            let avail = self.fill_buf()?;
            let n = avail.len().min(out.len());
            if let (Some(dst), Some(src)) = (out.get_mut(..n), avail.get(..n)) {
                dst.copy_from_slice(src);
            }
            n
        };
        self.consume(n);
        Ok(n)
    }
}

impl<R: Read> BufRead for Counting<R> {
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        if self.pos >= self.len {
            self.pos = 0;
            self.len = 0;
            loop {
                match self.inner.read(&mut self.buf) {
                    Ok(n) => {
                        self.len = n;
                        break;
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(self.buf.get(self.pos..self.len).unwrap_or_default())
    }

    fn consume(&mut self, n: usize) {
        let n = n.min(self.len - self.pos);
        self.pos += n;
        self.offset += n as u64;
    }
}
