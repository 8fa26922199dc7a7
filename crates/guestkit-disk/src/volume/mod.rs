//! Volumes found inside disks: partition tables, LVM, md arrays, and the
//! signatures of LUKS and swap.

pub mod gpt;
pub mod luks;
pub mod lvm;
pub mod mbr;
pub mod md;
pub mod scan;
pub mod swap;
pub mod table;
