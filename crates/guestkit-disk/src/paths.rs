//! Confinement of paths named inside images (backing files, extents).
//!
//! A path read from an image is untrusted: it is resolved relative to the
//! directory of the image that names it, canonicalised (so `..` and symlinks
//! are followed on the host) and accepted only when the result lies inside one
//! of the allowed image roots. By default the only root is the directory of
//! the image the caller opened.

use std::path::{Component, Path, PathBuf};

use crate::error::{DiskError, Layer, Result};

/// Directories image files may be read from.
#[derive(Debug, Clone, Default)]
pub struct ImageRoots {
    roots: Vec<PathBuf>,
}

impl ImageRoots {
    /// Roots given by the caller (e.g. a worker's `--image-root`). Each is
    /// canonicalised; a root that does not exist is dropped.
    pub fn new<I, P>(roots: I) -> Self
    where
        I: IntoIterator<Item = P>,
        P: AsRef<Path>,
    {
        ImageRoots {
            roots: roots
                .into_iter()
                .filter_map(|p| p.as_ref().canonicalize().ok())
                .collect(),
        }
    }

    /// True when no root was configured.
    pub fn is_empty(&self) -> bool {
        self.roots.is_empty()
    }

    /// Whether the canonical path `p` lies inside one of the roots.
    pub fn contains(&self, p: &Path) -> bool {
        self.roots.iter().any(|r| p.starts_with(r))
    }

    /// Resolves `referenced`, as named inside the image at `from_image`, to a
    /// canonical host path inside the roots.
    pub fn resolve(&self, from_image: &Path, referenced: &str, layer: Layer) -> Result<PathBuf> {
        let refuse = |reason: &str| DiskError::PathRefused {
            path: from_image.to_path_buf(),
            layer,
            referenced: referenced.to_string(),
            reason: reason.to_string(),
        };
        if referenced.is_empty() {
            return Err(refuse("empty path"));
        }
        if referenced.contains('\0') {
            return Err(refuse("path contains a NUL byte"));
        }
        if referenced.contains("://") || referenced.starts_with("json:") {
            return Err(refuse("protocol paths are not supported"));
        }
        let named = Path::new(referenced);
        let joined = if named.is_absolute() {
            named.to_path_buf()
        } else {
            let dir = from_image.parent().unwrap_or(Path::new("."));
            dir.join(named)
        };
        if joined
            .components()
            .any(|c| matches!(c, Component::Prefix(_)))
        {
            return Err(refuse("unsupported path prefix"));
        }
        let canonical = joined
            .canonicalize()
            .map_err(|e| refuse(&format!("cannot resolve: {e}")))?;
        if !self.contains(&canonical) {
            return Err(refuse(&format!(
                "{} lies outside the allowed image roots",
                canonical.display()
            )));
        }
        Ok(canonical)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_escape_and_absolute_outside_roots() {
        let dir = tempfile::tempdir().unwrap();
        let img = dir.path().join("a.qcow2");
        std::fs::write(&img, b"x").unwrap();
        std::fs::write(dir.path().join("base.raw"), b"x").unwrap();
        let roots = ImageRoots::new([dir.path()]);
        assert!(roots.resolve(&img, "base.raw", Layer::Qcow2).is_ok());
        for bad in [
            "/etc/passwd",
            "../../../../etc/shadow",
            "",
            "nbd://x",
            "missing.raw",
        ] {
            let err = roots.resolve(&img, bad, Layer::Qcow2).unwrap_err();
            assert!(matches!(err, DiskError::PathRefused { .. }), "{bad}: {err}");
        }
    }

    #[test]
    fn refuses_symlink_leaving_roots() {
        let dir = tempfile::tempdir().unwrap();
        let img = dir.path().join("a.vmdk");
        std::fs::write(&img, b"x").unwrap();
        std::os::unix::fs::symlink("/etc/hostname", dir.path().join("link.raw")).unwrap();
        let roots = ImageRoots::new([dir.path()]);
        let err = roots.resolve(&img, "link.raw", Layer::Vmdk).unwrap_err();
        assert!(
            err.to_string().contains("outside the allowed image roots"),
            "{err}"
        );
    }
}
