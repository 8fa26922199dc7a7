//! The fixture cache: each recipe builds into its own directory once, and
//! again only when the recipe's text changes. Builds are serialised with a
//! file lock so parallel test processes share one build.

use std::fs::{self, File};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::{FixtureError, Result};

/// Root of the cache: `$GUESTKIT_FIXTURES_DIR`, or `target/fixtures` in the
/// workspace.
pub fn fixtures_root() -> PathBuf {
    if let Some(dir) = std::env::var_os("GUESTKIT_FIXTURES_DIR") {
        return PathBuf::from(dir);
    }
    workspace_root().join("target").join("fixtures")
}

/// The workspace root (two levels above this crate's manifest).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// Returns the directory of fixture `name`, building it with `build` when it
/// is missing or `recipe` (normally the recipe module's own source text,
/// `include_str!(file!())`-style) changed since it was built.
///
/// `build` receives an empty directory to fill; it is renamed into place only
/// when the build succeeds.
pub fn cached<F>(name: &str, recipe: &str, build: F) -> Result<PathBuf>
where
    F: FnOnce(&Path) -> Result<()>,
{
    let root = fixtures_root();
    fs::create_dir_all(&root).map_err(|e| FixtureError::io(&root, e))?;
    let stamp_text = format!("{:x}", Sha256::digest(recipe.as_bytes()));
    let dir = root.join(name);
    let stamp = root.join(format!("{name}.stamp"));
    let lock_path = root.join(format!("{name}.lock"));
    let lock = File::create(&lock_path).map_err(|e| FixtureError::io(&lock_path, e))?;
    lock.lock().map_err(|e| FixtureError::io(&lock_path, e))?;
    if dir.is_dir() && fs::read_to_string(&stamp).ok().as_deref() == Some(stamp_text.as_str()) {
        return Ok(dir);
    }
    let tmp = root.join(format!("{name}.building"));
    for stale in [&tmp, &dir] {
        if stale.exists() {
            fs::remove_dir_all(stale).map_err(|e| FixtureError::io(stale, e))?;
        }
    }
    let _ = fs::remove_file(&stamp);
    fs::create_dir_all(&tmp).map_err(|e| FixtureError::io(&tmp, e))?;
    build(&tmp)?;
    fs::rename(&tmp, &dir).map_err(|e| FixtureError::io(&dir, e))?;
    fs::write(&stamp, &stamp_text).map_err(|e| FixtureError::io(&stamp, e))?;
    Ok(dir)
}
