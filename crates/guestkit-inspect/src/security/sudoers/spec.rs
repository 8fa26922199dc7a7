//! The grammar of one logical sudoers line (continuations joined,
//! comments removed): `Defaults`, aliases and user specifications
//! `who hosts = (runas) OPTIONS TAGS: command, … : hosts = …`.

use serde::Serialize;

/// Tags a command may carry (`NOPASSWD:` …).
pub const TAGS: &[&str] = &[
    "NOPASSWD",
    "PASSWD",
    "NOEXEC",
    "EXEC",
    "SETENV",
    "NOSETENV",
    "LOG_INPUT",
    "NOLOG_INPUT",
    "LOG_OUTPUT",
    "NOLOG_OUTPUT",
    "MAIL",
    "NOMAIL",
    "FOLLOW",
    "NOFOLLOW",
    "INTERCEPT",
    "NOINTERCEPT",
];

/// Options a command may carry (`CWD=/tmp` …).
pub const OPTIONS: &[&str] = &[
    "ROLE",
    "TYPE",
    "CHROOT",
    "CWD",
    "TIMEOUT",
    "NOTBEFORE",
    "NOTAFTER",
    "APPARMOR_PROFILE",
    "PRIVS",
    "LIMITPRIVS",
];

/// What an alias names.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AliasKind {
    #[default]
    User,
    Runas,
    Host,
    Cmnd,
}

/// One parameter of a `Defaults` line.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DefaultsParam {
    pub name: String,
    /// Set with `!name` (off, or list cleared).
    pub negated: bool,
    /// `=`, `+=` or `-=` (absent for a flag).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operator: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

/// One command of a user specification, with the run-as list, options
/// and tags in force for it (they carry over from the previous command of
/// the same list, as in sudo).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SudoCommand {
    /// Run-as users (`None`: not given, meaning root only).
    pub runas_users: Option<Vec<String>>,
    /// Run-as groups after the `:` in `(users:groups)`.
    pub runas_groups: Option<Vec<String>>,
    pub options: Vec<String>,
    pub tags: Vec<String>,
    /// The command (path and arguments, or `ALL`, or a Cmnd_Alias), with a
    /// leading `!` kept when negated.
    pub command: String,
}

impl SudoCommand {
    /// Whether the effective password tag is `NOPASSWD` (the later of
    /// `PASSWD`/`NOPASSWD` wins).
    pub fn nopasswd(&self) -> bool {
        self.tags
            .iter()
            .rev()
            .find(|t| *t == "NOPASSWD" || *t == "PASSWD")
            .is_some_and(|t| t == "NOPASSWD")
    }
}

/// A parsed logical line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    Defaults {
        /// `@host`, `:user`, `!cmnd`, `>runas` or `None` for global.
        scope: Option<String>,
        params: Vec<DefaultsParam>,
    },
    Alias {
        kind: AliasKind,
        name: String,
        members: Vec<String>,
    },
    Rule {
        users: Vec<String>,
        /// One host list per `hosts = commands` section.
        sections: Vec<(Vec<String>, Vec<SudoCommand>)>,
    },
}

/// Splits `s` on unescaped `sep` outside quotes and parentheses; a `:`
/// right after a tag name is kept (it ends the tag).
fn split_top(s: &str, sep: char) -> Vec<String> {
    let mut parts = Vec::new();
    let mut cur = String::new();
    let mut depth = 0usize;
    let mut quoted = false;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                cur.push(c);
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
                continue;
            }
            '"' => quoted = !quoted,
            '(' if !quoted => depth = depth.saturating_add(1),
            ')' if !quoted => depth = depth.saturating_sub(1),
            _ => {}
        }
        if c == sep && depth == 0 && !quoted {
            let tag_colon = sep == ':' && {
                let word: String = cur
                    .chars()
                    .rev()
                    .take_while(|c| c.is_ascii_uppercase() || *c == '_')
                    .collect::<Vec<_>>()
                    .into_iter()
                    .rev()
                    .collect();
                TAGS.contains(&word.as_str())
            };
            if !tag_colon {
                parts.push(std::mem::take(&mut cur));
                continue;
            }
        }
        cur.push(c);
    }
    parts.push(cur);
    parts
}

fn list(s: &str) -> Vec<String> {
    split_top(s, ',')
        .into_iter()
        .map(|x| x.trim().to_string())
        .filter(|x| !x.is_empty())
        .collect()
}

fn unquote(s: &str) -> String {
    let s = s.trim();
    s.strip_prefix('"')
        .and_then(|x| x.strip_suffix('"'))
        .unwrap_or(s)
        .to_string()
}

fn defaults(rest: &str) -> Result<Entry, String> {
    let (scope, params) = match rest.chars().next() {
        Some(c @ ('@' | ':' | '!' | '>')) => {
            let body = rest.get(c.len_utf8()..).unwrap_or("");
            let end = body
                .find(|c: char| c.is_ascii_whitespace())
                .unwrap_or(body.len());
            let (who, params) = body.split_at(end);
            (Some(format!("{c}{who}")), params)
        }
        _ => (None, rest),
    };
    defaults_params(scope, params)
}

fn defaults_params(scope: Option<String>, params: &str) -> Result<Entry, String> {
    let mut out = Vec::new();
    for p in list(params) {
        let mut name = p.as_str();
        let mut negated = false;
        while let Some(r) = name.strip_prefix('!') {
            negated = !negated;
            name = r.trim_start();
        }
        let (name, operator, value) = match name.find('=') {
            Some(i) => {
                let (n, v) = name.split_at(i);
                let v = v.get(1..).unwrap_or("");
                let (n, op) = match n.trim_end().strip_suffix('+') {
                    Some(n) => (n, "+="),
                    None => match n.trim_end().strip_suffix('-') {
                        Some(n) => (n, "-="),
                        None => (n, "="),
                    },
                };
                (n.trim(), Some(op.to_string()), Some(unquote(v)))
            }
            None => (name.trim(), None, None),
        };
        if name.is_empty() {
            return Err(format!("a Defaults parameter without a name: {p:?}"));
        }
        out.push(DefaultsParam {
            name: name.to_string(),
            negated,
            operator,
            value,
        });
    }
    if out.is_empty() {
        return Err("Defaults without parameters".to_string());
    }
    Ok(Entry::Defaults { scope, params: out })
}

fn alias(kind: AliasKind, rest: &str) -> Result<Vec<Entry>, String> {
    let mut out = Vec::new();
    for def in split_top(rest, ':') {
        let Some((name, members)) = def.split_once('=') else {
            return Err(format!("alias definition without '=': {:?}", def.trim()));
        };
        let name = name.trim();
        let valid = name.chars().next().is_some_and(|c| c.is_ascii_uppercase())
            && name
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
        if !valid {
            return Err(format!("invalid alias name {name:?}"));
        }
        out.push(Entry::Alias {
            kind,
            name: name.to_string(),
            members: list(members),
        });
    }
    Ok(out)
}

/// The commands of one `Cmnd_Spec_List`, run-as, options and tags
/// carried from one command to the next.
fn commands(s: &str) -> Result<Vec<SudoCommand>, String> {
    let mut out = Vec::new();
    let mut runas_users = None;
    let mut runas_groups = None;
    let mut options: Vec<String> = Vec::new();
    let mut tags: Vec<String> = Vec::new();
    for spec in list(s) {
        let mut rest = spec.as_str();
        if let Some(r) = rest.strip_prefix('(') {
            let Some((inner, after)) = r.split_once(')') else {
                return Err(format!("unclosed run-as list in {spec:?}"));
            };
            let (u, g) = match inner.split_once(':') {
                Some((u, g)) => (u, Some(g)),
                None => (inner, None),
            };
            runas_users = Some(list(u));
            runas_groups = g.map(list);
            // A new run-as list resets options and tags only in sudo's
            // grammar for SELinux roles; tags carry over.
            rest = after.trim_start();
        }
        loop {
            let word_end = rest
                .find(|c: char| !(c.is_ascii_uppercase() || c == '_'))
                .unwrap_or(rest.len());
            let (word, after) = rest.split_at(word_end);
            if let Some(a) = after.strip_prefix(':') {
                if TAGS.contains(&word) {
                    tags.push(word.to_string());
                    rest = a.trim_start();
                    continue;
                }
            }
            if let Some(a) = after.strip_prefix('=') {
                if OPTIONS.contains(&word) {
                    let end = a.find(|c: char| c.is_ascii_whitespace()).unwrap_or(a.len());
                    let (value, a) = a.split_at(end);
                    options.retain(|o| !o.starts_with(&format!("{word}=")));
                    options.push(format!("{word}={value}"));
                    rest = a.trim_start();
                    continue;
                }
            }
            break;
        }
        if rest.is_empty() {
            return Err(format!("no command in {spec:?}"));
        }
        out.push(SudoCommand {
            runas_users: runas_users.clone(),
            runas_groups: runas_groups.clone(),
            options: options.clone(),
            tags: tags.clone(),
            command: rest.to_string(),
        });
    }
    if out.is_empty() {
        return Err("no commands".to_string());
    }
    Ok(out)
}

fn rule(line: &str) -> Result<Entry, String> {
    let sections = split_top(line, ':');
    let mut iter = sections.iter();
    let first = iter.next().map(String::as_str).unwrap_or("");
    let Some((who_hosts, cmnds)) = first.split_once('=') else {
        return Err("not a Defaults, alias or user specification line".to_string());
    };
    // "alice, bob  host1, host2" → users, hosts.
    let compact = who_hosts
        .split(',')
        .map(str::trim)
        .collect::<Vec<_>>()
        .join(",");
    let mut words = compact.split_whitespace();
    let (Some(users), Some(hosts), None) = (words.next(), words.next(), words.next()) else {
        return Err(format!(
            "expected 'users hosts = commands', found {:?}",
            who_hosts.trim()
        ));
    };
    let mut out = vec![(list(hosts), commands(cmnds)?)];
    for s in iter {
        let Some((hosts, cmnds)) = s.split_once('=') else {
            return Err(format!("host section without '=': {:?}", s.trim()));
        };
        out.push((list(hosts), commands(cmnds)?));
    }
    Ok(Entry::Rule {
        users: list(users),
        sections: out,
    })
}

/// Parses one logical line (not an include directive).
pub fn parse_line(line: &str) -> Result<Vec<Entry>, String> {
    let line = line.trim();
    let word_end = line
        .find(|c: char| c.is_ascii_whitespace() || matches!(c, '@' | ':' | '!' | '>'))
        .unwrap_or(line.len());
    let (word, raw_rest) = line.split_at(word_end);
    let rest = raw_rest.trim_start_matches([' ', '\t']);
    match word {
        // A binding (`Defaults:user`) follows the word directly; after a
        // blank, `!` negates the first parameter instead.
        "Defaults" if raw_rest.starts_with(['@', ':', '!', '>']) => {
            defaults(raw_rest).map(|d| vec![d])
        }
        "Defaults" => defaults_params(None, rest).map(|d| vec![d]),
        "User_Alias" => alias(AliasKind::User, rest),
        "Runas_Alias" => alias(AliasKind::Runas, rest),
        "Host_Alias" => alias(AliasKind::Host, rest),
        "Cmnd_Alias" | "Cmd_Alias" => alias(AliasKind::Cmnd, rest),
        _ => rule(line).map(|r| vec![r]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_spec() {
        let e = parse_line("alice, %wheel ALL = (root:adm) NOPASSWD: CWD=/tmp /usr/bin/apt update, PASSWD: /bin/ls : web1 = ALL").unwrap();
        let Entry::Rule { users, sections } = &e[0] else {
            panic!("{e:?}")
        };
        assert_eq!(users, &vec!["alice".to_string(), "%wheel".to_string()]);
        assert_eq!(sections.len(), 2);
        let (hosts, cmds) = &sections[0];
        assert_eq!(hosts, &vec!["ALL".to_string()]);
        assert_eq!(cmds[0].command, "/usr/bin/apt update");
        assert_eq!(cmds[0].runas_users, Some(vec!["root".to_string()]));
        assert_eq!(cmds[0].runas_groups, Some(vec!["adm".to_string()]));
        assert_eq!(cmds[0].options, vec!["CWD=/tmp".to_string()]);
        assert!(cmds[0].nopasswd());
        assert_eq!(cmds[1].command, "/bin/ls");
        assert!(!cmds[1].nopasswd());
        assert_eq!(cmds[1].runas_users, Some(vec!["root".to_string()]));
        assert_eq!(sections[1].0, vec!["web1".to_string()]);
        assert_eq!(sections[1].1[0].command, "ALL");
        assert_eq!(sections[1].1[0].runas_users, None);
    }

    #[test]
    fn defaults_lines() {
        let e = parse_line("Defaults\tsecure_path=\"/usr/sbin:/usr/bin\", !authenticate, env_keep += \"LANG LC_ALL\"").unwrap();
        let Entry::Defaults { scope, params } = &e[0] else {
            panic!()
        };
        assert_eq!(scope, &None);
        assert_eq!(params.len(), 3);
        assert_eq!(params[0].value.as_deref(), Some("/usr/sbin:/usr/bin"));
        assert!(params[1].negated);
        assert_eq!(params[1].name, "authenticate");
        assert_eq!(params[2].operator.as_deref(), Some("+="));
        assert_eq!(params[2].value.as_deref(), Some("LANG LC_ALL"));
        let e = parse_line("Defaults   !visiblepw").unwrap();
        assert!(
            matches!(&e[0], Entry::Defaults { scope: None, params } if params[0].negated && params[0].name == "visiblepw")
        );
        let e = parse_line("Defaults:bob !authenticate").unwrap();
        assert!(matches!(&e[0], Entry::Defaults { scope: Some(s), .. } if s == ":bob"));
    }

    #[test]
    fn aliases() {
        let e = parse_line("User_Alias ADMINS = alice, bob : OPS = carol").unwrap();
        assert_eq!(e.len(), 2);
        assert!(
            matches!(&e[1], Entry::Alias { kind: AliasKind::User, name, members } if name == "OPS" && members == &vec!["carol".to_string()])
        );
        assert!(parse_line("User_Alias lower = x").is_err());
    }

    #[test]
    fn bad_lines() {
        assert!(parse_line("just words").is_err());
        assert!(parse_line("alice ALL = (root").is_err());
        assert!(parse_line("alice ALL =").is_err());
        assert!(parse_line("Defaults").is_err());
    }
}
