//! Keys (`nk` cells) and subkey lists (`lf`, `lh`, `li`, `ri`).

use std::collections::HashSet;

use crate::base::{FileTime, Hive};
use crate::error::{RegfError, Result};
use crate::util::{eq_ignore_case, u16_at, u32_at, u64_at, utf16_lossy, RawName};
use crate::value::{Value, Values};

/// `nk` flag: the name is stored as Latin-1 ("compressed") rather than
/// UTF-16LE.
pub const KEY_COMP_NAME: u16 = 0x0020;
/// `nk` flag: the root key of the hive.
pub const KEY_HIVE_ENTRY: u16 = 0x0004;
/// `nk` flag: the key cannot be deleted.
pub const KEY_NO_DELETE: u16 = 0x0008;
/// `nk` flag: the key is a symbolic link.
pub const KEY_SYM_LINK: u16 = 0x0010;

/// Offset value meaning "no cell".
pub(crate) const NONE: u32 = u32::MAX;
/// Fixed part of an `nk` cell, before the name.
const NK_FIXED: usize = 0x4C;

/// A registry key: a decoded `nk` cell. Cheap to copy; subkeys and values
/// are read from the hive when asked for.
#[derive(Debug, Clone, Copy)]
pub struct Key<'h> {
    hive: &'h Hive<'h>,
    offset: u32,
    flags: u16,
    last_written: FileTime,
    parent: u32,
    subkey_count: u32,
    subkey_list: u32,
    value_count: u32,
    value_list: u32,
    security: u32,
    class_offset: u32,
    class_len: u16,
    name: RawName<'h>,
}

impl<'h> Key<'h> {
    /// Reads the `nk` cell at `offset`.
    pub(crate) fn read(hive: &'h Hive<'h>, offset: u32) -> Result<Key<'h>> {
        let d = hive.signed_cell(offset, "key", b"nk", NK_FIXED)?;
        let f32 = |at| u32_at(d, at).unwrap_or(0);
        let flags = u16_at(d, 0x02).unwrap_or(0);
        let name_len = usize::from(u16_at(d, 0x48).unwrap_or(0));
        let raw = d.get(NK_FIXED..NK_FIXED + name_len).ok_or_else(|| {
            RegfError::cell(
                offset,
                format!("key name of {name_len} bytes runs past the end of the nk cell"),
            )
        })?;
        let name = if flags & KEY_COMP_NAME != 0 {
            RawName::Latin1(raw)
        } else {
            RawName::Utf16(raw)
        };
        Ok(Key {
            hive,
            offset,
            flags,
            last_written: FileTime(u64_at(d, 0x04).unwrap_or(0)),
            parent: f32(0x10),
            subkey_count: f32(0x14),
            subkey_list: f32(0x1C),
            value_count: f32(0x24),
            value_list: f32(0x28),
            security: f32(0x2C),
            class_offset: f32(0x30),
            class_len: u16_at(d, 0x4A).unwrap_or(0),
            name,
        })
    }

    /// The hive this key belongs to.
    pub fn hive(&self) -> &'h Hive<'h> {
        self.hive
    }

    /// Offset of the key's `nk` cell (relative to the first hive bin).
    pub fn offset(&self) -> u32 {
        self.offset
    }

    /// The key's name (lossy for invalid UTF-16). The root key's name is
    /// whatever Windows stored, e.g. `ROOT` or `CMI-CreateHive{...}`.
    pub fn name(&self) -> String {
        self.name.decode()
    }

    /// Case-insensitive comparison of the key's name with `name`.
    pub fn name_eq(&self, name: &str) -> bool {
        self.name.eq_ignore_case(name)
    }

    /// The `nk` flags (`KEY_*` constants).
    pub fn flags(&self) -> u16 {
        self.flags
    }

    /// When the key was last written.
    pub fn last_written(&self) -> FileTime {
        self.last_written
    }

    /// Number of subkeys recorded in the key (the list may disagree in a
    /// damaged hive; [`subkeys`](Self::subkeys) reports that).
    pub fn subkey_count(&self) -> u32 {
        self.subkey_count
    }

    /// Number of values recorded in the key.
    pub fn value_count(&self) -> u32 {
        self.value_count
    }

    /// Offset of the key's security (`sk`) cell.
    pub fn security_offset(&self) -> u32 {
        self.security
    }

    /// The parent key; `None` for the hive root (or when the parent field
    /// does not point at a key, as in some root keys).
    pub fn parent(&self) -> Result<Option<Key<'h>>> {
        if self.flags & KEY_HIVE_ENTRY != 0 || self.parent == NONE {
            return Ok(None);
        }
        Key::read(self.hive, self.parent).map(Some)
    }

    /// The key's class name, if it has one (UTF-16LE, lossy).
    pub fn class_name(&self) -> Result<Option<String>> {
        if self.class_offset == NONE || self.class_len == 0 {
            return Ok(None);
        }
        let d = self.hive.cell(self.class_offset, "class name")?;
        let b = d.get(..usize::from(self.class_len)).ok_or_else(|| {
            RegfError::cell(
                self.class_offset,
                format!(
                    "class name of {} bytes is longer than its cell ({} bytes)",
                    self.class_len,
                    d.len()
                ),
            )
        })?;
        Ok(Some(utf16_lossy(b)))
    }

    /// The subkeys, in stored order (Windows keeps them sorted by upper-case
    /// name). Broken entries are yielded as `Err` between the good ones, so a
    /// caller can keep what is readable and report the rest.
    pub fn subkeys(&self) -> Subkeys<'h> {
        let mut lists = HashSet::new();
        let mut seen = HashSet::from([self.offset]);
        self.subkeys_sharing(&mut lists, &mut seen)
    }

    /// [`subkeys`](Self::subkeys) with the list and key sets shared by a
    /// whole walk, so nothing is enumerated twice.
    pub(crate) fn subkeys_sharing(
        &self,
        lists: &mut HashSet<u32>,
        keys: &mut HashSet<u32>,
    ) -> Subkeys<'h> {
        let mut c = Collect {
            hive: self.hive,
            lists,
            keys,
            out: Vec::new(),
            errors: Vec::new(),
            max: self.hive.limits().max_subkeys,
            items: 0,
        };
        if self.subkey_count != 0 && self.subkey_list != NONE {
            c.list(self.subkey_list, 0);
        }
        let (out, errors) = (c.out, c.errors);
        Subkeys {
            hive: self.hive,
            errors: errors.into_iter(),
            offsets: out.into_iter(),
        }
    }

    /// Just the readable subkeys, plus the problems met on the way.
    pub fn subkeys_lossy(&self) -> (Vec<Key<'h>>, Vec<RegfError>) {
        let mut good = Vec::new();
        let mut bad = Vec::new();
        for k in self.subkeys() {
            match k {
                Ok(k) => good.push(k),
                Err(e) => bad.push(e),
            }
        }
        (good, bad)
    }

    /// The subkey named `name` (case-insensitive). `Ok(None)` when no subkey
    /// has that name and every subkey could be read; when some could not,
    /// the first such error is returned instead, since the key may be among
    /// them.
    pub fn subkey(&self, name: &str) -> Result<Option<Key<'h>>> {
        let mut first_err = None;
        for k in self.subkeys() {
            match k {
                Ok(k) if k.name_eq(name) => return Ok(Some(k)),
                Ok(_) => {}
                Err(e) => {
                    first_err.get_or_insert(e);
                }
            }
        }
        first_err.map_or(Ok(None), Err)
    }

    /// Looks up a key by a `\`-separated path below this one
    /// (case-insensitive). `Ok(None)` when a component does not exist.
    pub fn open(&self, path: &str) -> Result<Option<Key<'h>>> {
        let mut key = *self;
        for part in path.split('\\').filter(|p| !p.is_empty()) {
            match key.subkey(part)? {
                Some(k) => key = k,
                None => return Ok(None),
            }
        }
        Ok(Some(key))
    }

    /// The values of the key, in stored order; broken entries are yielded
    /// as `Err`.
    pub fn values(&self) -> Values<'h> {
        Values::new(self.hive, self.offset, self.value_count, self.value_list)
    }

    /// The value named `name` (case-insensitive); `""` or `"(default)"`
    /// name the key's default (unnamed) value. `Ok(None)` when absent;
    /// as with [`subkey`](Self::subkey), an error when absent and some
    /// values could not be read.
    pub fn value(&self, name: &str) -> Result<Option<Value<'h>>> {
        let want = if eq_ignore_case(name, "(default)") {
            ""
        } else {
            name
        };
        let mut first_err = None;
        for v in self.values() {
            match v {
                Ok(v) if v.name_eq(want) => return Ok(Some(v)),
                Ok(_) => {}
                Err(e) => {
                    first_err.get_or_insert(e);
                }
            }
        }
        first_err.map_or(Ok(None), Err)
    }
}

/// Iterator over the subkeys of a key: `Ok` for each readable subkey, `Err`
/// for each problem (a damaged list, a damaged `nk` cell, a cycle, a limit).
#[derive(Debug)]
pub struct Subkeys<'h> {
    hive: &'h Hive<'h>,
    errors: std::vec::IntoIter<RegfError>,
    offsets: std::vec::IntoIter<u32>,
}

impl<'h> Iterator for Subkeys<'h> {
    type Item = Result<Key<'h>>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Some(e) = self.errors.next() {
            return Some(Err(e));
        }
        let off = self.offsets.next()?;
        Some(Key::read(self.hive, off))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.errors.len() + self.offsets.len();
        (n, Some(n))
    }
}

/// Enumerates the key offsets of a subkey list tree.
struct Collect<'h, 's> {
    hive: &'h Hive<'h>,
    lists: &'s mut HashSet<u32>,
    keys: &'s mut HashSet<u32>,
    out: Vec<u32>,
    errors: Vec<RegfError>,
    max: u32,
    items: u32,
}

impl Collect<'_, '_> {
    /// Walks the list at `offset`; returns false once the item limit is hit.
    fn list(&mut self, offset: u32, depth: u32) -> bool {
        let max_depth = self.hive.limits().max_list_depth;
        if depth > max_depth {
            self.errors.push(RegfError::Limit {
                offset,
                what: "subkey index (ri) nesting",
                value: u64::from(depth),
                limit: u64::from(max_depth),
            });
            return true;
        }
        if !self.lists.insert(offset) {
            self.errors.push(RegfError::Cycle {
                offset,
                what: "subkey list reached twice",
            });
            return true;
        }
        let d = match self.hive.cell(offset, "subkey list") {
            Ok(d) => d,
            Err(e) => {
                self.errors.push(e);
                return true;
            }
        };
        let sig = d.get(..2).unwrap_or(&[]);
        let (entry, is_index) = match sig {
            b"lf" | b"lh" => (8usize, false),
            b"li" => (4, false),
            b"ri" => (4, true),
            _ => {
                self.errors.push(RegfError::cell(
                    offset,
                    format!("signature {sig:02x?}, expected a subkey list (lf, lh, li, ri)"),
                ));
                return true;
            }
        };
        let count = usize::from(u16_at(d, 2).unwrap_or(0));
        let fits = d.len().saturating_sub(4) / entry;
        if count > fits {
            self.errors.push(RegfError::cell(
                offset,
                format!(
                    "{} list of {count} entries does not fit its cell ({} bytes); reading {fits}",
                    String::from_utf8_lossy(sig),
                    d.len()
                ),
            ));
        }
        for i in 0..count.min(fits) {
            let Some(off) = u32_at(d, 4 + i * entry) else {
                break;
            };
            if is_index {
                if !self.list(off, depth + 1) {
                    return false;
                }
                continue;
            }
            if self.items >= self.max {
                self.errors.push(RegfError::Limit {
                    offset,
                    what: "subkeys per key",
                    value: u64::from(self.items) + 1,
                    limit: u64::from(self.max),
                });
                return false;
            }
            self.items += 1;
            if self.keys.insert(off) {
                self.out.push(off);
            } else {
                self.errors.push(RegfError::Cycle {
                    offset: off,
                    what: "key listed twice",
                });
            }
        }
        true
    }
}
