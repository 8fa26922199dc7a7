//! A `ConfigSource` over files cut out of the fuzz input: NUL bytes
//! separate the texts, which are placed at the given guest paths.

use std::cell::RefCell;
use std::collections::BTreeMap;

use guestkit_inspect::security::sshd::ConfigSource;

/// Files by guest path, plus the warnings recorded.
pub struct MemSource {
    pub files: BTreeMap<String, String>,
    pub warnings: RefCell<Vec<String>>,
}

impl MemSource {
    /// The NUL-separated parts of `data` at `paths`, in order (missing
    /// parts are missing files).
    pub fn new(data: &[u8], paths: &[&str]) -> (MemSource, Vec<String>) {
        let text = String::from_utf8_lossy(data);
        let mut parts = text.split('\0').map(str::to_string);
        let files = paths
            .iter()
            .zip(parts.by_ref())
            .map(|(p, t)| (p.to_string(), t))
            .collect();
        let rest = parts.collect();
        (
            MemSource {
                files,
                warnings: RefCell::new(Vec::new()),
            },
            rest,
        )
    }
}

impl ConfigSource for MemSource {
    fn read(&self, path: &str) -> Option<String> {
        self.files.get(path).cloned()
    }
    fn list_dir(&self, path: &str) -> Vec<String> {
        let prefix = format!("{}/", path.trim_end_matches('/'));
        let mut names: Vec<String> = self
            .files
            .keys()
            .filter_map(|k| k.strip_prefix(&prefix))
            .map(|rest| rest.split('/').next().unwrap_or(rest).to_string())
            .collect();
        names.sort();
        names.dedup();
        names
    }
    fn is_dir(&self, path: &str) -> bool {
        let prefix = format!("{}/", path.trim_end_matches('/'));
        self.files.keys().any(|k| k.starts_with(&prefix))
    }
    fn warn(&self, path: &str, message: String) {
        self.warnings.borrow_mut().push(format!("{path}: {message}"));
    }
}
