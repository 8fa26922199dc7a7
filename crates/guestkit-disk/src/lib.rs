//! guestkit-disk: the bottom layer of guestkit.
//!
//! It opens virtual-machine disk images read-only — raw, qcow2, vmdk, vdi,
//! vhdx, vhd — detected by content, and presents each virtual disk as a
//! [`BlockDevice`]: a fixed-size array of bytes read by position from any
//! thread. Partitions (MBR, GPT), LVM2 logical volumes and md arrays found on
//! those disks are `BlockDevice`s too, so filesystems never care where their
//! bytes come from.
//!
//! Every value read from an image is untrusted: lengths, offsets and counts are
//! checked against the image and against [`Limits`], loops are bounded, and a
//! problem becomes a [`DiskError`] naming the file, the layer and the offset.

pub mod block;
pub mod error;
pub mod file;
pub mod format;
pub mod limits;
pub mod paths;
pub mod uuid;
pub mod volume;

pub use block::{BlockDevice, CountingDevice, DeviceRef, IoStats, MemDevice, SliceDevice};
pub use error::{DiskError, Layer, Result};
pub use file::FileDevice;
pub use format::{
    detect, open_device, open_image, open_image_counted, ImageFormat, ImageInfo, ImageSource,
    OpenOptions, OpenedImage, SnapshotInfo,
};
pub use limits::Limits;
pub use paths::ImageRoots;
