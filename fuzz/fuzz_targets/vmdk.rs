//! Any bytes as a vmdk image: sparse header, footer, embedded descriptor, grain directory and tables,
//! compressed grains; under small limits, then reads spread
//! over the virtual disk.
#![no_main]

use guestkit_disk::ImageFormat;
use libfuzzer_sys::fuzz_target;

#[path = "shared/format_target.rs"]
mod format_target;

fuzz_target!(|data: &[u8]| format_target::run(data, ImageFormat::Vmdk));
