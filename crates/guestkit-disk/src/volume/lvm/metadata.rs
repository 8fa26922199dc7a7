//! A parser of LVM's text metadata format (the syntax of lvm.conf):
//!
//! ```text
//! # comment
//! vg0 {                       # section
//!     id = "xxxxxx-..."       # string ("\"" and "\\" escapes)
//!     seqno = 3               # integer (decimal, or 0x hex), floats accepted
//!     status = ["READ", "WRITE"]   # array of scalars
//! }
//! ```
//!
//! The parser is bounded: the nesting depth and the number of values are
//! capped, and an error names the line and column where the text went wrong.
//! The text ends at its first NUL (metadata areas store it NUL-terminated).

use std::fmt;

/// A value in the metadata tree.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// An integer.
    Int(i64),
    /// A floating-point number (rare in metadata; kept for completeness).
    Float(f64),
    /// A string, escapes resolved.
    Str(String),
    /// An array of scalar values.
    Array(Vec<Value>),
    /// A nested section.
    Section(Section),
}

/// A section: an ordered list of `key = value` assignments and subsections.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Section {
    /// The entries in text order.
    pub entries: Vec<(String, Value)>,
}

impl Section {
    /// The first value named `key`.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.entries.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// The subsection named `key`.
    pub fn section(&self, key: &str) -> Option<&Section> {
        match self.get(key) {
            Some(Value::Section(s)) => Some(s),
            _ => None,
        }
    }

    /// The string value named `key`.
    pub fn str(&self, key: &str) -> Option<&str> {
        match self.get(key) {
            Some(Value::Str(s)) => Some(s),
            _ => None,
        }
    }

    /// The integer value named `key`.
    pub fn int(&self, key: &str) -> Option<i64> {
        match self.get(key) {
            Some(Value::Int(i)) => Some(*i),
            _ => None,
        }
    }

    /// The array value named `key`.
    pub fn array(&self, key: &str) -> Option<&[Value]> {
        match self.get(key) {
            Some(Value::Array(a)) => Some(a),
            _ => None,
        }
    }

    /// The subsections, in text order.
    pub fn sections(&self) -> impl Iterator<Item = (&str, &Section)> {
        self.entries.iter().filter_map(|(k, v)| match v {
            Value::Section(s) => Some((k.as_str(), s)),
            _ => None,
        })
    }
}

/// A syntax error with its 1-based position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// 1-based line.
    pub line: usize,
    /// 1-based column (in bytes).
    pub column: usize,
    /// What was wrong.
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "line {} column {}: {}",
            self.line, self.column, self.message
        )
    }
}

/// Bounds of one parse.
#[derive(Debug, Clone, Copy)]
pub struct ParseLimits {
    /// Deepest section nesting accepted.
    pub max_depth: usize,
    /// Most values (assignments, sections and array items) accepted.
    pub max_values: u64,
}

impl Default for ParseLimits {
    fn default() -> Self {
        ParseLimits {
            max_depth: 32,
            max_values: 1 << 20,
        }
    }
}

/// Parses metadata text into its top-level section.
pub fn parse(text: &str, limits: ParseLimits) -> Result<Section, ParseError> {
    let text = text.split('\0').next().unwrap_or("");
    let mut p = Parser {
        src: text.as_bytes(),
        pos: 0,
        line: 1,
        line_start: 0,
        values: 0,
        limits,
    };
    let root = p.section_body(0)?;
    p.skip_blank();
    if p.pos < p.src.len() {
        return Err(p.error("unexpected '}' at top level"));
    }
    Ok(root)
}

struct Parser<'a> {
    src: &'a [u8],
    pos: usize,
    line: usize,
    line_start: usize,
    values: u64,
    limits: ParseLimits,
}

fn is_ident(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'+' | b'-' | b'/' | b':' | b'@')
}

impl Parser<'_> {
    fn error(&self, message: impl Into<String>) -> ParseError {
        ParseError {
            line: self.line,
            column: self.pos - self.line_start + 1,
            message: message.into(),
        }
    }

    fn peek(&self) -> Option<u8> {
        self.src.get(self.pos).copied()
    }

    fn bump(&mut self) {
        if self.peek() == Some(b'\n') {
            self.line += 1;
            self.line_start = self.pos + 1;
        }
        self.pos += 1;
    }

    /// Skips whitespace and `#` comments.
    fn skip_blank(&mut self) {
        while let Some(c) = self.peek() {
            if c.is_ascii_whitespace() {
                self.bump();
            } else if c == b'#' {
                while self.peek().is_some_and(|c| c != b'\n') {
                    self.bump();
                }
            } else {
                break;
            }
        }
    }

    fn count_value(&mut self) -> Result<(), ParseError> {
        self.values += 1;
        if self.values > self.limits.max_values {
            return Err(self.error(format!(
                "more than {} values in the metadata",
                self.limits.max_values
            )));
        }
        Ok(())
    }

    /// Entries until `}` (depth > 0) or end of text (depth 0).
    fn section_body(&mut self, depth: usize) -> Result<Section, ParseError> {
        let mut section = Section::default();
        loop {
            self.skip_blank();
            match self.peek() {
                None if depth == 0 => return Ok(section),
                None => return Err(self.error("end of text inside a section (missing '}')")),
                Some(b'}') if depth == 0 => return Ok(section),
                Some(b'}') => {
                    self.bump();
                    return Ok(section);
                }
                Some(c) if is_ident(c) => {
                    let key = self.ident();
                    self.skip_blank();
                    match self.peek() {
                        Some(b'{') => {
                            if depth + 1 > self.limits.max_depth {
                                return Err(self.error(format!(
                                    "sections nested deeper than {}",
                                    self.limits.max_depth
                                )));
                            }
                            self.bump();
                            self.count_value()?;
                            let inner = self.section_body(depth + 1)?;
                            section.entries.push((key, Value::Section(inner)));
                        }
                        Some(b'=') => {
                            self.bump();
                            self.skip_blank();
                            self.count_value()?;
                            let value = self.value()?;
                            section.entries.push((key, value));
                        }
                        _ => return Err(self.error(format!("expected '=' or '{{' after {key:?}"))),
                    }
                }
                Some(c) => {
                    return Err(self.error(format!("unexpected character {:?}", char::from(c))))
                }
            }
        }
    }

    fn ident(&mut self) -> String {
        let start = self.pos;
        while self.peek().is_some_and(is_ident) {
            self.bump();
        }
        String::from_utf8_lossy(self.src.get(start..self.pos).unwrap_or(&[])).into_owned()
    }

    fn value(&mut self) -> Result<Value, ParseError> {
        match self.peek() {
            Some(b'[') => {
                self.bump();
                let mut items = Vec::new();
                loop {
                    self.skip_blank();
                    match self.peek() {
                        Some(b']') => {
                            self.bump();
                            return Ok(Value::Array(items));
                        }
                        Some(b'[') => return Err(self.error("nested arrays are not allowed")),
                        None => return Err(self.error("end of text inside an array")),
                        _ => {}
                    }
                    self.count_value()?;
                    items.push(self.scalar()?);
                    self.skip_blank();
                    match self.peek() {
                        Some(b',') => self.bump(),
                        Some(b']') => {}
                        _ => return Err(self.error("expected ',' or ']' in array")),
                    }
                }
            }
            _ => self.scalar(),
        }
    }

    fn scalar(&mut self) -> Result<Value, ParseError> {
        match self.peek() {
            Some(q @ (b'"' | b'\'')) => self.string(q),
            Some(c) if c == b'-' || c == b'+' || c.is_ascii_digit() => self.number(),
            Some(c) => Err(self.error(format!("expected a value, found {:?}", char::from(c)))),
            None => Err(self.error("expected a value, found end of text")),
        }
    }

    fn string(&mut self, quote: u8) -> Result<Value, ParseError> {
        let (line, column) = (self.line, self.pos - self.line_start + 1);
        self.bump();
        let mut out = Vec::new();
        loop {
            match self.peek() {
                None => {
                    return Err(ParseError {
                        line,
                        column,
                        message: "unterminated string".into(),
                    })
                }
                Some(c) if c == quote => {
                    self.bump();
                    return Ok(Value::Str(String::from_utf8_lossy(&out).into_owned()));
                }
                Some(b'\\') => {
                    self.bump();
                    match self.peek() {
                        Some(c) => {
                            out.push(c);
                            self.bump();
                        }
                        None => return Err(self.error("backslash at end of text")),
                    }
                }
                Some(c) => {
                    out.push(c);
                    self.bump();
                }
            }
        }
    }

    fn number(&mut self) -> Result<Value, ParseError> {
        let (line, column) = (self.line, self.pos - self.line_start + 1);
        let start = self.pos;
        while self
            .peek()
            .is_some_and(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'+' | b'.'))
        {
            self.bump();
        }
        let tok = std::str::from_utf8(self.src.get(start..self.pos).unwrap_or(&[])).unwrap_or("");
        let bad = |what: &str| ParseError {
            line,
            column,
            message: format!("{what} {tok:?}"),
        };
        let (neg, digits) = match tok.as_bytes().first() {
            Some(b'-') => (true, tok.get(1..).unwrap_or("")),
            Some(b'+') => (false, tok.get(1..).unwrap_or("")),
            _ => (false, tok),
        };
        let magnitude = if let Some(hex) = digits
            .strip_prefix("0x")
            .or_else(|| digits.strip_prefix("0X"))
        {
            u64::from_str_radix(hex, 16).ok()
        } else if digits.bytes().all(|c| c.is_ascii_digit()) && !digits.is_empty() {
            digits.parse::<u64>().ok()
        } else {
            return tok
                .parse::<f64>()
                .ok()
                .filter(|f| f.is_finite())
                .map(Value::Float)
                .ok_or_else(|| bad("not a number:"));
        };
        let magnitude = magnitude.ok_or_else(|| bad("integer out of range:"))?;
        let value = if neg {
            0i64.checked_sub_unsigned(magnitude)
        } else {
            i64::try_from(magnitude).ok()
        };
        value
            .map(Value::Int)
            .ok_or_else(|| bad("integer out of range:"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_sections_arrays_strings_and_comments() {
        let text = "vg {\n id = \"a\\\"b\\\\c\" # comment\n n = -12\n h = 0x10\n\
                    f = 1.5\n a = [\"x\", 3,\n]\n e = []\n sub { k = 'q' }\n}\n\
                    contents = \"Text\"\0garbage {";
        let root = parse(text, ParseLimits::default()).unwrap();
        let vg = root.section("vg").unwrap();
        assert_eq!(vg.str("id"), Some("a\"b\\c"));
        assert_eq!(vg.int("n"), Some(-12));
        assert_eq!(vg.int("h"), Some(16));
        assert_eq!(vg.get("f"), Some(&Value::Float(1.5)));
        assert_eq!(
            vg.array("a").unwrap(),
            &[Value::Str("x".into()), Value::Int(3)]
        );
        assert!(vg.array("e").unwrap().is_empty());
        assert_eq!(vg.section("sub").unwrap().str("k"), Some("q"));
        assert_eq!(root.str("contents"), Some("Text"));
    }

    #[test]
    fn errors_name_line_and_column() {
        let e = parse("a {\n  b = \n}\n", ParseLimits::default()).unwrap_err();
        assert_eq!((e.line, e.column), (3, 1), "{e}");
        let e = parse("a {\n b = 1\n", ParseLimits::default()).unwrap_err();
        assert!(e.message.contains("missing '}'"), "{e}");
        let e = parse("x = \"abc", ParseLimits::default()).unwrap_err();
        assert_eq!(
            (e.line, e.column, e.message.as_str()),
            (1, 5, "unterminated string")
        );
        let e = parse("x = 99999999999999999999", ParseLimits::default()).unwrap_err();
        assert!(e.message.contains("out of range"), "{e}");
    }

    #[test]
    fn depth_and_count_are_bounded() {
        let deep = "a {".repeat(40) + &"}".repeat(40);
        let e = parse(&deep, ParseLimits::default()).unwrap_err();
        assert!(e.message.contains("nested deeper than 32"), "{e}");
        let ok = "a {".repeat(32) + &"}".repeat(32);
        parse(&ok, ParseLimits::default()).unwrap();
        let many = "x = [".to_string() + &"1,".repeat(100) + "]";
        let limits = ParseLimits {
            max_depth: 32,
            max_values: 50,
        };
        assert!(parse(&many, limits)
            .unwrap_err()
            .message
            .contains("more than 50"));
    }
}
