//! Bounds-checked fixed-width reads from untrusted byte slices.

/// Byte order of multi-byte fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Endian {
    Little,
    Big,
}

fn array<const N: usize>(b: &[u8], off: usize) -> Option<[u8; N]> {
    let end = off.checked_add(N)?;
    b.get(off..end)?.try_into().ok()
}

/// The `u16` at `off`, or `None` when it does not fit in `b`.
pub(crate) fn u16_at(b: &[u8], off: usize, e: Endian) -> Option<u16> {
    let a = array::<2>(b, off)?;
    Some(match e {
        Endian::Little => u16::from_le_bytes(a),
        Endian::Big => u16::from_be_bytes(a),
    })
}

/// The `u32` at `off`, or `None` when it does not fit in `b`.
pub(crate) fn u32_at(b: &[u8], off: usize, e: Endian) -> Option<u32> {
    let a = array::<4>(b, off)?;
    Some(match e {
        Endian::Little => u32::from_le_bytes(a),
        Endian::Big => u32::from_be_bytes(a),
    })
}

/// The big-endian `u64` at `off`, or `None` when it does not fit in `b`.
pub(crate) fn u64_be_at(b: &[u8], off: usize) -> Option<u64> {
    array::<8>(b, off).map(u64::from_be_bytes)
}

/// `u32` to `usize` (lossless on the 32/64-bit targets we build for).
pub(crate) fn us(v: u32) -> usize {
    usize::try_from(v).unwrap_or(usize::MAX)
}

/// `usize` to `u64` (lossless on every supported target).
pub(crate) fn u64_of(v: usize) -> u64 {
    u64::try_from(v).unwrap_or(u64::MAX)
}
