//! Any bytes as a qcow2 image: header and extensions, L1/L2 walk, snapshot table, compressed and
//! subcluster decoding; under small limits, then reads spread
//! over the virtual disk.
#![no_main]

use guestkit_disk::ImageFormat;
use libfuzzer_sys::fuzz_target;

#[path = "shared/format_target.rs"]
mod format_target;

fuzz_target!(|data: &[u8]| format_target::run(data, ImageFormat::Qcow2));
