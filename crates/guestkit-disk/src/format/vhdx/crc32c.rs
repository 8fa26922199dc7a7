//! CRC-32C (Castagnoli), the checksum of VHDX headers and region tables.
//!
//! The checksum field itself counts as zeros.

/// CRC-32C of `data`, treating the 4 bytes at `zero_at` as zeros (the
/// checksum field of the structure being checked).
pub(super) fn crc32c_with_zero_field(data: &[u8], zero_at: usize) -> u32 {
    let before = data.get(..zero_at).unwrap_or(data);
    let zeros_len = data.len().saturating_sub(zero_at).min(4);
    let after = data.get(zero_at.saturating_add(4)..).unwrap_or_default();
    let crc = crc32c::crc32c(before);
    let crc = crc32c::crc32c_append(crc, &[0u8; 4][..zeros_len]);
    crc32c::crc32c_append(crc, after)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_vectors() {
        // RFC 3720 appendix B.4 test vectors; the check value of "123456789".
        assert_eq!(
            crc32c_with_zero_field(b"123456789", usize::MAX - 4),
            0xe306_9283
        );
        assert_eq!(
            crc32c_with_zero_field(&[0u8; 32], usize::MAX - 4),
            0x8a91_36aa
        );
        assert_eq!(
            crc32c_with_zero_field(&[0xffu8; 32], usize::MAX - 4),
            0x62a8_ab43
        );
        // The zeroed field really counts as zeros.
        let mut d = [0xffu8; 32];
        assert_eq!(crc32c_with_zero_field(&d, 4), {
            d[4..8].fill(0);
            crc32c_with_zero_field(&d, usize::MAX - 4)
        });
    }
}
