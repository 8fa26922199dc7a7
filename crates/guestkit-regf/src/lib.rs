//! guestkit-regf: a read-only reader of Windows registry hive files
//! ("regf"), made for untrusted input, plus a hive builder for test
//! fixtures ([`write`](mod@write)).
//!
//! ```no_run
//! # fn main() -> Result<(), guestkit_regf::RegfError> {
//! let bytes = std::fs::read("SYSTEM").unwrap_or_default();
//! let hive = guestkit_regf::Hive::parse(&bytes)?;
//! if let Some(key) = hive.open("ControlSet001\\Control\\ComputerName\\ComputerName")? {
//!     if let Some(v) = key.value("ComputerName")? {
//!         println!("{:?}", v.data()?.as_string());
//!     }
//! }
//! # Ok(())
//! # }
//! ```
//!
//! Parsing reads only the base block and the hive bin headers; keys and
//! values are decoded when asked for. Every offset, size and count read from
//! the file is checked; damage is reported as a [`RegfError`] naming the cell
//! offset, and iterators over subkeys and values yield the readable entries
//! alongside `Err` items for the broken ones. A dirty hive (sequence numbers
//! differ: logs not replayed) is read as it is; see [`Hive::is_dirty`].

#![warn(missing_docs)]

mod base;
mod error;
mod key;
mod util;
mod value;
mod walk;
pub mod write;

pub use base::{FileTime, Hive, Limits, BASE_BLOCK_SIZE};
pub use error::{RegfError, Result};
pub use key::{Key, Subkeys, KEY_COMP_NAME, KEY_HIVE_ENTRY, KEY_NO_DELETE, KEY_SYM_LINK};
pub use value::{
    RegValue, Value, Values, BIG_DATA_SEGMENT, REG_BINARY, REG_DWORD, REG_DWORD_BIG_ENDIAN,
    REG_EXPAND_SZ, REG_LINK, REG_MULTI_SZ, REG_NONE, REG_QWORD, REG_SZ, VALUE_COMP_NAME,
};
pub use walk::WalkControl;
