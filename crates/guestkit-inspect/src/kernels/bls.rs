//! Boot Loader Specification entries (`/boot/loader/entries/*.conf`, read
//! by GRUB's `blscfg` on Fedora/RHEL and by systemd-boot): one `key value`
//! per line; `linux`, `initrd`, `options`; GRUB variables such as
//! `$kernelopts` taken from `grubenv`; entries sorted newest version first.

use std::cmp::Ordering;
use std::collections::BTreeMap;

/// Most lines read from one entry.
const MAX_LINES: usize = 10_000;

/// One BLS entry file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BlsEntry {
    /// The file name without `.conf` (what `saved_entry` and loader.conf
    /// `default` name).
    pub id: String,
    pub title: Option<String>,
    pub version: Option<String>,
    pub machine_id: Option<String>,
    pub sort_key: Option<String>,
    pub linux: Option<String>,
    pub initrd: Vec<String>,
    /// The `options` lines joined by spaces, as written.
    pub options: Option<String>,
}

/// Parses the text of entry `id`; lines without a value give warnings
/// naming their line.
pub fn parse_entry(id: &str, text: &str) -> (BlsEntry, Vec<String>) {
    let mut e = BlsEntry {
        id: id.to_string(),
        ..BlsEntry::default()
    };
    let mut warnings = Vec::new();
    let mut options: Vec<&str> = Vec::new();
    for (index, raw) in text.lines().enumerate().take(MAX_LINES) {
        let number = index.saturating_add(1);
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (key, value) = match line.split_once(|c: char| c.is_ascii_whitespace()) {
            Some((k, v)) => (k, v.trim()),
            None => (line, ""),
        };
        if value.is_empty() {
            warnings.push(format!("line {number}: {key} without a value"));
            continue;
        }
        let v = || Some(value.to_string());
        match key {
            "title" => e.title = v(),
            "version" => e.version = v(),
            "machine-id" => e.machine_id = v(),
            "sort-key" => e.sort_key = v(),
            "linux" => e.linux = v(),
            "initrd" => e
                .initrd
                .extend(value.split_whitespace().map(str::to_string)),
            "options" => options.push(value),
            _ => {}
        }
    }
    if !options.is_empty() {
        e.options = Some(options.join(" "));
    }
    (e, warnings)
}

/// `text` with `$name` and `${name}` replaced from `vars` (unknown
/// variables become empty, as in GRUB), blanks squeezed.
pub fn expand(text: &str, vars: &BTreeMap<String, String>) -> String {
    let mut out = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '$' {
            out.push(c);
            continue;
        }
        let mut name = String::new();
        if chars.peek() == Some(&'{') {
            chars.next();
            for n in chars.by_ref() {
                if n == '}' {
                    break;
                }
                name.push(n);
            }
        } else {
            while let Some(&n) = chars.peek() {
                if n.is_ascii_alphanumeric() || n == '_' {
                    name.push(n);
                    chars.next();
                } else {
                    break;
                }
            }
        }
        if name.is_empty() {
            out.push('$');
        } else if let Some(v) = vars.get(&name) {
            out.push_str(v);
        }
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// rpm's version comparison (`rpmvercmp`): alphanumeric segments, numbers
/// compared as numbers and newer than letters, `~` older than anything.
pub fn vercmp(a: &str, b: &str) -> Ordering {
    let (mut a, mut b) = (a.as_bytes(), b.as_bytes());
    loop {
        let skip = |s: &[u8]| -> usize {
            s.iter()
                .take_while(|c| !c.is_ascii_alphanumeric() && **c != b'~')
                .count()
        };
        a = a.get(skip(a)..).unwrap_or_default();
        b = b.get(skip(b)..).unwrap_or_default();
        match (a.first() == Some(&b'~'), b.first() == Some(&b'~')) {
            (true, true) => {
                a = a.get(1..).unwrap_or_default();
                b = b.get(1..).unwrap_or_default();
                continue;
            }
            (true, false) => return Ordering::Less,
            (false, true) => return Ordering::Greater,
            (false, false) => {}
        }
        if a.is_empty() || b.is_empty() {
            return a.len().cmp(&b.len());
        }
        let numeric = a.first().is_some_and(u8::is_ascii_digit);
        let seg = |s: &[u8]| -> usize {
            s.iter()
                .take_while(|c| {
                    if numeric {
                        c.is_ascii_digit()
                    } else {
                        c.is_ascii_alphabetic()
                    }
                })
                .count()
        };
        let (la, lb) = (seg(a), seg(b));
        let (sa, sb) = (
            a.get(..la).unwrap_or_default(),
            b.get(..lb).unwrap_or_default(),
        );
        if lb == 0 {
            // Different kinds of segment: the number is newer.
            return if numeric {
                Ordering::Greater
            } else {
                Ordering::Less
            };
        }
        let ord = if numeric {
            let trim = |s: &[u8]| -> usize { s.iter().take_while(|c| **c == b'0').count() };
            let sa = sa.get(trim(sa)..).unwrap_or_default();
            let sb = sb.get(trim(sb)..).unwrap_or_default();
            sa.len().cmp(&sb.len()).then_with(|| sa.cmp(sb))
        } else {
            sa.cmp(sb)
        };
        if ord != Ordering::Equal {
            return ord;
        }
        a = a.get(la..).unwrap_or_default();
        b = b.get(lb..).unwrap_or_default();
    }
}

/// Sorts entries the way the loaders list them: by `sort-key` where both
/// have one, then newest `version` (or id) first, then id descending.
pub fn sort(entries: &mut [BlsEntry]) {
    entries.sort_by(|x, y| {
        let key = match (&x.sort_key, &y.sort_key) {
            (Some(a), Some(b)) => a.cmp(b),
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (None, None) => Ordering::Equal,
        };
        let vx = x.version.as_deref().unwrap_or(&x.id);
        let vy = y.version.as_deref().unwrap_or(&y.id);
        key.then_with(|| vercmp(vy, vx))
            .then_with(|| vercmp(&y.id, &x.id))
    });
}

/// Whether `name` matches the shell glob `pattern` (`*`, `?`), as
/// systemd-boot's loader.conf `default` does.
pub fn glob_match(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    // Iterative matcher with one backtrack point: linear in practice,
    // O(p·n) at worst, no recursion.
    let (mut pi, mut ni) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        match p.get(pi) {
            Some('*') => {
                star = Some((pi, ni));
                pi += 1;
            }
            Some(&c) if c == '?' || Some(&c) == n.get(ni) => {
                pi += 1;
                ni += 1;
            }
            _ => match star {
                Some((sp, sn)) => {
                    pi = sp + 1;
                    ni = sn + 1;
                    star = Some((sp, sn + 1));
                }
                None => return false,
            },
        }
    }
    p.get(pi..).unwrap_or_default().iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions() {
        assert_eq!(vercmp("5.14.0-70.el9", "5.14.0-162.el9"), Ordering::Less);
        assert_eq!(vercmp("6.1.0-10", "6.1.0-9"), Ordering::Greater);
        assert_eq!(vercmp("1.0~rc1", "1.0"), Ordering::Less);
        assert_eq!(vercmp("1.0a", "1.0"), Ordering::Greater);
        assert_eq!(vercmp("1.a", "1.1"), Ordering::Less);
        assert_eq!(vercmp("007", "7"), Ordering::Equal);
    }

    #[test]
    fn entry_and_expand() {
        let (e, w) = parse_entry(
            "x-5.14",
            "title Red Hat\nversion 5.14\nlinux /vmlinuz-5.14\ninitrd /initramfs-5.14.img $tuned_initrd\n\
             options $kernelopts\noptions quiet\ngrub_class\n",
        );
        assert_eq!(w, vec!["line 7: grub_class without a value"]);
        assert_eq!(e.initrd.len(), 2);
        let vars = BTreeMap::from([("kernelopts".to_string(), "root=/dev/vda2 ro".to_string())]);
        assert_eq!(
            expand(e.options.as_deref().unwrap(), &vars),
            "root=/dev/vda2 ro quiet"
        );
        assert_eq!(expand("a ${x} $ b", &vars), "a $ b");
    }

    #[test]
    fn globs() {
        assert!(glob_match("arch-*", "arch-6.1"));
        assert!(glob_match("*", ""));
        assert!(glob_match("a?c*d", "abcxxd"));
        assert!(!glob_match("a*b", "ac"));
    }
}
