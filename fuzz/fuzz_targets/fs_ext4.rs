//! Any bytes as an ext2/3/4 filesystem: probe, mount, then walk the tree
//! (directories, lookups, links, file reads), bounded. Inputs starting with
//! `SPRS` are sparse images (see `shared/sparse_input.rs`); seeds are
//! small `mke2fs -d` images without metadata checksums.
#![no_main]

use guestkit_fs::ext4;
use libfuzzer_sys::fuzz_target;

#[path = "shared/fs_target.rs"]
mod fs_target;

fuzz_target!(|data: &[u8]| fs_target::run(data, "fuzz-ext4.img", ext4::probe, ext4::mount_dyn));
