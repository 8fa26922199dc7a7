//! Any bytes as a FAT12/16/32 volume: probe, mount, then walk the tree
//! (directories, lookups, links, file reads), bounded. Inputs starting with
//! `SPRS` are sparse images (see `shared/sparse_input.rs`); seeds are
//! small `mkfs.vfat` volumes filled by `mcopy`.
#![no_main]

use guestkit_fs::fat;
use libfuzzer_sys::fuzz_target;

#[path = "shared/fs_target.rs"]
mod fs_target;

fuzz_target!(|data: &[u8]| fs_target::run(data, "fuzz-fat.img", fat::probe, fat::mount_dyn));
