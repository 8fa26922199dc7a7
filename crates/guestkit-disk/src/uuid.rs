//! Text forms of the 16-byte identifiers images and volumes carry.

/// Formats 16 bytes stored in RFC 4122 (big-endian) order as a UUID (VHD).
pub fn uuid_be(b: &[u8; 16]) -> String {
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// Formats 16 bytes stored in the mixed-endian Microsoft GUID order (first
/// three fields little-endian) as a UUID (VDI, VHDX).
pub fn uuid_mixed(b: &[u8; 16]) -> String {
    let mut be = *b;
    be[0..4].reverse();
    be[4..6].reverse();
    be[6..8].reverse();
    uuid_be(&be)
}
