//! CRC-32C (Castagnoli), the checksum of VHDX headers and region tables.
//!
//! A byte-at-a-time table version: VHDX checksums cover a few 4 KiB and
//! 64 KiB structures read once at open, so speed does not matter here.

/// Reflected Castagnoli polynomial.
const POLY: u32 = 0x82f6_3b78;

const TABLE: [u32; 256] = {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 { (c >> 1) ^ POLY } else { c >> 1 };
            k += 1;
        }
        table[i] = c;
        i += 1;
    }
    table
};

/// CRC-32C of `data`, treating the 4 bytes at `zero_at` as zeros (the
/// checksum field of the structure being checked).
pub(super) fn crc32c_with_zero_field(data: &[u8], zero_at: usize) -> u32 {
    let mut crc = !0u32;
    for (i, &b) in data.iter().enumerate() {
        let b = if (zero_at..zero_at + 4).contains(&i) {
            0
        } else {
            b
        };
        crc = TABLE[((crc ^ u32::from(b)) & 0xff) as usize] ^ (crc >> 8);
    }
    !crc
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
