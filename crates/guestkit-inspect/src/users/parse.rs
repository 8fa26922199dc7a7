//! Line parsers for `/etc/passwd`, `/etc/shadow` and `/etc/group`: one
//! record per line, colon-separated fields, as `passwd(5)`, `shadow(5)`
//! and `group(5)` describe them. Pure functions over text, so they can be
//! fuzzed and tested without a guest.

/// Most records read from one file; the rest are ignored with a warning
/// (a real system has hundreds, a directory-backed one a few thousand).
pub const MAX_ENTRIES: usize = 100_000;

/// A parse result: the records read, the NIS compatibility lines (`+`/`-`)
/// seen, and a warning per line skipped (`line N: …`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Parsed<T> {
    pub entries: Vec<T>,
    /// Lines starting with `+` or `-` (NIS compat entries): not accounts of
    /// their own, counted so a report can say they are there.
    pub nis_compat: usize,
    pub warnings: Vec<String>,
}

/// One `/etc/passwd` record.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PasswdEntry {
    pub name: String,
    /// The second field: `x` when the password lives in shadow.
    pub password: String,
    pub uid: u32,
    pub gid: u32,
    pub gecos: String,
    pub home: String,
    pub shell: String,
    /// 1-based line number in the file.
    pub line: usize,
}

/// One `/etc/shadow` record; the numeric fields are `None` when empty.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ShadowEntry {
    pub name: String,
    pub password: String,
    pub last_change: Option<i64>,
    pub min_days: Option<i64>,
    pub max_days: Option<i64>,
    pub warn_days: Option<i64>,
    pub inactive_days: Option<i64>,
    pub expire: Option<i64>,
    pub line: usize,
}

/// One `/etc/group` record.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupEntry {
    pub name: String,
    pub gid: u32,
    pub members: Vec<String>,
    pub line: usize,
}

/// The records of `text`, each line given to `parse_line` (which returns
/// `Err(message)` for a malformed one). Blank lines and `#` comments are
/// skipped; so is an unterminated last line when `cut` says the file was
/// truncated (its record would be partial).
fn records<T>(
    text: &str,
    cut: bool,
    mut parse_line: impl FnMut(&str, usize) -> Result<T, String>,
) -> Parsed<T> {
    let mut out = Parsed {
        entries: Vec::new(),
        nis_compat: 0,
        warnings: Vec::new(),
    };
    let complete = if cut && !text.ends_with('\n') {
        match text.rfind('\n') {
            Some(end) => text.get(..end).unwrap_or(""),
            None => "",
        }
    } else {
        text
    };
    if complete.len() < text.len() {
        out.warnings
            .push("the file was cut short: its last, incomplete line was not read".to_string());
    }
    for (i, raw) in complete.lines().enumerate() {
        let line_no = i.saturating_add(1);
        let line = raw.trim_end_matches('\r');
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        if line.starts_with('+') || line.starts_with('-') {
            out.nis_compat = out.nis_compat.saturating_add(1);
            continue;
        }
        if out.entries.len() >= MAX_ENTRIES {
            out.warnings.push(format!(
                "line {line_no}: more than {MAX_ENTRIES} entries: the rest were not read"
            ));
            break;
        }
        match parse_line(line, line_no) {
            Ok(entry) => out.entries.push(entry),
            Err(message) => out.warnings.push(format!("line {line_no}: {message}")),
        }
    }
    out
}

fn id(field: &str, what: &str) -> Result<u32, String> {
    field
        .parse::<u32>()
        .map_err(|_| format!("{what} {field:?} is not a number from 0 to 4294967295"))
}

fn days(field: &str, what: &str) -> Result<Option<i64>, String> {
    if field.is_empty() {
        return Ok(None);
    }
    field
        .parse::<i64>()
        .map(Some)
        .map_err(|_| format!("{what} {field:?} is not a number"))
}

fn valid_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        Err("an empty name".to_string())
    } else {
        Ok(())
    }
}

/// The records of an `/etc/passwd` text (`cut`: the file was truncated).
pub fn parse_passwd(text: &str, cut: bool) -> Parsed<PasswdEntry> {
    records(text, cut, |line, line_no| {
        let f: Vec<&str> = line.split(':').collect();
        let [name, password, uid, gid, gecos, home, shell] = f.as_slice() else {
            return Err(format!("{} fields where passwd has 7", f.len()));
        };
        valid_name(name)?;
        Ok(PasswdEntry {
            name: name.to_string(),
            password: password.to_string(),
            uid: id(uid, "uid")?,
            gid: id(gid, "gid")?,
            gecos: gecos.to_string(),
            home: home.to_string(),
            shell: shell.to_string(),
            line: line_no,
        })
    })
}

/// The records of an `/etc/shadow` text. The ninth (reserved) field may
/// be absent, as shadow's own tools accept.
pub fn parse_shadow(text: &str, cut: bool) -> Parsed<ShadowEntry> {
    records(text, cut, |line, line_no| {
        let f: Vec<&str> = line.split(':').collect();
        let (name, password, rest) = match f.as_slice() {
            [name, password, rest @ ..] if rest.len() == 6 || rest.len() == 7 => {
                (*name, *password, rest)
            }
            _ => return Err(format!("{} fields where shadow has 9", f.len())),
        };
        valid_name(name)?;
        let get = |i: usize| rest.get(i).copied().unwrap_or("");
        Ok(ShadowEntry {
            name: name.to_string(),
            password: password.to_string(),
            last_change: days(get(0), "last change")?,
            min_days: days(get(1), "minimum age")?,
            max_days: days(get(2), "maximum age")?,
            warn_days: days(get(3), "warning period")?,
            inactive_days: days(get(4), "inactivity period")?,
            expire: days(get(5), "expiration date")?,
            line: line_no,
        })
    })
}

/// The records of an `/etc/group` text.
pub fn parse_group(text: &str, cut: bool) -> Parsed<GroupEntry> {
    records(text, cut, |line, line_no| {
        let f: Vec<&str> = line.split(':').collect();
        let [name, _password, gid, members] = f.as_slice() else {
            return Err(format!("{} fields where group has 4", f.len()));
        };
        valid_name(name)?;
        Ok(GroupEntry {
            name: name.to_string(),
            gid: id(gid, "gid")?,
            members: members
                .split(',')
                .map(str::trim)
                .filter(|m| !m.is_empty())
                .take(MAX_ENTRIES)
                .map(str::to_string)
                .collect(),
            line: line_no,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwd_lines() {
        let p = parse_passwd(
            "root:x:0:0:root:/root:/bin/bash\n# comment\n\nbad:x:1\nneg:x:-1:0::/:/bin/sh\n+@nis::::::\nd:x:2:2:d,,,:/home/d:\n",
            false,
        );
        assert_eq!(p.entries.len(), 2);
        assert_eq!(p.entries[0].name, "root");
        assert_eq!(p.entries[1].line, 7);
        assert_eq!(p.entries[1].shell, "");
        assert_eq!(p.nis_compat, 1);
        assert_eq!(
            p.warnings,
            vec![
                "line 4: 3 fields where passwd has 7".to_string(),
                "line 5: uid \"-1\" is not a number from 0 to 4294967295".to_string(),
            ]
        );
    }

    #[test]
    fn shadow_lines() {
        let s = parse_shadow(
            "root:*:19700:0:99999:7:::\nbob:!$y$j9T$a$b:19701::::::\nold:x:1:2:3:4:5:6\nbad:x:zz:0:99999:7:::\n",
            false,
        );
        assert_eq!(s.entries.len(), 3);
        assert_eq!(s.entries[0].max_days, Some(99999));
        assert_eq!(s.entries[0].inactive_days, None);
        assert_eq!(s.entries[1].min_days, None);
        assert_eq!(s.entries[2].expire, Some(6));
        assert_eq!(
            s.warnings,
            vec!["line 4: last change \"zz\" is not a number".to_string()]
        );
    }

    #[test]
    fn truncated_file_drops_its_last_line() {
        let p = parse_passwd("a:x:1:1::/:/bin/sh\nb:x:2:2::/:/bin/s", true);
        assert_eq!(p.entries.len(), 1);
        assert_eq!(p.warnings.len(), 1);
        let p = parse_passwd("a:x:1:1::/:/bin/sh\nb:x:2:2::/:/bin/s", false);
        assert_eq!(p.entries.len(), 2);
    }

    #[test]
    fn entry_count_is_bounded() {
        let text: String = (0..MAX_ENTRIES + 5)
            .map(|i| format!("g{i}:x:{i}:\n"))
            .collect();
        let g = parse_group(&text, false);
        assert_eq!(g.entries.len(), MAX_ENTRIES);
        assert_eq!(g.warnings.len(), 1);
        assert!(g.warnings[0].contains("more than 100000 entries"));
    }

    #[test]
    fn group_members() {
        let g = parse_group("sudo:x:27:alice, bob,,\nx:x:1\n", false);
        assert_eq!(g.entries[0].members, vec!["alice", "bob"]);
        assert_eq!(g.warnings.len(), 1);
    }
}
