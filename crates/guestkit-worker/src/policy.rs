//! Where a job may read images from and write outputs to. Paths in a job
//! are untrusted: they are resolved, canonicalised (symlinks followed)
//! and must land inside a configured root.

use std::path::{Component, Path, PathBuf};

use guestkit_job_spec::{ErrorCode, JobError};

/// Phase name of errors raised while checking a job against the policy.
pub const PHASE_POLICY: &str = JobError::PHASE_VALIDATION;

/// The allowed image roots and output roots, canonicalised.
#[derive(Debug, Clone)]
pub struct Policy {
    image_roots: Vec<PathBuf>,
    output_roots: Vec<PathBuf>,
    results_dir: PathBuf,
}

fn canonical(dir: &Path, what: &str) -> Result<PathBuf, String> {
    std::fs::canonicalize(dir).map_err(|e| format!("{what} {}: {e}", dir.display()))
}

fn deny(code: ErrorCode, message: String) -> JobError {
    JobError::new(code, message, PHASE_POLICY)
}

impl Policy {
    /// The policy of these roots (each must exist); the results directory
    /// is always an output root.
    pub fn new(
        image_roots: &[PathBuf],
        output_roots: &[PathBuf],
        results_dir: &Path,
    ) -> Result<Self, String> {
        let results_dir = canonical(results_dir, "results directory")?;
        let mut outputs = vec![results_dir.clone()];
        for r in output_roots {
            outputs.push(canonical(r, "output root")?);
        }
        Ok(Policy {
            image_roots: image_roots
                .iter()
                .map(|r| canonical(r, "image root"))
                .collect::<Result<_, _>>()?,
            output_roots: outputs,
            results_dir,
        })
    }

    /// The image roots.
    pub fn image_roots(&self) -> &[PathBuf] {
        &self.image_roots
    }

    /// The image a job names, resolved: an absolute path as is, a relative
    /// one against each image root in turn; it must exist and lie inside a
    /// root once symlinks are followed.
    pub fn resolve_image(&self, path: &str) -> Result<PathBuf, JobError> {
        if self.image_roots.is_empty() {
            return Err(deny(
                ErrorCode::ImageNotAllowed,
                format!("image {path:?}: this worker has no --image-root, so it reads no image"),
            ));
        }
        let given = Path::new(path);
        let candidates: Vec<PathBuf> = if given.is_absolute() {
            vec![given.to_path_buf()]
        } else {
            self.image_roots.iter().map(|r| r.join(given)).collect()
        };
        let mut last_err = None;
        for c in candidates {
            match std::fs::canonicalize(&c) {
                Ok(real) => {
                    if self.image_roots.iter().any(|r| real.starts_with(r)) {
                        return Ok(real);
                    }
                    return Err(deny(
                        ErrorCode::ImageNotAllowed,
                        format!(
                            "image {path:?} resolves to {} outside the allowed image roots ({})",
                            real.display(),
                            join(&self.image_roots)
                        ),
                    ));
                }
                Err(e) => last_err = Some(format!("{}: {e}", c.display())),
            }
        }
        Err(deny(
            ErrorCode::ImageNotAllowed,
            format!(
                "image {path:?} not found under the image roots ({}): {}",
                join(&self.image_roots),
                last_err.unwrap_or_default()
            ),
        ))
    }

    /// Where an output `destination` goes: relative to the results
    /// directory, or absolute; its directory must exist and lie inside an
    /// output root, and the name must be a plain file name.
    pub fn resolve_destination(&self, destination: &str) -> Result<PathBuf, JobError> {
        let bad = |why: String| {
            deny(
                ErrorCode::DestinationNotAllowed,
                format!("output destination {destination:?}: {why}"),
            )
        };
        let given = Path::new(destination);
        let full = if given.is_absolute() {
            given.to_path_buf()
        } else {
            self.results_dir.join(given)
        };
        let name = match full.components().next_back() {
            Some(Component::Normal(n)) if !destination.ends_with('/') => n.to_owned(),
            _ => return Err(bad("does not end in a file name".into())),
        };
        let parent = full
            .parent()
            .ok_or_else(|| bad("has no directory".into()))?;
        let parent = std::fs::canonicalize(parent)
            .map_err(|e| bad(format!("directory {}: {e}", parent.display())))?;
        if !self.output_roots.iter().any(|r| parent.starts_with(r)) {
            return Err(bad(format!(
                "{} is outside the results directory and output roots ({})",
                parent.display(),
                join(&self.output_roots)
            )));
        }
        let out = parent.join(name);
        if out.is_dir() || out.is_symlink() {
            return Err(bad(format!(
                "{} is a directory or a symlink",
                out.display()
            )));
        }
        Ok(out)
    }
}

fn join(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_and_destinations_stay_inside_their_roots() {
        let t = tempfile::tempdir().expect("tmp");
        let images = t.path().join("images");
        let results = t.path().join("results");
        let elsewhere = t.path().join("elsewhere");
        for d in [&images, &results, &elsewhere] {
            std::fs::create_dir_all(d).expect("mkdir");
        }
        std::fs::write(images.join("a.qcow2"), b"x").expect("write");
        std::fs::write(elsewhere.join("b.qcow2"), b"x").expect("write");
        std::os::unix::fs::symlink(elsewhere.join("b.qcow2"), images.join("link.qcow2"))
            .expect("symlink");
        let p = Policy::new(std::slice::from_ref(&images), &[], &results).expect("policy");
        assert!(p.resolve_image("a.qcow2").is_ok());
        assert!(p
            .resolve_image(&images.join("a.qcow2").display().to_string())
            .is_ok());
        for bad in ["../elsewhere/b.qcow2", "link.qcow2"] {
            let e = p.resolve_image(bad).expect_err(bad);
            assert_eq!(e.code, ErrorCode::ImageNotAllowed, "{bad}");
            assert!(
                e.message.contains("outside the allowed image roots"),
                "{}",
                e.message
            );
        }
        let e = p.resolve_image("missing.qcow2").expect_err("missing");
        assert_eq!(e.code, ErrorCode::ImageNotAllowed);
        assert!(p.resolve_destination("out.json").is_ok());
        for bad in ["../elsewhere/out.json", "/etc/passwd", "sub/"] {
            let e = p.resolve_destination(bad).expect_err(bad);
            assert_eq!(e.code, ErrorCode::DestinationNotAllowed, "{bad}");
        }
        let none = Policy::new(&[], &[], &results).expect("policy");
        assert!(none.resolve_image("a.qcow2").is_err());
    }
}
