//! sudo's rules: `/etc/sudoers` and what it includes (`@include`,
//! `#include`, `@includedir`, `#includedir`, the latter skipping names
//! with a `.` or ending in `~` as sudo does), with line continuations and
//! comments handled, `Defaults` kept, aliases recorded (and user aliases
//! expanded one level), and the grants a security profile looks for: ALL
//! commands without a password, and `!authenticate`.

pub mod spec;

use std::cell::{Cell, RefCell};
use std::collections::HashMap;

use serde::Serialize;

use super::sshd::{ConfigSource, GuestSource, Location};
use crate::files::GuestFiles;
pub use spec::{AliasKind, DefaultsParam, Entry, SudoCommand};

pub(crate) const SECTION: &str = "security";

/// The main sudoers file.
pub const SUDOERS: &str = "/etc/sudoers";
/// Include nesting followed (sudo stops at 128; real systems use 1 or 2).
pub const MAX_DEPTH: usize = 16;
/// Most files read in all.
pub const MAX_FILES: usize = 256;
/// Most entries kept in all.
pub const MAX_ENTRIES: usize = 20_000;
/// Most bytes read in all (each file is capped by the reader).
pub const MAX_TOTAL_BYTES: usize = 32 << 20;

/// A `Defaults` line.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SudoDefaults {
    /// `@host`, `:user`, `!cmnd`, `>runas`; `None` for global.
    pub scope: Option<String>,
    pub params: Vec<DefaultsParam>,
    pub at: Location,
}

/// An alias definition.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SudoAlias {
    pub kind: AliasKind,
    pub name: String,
    pub members: Vec<String>,
    pub at: Location,
}

/// A user specification: who may run what, where, as whom.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SudoRule {
    /// The user list as written (`alice`, `%sudo`, `#1000`, `ADMINS`, `!bob`).
    pub users: Vec<String>,
    /// The user list with User_Alias names replaced by their members (one
    /// level).
    pub users_expanded: Vec<String>,
    pub hosts: Vec<String>,
    pub commands: Vec<SudoCommand>,
    pub at: Location,
}

/// A grant of every command without a password.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct NopasswdAll {
    /// Who (expanded user list).
    pub users: Vec<String>,
    pub hosts: Vec<String>,
    pub at: Location,
}

/// The sudoers section.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SudoersSection {
    /// Whether `/etc/sudoers` exists.
    pub present: bool,
    /// Files read, in order.
    pub files: Vec<String>,
    pub defaults: Vec<SudoDefaults>,
    pub aliases: Vec<SudoAlias>,
    /// Rules in the order sudo reads them (the last match wins in sudo).
    pub rules: Vec<SudoRule>,
    /// Rules granting ALL commands (directly or through a Cmnd_Alias)
    /// with NOPASSWD.
    pub nopasswd_all: Vec<NopasswdAll>,
    /// `Defaults` lines that turn `authenticate` off (for everyone or for
    /// their scope).
    pub authenticate_disabled: Vec<SudoDefaults>,
}

/// The logical lines of a sudoers text: continuations (`\` at the end)
/// joined, comments removed (`#` not followed by a digit or by
/// `include`/`includedir`), blank lines dropped; each with the number of
/// its first physical line.
pub fn logical_lines(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut start = 0usize;
    for (i, raw) in text.lines().enumerate() {
        let line_no = i.saturating_add(1);
        if cur.is_empty() {
            start = line_no;
        }
        let line = raw.trim_end_matches('\r');
        match line.strip_suffix('\\') {
            Some(body) if !body.ends_with('\\') => {
                cur.push_str(body);
                cur.push(' ');
                continue;
            }
            _ => cur.push_str(line),
        }
        let logical = strip_comment(&cur).trim().to_string();
        cur.clear();
        if !logical.is_empty() {
            out.push((start, logical));
        }
    }
    let logical = strip_comment(&cur).trim().to_string();
    if !logical.is_empty() {
        out.push((start, logical));
    }
    out
}

fn strip_comment(line: &str) -> &str {
    let t = line.trim_start();
    if t.starts_with("#include") {
        return line;
    }
    let mut prev_escape = false;
    let mut quoted = false;
    for (i, c) in line.char_indices() {
        match c {
            '\\' if !prev_escape => {
                prev_escape = true;
                continue;
            }
            '"' if !prev_escape => quoted = !quoted,
            '#' if !prev_escape && !quoted => {
                let next = line.get(i.saturating_add(1)..).unwrap_or("");
                if !next.starts_with(|c: char| c.is_ascii_digit()) {
                    return line.get(..i).unwrap_or("");
                }
            }
            _ => {}
        }
        prev_escape = false;
    }
    line
}

/// An include directive of a logical line: (is a directory, path).
pub fn include_of(line: &str) -> Option<(bool, String)> {
    let (dir, rest) = if let Some(r) = line
        .strip_prefix("@includedir")
        .or_else(|| line.strip_prefix("#includedir"))
    {
        (true, r)
    } else if let Some(r) = line
        .strip_prefix("@include")
        .or_else(|| line.strip_prefix("#include"))
    {
        (false, r)
    } else {
        return None;
    };
    if !rest.starts_with([' ', '\t']) {
        return None;
    }
    let path = rest.trim();
    let path = path
        .strip_prefix('"')
        .and_then(|p| p.strip_suffix('"'))
        .unwrap_or(path);
    Some((dir, path.replace("\\ ", " ")))
}

/// Whether sudo reads `name` from an include directory.
pub fn includedir_reads(name: &str) -> bool {
    !name.contains('.') && !name.ends_with('~')
}

/// Parses one file's text into entries with their lines, or warnings.
pub fn parse_text(text: &str) -> (Vec<(usize, Entry)>, Vec<String>) {
    let mut entries = Vec::new();
    let mut warnings = Vec::new();
    for (line, l) in logical_lines(text) {
        if include_of(&l).is_some() {
            continue;
        }
        match spec::parse_line(&l) {
            Ok(es) => entries.extend(es.into_iter().map(|e| (line, e))),
            Err(e) => warnings.push(format!("line {line}: {e}")),
        }
    }
    (entries, warnings)
}

struct Walker<'s> {
    source: &'s dyn ConfigSource,
    files: RefCell<Vec<String>>,
    stack: RefCell<Vec<String>>,
    entries: RefCell<Vec<(Location, Entry)>>,
    bytes: Cell<usize>,
}

impl Walker<'_> {
    fn file(&self, path: &str, depth: usize) {
        if self.stack.borrow().iter().any(|p| p == path) {
            self.source
                .warn(path, "include loop: the file includes itself".into());
            return;
        }
        if self.files.borrow().len() >= MAX_FILES {
            self.source
                .warn(path, format!("more than {MAX_FILES} files: not read"));
            return;
        }
        if self.bytes.get() >= MAX_TOTAL_BYTES {
            self.source.warn(
                path,
                format!("more than {MAX_TOTAL_BYTES} bytes of sudoers: not read"),
            );
            return;
        }
        let Some(text) = self.source.read(path) else {
            if depth > 0 {
                self.source.warn(path, "included file not found".into());
            }
            return;
        };
        self.bytes.set(self.bytes.get().saturating_add(text.len()));
        self.files.borrow_mut().push(path.to_string());
        self.stack.borrow_mut().push(path.to_string());
        let dir = path.rsplit_once('/').map_or("/", |(d, _)| d);
        for (line, l) in logical_lines(&text) {
            let at = Location {
                file: path.to_string(),
                line,
            };
            if self.entries.borrow().len() >= MAX_ENTRIES {
                self.source.warn(
                    path,
                    format!("line {line}: more than {MAX_ENTRIES} entries: the rest were not read"),
                );
                break;
            }
            if let Some((is_dir, target)) = include_of(&l) {
                if depth >= MAX_DEPTH {
                    self.source.warn(
                        path,
                        format!(
                            "line {line}: includes nested deeper than {MAX_DEPTH}: not followed"
                        ),
                    );
                    continue;
                }
                if target.contains("%h") {
                    self.source.warn(
                        path,
                        format!("line {line}: {target:?} depends on the host name: not followed"),
                    );
                    continue;
                }
                let target = if target.starts_with('/') {
                    target
                } else {
                    format!("{}/{target}", dir.trim_end_matches('/'))
                };
                if is_dir {
                    for name in self.source.list_dir(&target) {
                        if includedir_reads(&name) {
                            self.file(&format!("{target}/{name}"), depth.saturating_add(1));
                        }
                    }
                } else {
                    self.file(&target, depth.saturating_add(1));
                }
                continue;
            }
            match spec::parse_line(&l) {
                Ok(es) => self
                    .entries
                    .borrow_mut()
                    .extend(es.into_iter().map(|e| (at.clone(), e))),
                Err(e) => self.source.warn(path, format!("line {line}: {e}")),
            }
        }
        self.stack.borrow_mut().pop();
    }
}

/// Builds the section from entries in reading order.
pub fn assemble(entries: Vec<(Location, Entry)>) -> SudoersSection {
    let mut out = SudoersSection::default();
    for (at, e) in entries {
        match e {
            Entry::Defaults { scope, params } => {
                let d = SudoDefaults { scope, params, at };
                if d.params
                    .iter()
                    .any(|p| p.name == "authenticate" && p.negated)
                {
                    out.authenticate_disabled.push(d.clone());
                }
                out.defaults.push(d);
            }
            Entry::Alias {
                kind,
                name,
                members,
            } => out.aliases.push(SudoAlias {
                kind,
                name,
                members,
                at,
            }),
            Entry::Rule { users, sections } => {
                for (hosts, commands) in sections {
                    out.rules.push(SudoRule {
                        users: users.clone(),
                        users_expanded: Vec::new(),
                        hosts,
                        commands,
                        at: at.clone(),
                    });
                }
            }
        }
    }
    // The first definition of a name counts (sudo rejects a second one).
    let mut by_name: HashMap<(AliasKind, &str), &Vec<String>> = HashMap::new();
    for a in &out.aliases {
        by_name
            .entry((a.kind, a.name.as_str()))
            .or_insert(&a.members);
    }
    let alias = |kind: AliasKind, name: &str| by_name.get(&(kind, name)).map(|m| (*m).clone());
    let mut expanded_rules = Vec::new();
    for r in &out.rules {
        let mut users = Vec::new();
        for u in &r.users {
            match alias(AliasKind::User, u) {
                Some(members) => users.extend(members),
                None => users.push(u.clone()),
            }
        }
        expanded_rules.push(users);
    }
    let mut nopasswd_all = Vec::new();
    for (r, users) in out.rules.iter_mut().zip(expanded_rules) {
        r.users_expanded = users;
        let grants_all = r.commands.iter().any(|c| {
            c.nopasswd()
                && (c.command == "ALL"
                    || alias(AliasKind::Cmnd, &c.command)
                        .is_some_and(|m| m.iter().any(|x| x == "ALL")))
        });
        if grants_all {
            nopasswd_all.push(NopasswdAll {
                users: r.users_expanded.clone(),
                hosts: r.hosts.clone(),
                at: r.at.clone(),
            });
        }
    }
    out.nopasswd_all = nopasswd_all;
    out
}

/// The sudoers configuration from `source`.
pub fn sudoers_from(source: &dyn ConfigSource) -> SudoersSection {
    let w = Walker {
        source,
        files: RefCell::new(Vec::new()),
        stack: RefCell::new(Vec::new()),
        entries: RefCell::new(Vec::new()),
        bytes: Cell::new(0),
    };
    w.file(SUDOERS, 0);
    let mut out = assemble(w.entries.into_inner());
    out.files = w.files.into_inner();
    out.present = out.files.first().is_some_and(|f| f == SUDOERS);
    out
}

/// The sudoers configuration of the guest.
pub fn sudoers(files: &GuestFiles) -> SudoersSection {
    sudoers_from(&GuestSource {
        files,
        section: SECTION,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continuation_and_comments() {
        let lines = logical_lines(
            "# comment\nCmnd_Alias X = /bin/a, \\\n   /bin/b # tail\n#1000 ALL=(ALL) ALL\n#includedir /etc/sudoers.d\n@include  \"/etc/sudo ers\"\n",
        );
        assert_eq!(
            lines,
            vec![
                (2, "Cmnd_Alias X = /bin/a,     /bin/b".to_string()),
                (4, "#1000 ALL=(ALL) ALL".to_string()),
                (5, "#includedir /etc/sudoers.d".to_string()),
                (6, "@include  \"/etc/sudo ers\"".to_string()),
            ]
        );
        assert_eq!(
            include_of(&lines[2].1),
            Some((true, "/etc/sudoers.d".to_string()))
        );
        assert_eq!(
            include_of(&lines[3].1),
            Some((false, "/etc/sudo ers".to_string()))
        );
        assert_eq!(include_of("#includedirx /a"), None);
    }

    #[test]
    fn includedir_names() {
        assert!(includedir_reads("90-alice"));
        assert!(includedir_reads("README"));
        assert!(!includedir_reads("a.b"));
        assert!(!includedir_reads("foo~"));
    }
}
