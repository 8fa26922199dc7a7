//! JSON paths (`$.payload.data.profiles[2]`) for naming where a problem is.

use serde_path_to_error::{Path, Segment};

/// The path of the whole document.
pub const ROOT: &str = "$";

/// The path of member `key` of the object at `parent`: `$.a.b`, or
/// `$.a["odd key"]` when the key is not a plain identifier.
pub fn child(parent: &str, key: &str) -> String {
    let plain = !key.is_empty()
        && !key.starts_with(|c: char| c.is_ascii_digit())
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$');
    if plain {
        format!("{parent}.{key}")
    } else {
        // A JSON string literal is a valid bracket key; serializing a &str
        // cannot fail, the fallback only keeps this function total.
        let quoted = serde_json::to_string(key).unwrap_or_else(|_| format!("\"{key}\""));
        format!("{parent}[{quoted}]")
    }
}

/// The path of element `i` of the array at `parent`.
pub fn index(parent: &str, i: usize) -> String {
    format!("{parent}[{i}]")
}

/// The path `serde_path_to_error` tracked, below `root`.
pub fn from_tracked(root: &str, tracked: &Path) -> String {
    let mut out = root.to_string();
    for segment in tracked.iter() {
        out = match segment {
            Segment::Seq { index: i } => index(&out, *i),
            Segment::Map { key } => child(&out, key),
            Segment::Enum { variant } => child(&out, variant),
            Segment::Unknown => out,
        };
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_and_quoted_keys() {
        assert_eq!(child(ROOT, "execution"), "$.execution");
        assert_eq!(child("$.x", "$schema"), "$.x.$schema");
        assert_eq!(child(ROOT, "cost-center"), "$[\"cost-center\"]");
        assert_eq!(child(ROOT, ""), "$[\"\"]");
        assert_eq!(index("$.p", 3), "$.p[3]");
    }
}
