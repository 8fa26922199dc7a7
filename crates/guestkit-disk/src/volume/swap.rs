//! Linux swap signatures (`mkswap`): version, UUID, label, size in pages.

use serde::Serialize;

use crate::block::{bytes, BlockDevice};
use crate::error::Result;
use crate::uuid::uuid_be;

/// What a swap header says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SwapInfo {
    /// 1 for `SWAPSPACE2`, 0 for the old `SWAP-SPACE`.
    pub version: u32,
    pub uuid: Option<String>,
    pub label: Option<String>,
    /// Usable pages (last page + 1).
    pub pages: u64,
    /// The page size the signature was found for.
    pub page_size: u64,
}

/// Detects a swap signature at the end of the first page, for page sizes of
/// 4, 8, 16 and 64 KiB.
pub fn probe(dev: &dyn BlockDevice) -> Result<Option<SwapInfo>> {
    for page_size in [4096u64, 8192, 16384, 65536] {
        if dev.size() < page_size {
            break;
        }
        let mut magic = [0u8; 10];
        dev.read_at(&mut magic, page_size - 10)?;
        let version = match &magic {
            b"SWAPSPACE2" => 1,
            b"SWAP-SPACE" => 0,
            _ => continue,
        };
        if version == 0 {
            return Ok(Some(SwapInfo {
                version,
                uuid: None,
                label: None,
                pages: 0,
                page_size,
            }));
        }
        let mut h = [0u8; 64];
        dev.read_at(&mut h, 1024)?;
        // The header is in the writer's byte order: version 1 either way.
        let le = bytes::le32(&h, 0) == Some(1);
        let last_page = if le {
            bytes::le32(&h, 4)
        } else {
            bytes::be32(&h, 4)
        }
        .unwrap_or(0);
        let uuid_bytes: [u8; 16] = bytes::array(&h, 12).unwrap_or_default();
        let label_bytes = h.get(28..44).unwrap_or_default();
        let label_len = label_bytes
            .iter()
            .position(|&b| b == 0)
            .unwrap_or(label_bytes.len());
        let label =
            String::from_utf8_lossy(label_bytes.get(..label_len).unwrap_or_default()).into_owned();
        return Ok(Some(SwapInfo {
            version,
            uuid: (uuid_bytes != [0; 16]).then(|| uuid_be(&uuid_bytes)),
            label: (!label.is_empty()).then_some(label),
            pages: u64::from(last_page) + 1,
            page_size,
        }));
    }
    Ok(None)
}
