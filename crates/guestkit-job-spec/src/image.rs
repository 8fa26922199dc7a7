//! `image`: the disk image a payload reads.

use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::check::Problems;
use crate::checksum::Checksum;
use crate::envelope::Extra;
use crate::path;

/// A disk image format. Absent in a job means "detect from the content".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ImageFormat {
    /// Raw disk.
    Raw,
    /// QEMU copy-on-write v2/v3.
    Qcow2,
    /// VMware VMDK.
    Vmdk,
    /// VirtualBox VDI.
    Vdi,
    /// Hyper-V VHDX.
    Vhdx,
    /// Microsoft VHD (`vpc` in qemu's words, accepted as an alias).
    #[serde(alias = "vpc")]
    Vhd,
}

impl ImageFormat {
    /// The format's name in a job document.
    pub fn name(self) -> &'static str {
        match self {
            ImageFormat::Raw => "raw",
            ImageFormat::Qcow2 => "qcow2",
            ImageFormat::Vmdk => "vmdk",
            ImageFormat::Vdi => "vdi",
            ImageFormat::Vhdx => "vhdx",
            ImageFormat::Vhd => "vhd",
        }
    }
}

impl fmt::Display for ImageFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// `image {path, format, checksum, size_bytes}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ImageSpec {
    /// Path of the image as the worker sees it (the worker confines it to
    /// its allowed image roots).
    #[schemars(length(min = 1))]
    pub path: String,
    /// Container format; detected from the content when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<ImageFormat>,
    /// Expected SHA-256 of the image file; the worker verifies it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checksum: Option<Checksum>,
    /// Size of the image file in bytes, as the submitter knows it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size_bytes: Option<u64>,
    /// Unknown members (for example `read_only`), kept.
    #[serde(flatten)]
    pub extra: Extra,
}

impl ImageSpec {
    /// An image at `path`, format detected, no checksum.
    pub fn new(path: impl Into<String>) -> Self {
        ImageSpec {
            path: path.into(),
            format: None,
            checksum: None,
            size_bytes: None,
            extra: Extra::new(),
        }
    }

    /// The same image with its expected checksum.
    pub fn with_checksum(mut self, checksum: Checksum) -> Self {
        self.checksum = Some(checksum);
        self
    }

    /// The same image with its format given.
    pub fn with_format(mut self, format: ImageFormat) -> Self {
        self.format = Some(format);
        self
    }

    /// Reports every problem of the `image` member of `data` (at `at`).
    pub(crate) fn check(data: &serde_json::Map<String, Value>, at: &str, problems: &mut Problems) {
        let Some(value) = problems.required(data, at, "image") else {
            return;
        };
        let here = path::child(at, "image");
        let Some(image) = problems.object(value, &here) else {
            return;
        };
        match problems.required(image, &here, "path") {
            Some(Value::String(p)) => problems.path_text(p, &path::child(&here, "path")),
            Some(_) => {
                problems.field::<String>(image, &here, "path");
            }
            None => {}
        }
        problems.optional::<ImageFormat>(image, &here, "format");
        problems.optional::<Checksum>(image, &here, "checksum");
        problems.optional::<u64>(image, &here, "size_bytes");
    }
}
