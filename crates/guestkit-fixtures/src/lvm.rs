//! An LVM2 writer of our own: PV labels, PV headers, metadata-area headers and
//! text metadata written onto plain image files, byte for byte as LVM 2.03
//! writes them — no lvm tools, no device-mapper, no root.
//!
//! Layout written for each PV (offsets from the PV start, which may be a
//! partition inside the file):
//!
//! - sector 1: `label_header` ("LABELONE", sector 1, LVM CRC, offset 32,
//!   "LVM2 001") followed by the `pv_header`: uuid, device size, one data area
//!   `{pe_start, 0}`, one metadata area `{4096, pe_start - 4096}`, and the
//!   `pv_header_extension` (version 2, flags 1 = in a VG);
//! - 4096: the `mda_header` (CRC, magic `" LVM2 x[5A%r0N*>"`, version 1,
//!   start, size, committed `raw_locn`);
//! - the metadata text, NUL-terminated, at 512 bytes into the area for the
//!   first write and after the previous text (rounded up to 512 bytes,
//!   wrapping around the circular buffer) for each later write;
//! - extents from `pe_start` (1 MiB by default).
//!
//! A [`VgSpec`] knows where every LV extent lands, so tests can fill each LV
//! with a known pattern ([`VgSpec::write_lv_data`]) and read it back through
//! the reader under test.

use std::fs::OpenOptions;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use crate::{FixtureError, Result};

/// LVM's sector size.
pub const SECTOR: u64 = 512;
/// Default start of the data area (pvcreate's 1 MiB alignment).
pub const DEFAULT_PE_START: u64 = 1 << 20;
/// Offset of the first metadata area on a PV.
pub const MDA_OFFSET: u64 = 4096;
/// Size of the metadata-area header.
pub const MDA_HEADER_SIZE: u64 = 512;
/// Magic of the metadata-area header.
pub const MDA_MAGIC: &[u8; 16] = b" LVM2 x[5A%r0N*>";
/// Initial value of LVM's CRC.
pub const CRC_INITIAL: u32 = 0xf597_a6cf;

/// LVM's CRC-32 (`calc_crc`): reflected polynomial 0xEDB88320, started from
/// `initial`, no inversions. Written bit by bit, independently of the reader.
pub fn lvm_crc(initial: u32, data: &[u8]) -> u32 {
    let mut c = initial;
    for &b in data {
        c ^= u32::from(b);
        for _ in 0..8 {
            c = (c >> 1) ^ if c & 1 != 0 { 0xEDB8_8320 } else { 0 };
        }
    }
    c
}

/// A deterministic 32-character LVM id derived from `seed`.
pub fn make_id(seed: &str) -> String {
    const CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#";
    let mut state = lvm_crc(CRC_INITIAL, seed.as_bytes()) as u64 | 1;
    (0..32)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            char::from(CHARS[(state % 62) as usize])
        })
        .collect()
}

/// An id in LVM's dashed 6-4-4-4-4-4-6 form.
pub fn dashed(id: &str) -> String {
    let mut out = String::new();
    let mut rest = id;
    for (i, len) in [6usize, 4, 4, 4, 4, 4, 6].into_iter().enumerate() {
        if i > 0 {
            out.push('-');
        }
        let (head, tail) = rest.split_at(len.min(rest.len()));
        out.push_str(head);
        rest = tail;
    }
    out
}

/// One physical volume: a byte range of an image file.
#[derive(Debug, Clone)]
pub struct PvSpec {
    /// Name inside the VG metadata ("pv0").
    pub name: String,
    /// 32-character id without dashes.
    pub uuid: String,
    /// Image file holding the PV.
    pub path: PathBuf,
    /// Byte offset of the PV inside the file (0 for a whole disk, the
    /// partition start otherwise).
    pub offset: u64,
    /// PV device size, bytes.
    pub size: u64,
    /// Device path recorded in the metadata ("/dev/sda2").
    pub device_hint: String,
    /// Start of the data area, bytes.
    pub pe_start: u64,
}

impl PvSpec {
    /// A PV of `size` bytes at `offset` in `path` with the default layout and
    /// an id derived from `name` and the file name.
    pub fn new(name: &str, path: &Path, offset: u64, size: u64, device_hint: &str) -> Self {
        PvSpec {
            name: name.to_string(),
            uuid: make_id(&format!("pv {name} {}", path.display())),
            path: path.to_path_buf(),
            offset,
            size,
            device_hint: device_hint.to_string(),
            pe_start: DEFAULT_PE_START,
        }
    }
}

/// One LV segment.
#[derive(Debug, Clone)]
pub struct SegmentSpec {
    /// LV extents covered.
    pub extent_count: u64,
    /// Segment type ("striped" for linear and striped).
    pub seg_type: String,
    /// (PV index, first PV extent) of each stripe.
    pub stripes: Vec<(usize, u64)>,
    /// Stripe size in bytes (used with more than one stripe).
    pub stripe_size: u64,
    /// Extra `key = value` lines for other segment types (thin, raid ...).
    pub extra: Vec<String>,
}

impl SegmentSpec {
    /// `count` extents of PV `pv` from extent `start`.
    pub fn linear(pv: usize, start: u64, count: u64) -> Self {
        SegmentSpec {
            extent_count: count,
            seg_type: "striped".into(),
            stripes: vec![(pv, start)],
            stripe_size: 0,
            extra: Vec::new(),
        }
    }

    /// `count` extents striped over `stripes` with `stripe_size` bytes.
    pub fn striped(stripes: Vec<(usize, u64)>, stripe_size: u64, count: u64) -> Self {
        SegmentSpec {
            extent_count: count,
            seg_type: "striped".into(),
            stripes,
            stripe_size,
            extra: Vec::new(),
        }
    }

    /// A segment of another type with its own lines (no data written).
    pub fn other(seg_type: &str, count: u64, extra: &[&str]) -> Self {
        SegmentSpec {
            extent_count: count,
            seg_type: seg_type.into(),
            stripes: Vec::new(),
            stripe_size: 0,
            extra: extra.iter().map(|s| s.to_string()).collect(),
        }
    }
}

/// One LV.
#[derive(Debug, Clone)]
pub struct LvSpec {
    /// Name.
    pub name: String,
    /// 32-character id.
    pub uuid: String,
    /// Status flags.
    pub status: Vec<String>,
    /// Segments in order.
    pub segments: Vec<SegmentSpec>,
}

impl LvSpec {
    /// A visible read-write LV with an id derived from its name.
    pub fn new(name: &str, segments: Vec<SegmentSpec>) -> Self {
        LvSpec {
            name: name.into(),
            uuid: make_id(&format!("lv {name}")),
            status: vec!["READ".into(), "WRITE".into(), "VISIBLE".into()],
            segments,
        }
    }
}

/// A volume group and everything needed to write it.
#[derive(Debug, Clone)]
pub struct VgSpec {
    /// VG name.
    pub name: String,
    /// 32-character id.
    pub uuid: String,
    /// Metadata sequence number.
    pub seqno: u64,
    /// Extent size, bytes (a multiple of 512).
    pub extent_size: u64,
    /// PVs.
    pub pvs: Vec<PvSpec>,
    /// LVs.
    pub lvs: Vec<LvSpec>,
    /// `creation_time` (seconds since the epoch) of the LVs and the text.
    pub creation_time: u64,
    /// `creation_host`.
    pub creation_host: String,
    /// Comment after the top-level `creation_host` (LVM writes `uname -a`-like text).
    pub host_comment: String,
    /// `description` (LVM records the command line).
    pub description: String,
    /// LVM version in the "# Generated by" line.
    pub lvm_version: String,
}

impl VgSpec {
    /// A VG with 1 MiB extents over `pvs`, seqno 1.
    pub fn new(name: &str, pvs: Vec<PvSpec>, lvs: Vec<LvSpec>) -> Self {
        VgSpec {
            name: name.into(),
            uuid: make_id(&format!("vg {name}")),
            seqno: 1,
            extent_size: 1 << 20,
            pvs,
            lvs,
            creation_time: 1_700_000_000,
            creation_host: "guestkit".into(),
            host_comment: "Linux guestkit 6.1.0 #1 SMP x86_64".into(),
            description: String::new(),
            lvm_version: "2.03.16(2) (2022-05-18)".into(),
        }
    }

    /// Extents of PV `pv`.
    pub fn pe_count(&self, pv: usize) -> u64 {
        self.pvs
            .get(pv)
            .map(|p| p.size.saturating_sub(p.pe_start) / self.extent_size)
            .unwrap_or(0)
    }

    /// The LV named `name`.
    pub fn lv(&self, name: &str) -> Option<&LvSpec> {
        self.lvs.iter().find(|l| l.name == name)
    }

    /// Size of LV `name` in bytes.
    pub fn lv_size(&self, name: &str) -> u64 {
        self.lv(name)
            .map(|l| l.segments.iter().map(|s| s.extent_count).sum::<u64>() * self.extent_size)
            .unwrap_or(0)
    }

    /// The metadata text exactly as LVM 2.03 writes it into a metadata area.
    pub fn metadata_text(&self) -> String {
        let sectors = |b: u64| b / SECTOR;
        let mut t = format!(
            "{} {{\nid = \"{}\"\nseqno = {}\nformat = \"lvm2\"\n\
             status = [\"RESIZEABLE\", \"READ\", \"WRITE\"]\nflags = []\n\
             extent_size = {}\nmax_lv = 0\nmax_pv = 0\nmetadata_copies = 0\n\n\
             physical_volumes {{\n\n",
            self.name,
            dashed(&self.uuid),
            self.seqno,
            sectors(self.extent_size)
        );
        let pvs: Vec<String> = self
            .pvs
            .iter()
            .enumerate()
            .map(|(i, p)| {
                format!(
                    "{} {{\nid = \"{}\"\ndevice = \"{}\"\n\nstatus = [\"ALLOCATABLE\"]\n\
                     flags = []\ndev_size = {}\npe_start = {}\npe_count = {}\n}}\n",
                    p.name,
                    dashed(&p.uuid),
                    p.device_hint,
                    sectors(p.size),
                    sectors(p.pe_start),
                    self.pe_count(i)
                )
            })
            .collect();
        t += &pvs.join("\n");
        t += "}\n";
        if !self.lvs.is_empty() {
            t += "\nlogical_volumes {\n\n";
            let lvs: Vec<String> = self.lvs.iter().map(|lv| self.lv_text(lv)).collect();
            t += &lvs.join("\n");
            t += "}\n";
        }
        t += "\n}\n";
        t += &format!(
            "# Generated by LVM2 version {}: {}\n\n\
             contents = \"Text Format Volume Group\"\nversion = 1\n\n\
             description = \"{}\"\n\n\
             creation_host = \"{}\"\t# {}\n\
             creation_time = {}\t# {}\n\n",
            self.lvm_version,
            ctime(self.creation_time),
            escape(&self.description),
            escape(&self.creation_host),
            self.host_comment,
            self.creation_time,
            ctime(self.creation_time)
        );
        t
    }

    fn lv_text(&self, lv: &LvSpec) -> String {
        let status: Vec<String> = lv.status.iter().map(|s| format!("\"{s}\"")).collect();
        let mut t = format!(
            "{} {{\nid = \"{}\"\nstatus = [{}]\nflags = []\ncreation_time = {}\n\
             creation_host = \"{}\"\nsegment_count = {}\n\n",
            lv.name,
            dashed(&lv.uuid),
            status.join(", "),
            self.creation_time,
            escape(&self.creation_host),
            lv.segments.len()
        );
        let mut start = 0;
        for (i, seg) in lv.segments.iter().enumerate() {
            t += &format!(
                "segment{} {{\nstart_extent = {start}\nextent_count = {}\n\ntype = \"{}\"\n",
                i + 1,
                seg.extent_count,
                seg.seg_type
            );
            if seg.seg_type == "striped" {
                t += &format!("stripe_count = {}\n", seg.stripes.len());
                if seg.stripes.len() > 1 {
                    t += &format!("stripe_size = {}\n", seg.stripe_size / SECTOR);
                }
                let stripes: Vec<String> = seg
                    .stripes
                    .iter()
                    .map(|(pv, pe)| {
                        let name = self.pvs.get(*pv).map(|p| p.name.as_str()).unwrap_or("pv?");
                        format!("\"{name}\", {pe}")
                    })
                    .collect();
                t += &format!("\nstripes = [\n{}\n]\n", stripes.join(",\n"));
            }
            for line in &seg.extra {
                t += line;
                t += "\n";
            }
            t += "}\n";
            start += seg.extent_count;
        }
        t += "}\n";
        t
    }

    /// Where LV `name`'s bytes land: (LV offset, length, PV index, byte
    /// offset in the PV's image file), in LV order.
    pub fn lv_map(&self, name: &str) -> Result<Vec<Mapping>> {
        let lv = self
            .lv(name)
            .ok_or_else(|| recipe_error(format!("no LV {name}")))?;
        let mut out = Vec::new();
        let mut lv_off = 0u64;
        for seg in &lv.segments {
            let len = seg.extent_count * self.extent_size;
            let n = seg.stripes.len() as u64;
            if seg.seg_type != "striped" || n == 0 {
                lv_off += len;
                continue;
            }
            let area_start = |i: usize| -> Result<(usize, u64)> {
                let (pv, pe) = seg.stripes[i];
                let p = self
                    .pvs
                    .get(pv)
                    .ok_or_else(|| recipe_error(format!("no PV {pv}")))?;
                Ok((pv, p.offset + p.pe_start + pe * self.extent_size))
            };
            if n == 1 {
                let (pv, file_offset) = area_start(0)?;
                out.push(Mapping {
                    lv_offset: lv_off,
                    len,
                    pv,
                    file_offset,
                });
            } else {
                let sb = seg.stripe_size;
                for chunk in 0..len / sb {
                    let (pv, base) = area_start((chunk % n) as usize)?;
                    out.push(Mapping {
                        lv_offset: lv_off + chunk * sb,
                        len: sb,
                        pv,
                        file_offset: base + (chunk / n) * sb,
                    });
                }
            }
            lv_off += len;
        }
        Ok(out)
    }

    /// Writes `data` (at most the LV's size) as the contents of LV `name`.
    pub fn write_lv_data(&self, name: &str, data: &[u8]) -> Result<()> {
        for m in self.lv_map(name)? {
            let Some(src) = data.get(m.lv_offset as usize..) else {
                break;
            };
            let src = &src[..src.len().min(m.len as usize)];
            let path = &self.pvs[m.pv].path;
            open_rw(path)?
                .write_all_at(src, m.file_offset)
                .map_err(|e| FixtureError::io(path, e))?;
        }
        Ok(())
    }
}

/// A contiguous run of LV bytes on one PV.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mapping {
    /// First LV byte.
    pub lv_offset: u64,
    /// Bytes.
    pub len: u64,
    /// PV index in the VG spec.
    pub pv: usize,
    /// Byte offset inside the PV's image file.
    pub file_offset: u64,
}

fn recipe_error(message: String) -> FixtureError {
    FixtureError::Recipe {
        recipe: "lvm".into(),
        message,
    }
}

fn escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

/// `ctime`-style UTC date ("Tue Nov 24 05:58:59 2026") of `t`.
fn ctime(t: u64) -> String {
    let days = (t / 86_400) as i64;
    let secs = t % 86_400;
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    const WD: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MON: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    format!(
        "{} {} {:2} {:02}:{:02}:{:02} {year}",
        WD[(days.rem_euclid(7)) as usize],
        MON[(month - 1) as usize],
        day,
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

fn open_rw(path: &Path) -> Result<std::fs::File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .map_err(|e| FixtureError::io(path, e))
}

fn put_u32(buf: &mut [u8], at: usize, v: u32) {
    buf[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

fn put_u64(buf: &mut [u8], at: usize, v: u64) {
    buf[at..at + 8].copy_from_slice(&v.to_le_bytes());
}

/// Writes the label sector (sector 1) with the PV header of `pv`, and an
/// empty metadata-area header, growing the file when it is too short.
/// `in_vg` sets the extension flag pvcreate clears and vgcreate sets.
pub fn write_pv(pv: &PvSpec, in_vg: bool) -> Result<()> {
    let f = open_rw(&pv.path)?;
    let len = f
        .metadata()
        .map_err(|e| FixtureError::io(&pv.path, e))?
        .len();
    if len < pv.offset + pv.size {
        f.set_len(pv.offset + pv.size)
            .map_err(|e| FixtureError::io(&pv.path, e))?;
    }
    if pv.uuid.len() != 32 || pv.pe_start <= MDA_OFFSET + MDA_HEADER_SIZE {
        return Err(recipe_error(format!("bad PV spec {pv:?}")));
    }
    let mut s = vec![0u8; SECTOR as usize];
    s[..8].copy_from_slice(b"LABELONE");
    put_u64(&mut s, 8, 1);
    put_u32(&mut s, 20, 32);
    s[24..32].copy_from_slice(b"LVM2 001");
    s[32..64].copy_from_slice(pv.uuid.as_bytes());
    put_u64(&mut s, 64, pv.size);
    put_u64(&mut s, 72, pv.pe_start); // data area, size 0 = to the end
    put_u64(&mut s, 104, MDA_OFFSET); // metadata area
    put_u64(&mut s, 112, pv.pe_start - MDA_OFFSET);
    put_u32(&mut s, 136, 2); // pv_header_extension.version
    put_u32(&mut s, 140, u32::from(in_vg));
    let crc = lvm_crc(CRC_INITIAL, &s[20..]);
    put_u32(&mut s, 16, crc);
    f.write_all_at(&s, pv.offset + SECTOR)
        .map_err(|e| FixtureError::io(&pv.path, e))?;
    write_mda_header(pv, None)
}

fn write_mda_header(pv: &PvSpec, locn: Option<(u64, u64, u32)>) -> Result<()> {
    let mut h = vec![0u8; MDA_HEADER_SIZE as usize];
    h[4..20].copy_from_slice(MDA_MAGIC);
    put_u32(&mut h, 20, 1);
    put_u64(&mut h, 24, MDA_OFFSET);
    put_u64(&mut h, 32, pv.pe_start - MDA_OFFSET);
    if let Some((offset, size, checksum)) = locn {
        put_u64(&mut h, 40, offset);
        put_u64(&mut h, 48, size);
        put_u32(&mut h, 56, checksum);
    }
    let crc = lvm_crc(CRC_INITIAL, &h[4..]);
    put_u32(&mut h, 0, crc);
    open_rw(&pv.path)?
        .write_all_at(&h, pv.offset + MDA_OFFSET)
        .map_err(|e| FixtureError::io(&pv.path, e))
}

/// The committed (offset, size) recorded in `pv`'s metadata-area header.
pub fn committed_locn(pv: &PvSpec) -> Result<Option<(u64, u64)>> {
    let mut h = [0u8; 64];
    open_rw(&pv.path)?
        .read_exact_at(&mut h, pv.offset + MDA_OFFSET)
        .map_err(|e| FixtureError::io(&pv.path, e))?;
    let offset = u64::from_le_bytes(h[40..48].try_into().unwrap_or_default());
    let size = u64::from_le_bytes(h[48..56].try_into().unwrap_or_default());
    Ok((offset != 0).then_some((offset, size)))
}

/// Writes `text` as the new committed metadata of `pv` where LVM would put
/// it: 512 bytes into the area for the first write, otherwise after the
/// previous text rounded up to 512 bytes (back to the start when fewer than
/// 512 bytes remain), wrapping around the circular buffer.
pub fn write_metadata(pv: &PvSpec, text: &str) -> Result<()> {
    let area = pv.pe_start - MDA_OFFSET;
    let offset = match committed_locn(pv)? {
        None => MDA_HEADER_SIZE,
        Some((off, size)) => {
            let next = (off + size).div_ceil(SECTOR) * SECTOR;
            if next >= area || area - next < SECTOR {
                MDA_HEADER_SIZE
            } else {
                next
            }
        }
    };
    write_metadata_at(pv, text, offset)
}

/// Writes `text` (plus its NUL) at `offset` bytes into `pv`'s metadata area,
/// continuing after the area header when it reaches the end, and commits it.
pub fn write_metadata_at(pv: &PvSpec, text: &str, offset: u64) -> Result<()> {
    let area = pv.pe_start - MDA_OFFSET;
    let mut bytes = text.as_bytes().to_vec();
    bytes.push(0);
    let size = bytes.len() as u64;
    if offset < MDA_HEADER_SIZE || offset >= area || size > area - MDA_HEADER_SIZE {
        return Err(recipe_error(format!(
            "metadata of {size} bytes at {offset} does not fit the {area}-byte area"
        )));
    }
    let first = size.min(area - offset) as usize;
    let f = open_rw(&pv.path)?;
    let base = pv.offset + MDA_OFFSET;
    f.write_all_at(&bytes[..first], base + offset)
        .map_err(|e| FixtureError::io(&pv.path, e))?;
    if first < bytes.len() {
        f.write_all_at(&bytes[first..], base + MDA_HEADER_SIZE)
            .map_err(|e| FixtureError::io(&pv.path, e))?;
    }
    write_mda_header(pv, Some((offset, size, lvm_crc(CRC_INITIAL, &bytes))))
}

/// Writes the labels, PV headers and metadata of every PV of `vg`.
pub fn write_vg(vg: &VgSpec) -> Result<()> {
    let text = vg.metadata_text();
    for pv in &vg.pvs {
        write_pv(pv, true)?;
        write_metadata(pv, &text)?;
    }
    Ok(())
}

/// A deterministic, position-dependent pattern for LV `name`: each 512-byte
/// block starts with "lv NAME block N" and continues with pseudo-random bytes,
/// so a misplaced block is detected.
pub fn lv_pattern(name: &str, len: usize) -> Vec<u8> {
    let seed = u64::from(lvm_crc(CRC_INITIAL, name.as_bytes()));
    let mut out = Vec::with_capacity(len);
    let mut block = 0u64;
    while out.len() < len {
        let mut b = format!("lv {name} block {block}\n").into_bytes();
        let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ block.wrapping_add(1) | 1;
        while b.len() < SECTOR as usize {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            b.push(state as u8);
        }
        b.truncate(len - out.len());
        out.extend_from_slice(&b);
        block += 1;
    }
    out
}

/// The standard LVM fixture's layout in `dir`: VG `vg0` (1 MiB extents) over
/// `disk0.raw` (whole-disk PV, 40 MiB) and `disk1.raw` (PV in MBR partition 1
/// at 1 MiB, 38 MiB). LVs: `root` linear in three non-contiguous segments on
/// pv0; `data` striped over pv0 and pv1 (2 stripes of 64 KiB); `span` linear
/// over pv1 then pv0; `tail` on pv1.
pub fn standard_spec(dir: &Path) -> VgSpec {
    let pv0 = PvSpec::new("pv0", &dir.join("disk0.raw"), 0, 40 << 20, "/dev/vda");
    let pv1 = PvSpec::new(
        "pv1",
        &dir.join("disk1.raw"),
        1 << 20,
        38 << 20,
        "/dev/vdb1",
    );
    let lvs = vec![
        LvSpec::new(
            "root",
            vec![
                SegmentSpec::linear(0, 0, 3),
                SegmentSpec::linear(0, 8, 2),
                SegmentSpec::linear(0, 20, 4),
            ],
        ),
        LvSpec::new(
            "data",
            vec![SegmentSpec::striped(vec![(0, 4), (1, 0)], 64 << 10, 4)],
        ),
        LvSpec::new(
            "span",
            vec![SegmentSpec::linear(1, 5, 3), SegmentSpec::linear(0, 14, 1)],
        ),
        LvSpec::new("tail", vec![SegmentSpec::linear(1, 10, 1)]),
    ];
    VgSpec::new("vg0", vec![pv0, pv1], lvs)
}

/// Builds the standard fixture into `dir`: two disk files (the second
/// partitioned with sfdisk), the VG, and each LV filled with [`lv_pattern`].
pub fn build_standard(dir: &Path) -> Result<VgSpec> {
    let spec = standard_spec(dir);
    let disk0 = dir.join("disk0.raw");
    let disk1 = dir.join("disk1.raw");
    for (path, size) in [(&disk0, 40u64 << 20), (&disk1, 40 << 20)] {
        std::fs::File::create(path)
            .and_then(|f| f.set_len(size))
            .map_err(|e| FixtureError::io(path, e))?;
    }
    crate::tools::run_with_stdin(
        "sfdisk",
        &["--quiet", crate::tools::arg(&disk1)?],
        Some(b"label: dos\nstart=2048, size=77824, type=8e\n"),
    )?;
    write_vg(&spec)?;
    for lv in &spec.lvs {
        let data = lv_pattern(&lv.name, spec.lv_size(&lv.name) as usize);
        spec.write_lv_data(&lv.name, &data)?;
    }
    Ok(spec)
}

/// The cached standard fixture directory (see [`build_standard`]); the
/// layout is [`standard_spec`] of the returned directory.
pub fn standard() -> Result<PathBuf> {
    crate::cached("lvm-standard", include_str!("lvm.rs"), |dir| {
        build_standard(dir).map(|_| ())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ctime_matches_known_dates() {
        assert_eq!(ctime(1_795_499_939), "Tue Nov 24 05:58:59 2026");
        assert_eq!(ctime(0), "Thu Jan  1 00:00:00 1970");
    }

    #[test]
    fn dashed_ids() {
        assert_eq!(
            dashed("u4ahgdiEfAW7PUcglc4cdPp3GV3RJL3M"),
            "u4ahgd-iEfA-W7PU-cglc-4cdP-p3GV-3RJL3M"
        );
        assert_eq!(make_id("x").len(), 32);
        assert_ne!(make_id("x"), make_id("y"));
    }
}
