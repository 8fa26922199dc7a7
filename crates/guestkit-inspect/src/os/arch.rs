//! Architecture of a guest from the ELF header of one of its system
//! binaries (never by running it).

/// Architecture name (`x86_64`, `aarch64`, `i386` …) of an ELF header, as
/// libguestfs names them; `None` when `head` is not an ELF header.
pub fn elf_arch(head: &[u8]) -> Option<&'static str> {
    if head.get(..4)? != b"\x7fELF" {
        return None;
    }
    let class64 = *head.get(4)? == 2;
    let little = match *head.get(5)? {
        1 => true,
        2 => false,
        _ => return None,
    };
    let raw = [*head.get(18)?, *head.get(19)?];
    let machine = if little {
        u16::from_le_bytes(raw)
    } else {
        u16::from_be_bytes(raw)
    };
    Some(match (machine, class64) {
        (3, _) => "i386",
        (62, _) => "x86_64",
        (40, _) => "arm",
        (183, _) => "aarch64",
        (8, false) => "mips",
        (8, true) => "mips64",
        (20, _) => "ppc",
        (21, _) if little => "ppc64le",
        (21, _) => "ppc64",
        (22, true) => "s390x",
        (22, false) => "s390",
        (243, true) => "riscv64",
        (243, false) => "riscv32",
        (2, _) => "sparc",
        (43, _) => "sparc64",
        (50, _) => "ia64",
        (258, _) => "loongarch64",
        _ => return None,
    })
}

/// Architecture name of a PE image (a Windows system binary); `None` when
/// `data` is not one.
pub fn pe_arch(data: &[u8]) -> Option<&'static str> {
    if data.get(..2)? != b"MZ" {
        return None;
    }
    let at = u32::from_le_bytes(data.get(0x3c..0x40)?.try_into().ok()?) as usize;
    if data.get(at..at.checked_add(4)?)? != b"PE\0\0" {
        return None;
    }
    let m = data.get(at + 4..at + 6)?;
    Some(match u16::from_le_bytes([*m.first()?, *m.get(1)?]) {
        0x14c => "i386",
        0x8664 => "x86_64",
        0xaa64 => "aarch64",
        0x1c4 => "arm",
        0x200 => "ia64",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_binary() {
        let head = std::fs::read("/bin/sh").unwrap_or_default();
        let want = match std::env::consts::ARCH {
            "x86" => "i386",
            a => a,
        };
        assert_eq!(elf_arch(&head), Some(want));
        assert_eq!(elf_arch(b"\x7fELF"), None);
        assert_eq!(elf_arch(b"#!/bin/sh\n"), None);
        assert_eq!(pe_arch(b"MZ"), None);
    }
}
