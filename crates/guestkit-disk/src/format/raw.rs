//! Raw images: the file is the disk.

use std::sync::Arc;

use crate::block::BlockDevice;
use crate::error::Result;
use crate::file::FileDevice;
use crate::format::{ImageFormat, ImageInfo, OpenContext, OpenedImage};

/// Opens a raw image: every byte of the file is a byte of the disk.
pub(crate) fn open(file: FileDevice, _ctx: &OpenContext) -> Result<OpenedImage> {
    let info = ImageInfo::new(file.path(), ImageFormat::Raw, file.size(), &file);
    Ok(OpenedImage {
        info,
        device: Arc::new(file),
    })
}
