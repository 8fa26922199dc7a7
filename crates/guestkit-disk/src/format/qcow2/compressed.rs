//! Compressed clusters: raw deflate (zlib compression type, as qemu writes
//! it) or zstd frames, always decoding to exactly one cluster; plus a small
//! cache of recently decompressed clusters for reads smaller than a cluster.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use flate2::{Decompress, FlushDecompress, Status};
use ruzstd::decoding::{FrameDecoder, StreamingDecoder};

/// The compression of an image's compressed clusters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Codec {
    /// Raw deflate, no zlib header.
    Deflate,
    /// One or more zstd frames.
    Zstd,
}

/// Per-thread decoder state, reused across clusters so decoding allocates
/// nothing per cluster.
struct Scratch {
    input: Vec<u8>,
    deflate: Decompress,
    zstd: FrameDecoder,
}

thread_local! {
    static SCRATCH: RefCell<Option<Scratch>> = const { RefCell::new(None) };
}

/// Runs `f` with this thread's scratch state (or a fresh one when it is
/// already in use further up the stack).
pub(super) fn with_scratch<R>(f: impl FnOnce(&mut Vec<u8>, &mut Decoders<'_>) -> R) -> R {
    let fresh = || Scratch {
        input: Vec::new(),
        deflate: Decompress::new(false),
        zstd: FrameDecoder::new(),
    };
    SCRATCH.with(|cell| match cell.try_borrow_mut() {
        Ok(mut slot) => {
            let s = slot.get_or_insert_with(fresh);
            let mut d = Decoders {
                deflate: &mut s.deflate,
                zstd: &mut s.zstd,
            };
            f(&mut s.input, &mut d)
        }
        Err(_) => {
            let mut s = fresh();
            let mut d = Decoders {
                deflate: &mut s.deflate,
                zstd: &mut s.zstd,
            };
            f(&mut s.input, &mut d)
        }
    })
}

/// Borrowed decoders of one thread.
pub(super) struct Decoders<'a> {
    deflate: &'a mut Decompress,
    zstd: &'a mut FrameDecoder,
}

impl Decoders<'_> {
    /// Decodes `input` into exactly `out.len()` bytes. Trailing bytes of the
    /// input (sector padding) are ignored.
    pub fn decompress(&mut self, codec: Codec, input: &[u8], out: &mut [u8]) -> Result<(), String> {
        match codec {
            Codec::Deflate => inflate(self.deflate, input, out),
            Codec::Zstd => unzstd(self.zstd, input, out),
        }
    }
}

fn inflate(d: &mut Decompress, input: &[u8], out: &mut [u8]) -> Result<(), String> {
    d.reset(false);
    let status = d
        .decompress(input, out, FlushDecompress::Finish)
        .map_err(|e| format!("deflate: {e}"))?;
    let produced = d.total_out();
    if produced != out.len() as u64 {
        return Err(format!(
            "deflate stream gave {produced} of {} bytes ({status:?})",
            out.len()
        ));
    }
    match status {
        Status::Ok | Status::StreamEnd | Status::BufError => Ok(()),
    }
}

fn unzstd(d: &mut FrameDecoder, input: &[u8], out: &mut [u8]) -> Result<(), String> {
    use std::io::Read;
    let mut src = input;
    let mut filled = 0usize;
    // Each frame must make progress, so the loop ends within input.len() rounds.
    while filled < out.len() {
        if src.is_empty() {
            break;
        }
        let mut dec = StreamingDecoder::new_with_decoder(&mut src, &mut *d)
            .map_err(|e| format!("zstd frame header: {e}"))?;
        let mut progressed = false;
        while let Some(rest) = out.get_mut(filled..) {
            if rest.is_empty() {
                break;
            }
            let n = dec.read(rest).map_err(|e| format!("zstd: {e}"))?;
            if n == 0 {
                break;
            }
            filled += n;
            progressed = true;
        }
        if !progressed {
            break;
        }
    }
    if filled != out.len() {
        return Err(format!("zstd data gave {filled} of {} bytes", out.len()));
    }
    Ok(())
}

/// Most decompressed clusters kept.
const MAX_CACHED: usize = 8;

/// Recently decompressed clusters keyed by host offset, so reads smaller
/// than a cluster do not decompress the same cluster again and again.
#[derive(Debug)]
pub(super) struct ClusterCache {
    entries: Mutex<VecDeque<(u64, Arc<[u8]>)>>,
    cap: usize,
}

impl ClusterCache {
    /// A cache of at most `cache_bytes / cluster_size` clusters (1 ..= 8).
    pub fn new(cluster_size: u64, cache_bytes: u64) -> Self {
        let cap = usize::try_from(cache_bytes / cluster_size.max(1))
            .unwrap_or(MAX_CACHED)
            .clamp(1, MAX_CACHED);
        ClusterCache {
            entries: Mutex::new(VecDeque::with_capacity(cap)),
            cap,
        }
    }

    /// The cluster stored at `host`, when cached.
    pub fn get(&self, host: u64) -> Option<Arc<[u8]>> {
        let guard = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        guard
            .iter()
            .find(|(h, _)| *h == host)
            .map(|(_, d)| d.clone())
    }

    /// Remembers the cluster stored at `host`.
    pub fn insert(&self, host: u64, data: Arc<[u8]>) {
        let mut guard = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if guard.iter().any(|(h, _)| *h == host) {
            return;
        }
        if guard.len() >= self.cap {
            guard.pop_front();
        }
        guard.push_back((host, data));
    }
}
