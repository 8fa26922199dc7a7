//! The volume tree: every disk of a VM probed for partition tables and volume
//! signatures, md arrays and LVM volume groups assembled across disks, and each resulting
//! volume probed again (bounded depth).

use serde::Serialize;

use crate::block::{DeviceRef, SliceDevice};
use crate::limits::Limits;
use crate::volume::luks::{self, LuksInfo};
use crate::volume::lvm::{self, PhysicalVolume};
use crate::volume::md::{self, MdMember};
use crate::volume::swap::{self, SwapInfo};
use crate::volume::table::{Partition, PartitionKind, PartitionTable, Scheme};
use crate::volume::{gpt, mbr};

/// What a volume holds, as far as the disk layer can tell.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Content {
    /// A partition table; the partitions are the volume's children.
    PartitionTable {
        scheme: Scheme,
        disk_id: String,
        sector_size: u64,
    },
    /// An LVM physical volume.
    LvmPv {
        pv_uuid: String,
        vg_name: Option<String>,
    },
    /// A member of an md array.
    MdMember(MdMember),
    /// A LUKS-encrypted volume (not unlocked).
    Luks(LuksInfo),
    /// Swap space.
    Swap(SwapInfo),
    /// An extended partition: a container of logical partitions.
    Extended,
    /// Nothing the disk layer recognises (filesystems are probed above it).
    Data,
}

/// One node of the volume tree.
#[derive(Debug, Clone, Serialize)]
pub struct Volume {
    /// Stable id: `disk0`, `disk0p2`, `vg0/root`, `md/name`.
    pub id: String,
    /// Byte offset in the parent volume (partitions).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
    pub size: u64,
    /// Partition-table entry, for partitions.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub partition: Option<Partition>,
    pub content: Content,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub children: Vec<Volume>,
    /// The volume's bytes.
    #[serde(skip)]
    pub device: DeviceRef,
}

impl Volume {
    /// This volume and every descendant, depth first.
    pub fn walk(&self) -> Vec<&Volume> {
        let mut out = vec![self];
        for c in &self.children {
            out.extend(c.walk());
        }
        out
    }
}

/// An md array assembled from the members found.
#[derive(Debug, Clone, Serialize)]
pub struct MdArray {
    pub array_uuid: String,
    pub name: Option<String>,
    pub level: i32,
    /// Ids of the member volumes found.
    pub members: Vec<String>,
    /// The array's volume, when it could be assembled.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub volume: Option<Volume>,
}

/// An LVM volume group with its LV volumes.
#[derive(Debug, Clone, Serialize)]
pub struct VolumeGroupNode {
    #[serde(flatten)]
    pub group: lvm::VolumeGroup,
    /// LVs that have a readable device, probed like any volume.
    pub volumes: Vec<Volume>,
}

/// Everything found on a VM's disks.
#[derive(Debug, Clone, Serialize)]
pub struct VolumeTree {
    pub disks: Vec<Volume>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub md_arrays: Vec<MdArray>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub volume_groups: Vec<VolumeGroupNode>,
    /// Problems that did not stop the scan, each naming the volume.
    pub warnings: Vec<String>,
}

impl VolumeTree {
    /// Every volume in the tree (disks, arrays, LVs and their descendants).
    pub fn volumes(&self) -> Vec<&Volume> {
        let mut out = Vec::new();
        for d in &self.disks {
            out.extend(d.walk());
        }
        for a in &self.md_arrays {
            if let Some(v) = &a.volume {
                out.extend(v.walk());
            }
        }
        for g in &self.volume_groups {
            for v in &g.volumes {
                out.extend(v.walk());
            }
        }
        out
    }

    /// The volume with id `id`.
    pub fn find(&self, id: &str) -> Option<&Volume> {
        self.volumes().into_iter().find(|v| v.id == id)
    }
}

/// An md member found during the scan.
struct FoundMember {
    member: MdMember,
    device: DeviceRef,
    /// Id of the volume it was found on.
    id: String,
}

/// What a scan collects on its way down: PVs to assemble, and warnings.
#[derive(Default)]
struct Found {
    pvs: Vec<(PhysicalVolume, DeviceRef)>,
    md: Vec<FoundMember>,
    warnings: Vec<String>,
}

impl Found {
    /// Records a probe that failed on volume `id`; the scan goes on.
    fn warn(&mut self, id: &str, what: &str, err: crate::DiskError) {
        self.warnings.push(format!("{id}: {what}: {err}"));
    }
}

/// Scans the disks of one VM, in order (`disk0`, `disk1`, …).
pub fn scan(disks: &[DeviceRef], limits: &Limits) -> VolumeTree {
    let mut found = Found::default();
    let disk_volumes: Vec<Volume> = disks
        .iter()
        .enumerate()
        .map(|(i, dev)| {
            probe(
                dev.clone(),
                format!("disk{i}"),
                None,
                None,
                0,
                limits,
                &mut found,
            )
        })
        .collect();

    // md first: PVs may sit on arrays.
    let md_arrays = assemble_md(&mut found, limits);
    let pvs = std::mem::take(&mut found.pvs);
    let mut volume_groups = Vec::new();
    for assembled in lvm::assemble(pvs, limits) {
        match assembled.result {
            Ok(group) => {
                let mut volumes = Vec::new();
                for lv in &group.lvs {
                    if let Some(dev) = &lv.device {
                        let id = format!("{}/{}", group.name, lv.name);
                        let mut nested = Found::default();
                        volumes.push(probe(dev.clone(), id, None, None, 1, limits, &mut nested));
                        found.warnings.append(&mut nested.warnings);
                    }
                }
                found.warnings.extend(
                    group
                        .warnings
                        .iter()
                        .map(|w| format!("vg {}: {w}", group.name)),
                );
                volume_groups.push(VolumeGroupNode { group, volumes });
            }
            Err(err) => found
                .warnings
                .push(format!("vg {} ({}): {err}", assembled.name, assembled.uuid)),
        }
    }
    VolumeTree {
        disks: disk_volumes,
        md_arrays,
        volume_groups,
        warnings: found.warnings,
    }
}

fn assemble_md(found: &mut Found, limits: &Limits) -> Vec<MdArray> {
    let mut groups: Vec<Vec<FoundMember>> = Vec::new();
    for m in std::mem::take(&mut found.md) {
        match groups.iter_mut().find(|g| {
            g.first()
                .is_some_and(|f| f.member.array_uuid == m.member.array_uuid)
        }) {
            Some(group) => group.push(m),
            None => groups.push(vec![m]),
        }
    }
    let mut arrays = Vec::new();
    for members in groups {
        let Some(first) = members.first() else {
            continue;
        };
        let uuid = first.member.array_uuid.clone();
        let name = first.member.name.clone();
        let level = first.member.level;
        let pairs: Vec<(MdMember, DeviceRef)> = members
            .iter()
            .map(|m| (m.member.clone(), m.device.clone()))
            .collect();
        let volume = match md::assemble(&pairs) {
            Ok(dev) => {
                let id = format!("md/{}", name.clone().unwrap_or_else(|| uuid.clone()));
                Some(probe(dev, id, None, None, 1, limits, found))
            }
            Err(err) => {
                found.warnings.push(format!("md array {uuid}: {err}"));
                None
            }
        };
        arrays.push(MdArray {
            array_uuid: uuid,
            name,
            level,
            members: members.into_iter().map(|m| m.id).collect(),
            volume,
        });
    }
    arrays
}

fn probe(
    dev: DeviceRef,
    id: String,
    offset: Option<u64>,
    partition: Option<Partition>,
    depth: usize,
    limits: &Limits,
    found: &mut Found,
) -> Volume {
    let size = dev.size();
    let mut volume = Volume {
        id,
        offset,
        size,
        partition,
        content: Content::Data,
        children: Vec::new(),
        device: dev.clone(),
    };
    if volume
        .partition
        .as_ref()
        .is_some_and(|p| p.kind == PartitionKind::Extended)
    {
        volume.content = Content::Extended;
        return volume;
    }
    if depth > limits.max_volume_depth {
        found.warnings.push(format!(
            "{}: volume nesting deeper than {} levels; not probed further",
            volume.id, limits.max_volume_depth
        ));
        return volume;
    }
    // Partition tables first: GPT (whose protective MBR mbr::parse declines), then MBR.
    let table = match gpt::parse(dev.as_ref(), limits) {
        Ok(Some(t)) => Some(t),
        Ok(None) => match mbr::parse(dev.as_ref(), limits) {
            Ok(t) => t,
            Err(e) => {
                found.warn(&volume.id, "mbr", e);
                None
            }
        },
        Err(e) => {
            found.warn(&volume.id, "gpt", e);
            None
        }
    };
    if let Some(table) = table {
        add_partitions(&mut volume, table, depth, limits, found);
        return volume;
    }
    match md::probe(dev.as_ref()) {
        Ok(Some(member)) => {
            found.md.push(FoundMember {
                member: member.clone(),
                device: dev.clone(),
                id: volume.id.clone(),
            });
            volume.content = Content::MdMember(member);
            return volume;
        }
        Ok(None) => {}
        Err(e) => found.warn(&volume.id, "md", e),
    }
    match lvm::probe_pv(dev.as_ref(), limits) {
        Ok(Some(pv)) => {
            volume.content = Content::LvmPv {
                pv_uuid: pv.pv_uuid.clone(),
                vg_name: pv.metadata.as_ref().map(|m| m.vg_name.clone()),
            };
            found.pvs.push((pv, dev.clone()));
            return volume;
        }
        Ok(None) => {}
        Err(e) => found.warn(&volume.id, "lvm", e),
    }
    match luks::probe(dev.as_ref()) {
        Ok(Some(info)) => {
            volume.content = Content::Luks(info);
            return volume;
        }
        Ok(None) => {}
        Err(e) => found.warn(&volume.id, "luks", e),
    }
    match swap::probe(dev.as_ref()) {
        Ok(Some(info)) => volume.content = Content::Swap(info),
        Ok(None) => {}
        Err(e) => found.warn(&volume.id, "swap", e),
    }
    volume
}

fn add_partitions(
    volume: &mut Volume,
    table: PartitionTable,
    depth: usize,
    limits: &Limits,
    found: &mut Found,
) {
    volume.content = Content::PartitionTable {
        scheme: table.scheme,
        disk_id: table.disk_id.clone(),
        sector_size: table.sector_size,
    };
    found
        .warnings
        .extend(table.warnings.iter().map(|w| format!("{}: {w}", volume.id)));
    for part in table.partitions {
        let id = format!("{}p{}", volume.id, part.number);
        match SliceDevice::new(volume.device.clone(), part.start, part.size, id.clone()) {
            Ok(slice) => {
                let child = probe(
                    std::sync::Arc::new(slice),
                    id,
                    Some(part.start),
                    Some(part.clone()),
                    depth + 1,
                    limits,
                    found,
                );
                volume.children.push(child);
            }
            Err(e) => found.warn(&id, "partition", e),
        }
    }
}
