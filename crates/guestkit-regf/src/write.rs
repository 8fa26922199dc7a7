//! A registry hive writer for test fixtures.
//!
//! [`HiveBuilder`] takes a tree of keys with typed values and emits a
//! complete regf file: a base block with its checksum, 4 KiB-multiple hive
//! bins fully tiled with cells, `nk` keys sharing one `sk` security cell,
//! `vk` values with inline, single-cell or `db` big data, value lists and
//! subkey lists of the chosen kind (`lf`, `lh`, `li`, or `ri` over `lh`).
//! Subkeys are stored sorted by upper-case name, as Windows keeps them.
//! Its output is checked by hivex's `hivexget`/`hivexregedit` in the tests.
//!
//! It is meant for building hives with known contents in tests (of this
//! crate and of the inspectors above it), not for editing real hives.
//!
//! ```
//! use guestkit_regf::write::HiveBuilder;
//! use guestkit_regf::{Hive, RegValue};
//!
//! let mut b = HiveBuilder::new();
//! b.set_value(
//!     "ControlSet001\\Control\\ComputerName\\ComputerName",
//!     "ComputerName",
//!     RegValue::Sz("TESTHOST".into()),
//! );
//! let bytes = b.build();
//! let hive = Hive::parse(&bytes).unwrap();
//! let key = hive.open("controlset001\\control\\computername\\computername").unwrap().unwrap();
//! assert_eq!(key.value("ComputerName").unwrap().unwrap().data().unwrap().as_string(), Some("TESTHOST"));
//! ```

use crate::base::{FileTime, BASE_BLOCK_SIZE};
use crate::key::{KEY_COMP_NAME, KEY_HIVE_ENTRY, KEY_NO_DELETE, NONE};
use crate::util::eq_ignore_case;
use crate::value::{RegValue, BIG_DATA_SEGMENT, VALUE_COMP_NAME};

/// One key of the tree to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyNode {
    /// The key's name.
    pub name: String,
    /// Optional class name.
    pub class: Option<String>,
    /// Last-written time.
    pub last_written: FileTime,
    /// Values, in the order they are stored (`""` names the default value).
    pub values: Vec<(String, RegValue)>,
    /// Subkeys (written sorted by upper-case name).
    pub subkeys: Vec<KeyNode>,
}

impl KeyNode {
    /// A key without values or subkeys.
    pub fn new(name: impl Into<String>) -> KeyNode {
        KeyNode {
            name: name.into(),
            class: None,
            last_written: DEFAULT_TIME,
            values: Vec::new(),
            subkeys: Vec::new(),
        }
    }

    /// The key at `path` below this one (`\`-separated, case-insensitive),
    /// created with its missing parents.
    pub fn key_mut(&mut self, path: &str) -> &mut KeyNode {
        let mut node = self;
        for part in path.split('\\').filter(|p| !p.is_empty()) {
            let i = match node
                .subkeys
                .iter()
                .position(|k| eq_ignore_case(&k.name, part))
            {
                Some(i) => i,
                None => {
                    node.subkeys.push(KeyNode::new(part));
                    node.subkeys.len() - 1
                }
            };
            node = &mut node.subkeys[i];
        }
        node
    }

    /// Sets the value `name` (replacing one of the same name, compared
    /// case-insensitively).
    pub fn set_value(&mut self, name: impl Into<String>, value: RegValue) -> &mut KeyNode {
        let name = name.into();
        match self
            .values
            .iter_mut()
            .find(|(n, _)| eq_ignore_case(n, &name))
        {
            Some(slot) => slot.1 = value,
            None => self.values.push((name, value)),
        }
        self
    }
}

/// How subkey lists are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubkeyListKind {
    /// `lf`: offsets with the first four name characters as hints.
    Lf,
    /// `lh`: offsets with name hashes (what current Windows writes).
    Lh,
    /// `li`: bare offsets.
    Li,
    /// `ri`: an index of `lh` lists of at most `per_leaf` entries each.
    Ri {
        /// Entries per leaf list (at least 1).
        per_leaf: u16,
    },
}

/// 2020-01-01T00:00:00Z.
const DEFAULT_TIME: FileTime = FileTime(132_223_104_000_000_000);

/// Builds a regf file from a [`KeyNode`] tree. See the [module](self) docs.
#[derive(Debug, Clone)]
pub struct HiveBuilder {
    root: KeyNode,
    lists: SubkeyListKind,
    minor: u32,
    sequence: (u32, u32),
    file_name: String,
    utf16_names: bool,
    last_written: FileTime,
}

impl Default for HiveBuilder {
    fn default() -> Self {
        HiveBuilder::new()
    }
}

impl HiveBuilder {
    /// An empty hive with a root key named `ROOT`, `lh` lists, version 1.5.
    pub fn new() -> HiveBuilder {
        HiveBuilder {
            root: KeyNode::new("ROOT"),
            lists: SubkeyListKind::Lh,
            minor: 5,
            sequence: (1, 1),
            file_name: String::new(),
            utf16_names: false,
            last_written: DEFAULT_TIME,
        }
    }

    /// The root key, to edit.
    pub fn root_mut(&mut self) -> &mut KeyNode {
        &mut self.root
    }

    /// The key at `path` below the root, created with its parents.
    pub fn key(&mut self, path: &str) -> &mut KeyNode {
        self.root.key_mut(path)
    }

    /// Sets value `name` of the key at `path` (created if needed).
    pub fn set_value(&mut self, path: &str, name: &str, value: RegValue) -> &mut HiveBuilder {
        self.root.key_mut(path).set_value(name, value);
        self
    }

    /// Chooses the kind of subkey lists (default `lh`).
    pub fn subkey_lists(&mut self, kind: SubkeyListKind) -> &mut HiveBuilder {
        self.lists = kind;
        self
    }

    /// Sets the minor format version (default 5). Below 4, large values
    /// are written in one cell instead of `db` segments.
    pub fn minor_version(&mut self, minor: u32) -> &mut HiveBuilder {
        self.minor = minor;
        self
    }

    /// Sets the primary and secondary sequence numbers; different numbers
    /// make a "dirty" hive.
    pub fn sequence_numbers(&mut self, primary: u32, secondary: u32) -> &mut HiveBuilder {
        self.sequence = (primary, secondary);
        self
    }

    /// Sets the file name recorded in the base block (at most 31 UTF-16
    /// units are kept).
    pub fn file_name(&mut self, name: &str) -> &mut HiveBuilder {
        self.file_name = name.to_owned();
        self
    }

    /// Stores every key and value name as UTF-16LE, even when it would fit
    /// Latin-1.
    pub fn utf16_names(&mut self, on: bool) -> &mut HiveBuilder {
        self.utf16_names = on;
        self
    }

    /// Sets the base block's last-written time.
    pub fn last_written(&mut self, t: FileTime) -> &mut HiveBuilder {
        self.last_written = t;
        self
    }

    /// Emits the hive file.
    pub fn build(&self) -> Vec<u8> {
        let mut w = Writer {
            cells: Cells::new(self.last_written),
            lists: self.lists,
            minor: self.minor,
            utf16_names: self.utf16_names,
            sk: 0,
            keys: 0,
        };
        let sk = w.sk();
        let root_off = w.key(&self.root, 0, true);
        w.cells.patch_u32(sk + 4 + 12, w.keys);
        let bins = w.cells.finish();
        let mut out = vec![0u8; BASE_BLOCK_SIZE];
        out[..4].copy_from_slice(b"regf");
        put32(&mut out, 0x04, self.sequence.0);
        put32(&mut out, 0x08, self.sequence.1);
        out[0x0C..0x14].copy_from_slice(&self.last_written.0.to_le_bytes());
        put32(&mut out, 0x14, 1);
        put32(&mut out, 0x18, self.minor);
        put32(&mut out, 0x1C, 0);
        put32(&mut out, 0x20, 1);
        put32(&mut out, 0x24, root_off);
        put32(&mut out, 0x28, bins.len() as u32);
        put32(&mut out, 0x2C, 1);
        for (i, u) in self.file_name.encode_utf16().take(31).enumerate() {
            out[0x30 + 2 * i..0x32 + 2 * i].copy_from_slice(&u.to_le_bytes());
        }
        let xor = out[..0x1FC].chunks_exact(4).fold(0u32, |x, c| {
            x ^ u32::from_le_bytes([c[0], c[1], c[2], c[3]])
        });
        let sum = match xor {
            0 => 1,
            u32::MAX => u32::MAX - 1,
            x => x,
        };
        put32(&mut out, 0x1FC, sum);
        out.extend_from_slice(&bins);
        out
    }
}

fn put32(b: &mut [u8], at: usize, v: u32) {
    b[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

/// A name as stored: Latin-1 when possible (and allowed), else UTF-16LE.
fn encode_name(name: &str, utf16: bool) -> (Vec<u8>, bool) {
    if !utf16 && name.chars().all(|c| u32::from(c) < 0x100) {
        (name.chars().map(|c| c as u8).collect(), true)
    } else {
        (
            name.encode_utf16().flat_map(u16::to_le_bytes).collect(),
            false,
        )
    }
}

/// Upper case as the registry compares names.
fn upper(name: &str) -> String {
    name.chars().flat_map(char::to_uppercase).collect()
}

/// The `lh` hash of a name.
fn lh_hash(name: &str) -> u32 {
    upper(name)
        .encode_utf16()
        .fold(0u32, |h, u| h.wrapping_mul(37).wrapping_add(u32::from(u)))
}

/// The `lf` hint: the first four name characters, as bytes.
fn lf_hint(name: &str) -> u32 {
    let mut b = [0u8; 4];
    for (slot, c) in b.iter_mut().zip(name.chars()) {
        *slot = u8::try_from(u32::from(c)).unwrap_or(0);
    }
    u32::from_le_bytes(b)
}

/// Allocator of cells in hive bins.
struct Cells {
    buf: Vec<u8>,
    bin_start: usize,
    bin_end: usize,
    time: FileTime,
}

impl Cells {
    fn new(time: FileTime) -> Cells {
        Cells {
            buf: Vec::new(),
            bin_start: 0,
            bin_end: 0,
            time,
        }
    }

    /// Fills the rest of the current bin with a free cell.
    fn close_bin(&mut self) {
        let rest = self.bin_end - self.buf.len();
        if rest > 0 {
            let at = self.buf.len();
            self.buf.resize(self.bin_end, 0);
            put32(&mut self.buf, at, rest as u32);
        }
    }

    /// Allocates a cell for `len` bytes of data; returns its offset.
    fn alloc(&mut self, len: usize) -> u32 {
        let size = (len + 4).div_ceil(8) * 8;
        if self.bin_end - self.buf.len() < size {
            self.close_bin();
            let bin_size = (0x20 + size).div_ceil(0x1000) * 0x1000;
            self.bin_start = self.buf.len();
            self.bin_end = self.bin_start + bin_size;
            let mut hdr = [0u8; 0x20];
            hdr[..4].copy_from_slice(b"hbin");
            put32(&mut hdr, 4, self.bin_start as u32);
            put32(&mut hdr, 8, bin_size as u32);
            if self.bin_start == 0 {
                hdr[0x14..0x1C].copy_from_slice(&self.time.0.to_le_bytes());
            }
            self.buf.extend_from_slice(&hdr);
        }
        let at = self.buf.len();
        self.buf.resize(at + size, 0);
        put32(&mut self.buf, at, (size as i32).wrapping_neg() as u32);
        at as u32
    }

    /// Allocates a cell holding `data`.
    fn put(&mut self, data: &[u8]) -> u32 {
        let off = self.alloc(data.len());
        self.write(off, data);
        off
    }

    /// Writes `data` at the start of the cell at `off`.
    fn write(&mut self, off: u32, data: &[u8]) {
        let at = off as usize + 4;
        self.buf[at..at + data.len()].copy_from_slice(data);
    }

    fn patch_u32(&mut self, at: u32, v: u32) {
        put32(&mut self.buf, at as usize, v);
    }

    fn finish(mut self) -> Vec<u8> {
        self.close_bin();
        self.buf
    }
}

struct Writer {
    cells: Cells,
    lists: SubkeyListKind,
    minor: u32,
    utf16_names: bool,
    sk: u32,
    keys: u32,
}

impl Writer {
    /// Writes the security cell shared by every key (owner and group:
    /// Administrators; NULL DACL). Its reference count is patched at the end.
    fn sk(&mut self) -> u32 {
        let mut sid = vec![1u8, 2, 0, 0, 0, 0, 0, 5];
        sid.extend_from_slice(&32u32.to_le_bytes());
        sid.extend_from_slice(&544u32.to_le_bytes());
        let mut desc = vec![1u8, 0, 0x04, 0x80];
        for v in [20u32, 36, 0, 0] {
            desc.extend_from_slice(&v.to_le_bytes());
        }
        desc.extend_from_slice(&sid);
        desc.extend_from_slice(&sid);
        let off = self.cells.alloc(20 + desc.len());
        let mut d = b"sk\0\0".to_vec();
        for v in [off, off, 0, desc.len() as u32] {
            d.extend_from_slice(&v.to_le_bytes());
        }
        d.extend_from_slice(&desc);
        self.cells.write(off, &d);
        self.sk = off;
        off
    }

    fn key(&mut self, node: &KeyNode, parent: u32, is_root: bool) -> u32 {
        self.keys += 1;
        let (name, compressed) = encode_name(&node.name, self.utf16_names);
        let nk = self.cells.alloc(0x4C + name.len());

        let (class_off, class_len) = match &node.class {
            Some(c) => {
                let b: Vec<u8> = c.encode_utf16().flat_map(u16::to_le_bytes).collect();
                (self.cells.put(&b), b.len())
            }
            None => (NONE, 0),
        };

        let mut vks = Vec::new();
        let (mut max_vname, mut max_vdata) = (0usize, 0usize);
        for (vname, value) in &node.values {
            let data = value.to_bytes();
            max_vname = max_vname.max(vname.encode_utf16().count() * 2);
            max_vdata = max_vdata.max(data.len());
            vks.push(self.value(vname, value.kind(), &data));
        }
        let value_list = if vks.is_empty() {
            NONE
        } else {
            let b: Vec<u8> = vks.iter().flat_map(|o| o.to_le_bytes()).collect();
            self.cells.put(&b)
        };

        let mut children: Vec<&KeyNode> = node.subkeys.iter().collect();
        children.sort_by_cached_key(|k| upper(&k.name));
        let mut entries = Vec::new();
        let (mut max_kname, mut max_kclass) = (0usize, 0usize);
        for c in children {
            max_kname = max_kname.max(c.name.encode_utf16().count() * 2);
            max_kclass = max_kclass.max(
                c.class
                    .as_deref()
                    .map_or(0, |s| s.encode_utf16().count() * 2),
            );
            entries.push((self.key(c, nk, false), c.name.as_str()));
        }
        let subkey_list = if entries.is_empty() {
            NONE
        } else {
            self.subkey_list(&entries)
        };

        let mut flags = if compressed { KEY_COMP_NAME } else { 0 };
        if is_root {
            flags |= KEY_HIVE_ENTRY | KEY_NO_DELETE;
        }
        let mut d = Vec::with_capacity(0x4C + name.len());
        d.extend_from_slice(b"nk");
        d.extend_from_slice(&flags.to_le_bytes());
        d.extend_from_slice(&node.last_written.0.to_le_bytes());
        for v in [
            0, // access bits
            parent,
            entries.len() as u32,
            0, // volatile subkeys
            subkey_list,
            NONE, // volatile subkey list
            vks.len() as u32,
            value_list,
            self.sk,
            class_off,
            max_kname as u32,
            max_kclass as u32,
            max_vname as u32,
            max_vdata as u32,
            0, // work var
        ] {
            d.extend_from_slice(&v.to_le_bytes());
        }
        d.extend_from_slice(&(name.len() as u16).to_le_bytes());
        d.extend_from_slice(&(class_len as u16).to_le_bytes());
        d.extend_from_slice(&name);
        self.cells.write(nk, &d);
        nk
    }

    fn value(&mut self, name: &str, kind: u32, data: &[u8]) -> u32 {
        let (vname, compressed) = encode_name(name, self.utf16_names);
        let (size, data_off) = if data.len() <= 4 {
            let mut b = [0u8; 4];
            b[..data.len()].copy_from_slice(data);
            (0x8000_0000 | data.len() as u32, u32::from_le_bytes(b))
        } else if data.len() > BIG_DATA_SEGMENT as usize && self.minor >= 4 {
            let segs: Vec<u32> = data
                .chunks(BIG_DATA_SEGMENT as usize)
                .map(|c| self.cells.put(c))
                .collect();
            let list: Vec<u8> = segs.iter().flat_map(|o| o.to_le_bytes()).collect();
            let list_off = self.cells.put(&list);
            let mut db = b"db".to_vec();
            db.extend_from_slice(&(segs.len() as u16).to_le_bytes());
            db.extend_from_slice(&list_off.to_le_bytes());
            db.extend_from_slice(&0u32.to_le_bytes());
            (data.len() as u32, self.cells.put(&db))
        } else {
            (data.len() as u32, self.cells.put(data))
        };
        let mut d = b"vk".to_vec();
        d.extend_from_slice(&(vname.len() as u16).to_le_bytes());
        d.extend_from_slice(&size.to_le_bytes());
        d.extend_from_slice(&data_off.to_le_bytes());
        d.extend_from_slice(&kind.to_le_bytes());
        let flags = if compressed { VALUE_COMP_NAME } else { 0 };
        d.extend_from_slice(&flags.to_le_bytes());
        d.extend_from_slice(&0u16.to_le_bytes());
        d.extend_from_slice(&vname);
        self.cells.put(&d)
    }

    fn subkey_list(&mut self, entries: &[(u32, &str)]) -> u32 {
        let kind = match self.lists {
            SubkeyListKind::Ri { per_leaf } => Some(per_leaf.max(1)),
            _ if entries.len() > usize::from(u16::MAX) => Some(0x8000),
            _ => None,
        };
        if let Some(per_leaf) = kind {
            let leaves: Vec<u32> = entries
                .chunks(usize::from(per_leaf))
                .map(|c| self.leaf_list(b"lh", c))
                .collect();
            let mut d = b"ri".to_vec();
            d.extend_from_slice(&(leaves.len() as u16).to_le_bytes());
            for o in leaves {
                d.extend_from_slice(&o.to_le_bytes());
            }
            return self.cells.put(&d);
        }
        let sig: &[u8; 2] = match self.lists {
            SubkeyListKind::Lf => b"lf",
            SubkeyListKind::Li => b"li",
            _ => b"lh",
        };
        self.leaf_list(sig, entries)
    }

    fn leaf_list(&mut self, sig: &[u8; 2], entries: &[(u32, &str)]) -> u32 {
        let mut d = sig.to_vec();
        d.extend_from_slice(&(entries.len() as u16).to_le_bytes());
        for (off, name) in entries {
            d.extend_from_slice(&off.to_le_bytes());
            match sig {
                b"lf" => d.extend_from_slice(&lf_hint(name).to_le_bytes()),
                b"lh" => d.extend_from_slice(&lh_hash(name).to_le_bytes()),
                _ => {}
            }
        }
        self.cells.put(&d)
    }
}
