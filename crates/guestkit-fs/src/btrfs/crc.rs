//! CRC-32C (Castagnoli), the checksum of Btrfs superblocks and tree nodes and
//! the hash of directory-item keys (hardware-accelerated where the CPU has
//! it: every tree node read is checked).

/// The raw CRC register update (no pre- or post-inversion), as the kernel's
/// `crc32c(seed, data)`.
pub fn crc32c_raw(seed: u32, data: &[u8]) -> u32 {
    // crc32c_append inverts on the way in and out.
    !crc32c::crc32c_append(!seed, data)
}

/// The standard CRC-32C of `data` (what Btrfs stores in checksum fields).
pub fn crc32c(data: &[u8]) -> u32 {
    crc32c::crc32c(data)
}

/// The hash of a name in a DIR_ITEM key offset (`btrfs_name_hash`).
pub fn name_hash(name: &[u8]) -> u64 {
    u64::from(crc32c_raw(!1, name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_vector() {
        // RFC 3720 B.4: 32 bytes of zeros.
        assert_eq!(crc32c(&[0u8; 32]), 0x8A91_36AA);
        assert_eq!(crc32c(b"123456789"), 0xE306_9283);
    }
}
