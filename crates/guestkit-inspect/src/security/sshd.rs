//! The effective sshd configuration, as sshd itself would read it:
//! `/etc/ssh/sshd_config` and its `Include`s (globs, relative to
//! `/etc/ssh`, in lexical order, depth-bounded, loops detected),
//! keywords case-insensitive, the FIRST value of a keyword winning (a few
//! keywords accumulate), `Match` blocks kept apart, and every unset
//! keyword given OpenSSH's compiled-in default for the installed version.

pub mod defaults;
pub mod glob;

use std::cell::{Cell, RefCell};
use std::collections::HashMap;

use serde::Serialize;

use crate::files::GuestFiles;
use defaults::Version;

pub(crate) const SECTION: &str = "security";

/// The main configuration file.
pub const SSHD_CONFIG: &str = "/etc/ssh/sshd_config";

/// Include nesting sshd accepts (`SERVCONF_MAX_DEPTH`).
pub const MAX_DEPTH: usize = 16;
/// Most configuration files read in all.
pub const MAX_FILES: usize = 256;
/// Most directives kept in all.
pub const MAX_DIRECTIVES: usize = 20_000;
/// Most bytes of configuration read in all (each file is capped at
/// [`crate::files::MAX_CONFIG_BYTES`] by the reader).
pub const MAX_TOTAL_BYTES: usize = 32 << 20;

/// Where configuration text comes from: the guest's files in the
/// inspector, a map of texts in tests and fuzzing.
pub trait ConfigSource {
    /// The text of the file at `path` (a guest path), `None` if absent.
    fn read(&self, path: &str) -> Option<String>;
    /// Names in the directory at `path`, sorted; empty if absent.
    fn list_dir(&self, path: &str) -> Vec<String>;
    /// Whether `path` is a directory.
    fn is_dir(&self, path: &str) -> bool;
    /// Records a problem with `path`.
    fn warn(&self, path: &str, message: String);
}

/// [`GuestFiles`] as a [`ConfigSource`], warnings going to `section`.
pub struct GuestSource<'a, 'b> {
    pub files: &'a GuestFiles<'b>,
    pub section: &'static str,
}

impl ConfigSource for GuestSource<'_, '_> {
    fn read(&self, path: &str) -> Option<String> {
        self.files.read_text(self.section, path)
    }
    fn list_dir(&self, path: &str) -> Vec<String> {
        self.files.list_dir(self.section, path)
    }
    fn is_dir(&self, path: &str) -> bool {
        self.files.is_dir(path)
    }
    fn warn(&self, path: &str, message: String) {
        self.files.warn(self.section, path, message);
    }
}

/// A location in a configuration file.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Location {
    pub file: String,
    /// 1-based line number.
    pub line: usize,
}

/// One line of a configuration file: a keyword and its arguments.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConfigLine {
    pub line: usize,
    /// The keyword as written.
    pub keyword: String,
    pub args: Vec<String>,
}

/// The lines of one file and a warning per line that could not be read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ParsedFile {
    pub lines: Vec<ConfigLine>,
    pub warnings: Vec<String>,
}

/// Splits `text` into keyword lines the way sshd does: comments and blank
/// lines skipped, the keyword ended by blanks or one `=`, arguments split
/// on blanks with `"…"`/`'…'` quoting and `\` escapes, an unquoted `#`
/// starting a word ending the line.
pub fn parse_file(text: &str) -> ParsedFile {
    let mut out = ParsedFile::default();
    for (i, raw) in text.lines().enumerate() {
        let line_no = i.saturating_add(1);
        let line = raw.trim_matches(|c: char| c.is_ascii_whitespace() || c == '\u{c}');
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let end = line
            .find(|c: char| c.is_ascii_whitespace() || c == '=')
            .unwrap_or(line.len());
        let (keyword, rest) = line.split_at(end);
        let rest = rest.trim_start();
        let rest = rest.strip_prefix('=').unwrap_or(rest).trim_start();
        if keyword.is_empty() {
            out.warnings
                .push(format!("line {line_no}: no keyword before '='"));
            continue;
        }
        match split_args(rest) {
            Ok(args) if args.is_empty() => out.warnings.push(format!(
                "line {line_no}: no argument after keyword {keyword:?}"
            )),
            Ok(args) => out.lines.push(ConfigLine {
                line: line_no,
                keyword: keyword.to_string(),
                args,
            }),
            Err(e) => out.warnings.push(format!("line {line_no}: {e}")),
        }
    }
    out
}

/// sshd's `argv_split` with comments ending the line.
fn split_args(s: &str) -> Result<Vec<String>, &'static str> {
    let mut args = Vec::new();
    let mut chars = s.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_ascii_whitespace()) {
            chars.next();
        }
        let Some(&first) = chars.peek() else { break };
        if first == '#' {
            break;
        }
        let mut word = String::new();
        let mut quote: Option<char> = None;
        while let Some(c) = chars.next() {
            match (c, quote) {
                ('\\', _) => match chars.peek() {
                    Some(&n) if n == '\\' || n == '"' || n == '\'' || n == ' ' => {
                        word.push(n);
                        chars.next();
                    }
                    _ => word.push('\\'),
                },
                (c, None) if c.is_ascii_whitespace() => break,
                ('"' | '\'', None) => quote = Some(c),
                (c, Some(q)) if c == q => quote = None,
                (c, _) => word.push(c),
            }
        }
        if quote.is_some() {
            return Err("unterminated quote");
        }
        args.push(word);
    }
    Ok(args)
}

/// One effective directive: canonical keyword, arguments, where it was
/// written, and the Match block (index) it belongs to, if any.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Directive {
    pub keyword: String,
    pub args: Vec<String>,
    pub at: Location,
    pub match_block: Option<usize>,
}

/// A `Match` block: conditions and the settings under it (applied only to
/// connections matching them, so not part of the global settings).
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct MatchBlock {
    /// The conditions as written (`User bob`, `Address 10.0.0.0/8`, `all`).
    pub criteria: String,
    pub at: Location,
    pub settings: Vec<MatchSetting>,
}

/// A directive inside a Match block.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct MatchSetting {
    pub keyword: String,
    pub value: String,
    pub at: Location,
}

/// The configuration files of sshd, flattened in reading order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Collected {
    pub directives: Vec<Directive>,
    pub match_blocks: Vec<MatchBlock>,
    /// Files read, in order.
    pub files: Vec<String>,
}

/// The canonical spelling of `keyword`: the one in the defaults table,
/// an old alias's new name, or the keyword as written.
pub fn canonical(keyword: &str) -> String {
    let lower = keyword.to_ascii_lowercase();
    if let Some(k) = defaults::alias_of(&lower) {
        return k.to_string();
    }
    defaults::REPORTED
        .iter()
        .chain(defaults::ACCUMULATING)
        .find(|k| k.eq_ignore_ascii_case(&lower))
        .map_or_else(|| keyword.to_string(), |k| k.to_string())
}

struct Walker<'s> {
    source: &'s dyn ConfigSource,
    out: RefCell<Collected>,
    stack: RefCell<Vec<String>>,
    bytes: Cell<usize>,
}

impl Walker<'_> {
    fn file(&self, path: &str, depth: usize, match_block: Option<usize>) {
        if self.stack.borrow().iter().any(|p| p == path) {
            self.source
                .warn(path, "Include loop: the file includes itself".into());
            return;
        }
        if self.out.borrow().files.len() >= MAX_FILES {
            self.source
                .warn(path, format!("more than {MAX_FILES} files: not read"));
            return;
        }
        if self.bytes.get() >= MAX_TOTAL_BYTES {
            self.source.warn(
                path,
                format!("more than {MAX_TOTAL_BYTES} bytes of configuration: not read"),
            );
            return;
        }
        let Some(text) = self.source.read(path) else {
            return;
        };
        self.bytes.set(self.bytes.get().saturating_add(text.len()));
        self.out.borrow_mut().files.push(path.to_string());
        self.stack.borrow_mut().push(path.to_string());
        let parsed = parse_file(&text);
        for w in parsed.warnings {
            self.source.warn(path, w);
        }
        // A Match inside an included file ends with that file (sshd
        // restores the enclosing state after an Include).
        let mut current = match_block;
        for l in parsed.lines {
            let at = Location {
                file: path.to_string(),
                line: l.line,
            };
            if self.out.borrow().directives.len() >= MAX_DIRECTIVES {
                self.source.warn(
                    path,
                    format!(
                        "line {}: more than {MAX_DIRECTIVES} directives: the rest were not read",
                        l.line
                    ),
                );
                break;
            }
            if l.keyword.eq_ignore_ascii_case("Include") {
                if depth >= MAX_DEPTH {
                    self.source.warn(
                        path,
                        format!(
                            "line {}: Include nested deeper than {MAX_DEPTH}: not followed",
                            l.line
                        ),
                    );
                    continue;
                }
                for pattern in &l.args {
                    let absolute = if pattern.starts_with('/') {
                        pattern.clone()
                    } else {
                        format!("/etc/ssh/{pattern}")
                    };
                    let matches = glob::expand(self.source, &absolute, MAX_FILES);
                    for m in matches {
                        self.file(&m, depth.saturating_add(1), current);
                    }
                }
                continue;
            }
            if l.keyword.eq_ignore_ascii_case("Match") {
                let mut out = self.out.borrow_mut();
                current = Some(out.match_blocks.len());
                out.match_blocks.push(MatchBlock {
                    criteria: l.args.join(" "),
                    at,
                    settings: Vec::new(),
                });
                continue;
            }
            let keyword = canonical(&l.keyword);
            let mut out = self.out.borrow_mut();
            if let Some(b) = current.and_then(|i| out.match_blocks.get_mut(i)) {
                b.settings.push(MatchSetting {
                    keyword: keyword.clone(),
                    value: l.args.join(" "),
                    at: at.clone(),
                });
            }
            out.directives.push(Directive {
                keyword,
                args: l.args,
                at,
                match_block: current,
            });
        }
        self.stack.borrow_mut().pop();
    }
}

/// Reads `main` and everything it includes.
pub fn collect(source: &dyn ConfigSource, main: &str) -> Collected {
    let w = Walker {
        source,
        out: RefCell::new(Collected::default()),
        stack: RefCell::new(Vec::new()),
        bytes: Cell::new(0),
    };
    w.file(main, 0, None);
    w.out.into_inner()
}

/// Where a setting's value came from.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(tag = "from", rename_all = "snake_case")]
pub enum Origin {
    /// OpenSSH's compiled-in default.
    #[default]
    Default,
    /// A configuration line (the first one, for keywords that accumulate).
    File {
        file: String,
        line: usize,
        /// Further lines that added to the value (AllowUsers, Port …).
        #[serde(skip_serializing_if = "Vec::is_empty")]
        more: Vec<Location>,
    },
}

/// One effective global setting.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SshdSetting {
    /// Canonical keyword (`PermitRootLogin`).
    pub keyword: String,
    /// The effective value: arguments joined by a space; for algorithm
    /// lists the resolved comma-separated list. `None` when unset with no
    /// default (AllowUsers …).
    pub value: Option<String>,
    /// Algorithm lists written relative to the default (`+…`, `-…`,
    /// `^…`): the text as written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub written: Option<String>,
    pub origin: Origin,
}

/// The effective sshd configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SshdConfig {
    /// Whether `/etc/ssh/sshd_config` exists (without it sshd does not
    /// start; the settings are then only the defaults).
    pub present: bool,
    /// The OpenSSH version whose defaults were applied (`9.2`).
    pub defaults_version: String,
    /// Whether that version was assumed (newest known) for want of the
    /// installed package's version.
    pub version_assumed: bool,
    /// Global settings, sorted by keyword: every keyword with a default or
    /// a value, unknown keywords included as written.
    pub settings: Vec<SshdSetting>,
    /// `Match` blocks in file order, not applied to `settings`.
    pub match_blocks: Vec<MatchBlock>,
    /// Files read, in order.
    pub files: Vec<String>,
}

impl SshdConfig {
    /// The setting of `keyword` (case-insensitive).
    pub fn get(&self, keyword: &str) -> Option<&SshdSetting> {
        self.settings
            .iter()
            .find(|s| s.keyword.eq_ignore_ascii_case(keyword))
    }

    /// The effective value of `keyword`.
    pub fn value(&self, keyword: &str) -> Option<&str> {
        self.get(keyword).and_then(|s| s.value.as_deref())
    }
}

/// `written` applied to the default list `default`: `+x,y` appends,
/// `-x,y` removes (wildcards allowed), `^x,y` puts first; anything else
/// replaces.
pub fn resolve_list(written: &str, default: &str) -> String {
    let names = |s: &str| -> Vec<String> {
        s.split(',')
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(str::to_string)
            .collect()
    };
    let def = names(default);
    if let Some(add) = written.strip_prefix('+') {
        let mut out = def;
        for n in names(add) {
            if !out.contains(&n) {
                out.push(n);
            }
        }
        out.join(",")
    } else if let Some(remove) = written.strip_prefix('-') {
        let pats = names(remove);
        def.into_iter()
            .filter(|n| !pats.iter().any(|p| glob::fnmatch(p, n)))
            .collect::<Vec<_>>()
            .join(",")
    } else if let Some(first) = written.strip_prefix('^') {
        let mut out = names(first);
        for n in def {
            if !out.contains(&n) {
                out.push(n);
            }
        }
        out.join(",")
    } else {
        names(written).join(",")
    }
}

/// The global settings of `collected` for OpenSSH `version`.
pub fn resolve(collected: &Collected, version: Version) -> Vec<SshdSetting> {
    let mut settings: Vec<SshdSetting> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for d in collected
        .directives
        .iter()
        .filter(|d| d.match_block.is_none())
    {
        let accumulates = defaults::ACCUMULATING.contains(&d.keyword.as_str());
        let existing = index.get(&d.keyword).and_then(|&i| settings.get_mut(i));
        match existing {
            Some(existing) if accumulates => {
                let joined = d.args.join(" ");
                existing.value = Some(match existing.value.take() {
                    Some(v) => format!("{v} {joined}"),
                    None => joined,
                });
                if let Origin::File { more, .. } = &mut existing.origin {
                    more.push(d.at.clone());
                }
            }
            Some(_) => {} // the first value wins
            None => {
                let raw = d.args.join(" ");
                let (value, written) = if defaults::ALGORITHM_LISTS.contains(&d.keyword.as_str()) {
                    let default = defaults::default_of(&d.keyword, version).unwrap_or_default();
                    let resolved = resolve_list(&raw, &default);
                    let relative = raw.starts_with(['+', '-', '^']);
                    (resolved, relative.then_some(raw))
                } else {
                    (raw, None)
                };
                index.insert(d.keyword.clone(), settings.len());
                settings.push(SshdSetting {
                    keyword: d.keyword.clone(),
                    value: Some(value),
                    written,
                    origin: Origin::File {
                        file: d.at.file.clone(),
                        line: d.at.line,
                        more: Vec::new(),
                    },
                });
            }
        }
    }
    for k in defaults::REPORTED {
        if !index.contains_key(*k) {
            settings.push(SshdSetting {
                keyword: k.to_string(),
                value: defaults::default_of(k, version),
                written: None,
                origin: Origin::Default,
            });
        }
    }
    settings.sort_by(|a, b| {
        a.keyword
            .to_ascii_lowercase()
            .cmp(&b.keyword.to_ascii_lowercase())
    });
    settings
}

/// The effective configuration from `source`, for the OpenSSH package
/// version `openssh_version` (`1:9.2p1-2+deb12u3`; `None` or unparsable:
/// the newest defaults known, flagged as assumed).
pub fn effective_from(source: &dyn ConfigSource, openssh_version: Option<&str>) -> SshdConfig {
    let parsed = openssh_version.and_then(defaults::parse_version);
    if let (Some(v), None) = (openssh_version, parsed) {
        source.warn(
            SSHD_CONFIG,
            format!("OpenSSH version {v:?} not understood: newest defaults assumed"),
        );
    }
    let version = parsed.unwrap_or(defaults::LATEST);
    let collected = collect(source, SSHD_CONFIG);
    SshdConfig {
        present: collected.files.first().is_some_and(|f| f == SSHD_CONFIG),
        defaults_version: format!("{}.{}", version.0, version.1),
        version_assumed: parsed.is_none(),
        settings: resolve(&collected, version),
        match_blocks: collected.match_blocks,
        files: collected.files,
    }
}

/// The effective sshd configuration of the guest (see [`effective_from`]).
pub fn effective_sshd_config(files: &GuestFiles, openssh_version: Option<&str>) -> SshdConfig {
    effective_from(
        &GuestSource {
            files,
            section: SECTION,
        },
        openssh_version,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens() {
        let p = parse_file(
            "# c\nPort=2222\nBanner = \"/etc/my banner\"\nAcceptEnv LANG LC_* # trailing\nX11Forwarding\nBad \"open\n",
        );
        assert_eq!(p.lines.len(), 3);
        assert_eq!(p.lines[0].keyword, "Port");
        assert_eq!(p.lines[0].args, vec!["2222"]);
        assert_eq!(p.lines[1].args, vec!["/etc/my banner"]);
        assert_eq!(p.lines[2].args, vec!["LANG", "LC_*"]);
        assert_eq!(
            p.warnings,
            vec![
                "line 5: no argument after keyword \"X11Forwarding\"".to_string(),
                "line 6: unterminated quote".to_string()
            ]
        );
    }

    #[test]
    fn relative_lists() {
        let def = "a,b,c-1,c-2";
        assert_eq!(resolve_list("+d,a", def), "a,b,c-1,c-2,d");
        assert_eq!(resolve_list("-c-*,a", def), "b");
        assert_eq!(resolve_list("^c-2,z", def), "c-2,z,a,b,c-1");
        assert_eq!(resolve_list("x,y", def), "x,y");
    }

    #[test]
    fn aliases_and_case() {
        assert_eq!(canonical("permitrootlogin"), "PermitRootLogin");
        assert_eq!(
            canonical("ChallengeResponseAuthentication"),
            "KbdInteractiveAuthentication"
        );
        assert_eq!(canonical("SomethingNew"), "SomethingNew");
    }
}
