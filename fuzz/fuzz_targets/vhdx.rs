//! Any bytes as a vhdx image: the vhdx reader under small limits, then reads
//! spread over the virtual disk. Inputs starting with `SPRS` are sparse
//! images (see `shared/sparse_input.rs`).
#![no_main]

use guestkit_disk::ImageFormat;
use libfuzzer_sys::fuzz_target;

#[path = "shared/format_target.rs"]
mod format_target;

fuzz_target!(|data: &[u8]| format_target::run(data, ImageFormat::Vhdx));
