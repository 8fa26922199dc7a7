//! NTFS, read-only: the boot sector, MFT records (update-sequence fixups
//! verified, `$ATTRIBUTE_LIST` followed), resident and non-resident
//! attributes with sparse runs, `$STANDARD_INFORMATION` times, `$FILE_NAME`
//! names (Win32/POSIX names listed, DOS-only duplicates hidden), and
//! directory indexes (`$INDEX_ROOT` and the `INDX` blocks of
//! `$INDEX_ALLOCATION`). Inode numbers are MFT record numbers (the root is 5);
//! the metafiles (`$MFT`, `$Extend`, …) in the root are not listed. Lookups
//! ignore case by simple Unicode upper-casing (not the volume's `$UpCase`).
//! Compressed and encrypted data are reported as unsupported; reparse points
//! read as the files they are stored as. Files are 0o644, directories 0o755
//! (read-only files 0o444), owned by 0:0.

mod index;
mod record;

use std::sync::Arc;

use guestkit_disk::block::bytes::{le16, le32, le64};
use guestkit_disk::{BlockDevice, DeviceRef};

use crate::error::{FsError, Result};
use crate::fs::{DirEntry, FileSystem, FileType, FsInfo, InodeId, Metadata, Timestamp};
use crate::limits::FsLimits;
use record::{AttrBody, Attribute, Run};

const FS: &str = "ntfs";
const ROOT: InodeId = 5;
/// Records below this number are metafiles.
const FIRST_USER_RECORD: u64 = 24;

fn corrupt(
    device: &str,
    what: &str,
    inode: Option<u64>,
    offset: Option<u64>,
    reason: String,
) -> FsError {
    FsError::corrupt(FS, device, what, inode, offset, reason)
}

/// The boot sector's geometry.
#[derive(Debug, Clone)]
struct Boot {
    cluster: u64,
    record_size: u64,
    index_size: u64,
    total_bytes: u64,
    mft_lcn: u64,
    serial: u64,
}

fn read_boot(dev: &dyn BlockDevice) -> Result<Option<Boot>> {
    if dev.size() < 512 {
        return Ok(None);
    }
    let mut b = [0u8; 512];
    dev.read_at(&mut b, 0)?;
    if b.get(3..11) != Some(&b"NTFS    "[..]) {
        return Ok(None);
    }
    let name = dev.describe();
    let bad = |reason: String| corrupt(&name, "boot sector", None, Some(0), reason);
    let bps = u64::from(le16(&b, 0x0b).unwrap_or(0));
    let spc_raw = b.get(0x0d).copied().unwrap_or(0);
    let spc = if spc_raw > 0x80 {
        1u64 << (256 - u32::from(spc_raw)).min(31)
    } else {
        u64::from(spc_raw)
    };
    if !matches!(bps, 512 | 1024 | 2048 | 4096)
        || spc == 0
        || !spc.is_power_of_two()
        || bps * spc > 2 << 20
    {
        return Err(bad(format!(
            "{bps} bytes per sector, {spc} sectors per cluster"
        )));
    }
    let cluster = bps * spc;
    let size_of = |raw: u8| -> Option<u64> {
        let v = raw as i8;
        if v > 0 {
            Some(u64::from(v as u8) * cluster)
        } else {
            let shift = u32::from(v.unsigned_abs());
            (shift < 32).then(|| 1u64 << shift)
        }
    };
    let record_size = size_of(b.get(0x40).copied().unwrap_or(0))
        .filter(|s| (512..=65536).contains(s) && s.is_power_of_two());
    let index_size = size_of(b.get(0x44).copied().unwrap_or(0))
        .filter(|s| (512..=65536).contains(s) && s.is_power_of_two());
    let (Some(record_size), Some(index_size)) = (record_size, index_size) else {
        return Err(bad("MFT record or index block size".into()));
    };
    let total_bytes = le64(&b, 0x28).unwrap_or(0).saturating_mul(bps);
    let mft_lcn = le64(&b, 0x30).unwrap_or(0);
    if total_bytes == 0 || mft_lcn.saturating_mul(cluster) >= total_bytes {
        return Err(bad(format!(
            "$MFT at cluster {mft_lcn} of a {total_bytes}-byte volume"
        )));
    }
    Ok(Some(Boot {
        cluster,
        record_size,
        index_size,
        total_bytes,
        mft_lcn,
        serial: le64(&b, 0x48).unwrap_or(0),
    }))
}

fn info(boot: &Boot, label: Option<String>) -> FsInfo {
    FsInfo {
        fs_type: FS.into(),
        uuid: Some(format!("{:016X}", boot.serial)),
        label,
        block_size: boot.cluster as u32,
        size: boot.total_bytes,
        warnings: Vec::new(),
    }
}

/// Checks for an NTFS boot sector; reads nothing else.
pub fn probe(dev: &dyn BlockDevice) -> Result<Option<FsInfo>> {
    Ok(read_boot(dev)?.map(|b| info(&b, None)))
}

/// A mounted NTFS volume.
#[derive(Debug)]
pub struct NtfsFs {
    dev: DeviceRef,
    name: String,
    boot: Boot,
    /// Runs of `$MFT`'s own data.
    mft_runs: Vec<Run>,
    info: FsInfo,
    limits: FsLimits,
}

/// Mounts the NTFS volume on `dev`, read-only.
pub fn mount(dev: DeviceRef, limits: FsLimits) -> Result<NtfsFs> {
    let name = dev.describe();
    let boot = read_boot(dev.as_ref())?.ok_or_else(|| {
        corrupt(
            &name,
            "boot sector",
            None,
            Some(0),
            "no NTFS signature".into(),
        )
    })?;
    if boot.total_bytes > dev.size() {
        return Err(corrupt(
            &name,
            "boot sector",
            None,
            Some(0),
            format!(
                "{} bytes claimed on a {}-byte volume",
                boot.total_bytes,
                dev.size()
            ),
        ));
    }
    let mut fs = NtfsFs {
        info: info(&boot, None),
        mft_runs: vec![Run {
            vcn: 0,
            len: 1,
            lcn: Some(boot.mft_lcn),
        }],
        dev,
        name,
        boot,
        limits,
    };
    // Record 0 ($MFT) sits at the start of the MFT; its DATA runs locate
    // every other record.
    let mft = fs.attributes(0)?;
    let runs = data_runs(&mft, &[]).ok_or_else(|| {
        corrupt(
            &fs.name,
            "$MFT",
            Some(0),
            None,
            "no non-resident $DATA".into(),
        )
    })?;
    fs.mft_runs = runs;
    // The label: $Volume (record 3), attribute $VOLUME_NAME (0x60).
    if let Ok(attrs) = fs.attributes(3) {
        if let Some(AttrBody::Resident(v)) = attrs.iter().find(|a| a.kind == 0x60).map(|a| &a.body)
        {
            let units: Vec<u16> = v
                .chunks_exact(2)
                .map(|c| u16::from_le_bytes([c[0], c[1]]))
                .collect();
            let label = String::from_utf16_lossy(&units);
            fs.info.label = (!label.is_empty()).then_some(label);
        }
    }
    Ok(fs)
}

/// Mounts as a trait object (the driver registry's form).
pub fn mount_dyn(dev: DeviceRef, limits: FsLimits) -> Result<Arc<dyn FileSystem>> {
    Ok(Arc::new(mount(dev, limits)?))
}

/// The runs of the unnamed (or `name`d) non-resident attribute `$DATA`,
/// merged across attribute extents in VCN order.
fn data_runs(attrs: &[Attribute], name: &[u16]) -> Option<Vec<Run>> {
    let mut parts: Vec<(u64, &Vec<Run>)> = attrs
        .iter()
        .filter(|a| a.kind == record::DATA && a.name == name)
        .filter_map(|a| match &a.body {
            AttrBody::NonResident {
                runs, lowest_vcn, ..
            } => Some((*lowest_vcn, runs)),
            AttrBody::Resident(_) => None,
        })
        .collect();
    if parts.is_empty() {
        return None;
    }
    parts.sort_by_key(|p| p.0);
    Some(
        parts
            .into_iter()
            .flat_map(|(_, r)| r.iter().copied())
            .collect(),
    )
}

fn filetime(ft: u64) -> Timestamp {
    let unix_100ns = ft as i64 - 116_444_736_000_000_000;
    Timestamp {
        sec: unix_100ns.div_euclid(10_000_000),
        nsec: (unix_100ns.rem_euclid(10_000_000) * 100) as u32,
    }
}

impl NtfsFs {
    /// Reads `buf.len()` bytes at `offset` of a non-resident stream; sparse
    /// runs and bytes at or beyond `initialized` read as zeros.
    fn read_runs(
        &self,
        runs: &[Run],
        initialized: u64,
        offset: u64,
        buf: &mut [u8],
        ino: u64,
    ) -> Result<()> {
        let cs = self.boot.cluster;
        let mut pos = 0usize;
        while pos < buf.len() {
            let at = offset + pos as u64;
            let vcn = at / cs;
            let within = at % cs;
            let run = runs.iter().find(|r| vcn >= r.vcn && vcn < r.vcn + r.len);
            let run_end = run.map_or(vcn + 1, |r| r.vcn + r.len);
            let n = usize::try_from(((run_end - vcn) * cs - within).min((buf.len() - pos) as u64))
                .unwrap_or(0)
                .max(1);
            let dst = buf.get_mut(pos..pos + n).unwrap_or_default();
            match run.and_then(|r| r.lcn.map(|l| (r, l))) {
                Some((r, lcn)) if at < initialized => {
                    let dev_at = (lcn + (vcn - r.vcn)) * cs + within;
                    if dev_at.saturating_add(n as u64) > self.boot.total_bytes {
                        return Err(corrupt(
                            &self.name,
                            "data run",
                            Some(ino),
                            None,
                            format!("cluster {lcn} lies outside the volume"),
                        ));
                    }
                    self.dev.read_at(dst, dev_at)?;
                    let valid = usize::try_from(initialized - at).unwrap_or(usize::MAX);
                    if let Some(tail) = dst.get_mut(valid..) {
                        tail.fill(0);
                    }
                }
                Some(_) => dst.fill(0),
                None if run.is_some() => dst.fill(0), // sparse
                None => {
                    return Err(corrupt(
                        &self.name,
                        "data runs",
                        Some(ino),
                        None,
                        format!("no run maps cluster {vcn}"),
                    ));
                }
            }
            pos += n;
        }
        Ok(())
    }

    /// MFT record `n`, fixed up.
    fn record(&self, n: u64) -> Result<Vec<u8>> {
        let rs = self.boot.record_size;
        let at = n.checked_mul(rs).ok_or_else(|| {
            corrupt(
                &self.name,
                "record number",
                Some(n),
                None,
                "too large".into(),
            )
        })?;
        let mut rec = vec![0u8; rs as usize];
        self.read_runs(&self.mft_runs, u64::MAX, at, &mut rec, 0)?;
        if rec.get(..4) != Some(&b"FILE"[..]) {
            return Err(corrupt(
                &self.name,
                "MFT record",
                Some(n),
                None,
                "no FILE signature".into(),
            ));
        }
        record::apply_fixups(&mut rec)
            .map_err(|r| corrupt(&self.name, "MFT record", Some(n), None, r))?;
        Ok(rec)
    }

    /// The attributes of record `n`, including those an `$ATTRIBUTE_LIST`
    /// places in extension records.
    fn attributes(&self, n: u64) -> Result<Vec<Attribute>> {
        let rec = self.record(n)?;
        if le16(&rec, 0x16).unwrap_or(0) & 1 == 0 {
            return Err(corrupt(
                &self.name,
                "MFT record",
                Some(n),
                None,
                "record not in use".into(),
            ));
        }
        let max_runs = 1 << 16;
        let mut attrs = record::attributes(&rec, max_runs)
            .map_err(|r| corrupt(&self.name, "attribute", Some(n), None, r))?;
        let list = attrs
            .iter()
            .find(|a| a.kind == record::ATTRIBUTE_LIST)
            .map(|a| a.body.clone());
        if let Some(body) = list {
            let value = match body {
                AttrBody::Resident(v) => v,
                AttrBody::NonResident {
                    runs,
                    data_size,
                    initialized_size,
                    ..
                } => {
                    if data_size > 1 << 20 {
                        return Err(corrupt(
                            &self.name,
                            "$ATTRIBUTE_LIST",
                            Some(n),
                            None,
                            format!("{data_size} bytes"),
                        ));
                    }
                    let mut v = vec![0u8; data_size as usize];
                    self.read_runs(&runs, initialized_size, 0, &mut v, n)?;
                    v
                }
            };
            let mut extensions = Vec::new();
            let mut at = 0usize;
            while at + 26 <= value.len() {
                let len = usize::from(le16(&value, at + 4).unwrap_or(0));
                let reference = le64(&value, at + 16).unwrap_or(0) & 0xffff_ffff_ffff;
                if len < 26 {
                    return Err(corrupt(
                        &self.name,
                        "$ATTRIBUTE_LIST",
                        Some(n),
                        None,
                        format!("entry of {len} bytes"),
                    ));
                }
                if reference != n && !extensions.contains(&reference) {
                    extensions.push(reference);
                }
                at += len;
            }
            if extensions.len() > 4096 {
                return Err(corrupt(
                    &self.name,
                    "$ATTRIBUTE_LIST",
                    Some(n),
                    None,
                    format!("{} extension records", extensions.len()),
                ));
            }
            for ext in extensions {
                let rec = self.record(ext)?;
                let base = le64(&rec, 0x20).unwrap_or(0) & 0xffff_ffff_ffff;
                if base != n {
                    return Err(corrupt(
                        &self.name,
                        "$ATTRIBUTE_LIST",
                        Some(n),
                        None,
                        format!("record {ext} belongs to record {base}"),
                    ));
                }
                attrs.extend(
                    record::attributes(&rec, max_runs)
                        .map_err(|r| corrupt(&self.name, "attribute", Some(ext), None, r))?,
                );
            }
        }
        Ok(attrs)
    }

    fn is_dir(&self, n: u64) -> Result<bool> {
        Ok(le16(&self.record(n)?, 0x16).unwrap_or(0) & 2 != 0)
    }

    fn std_info(attrs: &[Attribute]) -> Option<Vec<u8>> {
        attrs.iter().find_map(|a| match (&a.body, a.kind) {
            (AttrBody::Resident(v), record::STANDARD_INFORMATION) => Some(v.clone()),
            _ => None,
        })
    }
}

impl FileSystem for NtfsFs {
    fn info(&self) -> &FsInfo {
        &self.info
    }

    fn root(&self) -> InodeId {
        ROOT
    }

    fn metadata(&self, ino: InodeId) -> Result<Metadata> {
        let rec = self.record(ino)?;
        let dir = le16(&rec, 0x16).unwrap_or(0) & 2 != 0;
        let links = u32::from(le16(&rec, 0x12).unwrap_or(1));
        let attrs = self.attributes(ino)?;
        let si = Self::std_info(&attrs).unwrap_or_default();
        let t = |at: usize| filetime(le64(&si, at).unwrap_or(116_444_736_000_000_000));
        let read_only = le32(&si, 32).unwrap_or(0) & 1 != 0;
        let size = if dir {
            0
        } else {
            attrs
                .iter()
                .filter(|a| a.kind == record::DATA && a.name.is_empty())
                .find_map(|a| match &a.body {
                    AttrBody::Resident(v) => Some(v.len() as u64),
                    AttrBody::NonResident {
                        data_size,
                        lowest_vcn: 0,
                        ..
                    } => Some(*data_size),
                    AttrBody::NonResident { .. } => None,
                })
                .unwrap_or(0)
        };
        let mut mode = if dir { 0o755 } else { 0o644 };
        if read_only && !dir {
            mode = 0o444;
        }
        Ok(Metadata {
            inode: ino,
            file_type: if dir {
                FileType::Directory
            } else {
                FileType::Regular
            },
            mode,
            uid: 0,
            gid: 0,
            size,
            nlink: links.max(1),
            atime: t(24),
            mtime: t(8),
            ctime: t(16),
            btime: Some(t(0)),
            rdev: None,
        })
    }

    fn read_dir(&self, ino: InodeId) -> Result<Vec<DirEntry>> {
        if !self.is_dir(ino)? {
            return Err(FsError::WrongType {
                path: format!("{}: record {ino}", self.name),
                reason: "not a directory".into(),
            });
        }
        let attrs = self.attributes(ino)?;
        let bad = |reason: String| corrupt(&self.name, "directory index", Some(ino), None, reason);
        let mut found = Vec::new();
        for a in attrs.iter().filter(|a| a.kind == record::INDEX_ROOT) {
            if let AttrBody::Resident(v) = &a.body {
                index::entries(v, 16, &mut found).map_err(bad)?;
            }
        }
        if let Some(runs) = attrs
            .iter()
            .filter(|a| a.kind == record::INDEX_ALLOCATION)
            .find_map(|a| match &a.body {
                AttrBody::NonResident {
                    runs, data_size, ..
                } => Some((runs.clone(), *data_size)),
                AttrBody::Resident(_) => None,
            })
        {
            let (runs, size) = runs;
            let bs = self.boot.index_size;
            if size / bs > self.limits.max_dir_entries {
                return Err(bad(format!("{size} bytes of index blocks")));
            }
            let mut block = vec![0u8; bs as usize];
            for b in 0..size / bs {
                self.read_runs(&runs, u64::MAX, b * bs, &mut block, ino)?;
                if block.get(..4) != Some(&b"INDX"[..]) {
                    continue; // an unused block
                }
                record::apply_fixups(&mut block)
                    .map_err(|r| bad(format!("index block {b}: {r}")))?;
                index::entries(&block, 24, &mut found)
                    .map_err(|r| bad(format!("index block {b}: {r}")))?;
                if found.len() as u64 > self.limits.max_dir_entries {
                    return Err(FsError::LimitExceeded {
                        device: self.name.clone(),
                        fs: FS,
                        what: format!("entries of directory record {ino}"),
                        value: found.len() as u64,
                        limit: self.limits.max_dir_entries,
                    });
                }
            }
        }
        let mut out: Vec<DirEntry> = Vec::new();
        for (reference, fname) in found {
            // DOS-only names duplicate a Win32 name; "." is the root itself.
            if fname.namespace == 2 || fname.name == "." || fname.parent != ino {
                continue;
            }
            if ino == ROOT && reference < FIRST_USER_RECORD && fname.name.starts_with('$') {
                continue;
            }
            if out
                .iter()
                .any(|e| e.inode == reference && e.name == fname.name.as_bytes())
            {
                continue;
            }
            out.push(DirEntry {
                name: fname.name.into_bytes(),
                inode: reference,
                file_type: Some(if fname.flags & 0x1000_0000 != 0 {
                    FileType::Directory
                } else {
                    FileType::Regular
                }),
            });
        }
        Ok(out)
    }

    fn lookup(&self, dir: InodeId, name: &[u8]) -> Result<Option<InodeId>> {
        let wanted = String::from_utf8_lossy(name).to_uppercase();
        Ok(self
            .read_dir(dir)?
            .into_iter()
            .find(|e| String::from_utf8_lossy(&e.name).to_uppercase() == wanted)
            .map(|e| e.inode))
    }

    fn read_link(&self, ino: InodeId) -> Result<Vec<u8>> {
        Err(FsError::WrongType {
            path: format!("{}: record {ino}", self.name),
            reason: "not a symlink".into(),
        })
    }

    fn read(&self, ino: InodeId, offset: u64, buf: &mut [u8]) -> Result<usize> {
        if self.is_dir(ino)? {
            return Err(FsError::WrongType {
                path: format!("{}: record {ino}", self.name),
                reason: "not a regular file".into(),
            });
        }
        let attrs = self.attributes(ino)?;
        let data: Vec<&Attribute> = attrs
            .iter()
            .filter(|a| a.kind == record::DATA && a.name.is_empty())
            .collect();
        let Some(first) = data.first() else {
            return Ok(0);
        };
        if first.flags & 0x4001 != 0 {
            return Err(FsError::Unsupported {
                device: self.name.clone(),
                fs: FS,
                what: format!("compressed or encrypted data (record {ino})"),
            });
        }
        match &first.body {
            AttrBody::Resident(v) => {
                let start = usize::try_from(offset).unwrap_or(usize::MAX).min(v.len());
                let n = (v.len() - start).min(buf.len());
                if let (Some(dst), Some(src)) = (buf.get_mut(..n), v.get(start..start + n)) {
                    dst.copy_from_slice(src);
                }
                Ok(n)
            }
            AttrBody::NonResident { .. } => {
                let (size, initialized) = data
                    .iter()
                    .find_map(|a| match &a.body {
                        AttrBody::NonResident {
                            data_size,
                            initialized_size,
                            lowest_vcn: 0,
                            ..
                        } => Some((*data_size, *initialized_size)),
                        _ => None,
                    })
                    .ok_or_else(|| {
                        corrupt(
                            &self.name,
                            "$DATA",
                            Some(ino),
                            None,
                            "no first extent".into(),
                        )
                    })?;
                let runs = data_runs(&attrs, &[]).unwrap_or_default();
                if offset >= size {
                    return Ok(0);
                }
                let n = usize::try_from(size - offset)
                    .unwrap_or(usize::MAX)
                    .min(buf.len());
                let dst = buf.get_mut(..n).unwrap_or_default();
                self.read_runs(&runs, initialized, offset, dst, ino)?;
                Ok(n)
            }
        }
    }
}
