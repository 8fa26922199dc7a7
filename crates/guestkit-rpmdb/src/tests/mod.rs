//! Unit tests on hand-built and deliberately damaged inputs: every damage
//! must come back as the typed error or warning that names it, never a panic.

mod bdb;
mod header;
mod ndb;
#[cfg(feature = "sqlite")]
mod sqlite;
#[cfg(feature = "sqlite")]
mod sqlite_wal;

/// A tag value for [`build_header`].
pub(crate) enum Val<'a> {
    Str(&'a str),
    I18n(&'a [&'a str]),
    Int32(u32),
    Int64(u64),
    Bin(&'a [u8]),
}

/// Build a header blob (preamble, index, data store) holding `tags`.
pub(crate) fn build_header(tags: &[(u32, Val<'_>)]) -> Vec<u8> {
    let mut index = Vec::new();
    let mut data: Vec<u8> = Vec::new();
    for (tag, val) in tags {
        let (kind, count, bytes): (u32, u32, Vec<u8>) = match val {
            Val::Str(s) => (6, 1, [s.as_bytes(), &[0]].concat()),
            Val::I18n(v) => (
                9,
                v.len() as u32,
                v.iter()
                    .flat_map(|s| [s.as_bytes(), &[0]].concat())
                    .collect(),
            ),
            Val::Int32(n) => {
                while !data.len().is_multiple_of(4) {
                    data.push(0);
                }
                (4, 1, n.to_be_bytes().to_vec())
            }
            Val::Int64(n) => {
                while !data.len().is_multiple_of(8) {
                    data.push(0);
                }
                (5, 1, n.to_be_bytes().to_vec())
            }
            Val::Bin(b) => (7, b.len() as u32, b.to_vec()),
        };
        for v in [*tag, kind, data.len() as u32, count] {
            index.extend_from_slice(&v.to_be_bytes());
        }
        data.extend_from_slice(&bytes);
    }
    let mut blob = Vec::new();
    blob.extend_from_slice(&((index.len() / 16) as u32).to_be_bytes());
    blob.extend_from_slice(&(data.len() as u32).to_be_bytes());
    blob.extend_from_slice(&index);
    blob.extend_from_slice(&data);
    blob
}

/// A plausible package header for `name`.
pub(crate) fn package(name: &str) -> Vec<u8> {
    let src = format!("{name}-1.0-1.src.rpm");
    build_header(&[
        (1000, Val::Str(name)),
        (1001, Val::Str("1.0")),
        (1002, Val::Str("1")),
        (1022, Val::Str("x86_64")),
        (1044, Val::Str(&src)),
    ])
}
