//! The filesystem drivers and how a volume is matched to one: like `blkid`,
//! each driver's cheap probe reads the superblock, and the first that
//! recognises the volume mounts it.

use std::sync::Arc;

use guestkit_disk::{BlockDevice, DeviceRef};

use crate::error::Result;
use crate::fs::{FileSystem, FsInfo};
use crate::limits::FsLimits;

/// Options an fstab entry passes to a mount.
#[derive(Debug, Clone, Default)]
pub struct MountOptions {
    /// Btrfs `subvol=` (a path) or `subvolid=`.
    pub subvol: Option<String>,
    pub subvolid: Option<u64>,
}

/// One filesystem driver.
pub struct Driver {
    /// Filesystem type as blkid names it.
    pub name: &'static str,
    /// Reads the superblock only; `None` when the volume is not this type.
    pub probe: fn(&dyn BlockDevice) -> Result<Option<FsInfo>>,
    /// Mounts the volume read-only.
    pub mount: fn(DeviceRef, FsLimits, &MountOptions) -> Result<Arc<dyn FileSystem>>,
}

impl std::fmt::Debug for Driver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name)
    }
}

/// Every driver, in probing order.
pub fn drivers() -> &'static [Driver] {
    DRIVERS
}

const DRIVERS: &[Driver] = &[
    Driver {
        name: "ext4",
        probe: crate::ext4::probe,
        mount: |dev, limits, _| crate::ext4::mount_dyn(dev, limits),
    },
    Driver {
        name: "xfs",
        probe: crate::xfs::probe,
        mount: |dev, limits, _| crate::xfs::mount_dyn(dev, limits),
    },
    Driver {
        name: "btrfs",
        probe: crate::btrfs::probe,
        mount: mount_btrfs,
    },
    Driver {
        name: "vfat",
        probe: crate::fat::probe,
        mount: |dev, limits, _| crate::fat::mount_dyn(dev, limits),
    },
    Driver {
        name: "ntfs",
        probe: crate::ntfs::probe,
        mount: |dev, limits, _| crate::ntfs::mount_dyn(dev, limits),
    },
];

fn mount_btrfs(
    dev: DeviceRef,
    limits: FsLimits,
    options: &MountOptions,
) -> Result<Arc<dyn FileSystem>> {
    use crate::btrfs::SubvolSelector;
    let selector = match (options.subvolid, &options.subvol) {
        (Some(id), _) => SubvolSelector::Id(id),
        (None, Some(path)) => SubvolSelector::Path(path.clone()),
        (None, None) => SubvolSelector::Default,
    };
    Ok(Arc::new(crate::btrfs::mount_subvolume(
        dev, limits, selector,
    )?))
}

/// The first driver that recognises `dev`, with what its probe found.
pub fn probe(dev: &dyn BlockDevice) -> Result<Option<(&'static Driver, FsInfo)>> {
    for driver in drivers() {
        if let Some(info) = (driver.probe)(dev)? {
            return Ok(Some((driver, info)));
        }
    }
    Ok(None)
}
