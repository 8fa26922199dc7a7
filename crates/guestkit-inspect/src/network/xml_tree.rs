//! A small, tolerant XML reader for configuration files (wicked's
//! ifconfig XML): elements, attributes and text, comments, processing
//! instructions, DOCTYPE and CDATA skipped or kept as text. Depth and
//! element count are bounded; malformed input gives a partial tree and
//! warnings naming lines. Namespaces are not resolved (`ipv4:static`
//! keeps its prefix).

/// Deepest element nesting kept.
pub const MAX_DEPTH: usize = 64;
/// Most elements read from one document.
pub const MAX_ELEMENTS: usize = 100_000;

/// One element.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Element {
    pub name: String,
    pub attrs: Vec<(String, String)>,
    pub children: Vec<Element>,
    /// Text directly inside, entities decoded, concatenated.
    pub text: String,
    /// 1-based line of the start tag.
    pub line: usize,
}

impl Element {
    /// The first child called `name`.
    pub fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }

    /// Every child called `name`.
    pub fn children_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }

    /// The trimmed text of the child at `path` (`control/mode`).
    pub fn text_at(&self, path: &str) -> Option<&str> {
        let mut e = self;
        for part in path.split('/') {
            e = e.child(part)?;
        }
        Some(e.text.trim())
    }
}

/// Decodes the five XML entities and character references.
pub fn decode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(amp) = rest.find('&') {
        out.push_str(rest.get(..amp).unwrap_or(""));
        let after = rest.get(amp..).unwrap_or("");
        // Entities are short: look for the `;` in the next few bytes only
        // (a far one would make long runs of `&` quadratic).
        let semi = after.bytes().take(13).position(|b| b == b';');
        let Some(semi) = semi else {
            out.push('&');
            rest = after.get(1..).unwrap_or("");
            continue;
        };
        let ent = after.get(1..semi).unwrap_or("");
        let c = match ent {
            "lt" => Some('<'),
            "gt" => Some('>'),
            "amp" => Some('&'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            e => {
                let code = if let Some(h) = e.strip_prefix("#x").or_else(|| e.strip_prefix("#X")) {
                    u32::from_str_radix(h, 16).ok()
                } else {
                    e.strip_prefix('#').and_then(|d| d.parse::<u32>().ok())
                };
                code.and_then(char::from_u32)
            }
        };
        match c {
            Some(c) => {
                out.push(c);
                rest = after.get(semi.saturating_add(1)..).unwrap_or("");
            }
            None => {
                out.push('&');
                rest = after.get(1..).unwrap_or("");
            }
        }
    }
    out.push_str(rest);
    out
}

/// Line of byte offset `at`.
fn line_of(starts: &[usize], at: usize) -> usize {
    match starts.binary_search(&at) {
        Ok(i) => i.saturating_add(1),
        Err(i) => i,
    }
}

/// Parses `text` into its top-level elements (a file may hold several).
pub fn parse(text: &str) -> (Vec<Element>, Vec<String>) {
    let mut starts = vec![0usize];
    starts.extend(text.match_indices('\n').map(|(i, _)| i.saturating_add(1)));
    let mut roots: Vec<Element> = Vec::new();
    let mut stack: Vec<Element> = Vec::new();
    let mut warnings = Vec::new();
    let mut count = 0usize;
    let mut i = 0usize;
    let close = |stack: &mut Vec<Element>, roots: &mut Vec<Element>| {
        if let Some(done) = stack.pop() {
            match stack.last_mut() {
                Some(parent) => parent.children.push(done),
                None => roots.push(done),
            }
        }
    };
    while let Some(rest) = text.get(i..) {
        if rest.is_empty() {
            break;
        }
        let Some(lt) = rest.find('<') else {
            if let Some(top) = stack.last_mut() {
                top.text.push_str(&decode(rest));
            }
            break;
        };
        if lt > 0 {
            if let Some(top) = stack.last_mut() {
                top.text.push_str(&decode(rest.get(..lt).unwrap_or("")));
            }
        }
        let at = i.saturating_add(lt);
        let tag = rest.get(lt..).unwrap_or("");
        let line = line_of(&starts, at);
        let skip_to = |end: &str, from: usize| {
            tag.get(from..)
                .and_then(|t| t.find(end))
                .map(|p| p.saturating_add(from).saturating_add(end.len()))
        };
        let consumed = if tag.starts_with("<!--") {
            skip_to("-->", 4)
        } else if let Some(body) = tag.strip_prefix("<![CDATA[") {
            let end = body.find("]]>");
            if let (Some(e), Some(top)) = (end, stack.last_mut()) {
                top.text.push_str(body.get(..e).unwrap_or(""));
            }
            end.map(|e| e.saturating_add(12))
        } else if tag.starts_with("<?") {
            skip_to("?>", 2)
        } else if tag.starts_with("<!") {
            let gt = tag.find('>');
            match (tag.find('['), gt) {
                (Some(b), Some(g)) if b < g => skip_to("]>", b),
                _ => gt.map(|g| g.saturating_add(1)),
            }
        } else if let Some(body) = tag.strip_prefix("</") {
            let end = body.find('>');
            if let Some(e) = end {
                let name = body.get(..e).unwrap_or("").trim();
                match stack.iter().rposition(|el| el.name == name) {
                    Some(pos) => {
                        if pos.saturating_add(1) != stack.len() {
                            warnings
                                .push(format!("line {line}: </{name}> closes unclosed elements"));
                        }
                        while stack.len() > pos {
                            close(&mut stack, &mut roots);
                        }
                    }
                    None => warnings.push(format!("line {line}: </{name}> without a start tag")),
                }
            }
            end.map(|e| e.saturating_add(3))
        } else {
            match start_tag(tag) {
                Some((mut el, len, empty)) => {
                    count = count.saturating_add(1);
                    if count > MAX_ELEMENTS {
                        warnings.push(format!(
                            "line {line}: more than {MAX_ELEMENTS} elements: the rest is skipped"
                        ));
                        break;
                    }
                    if stack.len() >= MAX_DEPTH {
                        warnings.push(format!("line {line}: elements nested deeper than {MAX_DEPTH}: the rest is skipped"));
                        break;
                    }
                    el.line = line;
                    stack.push(el);
                    if empty {
                        close(&mut stack, &mut roots);
                    }
                    Some(len)
                }
                None => None,
            }
        };
        match consumed {
            Some(n) => i = at.saturating_add(n.max(1)),
            None => {
                warnings.push(format!(
                    "line {line}: malformed or unterminated markup: the rest is skipped"
                ));
                break;
            }
        }
    }
    if !stack.is_empty() {
        let names: Vec<String> = stack.iter().map(|e| e.name.clone()).collect();
        warnings.push(format!(
            "unclosed elements at the end: {}",
            names.join(", ")
        ));
        while !stack.is_empty() {
            close(&mut stack, &mut roots);
        }
    }
    (roots, warnings)
}

/// A start tag at the beginning of `tag`: the element, the tag's length
/// and whether it is self-closing.
fn start_tag(tag: &str) -> Option<(Element, usize, bool)> {
    let body = tag.get(1..)?;
    let name_end = body.find(|c: char| c.is_whitespace() || c == '/' || c == '>')?;
    let name = body.get(..name_end)?;
    if name.is_empty() {
        return None;
    }
    let mut el = Element {
        name: name.to_string(),
        ..Element::default()
    };
    let mut pos = name_end;
    loop {
        let rest = body.get(pos..)?;
        let trimmed = rest.trim_start();
        pos = pos.saturating_add(rest.len().saturating_sub(trimmed.len()));
        if trimmed.starts_with("/>") {
            return Some((el, pos.saturating_add(3), true));
        }
        if trimmed.starts_with('>') {
            return Some((el, pos.saturating_add(2), false));
        }
        let eq = trimmed.find('=')?;
        let key = trimmed.get(..eq)?.trim();
        if key.is_empty() || key.contains(['<', '>', '/']) {
            return None;
        }
        let after = trimmed.get(eq.saturating_add(1)..)?.trim_start();
        let skipped = trimmed.len().saturating_sub(after.len());
        let quote = after.chars().next().filter(|c| *c == '"' || *c == '\'')?;
        let value_body = after.get(1..)?;
        let close = value_body.find(quote)?;
        el.attrs
            .push((key.to_string(), decode(value_body.get(..close)?)));
        pos = pos
            .saturating_add(skipped)
            .saturating_add(close)
            .saturating_add(2);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tree_text_and_attrs() {
        let (roots, w) = parse(
            "<?xml version=\"1.0\"?>\n<!-- c -->\n<interface origin=\"a&amp;b\">\n  <name>eth0</name>\n  <ipv4:static><address><local>10.0.0.1/24</local></address></ipv4:static>\n  <empty/>\n  <x>&lt;&#65;&#x42;<![CDATA[<raw>]]></x>\n</interface>\n<interface><name>eth1</name></interface>\n",
        );
        assert!(w.is_empty(), "{w:?}");
        assert_eq!(roots.len(), 2);
        let r = &roots[0];
        assert_eq!(r.attrs, [("origin".to_string(), "a&b".to_string())]);
        assert_eq!(r.line, 3);
        assert_eq!(r.text_at("name"), Some("eth0"));
        assert_eq!(r.text_at("ipv4:static/address/local"), Some("10.0.0.1/24"));
        assert!(r.child("empty").is_some());
        assert_eq!(r.text_at("x"), Some("<AB<raw>"));
        assert_eq!(roots[1].text_at("name"), Some("eth1"));
    }

    #[test]
    fn broken_input_is_partial() {
        let (roots, w) = parse("<a>\n<b>text</c>\n<d attr=>\n");
        assert_eq!(roots.len(), 1);
        assert_eq!(
            w,
            [
                "line 2: </c> without a start tag",
                "line 3: malformed or unterminated markup: the rest is skipped",
                "unclosed elements at the end: a, b"
            ]
        );
        let deep = "<a>".repeat(100);
        let (_, w) = parse(&deep);
        assert!(w[0].contains("deeper than 64"), "{w:?}");
    }
}
