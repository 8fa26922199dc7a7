//! systemd unit files (`systemd.syntax(7)`): an INI dialect with
//! `[Section]` headers, `Key=Value` assignments, `#`/`;` comments and
//! lines continued by a trailing backslash. Drop-ins (`X.service.d/*.conf`)
//! are parsed the same way and applied after the main file, where an empty
//! assignment (`ExecStart=`) resets a list.

/// Longest logical line kept (continuations joined); longer ones are cut
/// with a warning, so a crafted file cannot build one huge string.
const MAX_LINE: usize = 64 * 1024;

/// Most assignments kept per file.
const MAX_ASSIGNMENTS: usize = 10_000;

/// One `Key=Value` of a unit file.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Assignment {
    /// Section name without brackets (`Service`).
    pub section: String,
    pub key: String,
    /// Value with surrounding blanks trimmed and continuations joined.
    pub value: String,
    /// 1-based line where the assignment starts.
    pub line: usize,
}

/// A parsed unit file (or drop-in): its assignments in file order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UnitFile {
    pub assignments: Vec<Assignment>,
}

/// Parses unit-file text. Lines that are neither comments, section headers
/// nor assignments, and assignments before any section, give a warning
/// naming their line; the rest is still read.
pub fn parse(text: &str) -> (UnitFile, Vec<String>) {
    let mut out = UnitFile::default();
    let mut warnings = Vec::new();
    let mut section: Option<String> = None;
    let mut lines = text.lines().enumerate();
    while let Some((index, raw)) = lines.next() {
        let number = index.saturating_add(1);
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(rest) = line.strip_prefix('[') {
            match rest.strip_suffix(']') {
                Some(name) if !name.is_empty() => section = Some(name.to_string()),
                _ => warnings.push(format!("line {number}: malformed section header")),
            }
            continue;
        }
        // Join continuation lines; comment lines inside a continuation are
        // skipped, as systemd does.
        let mut logical = String::new();
        let mut current = line;
        let mut cut = false;
        loop {
            match current.strip_suffix('\\') {
                Some(head) => {
                    push_bounded(&mut logical, head, &mut cut);
                    push_bounded(&mut logical, " ", &mut cut);
                    let mut next = None;
                    for (_, more) in lines.by_ref() {
                        let t = more.trim();
                        if t.starts_with('#') || t.starts_with(';') {
                            continue;
                        }
                        next = Some(t);
                        break;
                    }
                    match next {
                        Some(t) => current = t,
                        None => break,
                    }
                }
                None => {
                    push_bounded(&mut logical, current, &mut cut);
                    break;
                }
            }
        }
        if cut {
            warnings.push(format!(
                "line {number}: longer than {MAX_LINE} bytes, cut there"
            ));
        }
        let Some((key, value)) = logical.split_once('=') else {
            warnings.push(format!("line {number}: neither a section nor Key=Value"));
            continue;
        };
        let key = key.trim();
        if key.is_empty() {
            warnings.push(format!("line {number}: assignment without a key"));
            continue;
        }
        let Some(section) = section.clone() else {
            warnings.push(format!("line {number}: {key}= outside any section"));
            continue;
        };
        if out.assignments.len() >= MAX_ASSIGNMENTS {
            warnings.push(format!(
                "line {number}: more than {MAX_ASSIGNMENTS} assignments, the rest ignored"
            ));
            break;
        }
        out.assignments.push(Assignment {
            section,
            key: key.to_string(),
            value: value.trim().to_string(),
            line: number,
        });
    }
    (out, warnings)
}

fn push_bounded(out: &mut String, s: &str, cut: &mut bool) {
    let room = MAX_LINE.saturating_sub(out.len());
    if s.len() <= room {
        out.push_str(s);
    } else {
        *cut = true;
        let mut end = room;
        while end > 0 && !s.is_char_boundary(end) {
            end -= 1;
        }
        out.push_str(s.get(..end).unwrap_or(""));
    }
}

impl UnitFile {
    /// Appends the assignments of `other` (a drop-in applied after this).
    pub fn extend(&mut self, other: UnitFile) {
        self.assignments.extend(other.assignments);
    }

    /// The last value of a single-valued setting (`Description`, `User`).
    pub fn single(&self, section: &str, key: &str) -> Option<&str> {
        self.assignments
            .iter()
            .rev()
            .find(|a| a.section == section && a.key == key)
            .map(|a| a.value.as_str())
            .filter(|v| !v.is_empty())
    }

    /// Every value of a repeatable setting (`ExecStart`), an empty
    /// assignment resetting the list.
    pub fn list(&self, section: &str, key: &str) -> Vec<String> {
        let mut out = Vec::new();
        for a in self
            .assignments
            .iter()
            .filter(|a| a.section == section && a.key == key)
        {
            if a.value.is_empty() {
                out.clear();
            } else {
                out.push(a.value.clone());
            }
        }
        out
    }

    /// The words of a space-separated list setting (`WantedBy=a b`),
    /// every assignment adding to it and an empty one resetting it.
    pub fn words(&self, section: &str, key: &str) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for v in self.list_raw(section, key) {
            match v {
                None => out.clear(),
                Some(v) => {
                    for w in v.split_whitespace() {
                        if !out.iter().any(|o| o == w) {
                            out.push(w.to_string());
                        }
                    }
                }
            }
        }
        out
    }

    fn list_raw<'a>(
        &'a self,
        section: &'a str,
        key: &'a str,
    ) -> impl Iterator<Item = Option<&'a str>> + 'a {
        self.assignments
            .iter()
            .filter(move |a| a.section == section && a.key == key)
            .map(|a| Some(a.value.as_str()).filter(|v| !v.is_empty()))
    }

    /// Whether the unit has an `[Install]` section with anything that
    /// `systemctl enable` acts on.
    pub fn has_install_info(&self) -> bool {
        self.assignments.iter().any(|a| {
            a.section == "Install"
                && matches!(
                    a.key.as_str(),
                    "WantedBy" | "RequiredBy" | "UpheldBy" | "Alias" | "Also"
                )
                && !a.value.is_empty()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_continuations_and_resets() {
        let text = "# comment\n[Unit]\nDescription=OpenBSD Secure Shell server\n\
            Documentation=man:sshd(8) \\\n  # inside\n  man:sshd_config(5)\n\
            [Service]\nExecStart=/usr/sbin/sshd -D $SSHD_OPTS\nExecStart=\n\
            ExecStart=/usr/sbin/sshd -D\nUser = root \nbogus line\n\
            [Install]\nWantedBy=multi-user.target\nWantedBy=a.target multi-user.target\n\
            Alias=sshd.service\n";
        let (u, w) = parse(text);
        assert_eq!(w, vec!["line 12: neither a section nor Key=Value"]);
        assert_eq!(
            u.single("Unit", "Documentation"),
            Some("man:sshd(8)  man:sshd_config(5)")
        );
        assert_eq!(u.list("Service", "ExecStart"), vec!["/usr/sbin/sshd -D"]);
        assert_eq!(u.single("Service", "User"), Some("root"));
        assert_eq!(
            u.words("Install", "WantedBy"),
            vec!["multi-user.target", "a.target"]
        );
        assert!(u.has_install_info());
        assert_eq!(u.assignments[0].line, 3);
    }

    #[test]
    fn outside_section_and_bad_header() {
        let (u, w) = parse("Key=v\n[Broken\n[Unit]\n=x\nA=1\\");
        assert_eq!(u.single("Unit", "A"), Some("1"));
        assert_eq!(w.len(), 3, "{w:?}");
        assert!(!u.has_install_info());
    }
}
