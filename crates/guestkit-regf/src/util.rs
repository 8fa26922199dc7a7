//! Small helpers: bounds-checked little-endian reads, name decoding and
//! case-insensitive comparison.

/// `u16` at `at`, or `None` past the end.
pub(crate) fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    let s = b.get(at..at.checked_add(2)?)?;
    Some(u16::from_le_bytes([s[0], s[1]]))
}

/// `u32` at `at`, or `None` past the end.
pub(crate) fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at.checked_add(4)?)?;
    Some(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}

/// `u64` at `at`, or `None` past the end.
pub(crate) fn u64_at(b: &[u8], at: usize) -> Option<u64> {
    let lo = u32_at(b, at)?;
    let hi = u32_at(b, at.checked_add(4)?)?;
    Some(u64::from(lo) | (u64::from(hi) << 32))
}

/// UTF-16LE to a `String`, lossy, stopping at the first NUL; an odd
/// trailing byte is ignored.
pub(crate) fn utf16_lossy_until_nul(b: &[u8]) -> String {
    let units = b
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .take_while(|&u| u != 0);
    char::decode_utf16(units)
        .map(|r| r.unwrap_or(char::REPLACEMENT_CHARACTER))
        .collect()
}

/// UTF-16LE to a `String`, lossy, keeping NULs (names may contain them).
pub(crate) fn utf16_lossy(b: &[u8]) -> String {
    let units = b.chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]]));
    char::decode_utf16(units)
        .map(|r| r.unwrap_or(char::REPLACEMENT_CHARACTER))
        .collect()
}

/// Latin-1 ("compressed" registry names) to a `String`.
pub(crate) fn latin1(b: &[u8]) -> String {
    b.iter().map(|&c| char::from(c)).collect()
}

/// A stored name: Latin-1 bytes or UTF-16LE.
#[derive(Debug, Clone, Copy)]
pub(crate) enum RawName<'a> {
    Latin1(&'a [u8]),
    Utf16(&'a [u8]),
}

impl RawName<'_> {
    pub(crate) fn decode(self) -> String {
        match self {
            RawName::Latin1(b) => latin1(b),
            RawName::Utf16(b) => utf16_lossy(b),
        }
    }

    /// Case-insensitive comparison with `want`, without allocating in the
    /// common case of a Latin-1 name and an ASCII `want`.
    pub(crate) fn eq_ignore_case(self, want: &str) -> bool {
        match self {
            RawName::Latin1(b) if want.is_ascii() && b.is_ascii() => {
                b.eq_ignore_ascii_case(want.as_bytes())
            }
            _ => eq_ignore_case(&self.decode(), want),
        }
    }
}

/// Registry-style case-insensitive comparison (Unicode simple upper case).
pub(crate) fn eq_ignore_case(a: &str, b: &str) -> bool {
    if a.is_ascii() && b.is_ascii() {
        return a.eq_ignore_ascii_case(b);
    }
    a.chars()
        .flat_map(char::to_uppercase)
        .eq(b.chars().flat_map(char::to_uppercase))
}
