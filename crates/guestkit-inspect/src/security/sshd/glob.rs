//! `glob(3)` over guest paths, for sshd's `Include`: `*`, `?` and `[…]`
//! in any component, names starting with `.` matched only by a pattern
//! starting with `.`, results sorted as glob sorts them.

use super::ConfigSource;

/// Whether `name` matches the shell pattern `pattern` (`*`, `?`, `[abc]`,
/// `[a-z]`, `[!x]`/`[^x]`, `\` escapes). Linear in time: no backtracking
/// blow-up on hostile patterns.
pub fn fnmatch(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    let (mut pi, mut ni) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        let c = n.get(ni).copied().unwrap_or('\0');
        match p.get(pi) {
            Some('*') => {
                star = Some((pi, ni));
                pi += 1;
                continue;
            }
            Some(_) => {
                if let Some((matched, next)) = one(&p, pi, c) {
                    if matched {
                        pi = next;
                        ni += 1;
                        continue;
                    }
                }
            }
            None => {}
        }
        match star {
            Some((sp, sn)) => {
                pi = sp + 1;
                ni = sn + 1;
                star = Some((sp, sn + 1));
            }
            None => return false,
        }
    }
    p.get(pi..)
        .is_some_and(|rest| rest.iter().all(|&c| c == '*'))
}

/// Whether the pattern element at `p[pi]` matches `c`, and where the next
/// element starts; `None` for a malformed class (matched literally by
/// glob, treated here as no match).
fn one(p: &[char], pi: usize, c: char) -> Option<(bool, usize)> {
    match p.get(pi)? {
        '?' => Some((true, pi + 1)),
        '\\' => match p.get(pi + 1) {
            Some(&e) => Some((e == c, pi + 2)),
            None => Some((c == '\\', pi + 1)),
        },
        '[' => {
            let mut i = pi + 1;
            let negate = matches!(p.get(i), Some('!' | '^'));
            if negate {
                i += 1;
            }
            let mut matched = false;
            let mut first = true;
            loop {
                let &lo = p.get(i)?;
                if lo == ']' && !first {
                    break;
                }
                first = false;
                if p.get(i + 1) == Some(&'-') && p.get(i + 2).is_some_and(|&h| h != ']') {
                    let &hi = p.get(i + 2)?;
                    if lo <= c && c <= hi {
                        matched = true;
                    }
                    i += 3;
                } else {
                    if lo == c {
                        matched = true;
                    }
                    i += 1;
                }
            }
            Some((matched != negate, i + 1))
        }
        &l => Some((l == c, pi + 1)),
    }
}

fn has_magic(s: &str) -> bool {
    s.contains(['*', '?', '['])
}

/// The existing paths matching the absolute pattern `pattern`, sorted,
/// at most `max` of them. A pattern without wildcards gives itself (the
/// caller finds out whether it exists).
pub fn expand(source: &dyn ConfigSource, pattern: &str, max: usize) -> Vec<String> {
    if !has_magic(pattern) {
        return vec![pattern.to_string()];
    }
    let mut current: Vec<String> = vec![String::new()];
    let components: Vec<&str> = pattern.split('/').filter(|c| !c.is_empty()).collect();
    let last = components.len().saturating_sub(1);
    for (i, comp) in components.iter().enumerate() {
        let mut next = Vec::new();
        for base in &current {
            if !has_magic(comp) {
                next.push(format!("{base}/{comp}"));
                continue;
            }
            let dir = if base.is_empty() { "/" } else { base.as_str() };
            for name in source.list_dir(dir) {
                if name.starts_with('.') && !comp.starts_with('.') {
                    continue;
                }
                if fnmatch(comp, &name) {
                    let path = format!("{base}/{name}");
                    if i == last || source.is_dir(&path) {
                        next.push(path);
                    }
                }
                if next.len() >= max {
                    break;
                }
            }
        }
        next.truncate(max);
        current = next;
    }
    current.sort();
    current
}

#[cfg(test)]
mod tests {
    use super::fnmatch;

    #[test]
    fn patterns() {
        assert!(fnmatch("*.conf", "50-guestkit.conf"));
        assert!(!fnmatch("*.conf", "50-guestkit.conf~"));
        assert!(fnmatch("a?c", "abc"));
        assert!(fnmatch("[0-9]*", "10-x"));
        assert!(!fnmatch("[!0-9]*", "10-x"));
        assert!(fnmatch("*", ""));
        assert!(fnmatch("a*b*c", "aXXbYYc"));
        assert!(!fnmatch("a*b*c", "aXXbYY"));
        assert!(fnmatch(
            "hmac-*-etm@openssh.com",
            "hmac-sha1-etm@openssh.com"
        ));
        assert!(!fnmatch("[a", "a"));
        let long = "a".repeat(5000);
        assert!(!fnmatch(&format!("{}b", "*a".repeat(200)), &long));
    }
}
