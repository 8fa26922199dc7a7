//! GRUB 2's generated `grub.cfg`: `menuentry` and `submenu` blocks (titles,
//! `--id`s, `linux`/`initrd` lines), the `set default=` assignments, and
//! whether `blscfg` adds Boot Loader Specification entries; plus the
//! `grubenv` block (`saved_entry`, `kernelopts`). The script language is
//! not run: lines are split into words the way GRUB's lexer quotes them.

use std::collections::BTreeMap;

/// Most menu items kept.
const MAX_ITEMS: usize = 10_000;
/// Deepest block nesting followed.
const MAX_DEPTH: usize = 64;
/// Most words kept from one line.
const MAX_WORDS: usize = 4096;

/// A `menuentry` or `submenu`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MenuItem {
    pub title: String,
    /// `--id` (`$menuentry_id_option`), e.g. `gnulinux-advanced-<uuid>`.
    pub id: Option<String>,
    /// Position in the menu: one index per level (`[1, 0]` is `1>0`).
    pub position: Vec<usize>,
    pub submenu: bool,
    /// Titles of the enclosing submenus.
    pub parents: Vec<String>,
    /// `linux`/`linux16`/`linuxefi` path.
    pub kernel: Option<String>,
    /// The kernel command line (the rest of the `linux` line).
    pub cmdline: Option<String>,
    /// `initrd` paths.
    pub initrd: Vec<String>,
    /// 1-based line of the `menuentry`.
    pub line: usize,
}

/// One `set default=` assignment outside entries.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DefaultSetting {
    pub value: String,
    pub line: usize,
}

/// What a `grub.cfg` says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GrubConfig {
    pub items: Vec<MenuItem>,
    pub defaults: Vec<DefaultSetting>,
    /// Top-level items before the `blscfg` command (where BLS entries go),
    /// `None` without `blscfg`.
    pub blscfg_at: Option<usize>,
}

impl GrubConfig {
    /// The `set default=` GRUB ends up with: the last one, skipping the
    /// one-shot `${next_entry}` of the generated scripts' `if` branch.
    pub fn effective_default(&self) -> Option<&DefaultSetting> {
        self.defaults
            .iter()
            .rev()
            .find(|d| !matches!(d.value.as_str(), "${next_entry}" | "$next_entry"))
    }

    /// The entries (not submenus).
    pub fn entries(&self) -> impl Iterator<Item = &MenuItem> {
        self.items.iter().filter(|i| !i.submenu)
    }
}

/// Splits a line into words: `'...'` literal, `"..."` with `\` escaping
/// `$ " \`, bare `\x` as `x`, `#` at a word start begins a comment. `;`
/// ends a command, kept as its own word.
pub fn words(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        if out.len() >= MAX_WORDS {
            break;
        }
        match c {
            '\'' => {
                in_word = true;
                for q in chars.by_ref() {
                    if q == '\'' {
                        break;
                    }
                    word.push(q);
                }
            }
            '"' => {
                in_word = true;
                while let Some(q) = chars.next() {
                    match q {
                        '"' => break,
                        '\\' => match chars.peek() {
                            Some(&n @ ('$' | '"' | '\\')) => {
                                word.push(n);
                                chars.next();
                            }
                            _ => word.push('\\'),
                        },
                        _ => word.push(q),
                    }
                }
            }
            '\\' => {
                in_word = true;
                if let Some(n) = chars.next() {
                    word.push(n);
                }
            }
            '#' if !in_word => break,
            ';' => {
                if in_word {
                    out.push(std::mem::take(&mut word));
                    in_word = false;
                }
                out.push(";".into());
            }
            c if c.is_whitespace() => {
                if in_word {
                    out.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word && out.len() < MAX_WORDS {
        out.push(word);
    }
    out
}

/// What an open `{` belongs to.
enum Block {
    Item(usize),
    Other,
}

/// Parses `grub.cfg` text. Unbalanced braces and blocks nested too deep
/// give warnings naming their line.
pub fn parse(text: &str) -> (GrubConfig, Vec<String>) {
    let mut cfg = GrubConfig::default();
    let mut warnings = Vec::new();
    let mut stack: Vec<Block> = Vec::new();
    // Items seen so far at each open menu level (index 0: top level).
    let mut counts: Vec<usize> = vec![0];
    for (index, raw) in text.lines().enumerate() {
        let number = index.saturating_add(1);
        let w = words(raw);
        // A line may hold several commands separated by `;`.
        for cmd in w.split(|x| x == ";") {
            let Some(first) = cmd.first() else { continue };
            let opens = cmd.last().is_some_and(|l| l == "{" || l.ends_with('{'));
            let current_item = stack.iter().rev().find_map(|b| match b {
                Block::Item(i) => Some(*i),
                Block::Other => None,
            });
            match first.as_str() {
                "menuentry" | "submenu" => {
                    if stack.len() >= MAX_DEPTH {
                        warnings.push(format!("line {number}: nested deeper than {MAX_DEPTH}"));
                        continue;
                    }
                    if cfg.items.len() >= MAX_ITEMS {
                        warnings.push(format!(
                            "line {number}: more than {MAX_ITEMS} menu items, the rest ignored"
                        ));
                        return (cfg, warnings);
                    }
                    let submenu = first == "submenu";
                    let (title, id) = title_and_id(cmd.get(1..).unwrap_or_default());
                    let parents: Vec<String> = stack
                        .iter()
                        .filter_map(|b| match b {
                            Block::Item(i) => cfg.items.get(*i).map(|p| p.title.clone()),
                            Block::Other => None,
                        })
                        .collect();
                    let depth = parents.len();
                    let mut position: Vec<usize> = stack
                        .iter()
                        .filter_map(|b| match b {
                            Block::Item(i) => cfg.items.get(*i).and_then(|p| p.position.last()),
                            Block::Other => None,
                        })
                        .copied()
                        .collect();
                    counts.resize(depth.saturating_add(1), 0);
                    let at = counts.get(depth).copied().unwrap_or(0);
                    position.push(at);
                    if let Some(c) = counts.get_mut(depth) {
                        *c = at.saturating_add(1);
                    }
                    cfg.items.push(MenuItem {
                        title: title.unwrap_or_default(),
                        id,
                        position,
                        submenu,
                        parents,
                        line: number,
                        ..MenuItem::default()
                    });
                    if opens {
                        stack.push(Block::Item(cfg.items.len().saturating_sub(1)));
                        if submenu {
                            counts.push(0);
                        }
                    } else {
                        warnings.push(format!("line {number}: {first} without an opening brace"));
                    }
                }
                "}" => match stack.pop() {
                    Some(Block::Item(i)) => {
                        if cfg.items.get(i).is_some_and(|it| it.submenu) {
                            counts.pop();
                        }
                    }
                    Some(Block::Other) => {}
                    None => warnings.push(format!("line {number}: `}}` without a block")),
                },
                "linux" | "linux16" | "linuxefi" | "kernel" => {
                    if let Some(item) = current_item.and_then(|i| cfg.items.get_mut(i)) {
                        item.kernel = cmd.get(1).cloned();
                        item.cmdline = Some(cmd.get(2..).unwrap_or_default().join(" "));
                    }
                }
                "initrd" | "initrd16" | "initrdefi" => {
                    if let Some(item) = current_item.and_then(|i| cfg.items.get_mut(i)) {
                        item.initrd = cmd.get(1..).unwrap_or_default().to_vec();
                    }
                }
                "set" if current_item.is_none() => {
                    if let Some(v) = cmd.get(1).and_then(|a| a.strip_prefix("default=")) {
                        cfg.defaults.push(DefaultSetting {
                            value: v.to_string(),
                            line: number,
                        });
                    }
                }
                "blscfg" if current_item.is_none() && stack.is_empty() => {
                    cfg.blscfg_at = Some(counts.first().copied().unwrap_or(0));
                }
                "blscfg" if current_item.is_none() => {
                    // Inside an `if` or a function of the generated script.
                    cfg.blscfg_at = Some(counts.first().copied().unwrap_or(0));
                }
                _ if opens => {
                    if stack.len() >= MAX_DEPTH {
                        warnings.push(format!("line {number}: nested deeper than {MAX_DEPTH}"));
                    } else {
                        stack.push(Block::Other);
                    }
                }
                _ => {}
            }
        }
    }
    if !stack.is_empty() {
        warnings.push(format!("{} block(s) not closed at the end", stack.len()));
    }
    (cfg, warnings)
}

/// The title (first non-option word) and `--id` of a menuentry's words.
fn title_and_id(args: &[String]) -> (Option<String>, Option<String>) {
    let mut title = None;
    let mut id = None;
    let mut i = 0usize;
    while let Some(a) = args.get(i) {
        i = i.saturating_add(1);
        match a.as_str() {
            "{" => break,
            "--id" | "$menuentry_id_option" | "${menuentry_id_option}" => {
                id = args.get(i).cloned();
                i = i.saturating_add(1);
            }
            "--class" | "--users" | "--hotkey" => i = i.saturating_add(1),
            s if s.starts_with("--") => {}
            s => {
                if title.is_none() {
                    title = Some(s.trim_end_matches('{').to_string());
                }
            }
        }
    }
    (title, id)
}

/// The variables of a `grubenv` block: `name=value` lines, `#` padding
/// and comments skipped, `\\` and `\n`-style escapes undone.
pub fn parse_grubenv(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for line in text.lines().take(MAX_ITEMS) {
        if line.starts_with('#') {
            continue;
        }
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        let mut value = String::new();
        let mut chars = v.chars();
        while let Some(c) = chars.next() {
            if c == '\\' {
                if let Some(n) = chars.next() {
                    value.push(n);
                }
            } else {
                value.push(c);
            }
        }
        out.insert(k.to_string(), value);
    }
    out
}

/// The item that `default` names: `>`-separated steps, each an index, a
/// title or an `--id` at that level of the menu.
pub fn resolve_default<'a>(items: &'a [MenuItem], default: &str) -> Option<&'a MenuItem> {
    let mut prefix: Vec<usize> = Vec::new();
    let mut found = None;
    for step in default.split('>') {
        let level = items
            .iter()
            .filter(|i| i.position.len() == prefix.len().saturating_add(1))
            .filter(|i| i.position.starts_with(&prefix));
        let item = match step.parse::<usize>() {
            Ok(n) => level.into_iter().find(|i| i.position.last() == Some(&n)),
            Err(_) => level
                .into_iter()
                .find(|i| i.title == step || i.id.as_deref() == Some(step)),
        }?;
        prefix.clone_from(&item.position);
        found = Some(item);
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn word_splitting() {
        assert_eq!(
            words(
                r#"menuentry 'Debian GNU/Linux' --class debian $menuentry_id_option 'gnulinux-simple-x' {"#
            ),
            vec![
                "menuentry",
                "Debian GNU/Linux",
                "--class",
                "debian",
                "$menuentry_id_option",
                "gnulinux-simple-x",
                "{"
            ]
        );
        assert_eq!(
            words(r#"set default="${saved_entry}" # comment"#),
            vec!["set", "default=${saved_entry}"]
        );
        assert_eq!(words(r"echo 'it'\''s'; x"), vec!["echo", "it's", ";", "x"]);
    }

    #[test]
    fn grubenv() {
        let env = parse_grubenv(
            "# GRUB Environment Block\nsaved_entry=abc-5.14\nkernelopts=root=/dev/x ro\\\\n\n######\n",
        );
        assert_eq!(env.get("saved_entry").map(String::as_str), Some("abc-5.14"));
        assert_eq!(
            env.get("kernelopts").map(String::as_str),
            Some("root=/dev/x ro\\n")
        );
    }
}
