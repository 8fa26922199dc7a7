//! The INI dialect of NetworkManager keyfiles and systemd units: `[Section]`
//! headers, `key=value` lines, `#` and `;` comments, a trailing backslash
//! continuing a line (systemd). Sections may repeat (networkd's
//! `[Address]`, `[Route]`); every entry keeps its line.

/// Longest run of continuation lines joined into one.
const MAX_CONTINUATIONS: usize = 256;

/// One `[Section]` and its entries.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IniSection {
    pub name: String,
    /// 1-based line of the header (0 for entries before any header).
    pub line: usize,
    /// `(key, value, line)`, in file order.
    pub entries: Vec<(String, String, usize)>,
}

impl IniSection {
    /// The last value of `key` (later assignments win), trimmed.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.entries
            .iter()
            .rev()
            .find(|(k, _, _)| k == key)
            .map(|(_, v, _)| v.as_str())
    }

    /// Every value of `key`, in order.
    pub fn all<'a>(&'a self, key: &'a str) -> impl Iterator<Item = (&'a str, usize)> + 'a {
        self.entries
            .iter()
            .filter(move |(k, _, _)| k == key)
            .map(|(_, v, l)| (v.as_str(), *l))
    }
}

/// A parsed INI file with one warning per line that is neither a header,
/// an assignment, a comment nor blank.
#[derive(Debug, Clone, Default)]
pub struct Ini {
    pub sections: Vec<IniSection>,
    pub warnings: Vec<String>,
}

impl Ini {
    /// Sections called `name`, in order.
    pub fn sections<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a IniSection> + 'a {
        self.sections.iter().filter(move |s| s.name == name)
    }

    /// The last value of `key` in any section called `section`.
    pub fn get(&self, section: &str, key: &str) -> Option<&str> {
        self.get_at(section, key).map(|(v, _)| v)
    }

    /// The last value of `key` in any section called `section`, with its
    /// line.
    pub fn get_at(&self, section: &str, key: &str) -> Option<(&str, usize)> {
        self.sections
            .iter()
            .rev()
            .filter(|s| s.name == section)
            .find_map(|s| {
                s.entries
                    .iter()
                    .rev()
                    .find(|(k, _, _)| k == key)
                    .map(|(_, v, l)| (v.as_str(), *l))
            })
    }
}

/// Parses `text`. `continuation` enables systemd's trailing-backslash
/// line joining.
pub fn parse(text: &str, continuation: bool) -> Ini {
    let mut ini = Ini::default();
    let mut lines = text.lines().enumerate();
    while let Some((i, raw)) = lines.next() {
        let line_no = i.saturating_add(1);
        let mut line = raw.trim().to_string();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if continuation {
            let mut joined = 0;
            while line.ends_with('\\') && joined < MAX_CONTINUATIONS {
                line.pop();
                line.push(' ');
                match lines.next() {
                    Some((_, next)) => {
                        let next = next.trim();
                        if !(next.starts_with('#') || next.starts_with(';')) {
                            line.push_str(next);
                        }
                    }
                    None => break,
                }
                joined += 1;
            }
        }
        if let Some(rest) = line.strip_prefix('[') {
            match rest.strip_suffix(']') {
                Some(name) => ini.sections.push(IniSection {
                    name: name.trim().to_string(),
                    line: line_no,
                    entries: Vec::new(),
                }),
                None => ini
                    .warnings
                    .push(format!("line {line_no}: unterminated section header")),
            }
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            ini.warnings.push(format!(
                "line {line_no}: not a key=value line: {}",
                clip(&line)
            ));
            continue;
        };
        let key = key.trim();
        if key.is_empty() {
            ini.warnings
                .push(format!("line {line_no}: an assignment without a key"));
            continue;
        }
        if ini.sections.is_empty() {
            ini.sections.push(IniSection::default());
        }
        if let Some(section) = ini.sections.last_mut() {
            section
                .entries
                .push((key.to_string(), value.trim().to_string(), line_no));
        }
    }
    ini
}

/// At most 80 characters of `s`, for a warning.
pub fn clip(s: &str) -> String {
    let mut out: String = s.chars().take(80).collect();
    if out.len() < s.len() {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_repeat_and_lines_count() {
        let ini = parse(
            "# c\n[Match]\nName=en*\n\n[Address]\nAddress=10.0.0.1/8\n[Address]\nAddress=10.0.0.2/8\nbogus\n[Network]\nDNS=1.1.1.1 \\\n  8.8.8.8\n[broken\n",
            true,
        );
        assert_eq!(ini.get("Match", "Name"), Some("en*"));
        let addrs: Vec<_> = ini
            .sections("Address")
            .filter_map(|s| s.get("Address"))
            .collect();
        assert_eq!(addrs, ["10.0.0.1/8", "10.0.0.2/8"]);
        assert_eq!(ini.get("Network", "DNS"), Some("1.1.1.1  8.8.8.8"));
        assert_eq!(
            ini.warnings,
            [
                "line 9: not a key=value line: bogus",
                "line 13: unterminated section header"
            ]
        );
    }
}
