//! Volumes found inside disks.

pub mod lvm;
