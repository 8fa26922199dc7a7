//! The shared corpus of real data files (`../shared/corpus` beside the
//! repository, or `$GUESTKIT_CORPUS`): its manifest, and guest trees built
//! by placing its files at their guest paths.

use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::{FixtureError, Result};

/// The corpus directory, when present.
pub fn corpus_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("GUESTKIT_CORPUS") {
        let dir = PathBuf::from(dir);
        return dir.join("MANIFEST.json").is_file().then_some(dir);
    }
    let dir = crate::workspace_root()
        .join("..")
        .join("shared")
        .join("corpus");
    dir.join("MANIFEST.json").is_file().then_some(dir)
}

/// One file of the corpus, as its manifest describes it.
#[derive(Debug, Clone)]
pub struct CorpusFile {
    /// Path relative to the corpus directory.
    pub path: String,
    pub kind: String,
    /// Where the file lives in a guest (no leading `/`).
    pub guest_path: Option<String>,
    /// The independently obtained answers.
    pub expected: Value,
    /// Links that existed upstream: guest path → target.
    pub upstream_symlinks: Vec<(String, String)>,
}

impl CorpusFile {
    /// The file's directory group: `os/rocky9/...` → `os/rocky9`.
    pub fn group(&self) -> String {
        self.path
            .splitn(3, '/')
            .take(2)
            .collect::<Vec<_>>()
            .join("/")
    }
}

/// The corpus manifest's files, or `None` (with a message on stderr saying
/// the tests using it are skipped) when the corpus is absent.
pub fn corpus_files() -> Option<(PathBuf, Vec<CorpusFile>)> {
    let Some(dir) = corpus_dir() else {
        eprintln!(
            "corpus not found (set GUESTKIT_CORPUS or place it at ../shared/corpus): skipping"
        );
        return None;
    };
    let text = fs::read_to_string(dir.join("MANIFEST.json")).ok()?;
    let manifest: Value = serde_json::from_str(&text).ok()?;
    let files = manifest
        .get("files")?
        .as_array()?
        .iter()
        .filter_map(|f| {
            Some(CorpusFile {
                path: f.get("path")?.as_str()?.to_string(),
                kind: f.get("kind")?.as_str()?.to_string(),
                guest_path: f
                    .get("guest_path")
                    .and_then(Value::as_str)
                    .map(str::to_string),
                expected: f.get("expected").cloned().unwrap_or(Value::Null),
                upstream_symlinks: f
                    .get("upstream_symlinks")
                    .and_then(Value::as_object)
                    .map(|m| {
                        m.iter()
                            .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                            .collect()
                    })
                    .unwrap_or_default(),
            })
        })
        .collect();
    Some((dir, files))
}

fn io<T>(path: &Path, r: std::io::Result<T>) -> Result<T> {
    r.map_err(|e| FixtureError::io(path, e))
}

/// Copies `files` (from corpus `dir`) into `root` at their guest paths and
/// recreates their upstream symlinks where nothing else is there.
pub fn place(dir: &Path, files: &[&CorpusFile], root: &Path) -> Result<()> {
    for f in files {
        let Some(guest) = &f.guest_path else { continue };
        let to = root.join(guest);
        if let Some(parent) = to.parent() {
            io(parent, fs::create_dir_all(parent))?;
        }
        let from = dir.join(&f.path);
        if from.is_dir() {
            copy_dir(&from, &to)?;
        } else {
            io(&to, fs::copy(&from, &to))?;
        }
    }
    for f in files {
        for (link, target) in &f.upstream_symlinks {
            let at = root.join(link);
            if at.symlink_metadata().is_ok() {
                continue;
            }
            if let Some(parent) = at.parent() {
                io(parent, fs::create_dir_all(parent))?;
            }
            io(&at, symlink(target, &at))?;
        }
    }
    Ok(())
}

fn copy_dir(from: &Path, to: &Path) -> Result<()> {
    io(to, fs::create_dir_all(to))?;
    for entry in io(from, fs::read_dir(from))? {
        let entry = io(from, entry)?;
        let (src, dst) = (entry.path(), to.join(entry.file_name()));
        if src.is_dir() {
            copy_dir(&src, &dst)?;
        } else {
            io(&dst, fs::copy(&src, &dst))?;
        }
    }
    Ok(())
}
