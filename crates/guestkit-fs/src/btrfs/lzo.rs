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
