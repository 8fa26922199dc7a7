//! `os-release(5)` and the other `KEY=value` files (`lsb-release`): shell
//! assignments, unquoted the way a shell sourcing them would.

use std::collections::BTreeMap;

/// The assignments of an os-release style file, later keys winning.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyValues {
    values: BTreeMap<String, String>,
}

impl KeyValues {
    /// Parses `text`: one `KEY=value` per line, `#` comments and blank
    /// lines ignored, values in single or double quotes or bare with
    /// backslash escapes, as `sh` reads them. Lines that are not
    /// assignments are skipped.
    pub fn parse(text: &str) -> Self {
        let mut values = BTreeMap::new();
        for line in text.lines() {
            let line = line.trim_start();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let line = line.strip_prefix("export ").unwrap_or(line);
            let Some((key, raw)) = line.split_once('=') else {
                continue;
            };
            let valid_key = !key.is_empty()
                && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
                && !key.as_bytes().first().is_some_and(u8::is_ascii_digit);
            if valid_key {
                values.insert(key.to_string(), shell_unquote(raw));
            }
        }
        KeyValues { values }
    }

    /// The value of `key`, if assigned and not empty.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.values
            .get(key)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// The value of `key` as assigned, empty or not.
    pub fn raw(&self, key: &str) -> Option<&str> {
        self.values.get(key).map(String::as_str)
    }

    /// Every assignment, sorted by key.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.values.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
}

/// One shell word: quotes removed, escapes applied; an unquoted blank or
/// `#` ends it (the rest of the line is another command or a comment).
fn shell_unquote(raw: &str) -> String {
    let mut out = String::new();
    let mut chars = raw.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                for c in chars.by_ref() {
                    if c == '\'' {
                        break;
                    }
                    out.push(c);
                }
            }
            '"' => {
                while let Some(c) = chars.next() {
                    match c {
                        '"' => break,
                        '\\' => match chars.peek() {
                            Some(&n @ ('"' | '\\' | '$' | '`')) => {
                                out.push(n);
                                chars.next();
                            }
                            _ => out.push('\\'),
                        },
                        _ => out.push(c),
                    }
                }
            }
            '\\' => {
                if let Some(n) = chars.next() {
                    out.push(n);
                }
            }
            ' ' | '\t' | '#' | ';' => break,
            _ => out.push(c),
        }
    }
    out
}

/// Major and minor version from a version string, libguestfs's rule: the
/// first `N.M` in it, else the first `N` with minor 0.
pub fn major_minor(version: &str) -> Option<(u32, u32)> {
    let bytes = version.as_bytes();
    let mut i = 0;
    let mut first: Option<u32> = None;
    while i < bytes.len() {
        if bytes.get(i).is_some_and(u8::is_ascii_digit) {
            let start = i;
            while bytes.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1;
            }
            let major = version.get(start..i)?.parse::<u32>().ok();
            if bytes.get(i) == Some(&b'.') && bytes.get(i + 1).is_some_and(u8::is_ascii_digit) {
                let mstart = i + 1;
                let mut j = mstart;
                while bytes.get(j).is_some_and(u8::is_ascii_digit) {
                    j += 1;
                }
                let minor = version.get(mstart..j)?.parse::<u32>().ok();
                if let (Some(major), Some(minor)) = (major, minor) {
                    return Some((major, minor));
                }
            }
            if first.is_none() {
                first = major;
            }
        } else {
            i += 1;
        }
    }
    first.map(|m| (m, 0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_quoting_rules() {
        let kv = KeyValues::parse(
            "# comment\nNAME=\"Debian GNU/Linux\"\nID=debian\nA='it''s'\nB=\"say \\\"hi\\\" \\$x\"\nC=bare\\ word\nD=x # trailing\n  E=\"x\" ; echo\nnot a line\n9X=bad\n",
        );
        assert_eq!(kv.get("NAME"), Some("Debian GNU/Linux"));
        assert_eq!(kv.get("ID"), Some("debian"));
        assert_eq!(kv.get("A"), Some("its"));
        assert_eq!(kv.get("B"), Some("say \"hi\" $x"));
        assert_eq!(kv.get("C"), Some("bare word"));
        assert_eq!(kv.get("D"), Some("x"));
        assert_eq!(kv.get("E"), Some("x"));
        assert_eq!(kv.get("9X"), None);
    }

    #[test]
    fn versions() {
        assert_eq!(major_minor("9.3"), Some((9, 3)));
        assert_eq!(major_minor("12"), Some((12, 0)));
        assert_eq!(major_minor("3.23.2"), Some((3, 23)));
        assert_eq!(major_minor("buster/sid"), None);
        assert_eq!(
            major_minor("CentOS Linux release 7.1.1503 (Core)"),
            Some((7, 1))
        );
        assert_eq!(
            major_minor("Fedora release 29 (Twenty Nine)"),
            Some((29, 0))
        );
        assert_eq!(major_minor("20220412"), Some((20220412, 0)));
        assert_eq!(major_minor("99999999999.1"), Some((1, 0)));
    }
}
