//! The VMDK text descriptor: `key=value` lines (`version`, `CID`,
//! `parentCID`, `createType`, `parentFileNameHint`, `ddb.*`) and extent lines
//! (`RW 2048 SPARSE "disk-s001.vmdk"`).
//!
//! This module depends on `std` only, so the fuzz crate can compile it on its
//! own; the caller turns a [`ParseError`] into a `DiskError` naming the file.

use std::collections::BTreeMap;
use std::fmt;

/// Why a descriptor could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseError {
    /// A line is neither a comment, a `key=value` pair nor an extent line, or
    /// an extent line is malformed. `line` counts from 1.
    Syntax { line: usize, reason: String },
    /// The descriptor lists more extents than allowed.
    TooManyExtents { limit: u64 },
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseError::Syntax { line, reason } => write!(f, "line {line}: {reason}"),
            ParseError::TooManyExtents { limit } => {
                write!(f, "more than {limit} extent lines")
            }
        }
    }
}

/// Access mode of an extent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    ReadWrite,
    ReadOnly,
    /// `NOACCESS`: the extent may not be read.
    Denied,
}

/// Type of an extent, as named on its line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExtentKind {
    /// Plain data in a file (`FLAT`), or on a VMFS volume (`VMFS`).
    Flat,
    /// Hosted sparse extent (`SPARSE`, a `KDMV` file).
    Sparse,
    /// Reads as zeros (`ZERO`), no file.
    Zero,
    /// ESX sparse extent (`VMFSSPARSE`, usually a `COWD` file).
    VmfsSparse,
    /// Space-efficient sparse (`SESPARSE`).
    SeSparse,
    /// A raw host device (`VMFSRDM`, `VMFSRAW`).
    RawDevice,
}

impl ExtentKind {
    fn parse(word: &str) -> Option<Self> {
        Some(match word {
            "FLAT" | "VMFS" => ExtentKind::Flat,
            "SPARSE" => ExtentKind::Sparse,
            "ZERO" => ExtentKind::Zero,
            "VMFSSPARSE" => ExtentKind::VmfsSparse,
            "SESPARSE" => ExtentKind::SeSparse,
            "VMFSRDM" | "VMFSRAW" => ExtentKind::RawDevice,
            _ => return None,
        })
    }
}

/// One extent line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtentLine {
    pub access: Access,
    /// Size of the extent in 512-byte sectors.
    pub sectors: u64,
    pub kind: ExtentKind,
    /// The extent's file, as written (relative to the descriptor's directory).
    pub file: Option<String>,
    /// Start of the extent's data inside its file, in sectors (flat extents).
    pub offset: u64,
    /// Line number in the descriptor, from 1.
    pub line: usize,
}

/// A parsed descriptor.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Descriptor {
    /// `version=`.
    pub version: Option<String>,
    /// `CID=` (hex content id).
    pub cid: Option<String>,
    /// `parentCID=`; `ffffffff` means no parent.
    pub parent_cid: Option<String>,
    /// `createType=`, unquoted.
    pub create_type: Option<String>,
    /// `parentFileNameHint=`, unquoted.
    pub parent_hint: Option<String>,
    /// Extent lines, in order.
    pub extents: Vec<ExtentLine>,
    /// `ddb.*` entries, keys as written (with the `ddb.` prefix), values unquoted.
    pub ddb: BTreeMap<String, String>,
    /// Other `key=value` entries.
    pub other: BTreeMap<String, String>,
}

impl Descriptor {
    /// Total size of the extents, in sectors (`None` on overflow).
    pub fn total_sectors(&self) -> Option<u64> {
        self.extents
            .iter()
            .try_fold(0u64, |acc, e| acc.checked_add(e.sectors))
    }
}

/// Parses descriptor text. The text ends at the first NUL (embedded
/// descriptors are padded with zeros). At most `max_extents` extent lines
/// are accepted.
pub fn parse(data: &[u8], max_extents: u64) -> Result<Descriptor, ParseError> {
    let end = data.iter().position(|&b| b == 0).unwrap_or(data.len());
    let data = data.get(..end).unwrap_or(data);
    let text = String::from_utf8_lossy(data);
    let mut d = Descriptor::default();
    for (i, raw) in text.split('\n').enumerate() {
        let line_no = i + 1;
        let err = |reason: String| ParseError::Syntax {
            line: line_no,
            reason,
        };
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(c) = line.chars().find(|c| c.is_control() && *c != '\t') {
            return Err(err(format!("control character {:?} in text", c)));
        }
        let first = line.split_whitespace().next().unwrap_or("");
        let access = match first {
            "RW" => Some(Access::ReadWrite),
            "RDONLY" => Some(Access::ReadOnly),
            "NOACCESS" => Some(Access::Denied),
            _ => None,
        };
        if let Some(access) = access {
            if d.extents.len() as u64 >= max_extents {
                return Err(ParseError::TooManyExtents { limit: max_extents });
            }
            let rest = line.get(first.len()..).unwrap_or("");
            d.extents
                .push(parse_extent(access, rest, line_no).map_err(err)?);
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            return Err(err(format!(
                "expected `key=value` or an extent line, found {:?}",
                truncate(line)
            )));
        };
        let key = key.trim();
        if key.is_empty() || key.contains(char::is_whitespace) || key.contains('"') {
            return Err(err(format!("bad key {:?}", truncate(key))));
        }
        let value = unquote(value.trim()).map_err(err)?.to_string();
        match key {
            "version" => d.version = Some(value),
            "CID" => d.cid = Some(value),
            "parentCID" => d.parent_cid = Some(value),
            "createType" => d.create_type = Some(value),
            "parentFileNameHint" => d.parent_hint = Some(value),
            k if k.starts_with("ddb.") => {
                d.ddb.insert(k.to_string(), value);
            }
            k => {
                d.other.insert(k.to_string(), value);
            }
        }
    }
    Ok(d)
}

/// Parses what follows the access word of an extent line:
/// `SECTORS TYPE ["FILE" [OFFSET]]`.
fn parse_extent(access: Access, rest: &str, line: usize) -> Result<ExtentLine, String> {
    let rest = rest.trim_start();
    let (size_word, rest) = split_word(rest);
    let sectors: u64 = size_word
        .parse()
        .map_err(|_| format!("extent size {:?} is not a number", truncate(size_word)))?;
    let (kind_word, rest) = split_word(rest.trim_start());
    let kind = ExtentKind::parse(kind_word)
        .ok_or_else(|| format!("unknown extent type {:?}", truncate(kind_word)))?;
    let rest = rest.trim();
    let (file, rest) = if let Some(quoted) = rest.strip_prefix('"') {
        let close = quoted
            .find('"')
            .ok_or_else(|| "unterminated extent file name".to_string())?;
        let name = quoted.get(..close).unwrap_or("");
        let after = quoted.get(close + 1..).unwrap_or("");
        (Some(name.to_string()), after.trim())
    } else if rest.is_empty() {
        (None, rest)
    } else {
        return Err(format!(
            "extent file name must be quoted, found {:?}",
            truncate(rest)
        ));
    };
    let (offset_word, rest) = split_word(rest);
    let offset = if offset_word.is_empty() {
        0
    } else {
        offset_word
            .parse()
            .map_err(|_| format!("extent offset {:?} is not a number", truncate(offset_word)))?
    };
    // Raw-device extents may carry a partition id after the offset.
    if !rest.trim().is_empty() && kind != ExtentKind::RawDevice {
        return Err(format!(
            "unexpected text after the extent: {:?}",
            truncate(rest)
        ));
    }
    match (kind, &file) {
        (ExtentKind::Zero, _) => {}
        (_, None) => return Err("extent has no file name".into()),
        (_, Some(f)) if f.is_empty() => return Err("extent has an empty file name".into()),
        _ => {}
    }
    Ok(ExtentLine {
        access,
        sectors,
        kind,
        file,
        offset,
        line,
    })
}

fn split_word(s: &str) -> (&str, &str) {
    match s.find(char::is_whitespace) {
        Some(i) => (s.get(..i).unwrap_or(""), s.get(i..).unwrap_or("")),
        None => (s, ""),
    }
}

fn unquote(v: &str) -> Result<&str, String> {
    match v.strip_prefix('"') {
        Some(inner) => inner
            .strip_suffix('"')
            .ok_or_else(|| format!("unterminated quoted value {:?}", truncate(v))),
        None => Ok(v),
    }
}

/// At most 60 characters of `s`, for error messages.
fn truncate(s: &str) -> String {
    s.chars().take(60).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const QEMU: &str = "# Disk DescriptorFile\nversion=1\nCID=14d36916\nparentCID=ffffffff\n\
createType=\"monolithicFlat\"\n\n# Extent description\nRW 10240 FLAT \"a b-flat.vmdk\" 0\n\
RDONLY 20 ZERO\n\n#DDB\nddb.virtualHWVersion = \"4\"\nddb.adapterType = \"ide\"\n";

    #[test]
    fn parses_qemu_descriptor() {
        let d = parse(QEMU.as_bytes(), 10).unwrap();
        assert_eq!(d.version.as_deref(), Some("1"));
        assert_eq!(d.cid.as_deref(), Some("14d36916"));
        assert_eq!(d.parent_cid.as_deref(), Some("ffffffff"));
        assert_eq!(d.create_type.as_deref(), Some("monolithicFlat"));
        assert_eq!(d.extents.len(), 2);
        assert_eq!(d.extents[0].file.as_deref(), Some("a b-flat.vmdk"));
        assert_eq!(d.extents[0].sectors, 10240);
        assert_eq!(d.extents[0].kind, ExtentKind::Flat);
        assert_eq!(d.extents[1].kind, ExtentKind::Zero);
        assert_eq!(d.extents[1].access, Access::ReadOnly);
        assert_eq!(d.total_sectors(), Some(10260));
        assert_eq!(d.ddb["ddb.adapterType"], "ide");
    }

    #[test]
    fn stops_at_nul_and_handles_crlf() {
        let mut text = b"version=1\r\nRW 8 SPARSE \"x.vmdk\"\r\n".to_vec();
        text.extend_from_slice(&[0, 0, b'j', b'u', b'n', b'k']);
        let d = parse(&text, 10).unwrap();
        assert_eq!(d.extents[0].file.as_deref(), Some("x.vmdk"));
    }

    #[test]
    fn rejects_garbage() {
        for bad in [
            "hello world\n",
            "RW x FLAT \"a\"\n",
            "RW 8 BOGUS \"a\"\n",
            "RW 8 FLAT a\n",
            "RW 8 FLAT \"a\n",
            "RW 8 FLAT\n",
            "RW 8 FLAT \"a\" 0 junk\n",
            "createType=\"abc\n",
            "= 3\n",
            "version=1\x01\n",
        ] {
            let e = parse(bad.as_bytes(), 10).unwrap_err();
            assert!(
                matches!(e, ParseError::Syntax { line: 1, .. }),
                "{bad:?}: {e}"
            );
        }
    }

    #[test]
    fn bounds_extent_count() {
        let text = "RW 1 ZERO\n".repeat(11);
        assert_eq!(
            parse(text.as_bytes(), 10).unwrap_err(),
            ParseError::TooManyExtents { limit: 10 }
        );
    }
}
