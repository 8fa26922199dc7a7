//! Raw images: the file is the disk.

use crate::error::Result;
use crate::format::{ImageFormat, ImageInfo, ImageSource, OpenContext, OpenedImage};

/// Opens a raw image: every byte of the file is a byte of the disk.
pub(crate) fn open(source: ImageSource, _ctx: &OpenContext) -> Result<OpenedImage> {
    let info = ImageInfo::new(&source, ImageFormat::Raw, source.size());
    Ok(OpenedImage {
        info,
        device: source.device,
    })
}
