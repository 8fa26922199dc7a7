//! A bounded LZO1X decompressor (the format `lzo1x_decompress_safe` reads),
//! written for Btrfs's LZO extents: every input read and back-reference is
//! checked, and output never grows beyond the caller's bound.

/// Decompresses one LZO1X stream, appending at most `max_out` bytes to `out`.
pub fn decompress(input: &[u8], max_out: usize) -> Result<Vec<u8>, String> {
    let mut d = Decoder {
        input,
        ip: 0,
        out: Vec::new(),
        max_out,
    };
    d.run()?;
    Ok(d.out)
}

struct Decoder<'a> {
    input: &'a [u8],
    ip: usize,
    out: Vec<u8>,
    max_out: usize,
}

impl Decoder<'_> {
    fn next(&mut self) -> Result<usize, String> {
        let b = self
            .input
            .get(self.ip)
            .copied()
            .ok_or_else(|| format!("LZO input ends at {}", self.ip))?;
        self.ip += 1;
        Ok(usize::from(b))
    }

    /// A run length continued in zero bytes (each adds 255) and a final byte.
    fn extended(&mut self, base: usize) -> Result<usize, String> {
        let mut n = base;
        loop {
            let b = self.next()?;
            if b != 0 {
                return Ok(n + b);
            }
            n += 255;
            if n > self.max_out {
                return Err(format!("LZO run length beyond {} bytes", self.max_out));
            }
        }
    }

    fn literals(&mut self, n: usize) -> Result<(), String> {
        let end = self.ip.checked_add(n).ok_or("LZO literal run overflows")?;
        let src = self
            .input
            .get(self.ip..end)
            .ok_or_else(|| format!("LZO literal run of {n} bytes beyond the input"))?;
        if self.out.len() + n > self.max_out {
            return Err(format!("LZO output beyond {} bytes", self.max_out));
        }
        self.out.extend_from_slice(src);
        self.ip = end;
        Ok(())
    }

    fn copy_match(&mut self, dist: usize, len: usize) -> Result<(), String> {
        if dist == 0 || dist > self.out.len() {
            return Err(format!(
                "LZO match distance {dist} before the start of the output ({} bytes)",
                self.out.len()
            ));
        }
        if self.out.len() + len > self.max_out {
            return Err(format!("LZO output beyond {} bytes", self.max_out));
        }
        let start = self.out.len() - dist;
        for i in 0..len {
            let b = self.out.get(start + i).copied().unwrap_or_default();
            self.out.push(b);
        }
        Ok(())
    }

    fn run(&mut self) -> Result<(), String> {
        // state: 0 = literal run allowed next; 1..=3 = that many literals just
        // followed a match; 4 = a literal run of 4 or more just ended.
        let mut state = 0usize;
        if let Some(&first) = self.input.first() {
            if first > 17 {
                self.ip = 1;
                let t = usize::from(first) - 17;
                self.literals(t)?;
                state = if t < 4 { t } else { 4 };
            }
        }
        loop {
            let t = self.next()?;
            let trailing;
            if t < 16 {
                match state {
                    0 => {
                        let len = if t == 0 { self.extended(15)? } else { t };
                        self.literals(len + 3)?;
                        state = 4;
                        continue;
                    }
                    4 => {
                        let h = self.next()?;
                        self.copy_match(1 + 0x800 + (t >> 2) + (h << 2), 3)?;
                    }
                    _ => {
                        let h = self.next()?;
                        self.copy_match(1 + (t >> 2) + (h << 2), 2)?;
                    }
                }
                trailing = t & 3;
            } else if t >= 64 {
                let h = self.next()?;
                self.copy_match(1 + ((t >> 2) & 7) + (h << 3), (t >> 5) + 1)?;
                trailing = t & 3;
            } else if t >= 32 {
                let len = if t & 31 == 0 {
                    self.extended(31)?
                } else {
                    t & 31
                };
                let lo = self.next()?;
                let hi = self.next()?;
                self.copy_match(1 + ((lo | (hi << 8)) >> 2), len + 2)?;
                trailing = lo & 3;
            } else {
                let len = if t & 7 == 0 { self.extended(7)? } else { t & 7 };
                let lo = self.next()?;
                let hi = self.next()?;
                let dist = ((t & 8) << 11) + ((lo | (hi << 8)) >> 2);
                if dist == 0 {
                    return Ok(()); // end of stream
                }
                self.copy_match(dist + 0x4000, len + 2)?;
                trailing = lo & 3;
            }
            state = trailing;
            if trailing > 0 {
                self.literals(trailing)?;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::decompress;
    use std::io::Write;
    use std::process::{Command, Stdio};

    /// Compresses `data` with the `lzop` CLI and returns the LZO1X blocks
    /// as (uncompressed length, compressed bytes or None when stored).
    fn lzop(data: &[u8], level: &str) -> Vec<(usize, Vec<u8>, bool)> {
        let mut child = Command::new("lzop")
            .args(["-c", level])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("lzop is installed");
        let mut stdin = child.stdin.take().unwrap();
        let input = data.to_vec();
        let w = std::thread::spawn(move || stdin.write_all(&input).unwrap());
        let f = child.wait_with_output().unwrap().stdout;
        w.join().unwrap();
        let be = |p: usize| u32::from_be_bytes(f[p..p + 4].try_into().unwrap()) as usize;
        let version = u16::from_be_bytes([f[9], f[10]]);
        assert!(version >= 0x0940);
        let mut p = 9 + 2 + 2 + 2 + 1 + 1;
        let flags = be(p);
        p += 4;
        if flags & 0x800 != 0 {
            p += 4;
        }
        p += 12;
        p += 1 + f[p] as usize + 4;
        let mut blocks = Vec::new();
        loop {
            let dst = be(p);
            if dst == 0 {
                break;
            }
            let src = be(p + 4);
            p += 8;
            p += 4 * [0x1, 0x100].iter().filter(|&&b| flags & b != 0).count();
            if src < dst {
                p += 4 * [0x2, 0x200].iter().filter(|&&b| flags & b != 0).count();
            }
            blocks.push((dst, f[p..p + src].to_vec(), src < dst));
            p += src;
        }
        blocks
    }

    fn sample() -> Vec<u8> {
        let mut d = Vec::new();
        let mut x = 0x1234_5678u32;
        for i in 0..200_000u32 {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            d.push(if i % 3 == 0 {
                (x >> 24) as u8
            } else {
                b"abcdefgh"[(i % 8) as usize]
            });
        }
        d.extend(std::iter::repeat_n(0u8, 70_000));
        d.extend((0..5000).flat_map(|i| format!("row {i} {}\n", i * 7919 % 1000).into_bytes()));
        // A long-distance repeat (LZO1X M4 matches reach back up to 48 KiB).
        // (within lzop's second 256 KiB block, 40,000 bytes back).
        let start = d.len() - 30_000;
        let again = d[start..start + 20_000].to_vec();
        d.extend(std::iter::repeat_n(7u8, 10_000));
        d.extend(again);
        assert!(start > 256 * 1024);
        d
    }

    #[test]
    fn decodes_lzop_output() {
        let data = sample();
        for level in ["-1", "-9"] {
            let mut out = Vec::new();
            let mut compressed_blocks = 0;
            for (len, block, compressed) in lzop(&data, level) {
                if compressed {
                    compressed_blocks += 1;
                    let got = decompress(&block, len).unwrap();
                    assert_eq!(got.len(), len);
                    out.extend(got);
                    // Bounds: a smaller output budget is an error, not a panic.
                    assert!(decompress(&block, len - 1).is_err());
                    // Truncated input is an error, not a panic.
                    for cut in [0, 1, block.len() / 2, block.len() - 1] {
                        assert!(decompress(&block[..cut], len).is_err());
                    }
                } else {
                    out.extend(block);
                }
            }
            assert!(compressed_blocks > 0);
            assert!(out == data, "lzop {level} round trip");
        }
    }

    #[test]
    fn garbage_is_an_error() {
        for input in [
            &b""[..],
            b"\x00",
            b"\x11\x00",
            b"\x20\xff\xff",
            b"\x40\x00",
            b"\xff",
        ] {
            assert!(decompress(input, 1 << 16).is_err(), "{input:?}");
        }
        // The end marker alone is an empty stream.
        assert_eq!(decompress(b"\x11\x00\x00", 16).unwrap(), b"");
    }
}
