//! Any bytes as an NTFS volume: probe, mount, then walk the tree
//! (directories, lookups, links, file reads), bounded. Inputs starting with
//! `SPRS` are sparse images (see `shared/sparse_input.rs`); seeds are
//! `mkntfs` volumes filled by `ntfscp`, in sparse form.
#![no_main]

use guestkit_fs::ntfs;
use libfuzzer_sys::fuzz_target;

#[path = "shared/fs_target.rs"]
mod fs_target;

fuzz_target!(|data: &[u8]| fs_target::run(data, "fuzz-ntfs.img", ntfs::probe, ntfs::mount_dyn));
