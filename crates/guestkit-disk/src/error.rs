//! Typed errors of the disk layer. Every variant names the image file, the layer
//! that found the problem and, where there is one, the byte offset or field.

use std::fmt;
use std::path::PathBuf;

/// The layer of the disk stack that reported an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Layer {
    File,
    Raw,
    Qcow2,
    Vmdk,
    Vdi,
    Vhdx,
    Vhd,
    Mbr,
    Gpt,
    Lvm,
    Md,
    Luks,
    Swap,
    Volume,
}

impl fmt::Display for Layer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            Layer::File => "file",
            Layer::Raw => "raw",
            Layer::Qcow2 => "qcow2",
            Layer::Vmdk => "vmdk",
            Layer::Vdi => "vdi",
            Layer::Vhdx => "vhdx",
            Layer::Vhd => "vhd",
            Layer::Mbr => "mbr",
            Layer::Gpt => "gpt",
            Layer::Lvm => "lvm",
            Layer::Md => "md",
            Layer::Luks => "luks",
            Layer::Swap => "swap",
            Layer::Volume => "volume",
        };
        f.write_str(name)
    }
}

/// Errors of the disk layer.
#[derive(Debug, thiserror::Error)]
pub enum DiskError {
    /// The operating system failed a read or open.
    #[error("{}: {layer}: I/O error at offset {offset}: {source}", path.display())]
    Io {
        path: PathBuf,
        layer: Layer,
        offset: u64,
        #[source]
        source: std::io::Error,
    },
    /// A structure read from the image is inconsistent or points somewhere impossible.
    #[error("{}: {layer}: corrupt {field} at offset {offset}: {reason}", path.display())]
    Corrupt {
        path: PathBuf,
        layer: Layer,
        offset: u64,
        field: String,
        reason: String,
    },
    /// A valid image uses a feature this reader does not implement.
    #[error("{}: {layer}: unsupported {what}", path.display())]
    Unsupported {
        path: PathBuf,
        layer: Layer,
        what: String,
    },
    /// A value read from the image is beyond a configured [`crate::Limits`] bound.
    #[error("{}: {layer}: {field} = {value} exceeds the limit of {limit}", path.display())]
    LimitExceeded {
        path: PathBuf,
        layer: Layer,
        field: String,
        value: u64,
        limit: u64,
    },
    /// A read asked for bytes outside the device.
    #[error("{device}: read of {len} bytes at offset {offset} is past the end (size {size})")]
    OutOfRange {
        device: String,
        offset: u64,
        len: u64,
        size: u64,
    },
    /// The caller stated a format that the image content contradicts.
    #[error("{}: stated format {stated} but the content is {detected}", path.display())]
    FormatMismatch {
        path: PathBuf,
        stated: String,
        detected: String,
    },
    /// A path named inside an image (backing file, extent) was refused.
    #[error("{}: {layer}: refused to open {referenced:?}: {reason}", path.display())]
    PathRefused {
        path: PathBuf,
        layer: Layer,
        referenced: String,
        reason: String,
    },
    /// The image is encrypted and cannot be read without a key.
    #[error("{}: {layer}: image is encrypted ({method}); reading it needs a key", path.display())]
    Encrypted {
        path: PathBuf,
        layer: Layer,
        method: String,
    },
}

impl DiskError {
    /// A corrupt-structure error.
    pub fn corrupt(
        path: impl Into<PathBuf>,
        layer: Layer,
        offset: u64,
        field: impl Into<String>,
        reason: impl Into<String>,
    ) -> Self {
        DiskError::Corrupt {
            path: path.into(),
            layer,
            offset,
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// An unsupported-feature error.
    pub fn unsupported(path: impl Into<PathBuf>, layer: Layer, what: impl Into<String>) -> Self {
        DiskError::Unsupported {
            path: path.into(),
            layer,
            what: what.into(),
        }
    }

    /// A limit error.
    pub fn limit(
        path: impl Into<PathBuf>,
        layer: Layer,
        field: impl Into<String>,
        value: u64,
        limit: u64,
    ) -> Self {
        DiskError::LimitExceeded {
            path: path.into(),
            layer,
            field: field.into(),
            value,
            limit,
        }
    }
}

/// Result alias of the disk layer.
pub type Result<T, E = DiskError> = std::result::Result<T, E>;
