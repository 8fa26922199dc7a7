//! A push parser for "newc" cpio archives (magic `070701`, or `070702`
//! with checksums), the format of every Linux initramfs. It is fed bytes
//! in chunks of any size, keeps only entry names, and skips file data, so
//! an archive of any length is listed in constant memory.

use super::{InitramfsError, Limits};

/// Length of a newc header: magic plus 13 eight-digit hex fields.
const HEADER_LEN: usize = 110;
/// Name of the entry that ends an archive.
const TRAILER: &[u8] = b"TRAILER!!!";

/// One archive member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Path as stored (usually relative, without a leading `/`).
    pub path: String,
    /// File mode bits (type and permissions).
    pub mode: u32,
    /// Content length in bytes.
    pub size: u64,
}

impl Entry {
    /// The kernel module this entry is (`…/dm-mod.ko.xz` → `dm_mod`:
    /// `-` and `_` are the same in module names), if it is one.
    pub fn module_name(&self) -> Option<String> {
        module_of(&self.path)
    }
}

/// The kernel module a file path names (`kernel/drivers/md/dm-mod.ko.xz`
/// → `dm_mod`; `.ko`, `.ko.xz`, `.ko.zst`, `.ko.gz`; `-` and `_` are the
/// same in module names), if it names one. Serves initramfs entries and
/// the lines of modules.dep / modules.builtin alike.
pub fn module_of(path: &str) -> Option<String> {
    let base = path.rsplit('/').next().unwrap_or("");
    let (stem, ext) = base.split_once(".ko")?;
    matches!(ext, "" | ".xz" | ".zst" | ".gz").then(|| stem.replace('-', "_"))
}

#[derive(Debug)]
enum State {
    /// Collecting a header.
    Header,
    /// Collecting a name of `len` bytes (NUL included), then `pad` bytes.
    Name {
        len: usize,
        pad: usize,
        mode: u32,
        size: u64,
    },
    /// Skipping `left` bytes of content and padding.
    Data { left: u64 },
    /// After the trailer: the archive is complete.
    End,
}

/// Incremental newc parser; see the module documentation.
#[derive(Debug)]
pub struct CpioParser {
    state: State,
    buf: Vec<u8>,
    /// Stream offset of the next byte.
    offset: u64,
    /// Offset of the header being parsed, for error messages.
    entry_offset: u64,
    entries: Vec<Entry>,
    limits: Limits,
}

fn hex_field(header: &[u8], index: usize, at: u64) -> Result<u64, InitramfsError> {
    let start = 6 + index * 8;
    let field = header
        .get(start..start + 8)
        .ok_or_else(|| InitramfsError::bad_header(at, "header too short"))?;
    let text = std::str::from_utf8(field)
        .map_err(|_| InitramfsError::bad_header(at, format!("field {index} is not hex")))?;
    u64::from_str_radix(text, 16)
        .map_err(|_| InitramfsError::bad_header(at, format!("field {index} {text:?} is not hex")))
}

/// Bytes that pad `len` up to a multiple of four.
fn pad4(len: u64) -> u64 {
    (4 - len % 4) % 4
}

impl CpioParser {
    /// A parser expecting an archive header first, at offset 0.
    pub fn new(limits: Limits) -> Self {
        Self::at(limits, 0)
    }

    /// A parser whose first byte is at `offset` of its stream (offsets in
    /// errors count from there).
    pub fn at(limits: Limits, offset: u64) -> Self {
        CpioParser {
            state: State::Header,
            buf: Vec::with_capacity(HEADER_LEN),
            offset,
            entry_offset: offset,
            entries: Vec::new(),
            limits,
        }
    }

    /// Whether the last archive fed has ended (its trailer was read).
    pub fn at_end(&self) -> bool {
        matches!(self.state, State::End)
    }

    /// Whether the parser is between entries (at a header boundary or
    /// after a trailer), so the stream may end here.
    pub fn at_boundary(&self) -> bool {
        match self.state {
            State::End => true,
            State::Header => self.buf.is_empty(),
            _ => false,
        }
    }

    /// Starts the next archive of a concatenation.
    pub fn restart(&mut self) {
        self.state = State::Header;
        self.buf.clear();
    }

    /// The entries listed so far.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// Takes the entries listed.
    pub fn into_entries(self) -> Vec<Entry> {
        self.entries
    }

    /// Stream offset of the next byte.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Why the stream may not end here, when it may not.
    pub fn unfinished(&self) -> Option<InitramfsError> {
        if self.at_boundary() {
            return None;
        }
        Some(InitramfsError::Truncated {
            offset: self.offset,
            entry: self.entry_offset,
        })
    }

    /// Parses from `data`; returns how many bytes were consumed. Consumes
    /// everything unless the archive's trailer is reached, where it stops
    /// (the caller decides what follows: padding, another archive, a
    /// compressed segment).
    pub fn feed(&mut self, data: &[u8]) -> Result<usize, InitramfsError> {
        let mut used = 0usize;
        while used < data.len() {
            let rest = data.get(used..).unwrap_or_default();
            let n = match self.state {
                State::End => break,
                State::Header => self.take_header(rest)?,
                State::Name {
                    len,
                    pad,
                    mode,
                    size,
                } => self.take_name(rest, len, pad, mode, size)?,
                State::Data { left } => {
                    let n = usize::try_from(left).unwrap_or(usize::MAX).min(rest.len());
                    let left = left - n as u64;
                    self.state = if left == 0 {
                        State::Header
                    } else {
                        State::Data { left }
                    };
                    n
                }
            };
            used += n;
            self.offset += n as u64;
        }
        Ok(used)
    }

    fn take_header(&mut self, rest: &[u8]) -> Result<usize, InitramfsError> {
        if self.buf.is_empty() {
            self.entry_offset = self.offset;
        }
        let n = (HEADER_LEN - self.buf.len()).min(rest.len());
        self.buf
            .extend_from_slice(rest.get(..n).unwrap_or_default());
        if self.buf.len() < HEADER_LEN {
            return Ok(n);
        }
        let at = self.entry_offset;
        let header = std::mem::take(&mut self.buf);
        match header.get(..6) {
            Some(b"070701") | Some(b"070702") => {}
            Some(b"070707") => {
                return Err(InitramfsError::bad_header(
                    at,
                    "old portable (odc) cpio: the kernel reads only newc",
                ))
            }
            other => {
                return Err(InitramfsError::bad_header(
                    at,
                    format!(
                        "magic {:?} is not newc cpio 070701/070702",
                        other.map(String::from_utf8_lossy)
                    ),
                ))
            }
        }
        let mode = u32::try_from(hex_field(&header, 1, at)?).unwrap_or(u32::MAX);
        let size = hex_field(&header, 6, at)?;
        let name_len = hex_field(&header, 11, at)?;
        if name_len == 0 || name_len > self.limits.max_name_len as u64 {
            return Err(InitramfsError::bad_header(
                at,
                format!(
                    "name length {name_len} (1 to {} accepted)",
                    self.limits.max_name_len
                ),
            ));
        }
        if self.entries.len() >= self.limits.max_entries {
            return Err(InitramfsError::Limit {
                what: "entries",
                limit: self.limits.max_entries as u64,
            });
        }
        self.buf = header;
        self.buf.clear();
        let pad = pad4(HEADER_LEN as u64 + name_len) as usize;
        self.state = State::Name {
            len: name_len as usize,
            pad,
            mode,
            size,
        };
        Ok(n)
    }

    fn take_name(
        &mut self,
        rest: &[u8],
        len: usize,
        pad: usize,
        mode: u32,
        size: u64,
    ) -> Result<usize, InitramfsError> {
        let want = len + pad;
        let n = (want - self.buf.len()).min(rest.len());
        self.buf
            .extend_from_slice(rest.get(..n).unwrap_or_default());
        if self.buf.len() < want {
            return Ok(n);
        }
        let raw = self.buf.get(..len).unwrap_or_default();
        let name = raw.strip_suffix(&[0]).unwrap_or(raw);
        if name == TRAILER {
            self.state = State::End;
            self.buf.clear();
            return Ok(n);
        }
        let path = String::from_utf8_lossy(name).into_owned();
        self.buf.clear();
        self.entries.push(Entry { path, mode, size });
        let left = size.saturating_add(pad4(size));
        self.state = if left == 0 {
            State::Header
        } else {
            State::Data { left }
        };
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(name: &str, data: &[u8]) -> Vec<u8> {
        let mut v = format!(
            "070701{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}",
            1,
            0o100644,
            0,
            0,
            1,
            0,
            data.len(),
            0,
            0,
            0,
            0,
            name.len() + 1,
            0
        )
        .into_bytes();
        v.extend_from_slice(name.as_bytes());
        v.push(0);
        while v.len() % 4 != 0 {
            v.push(0);
        }
        v.extend_from_slice(data);
        while v.len() % 4 != 0 {
            v.push(0);
        }
        v
    }

    #[test]
    fn lists_names_fed_one_byte_at_a_time() {
        let mut a = member("init", b"#!/bin/sh\n");
        a.extend(member("usr/lib/modules/6.1/kernel/virtio_blk.ko", b"xyz"));
        a.extend(member("TRAILER!!!", b""));
        let mut p = CpioParser::new(Limits::default());
        for b in &a {
            let used = p.feed(std::slice::from_ref(b)).expect("feed");
            assert_eq!(used, 1);
        }
        assert!(p.at_end());
        let names: Vec<_> = p.entries().iter().map(|e| e.path.as_str()).collect();
        assert_eq!(names, ["init", "usr/lib/modules/6.1/kernel/virtio_blk.ko"]);
    }

    #[test]
    fn stops_at_the_trailer_and_reports_truncation() {
        let mut a = member("a", b"1");
        a.extend(member("TRAILER!!!", b""));
        let end = a.len();
        a.extend_from_slice(&[0; 12]);
        let mut p = CpioParser::new(Limits::default());
        assert_eq!(p.feed(&a).expect("feed"), end);
        let mut q = CpioParser::new(Limits::default());
        q.feed(a.get(..20).expect("prefix")).expect("feed");
        assert!(q.unfinished().is_some());
    }

    #[test]
    fn rejects_bad_magic_and_odc() {
        let mut p = CpioParser::new(Limits::default());
        let e = p.feed(&[b'x'; 200]).expect_err("bad magic");
        assert!(e.to_string().contains("offset 0"), "{e}");
        let mut odc = b"070707".to_vec();
        odc.resize(200, b'0');
        let e = CpioParser::new(Limits::default())
            .feed(&odc)
            .expect_err("odc");
        assert!(e.to_string().contains("odc"), "{e}");
    }
}
