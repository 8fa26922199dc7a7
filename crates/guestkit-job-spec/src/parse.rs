//! Reading a job document from text: JSON (the protocol's form) or YAML.
//! Only the shape is checked here (syntax, JSON types, required fields);
//! a problem becomes one [`ValidationError`] with its path and position.

use crate::check::{humanize, missing_field};
use crate::envelope::JobDocument;
use crate::error::{ValidationError, ValidationErrors};
use crate::path;

/// Reads a job document from JSON text without checking the protocol's
/// rules (see [`crate::parse_and_validate`] for both).
pub fn parse_document(text: &str) -> Result<JobDocument, ValidationErrors> {
    let mut de = serde_json::Deserializer::from_str(text);
    let doc = serde_path_to_error::deserialize::<_, JobDocument>(&mut de).map_err(|e| {
        let at = path::from_tracked(path::ROOT, e.path());
        let inner = e.into_inner();
        ValidationErrors::single(json_problem(&at, &inner))
    })?;
    de.end()
        .map_err(|e| ValidationErrors::single(json_problem(path::ROOT, &e)))?;
    Ok(doc)
}

/// Reads a job document from YAML text (same fields as the JSON form)
/// without checking the protocol's rules.
pub fn parse_document_yaml(text: &str) -> Result<JobDocument, ValidationErrors> {
    let de = serde_yaml_ng::Deserializer::from_str(text);
    serde_path_to_error::deserialize::<_, JobDocument>(de).map_err(|e| {
        let at = path::from_tracked(path::ROOT, e.path());
        let inner = e.into_inner();
        let (line, column) = inner
            .location()
            .map(|l| (l.line(), l.column()))
            .unwrap_or((0, 0));
        ValidationErrors::single(problem(&at, &inner.to_string(), line, column))
    })
}

fn json_problem(at: &str, e: &serde_json::Error) -> ValidationError {
    problem(at, &e.to_string(), e.line(), e.column())
}

/// One shape problem: the message without the parser's own " at line …"
/// tail (the position is kept apart), the path extended to a missing
/// field's name.
fn problem(at: &str, message: &str, line: usize, column: usize) -> ValidationError {
    let tail = format!(" at line {line} column {column}");
    let message = message.strip_suffix(&tail).unwrap_or(message);
    let at = match missing_field(message) {
        Some(field) => path::child(at, field),
        None => at.to_string(),
    };
    ValidationError::syntax(at, humanize(message)).at(line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syntax_error_has_a_position() {
        let e = parse_document("{\n  \"version\": \"1.0\",,\n}").unwrap_err();
        assert_eq!(e.len(), 1);
        let p = &e.errors[0];
        assert_eq!(p.line, Some(2));
        assert!(p.column.is_some());
        assert!(!p.message.contains("at line"), "{}", p.message);
    }

    #[test]
    fn trailing_text_is_refused() {
        let e = parse_document("{} {}").unwrap_err();
        assert_eq!(e.len(), 1);
    }
}
