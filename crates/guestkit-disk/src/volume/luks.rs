//! LUKS1 and LUKS2 headers: detected and described, never unlocked.

use serde::Serialize;

use crate::block::{bytes, BlockDevice};
use crate::error::{DiskError, Layer, Result};

const MAGIC: &[u8; 6] = b"LUKS\xba\xbe";
/// Largest LUKS2 JSON area read (cryptsetup allows up to 4 MiB headers).
const MAX_JSON: u64 = 4 << 20;

/// What a LUKS header says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LuksInfo {
    pub version: u16,
    pub uuid: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// Cipher of the (first) data segment, e.g. `aes-xts-plain64`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cipher: Option<String>,
    /// Where the encrypted payload starts, bytes.
    pub payload_offset: u64,
}

fn cstr(b: &[u8]) -> String {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(b.get(..end).unwrap_or_default()).into_owned()
}

/// Detects a LUKS header at the start of `dev`.
pub fn probe(dev: &dyn BlockDevice) -> Result<Option<LuksInfo>> {
    if dev.size() < 592 {
        return Ok(None);
    }
    let mut h = [0u8; 592];
    dev.read_at(&mut h, 0)?;
    if h.get(..6) != Some(&MAGIC[..]) {
        return Ok(None);
    }
    let version = bytes::be16(&h, 6).unwrap_or(0);
    let uuid = cstr(h.get(168..208).unwrap_or_default());
    match version {
        1 => {
            let cipher = cstr(h.get(8..40).unwrap_or_default());
            let mode = cstr(h.get(40..72).unwrap_or_default());
            let payload = u64::from(bytes::be32(&h, 104).unwrap_or(0)) * 512;
            Ok(Some(LuksInfo {
                version,
                uuid,
                label: None,
                cipher: Some(format!("{cipher}-{mode}")),
                payload_offset: payload,
            }))
        }
        2 => {
            let label = cstr(h.get(24..72).unwrap_or_default());
            let hdr_size = bytes::be64(&h, 8).unwrap_or(0);
            let (cipher, payload_offset) = luks2_segment(dev, hdr_size)?;
            Ok(Some(LuksInfo {
                version,
                uuid,
                label: (!label.is_empty()).then_some(label),
                cipher,
                payload_offset,
            }))
        }
        other => Err(DiskError::unsupported(
            dev.describe(),
            Layer::Luks,
            format!("LUKS header version {other}"),
        )),
    }
}

/// Cipher and offset of the first data segment, from the JSON area that
/// follows the 4 KiB binary header.
fn luks2_segment(dev: &dyn BlockDevice, hdr_size: u64) -> Result<(Option<String>, u64)> {
    if !(4096 + 2..=MAX_JSON).contains(&hdr_size) || hdr_size > dev.size() {
        return Err(DiskError::corrupt(
            dev.describe(),
            Layer::Luks,
            8,
            "hdr_size",
            format!("{hdr_size} is not a LUKS2 header size within the device"),
        ));
    }
    let mut json = vec![0u8; (hdr_size - 4096) as usize];
    dev.read_at(&mut json, 4096)?;
    let end = json.iter().position(|&b| b == 0).unwrap_or(json.len());
    let value: serde_json::Value = serde_json::from_slice(json.get(..end).unwrap_or_default())
        .map_err(|e| {
            DiskError::corrupt(
                dev.describe(),
                Layer::Luks,
                4096,
                "JSON metadata",
                e.to_string(),
            )
        })?;
    let segments = value.get("segments").and_then(|s| s.as_object());
    let first = segments.and_then(|s| {
        s.iter()
            .min_by_key(|(k, _)| k.parse::<u64>().unwrap_or(u64::MAX))
            .map(|(_, v)| v)
    });
    let cipher = first
        .and_then(|s| s.get("encryption"))
        .and_then(|c| c.as_str())
        .map(str::to_string);
    let offset = first
        .and_then(|s| s.get("offset"))
        .and_then(|o| o.as_str())
        .and_then(|o| o.parse().ok())
        .unwrap_or(0);
    Ok((cipher, offset))
}
