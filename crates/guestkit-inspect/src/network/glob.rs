//! Shell wildcard matching for one path component (`*`, `?`, `[...]`),
//! used by ifupdown's `source` lines and netplan-like file selections.

/// Whether `pattern` has a wildcard character.
pub fn has_wildcard(pattern: &str) -> bool {
    pattern.contains(['*', '?', '['])
}

/// Whether `name` matches the shell pattern `pattern`. A leading dot in
/// `name` must be matched literally, as in the shell.
pub fn matches(pattern: &str, name: &str) -> bool {
    if name.starts_with('.') && !pattern.starts_with('.') {
        return false;
    }
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    let (mut pi, mut ni) = (0usize, 0usize);
    // Where to resume after the last `*`: (pattern index after it, name index).
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        let pc = p.get(pi).copied();
        let nc = n.get(ni).copied();
        let step = match pc {
            Some('*') => {
                star = Some((pi.saturating_add(1), ni));
                pi = pi.saturating_add(1);
                continue;
            }
            Some('?') => Some(1),
            Some('[') => match class(&p, pi, nc) {
                Some((true, len)) => Some(len),
                Some((false, _)) => None,
                // An unterminated `[` is a literal.
                None => (nc == Some('[')).then_some(1),
            },
            Some(c) => (Some(c) == nc).then_some(1),
            None => None,
        };
        match step {
            Some(len) => {
                pi = pi.saturating_add(len);
                ni = ni.saturating_add(1);
            }
            None => match star {
                Some((sp, sn)) => {
                    pi = sp;
                    ni = sn.saturating_add(1);
                    star = Some((sp, ni));
                }
                None => return false,
            },
        }
    }
    p.iter().skip(pi).all(|&c| c == '*')
}

/// Matches the bracket class starting at `p[start]` against `c`: whether it
/// matched and the class's length in pattern characters; `None` when
/// unterminated.
fn class(p: &[char], start: usize, c: Option<char>) -> Option<(bool, usize)> {
    let mut i = start.checked_add(1)?;
    let negate = matches!(p.get(i), Some('!' | '^'));
    if negate {
        i = i.checked_add(1)?;
    }
    let mut matched = false;
    let mut first = true;
    loop {
        let cur = *p.get(i)?;
        if cur == ']' && !first {
            break;
        }
        first = false;
        if p.get(i.checked_add(1)?) == Some(&'-')
            && p.get(i.checked_add(2)?).is_some_and(|&e| e != ']')
        {
            let end = *p.get(i.checked_add(2)?)?;
            if c.is_some_and(|c| cur <= c && c <= end) {
                matched = true;
            }
            i = i.checked_add(3)?;
        } else {
            if c == Some(cur) {
                matched = true;
            }
            i = i.checked_add(1)?;
        }
    }
    let len = i.checked_sub(start)?.checked_add(1)?;
    Some((matched != negate, len))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_rules() {
        assert!(matches("*", "eth0"));
        assert!(!matches("*", ".hidden"));
        assert!(matches("*.cfg", "a.cfg"));
        assert!(!matches("*.cfg", "a.cfgx"));
        assert!(matches("eth?", "eth1"));
        assert!(matches("if[0-9]", "if7"));
        assert!(!matches("if[!0-9]", "if7"));
        assert!(matches("a*b*c", "axxbyyc"));
        assert!(!matches("a*b*c", "axxbyy"));
        assert!(matches("x[", "x["));
        assert!(matches("[]]", "]"));
        assert!(has_wildcard("/etc/network/interfaces.d/*"));
        assert!(!has_wildcard("/etc/network/interfaces"));
    }
}
