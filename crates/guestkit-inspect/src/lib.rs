//! guestkit-inspect: what is inside a guest — operating system, packages,
//! storage, databases, system settings — read from an assembled
//! [`GuestTree`](guestkit_fs::GuestTree) without running anything in it.
//! Each section is a small function over the guest's files, testable on a
//! plain directory tree as well as on an image.

pub mod databases;
pub mod engine;
pub mod files;
pub mod initramfs;
pub mod kernels;
pub mod network;
pub mod options;
pub mod os;
pub mod packages;
pub mod report;
pub mod security;
pub mod services;
pub mod storage;
pub mod system;
pub mod users;
pub mod windows;
pub mod xml;

pub use engine::{inspect, inspect_guest, inspect_root};
pub use files::GuestFiles;
pub use options::{Cancellation, InspectOptions, Section};
pub use report::{
    FilesystemEntry, Mountpoint, OsInfo, OsReport, PackageList, Report, Warning, WindowsReport,
    SCHEMA_VERSION,
};
