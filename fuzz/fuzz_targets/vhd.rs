//! Any bytes as a vhd image: the vhd reader under small limits, then reads
//! spread over the virtual disk. Inputs starting with `SPRS` are sparse
//! images (see `shared/sparse_input.rs`).
#![no_main]

use guestkit_disk::ImageFormat;
use libfuzzer_sys::fuzz_target;

#[path = "shared/format_target.rs"]
mod format_target;

fuzz_target!(|data: &[u8]| format_target::run(data, ImageFormat::Vhd));
