//! Validation problems: each names the JSON path it is about, says what is
//! wrong, and (for syntax and structure problems) where in the text.

use std::fmt;

use crate::error_code::ErrorCode;

/// What sort of problem a [`ValidationError`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProblemKind {
    /// The text is not JSON (or YAML), or a value has the wrong JSON type,
    /// or a required field is missing: the document could not be read.
    Syntax,
    /// The document was read but a value breaks a rule of the protocol.
    Invalid,
    /// The document asks for an operation or payload type this crate does
    /// not know.
    Unsupported,
}

/// One problem of a job document.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}{}", location_suffix(*.line, *.column))]
pub struct ValidationError {
    /// JSON path of the offending value, `$` for the document itself
    /// (`$.execution.priority`, `$.payload.data.profiles[2]`).
    pub path: String,
    /// What is wrong, in words.
    pub message: String,
    /// 1-based line in the text, when known.
    pub line: Option<usize>,
    /// 1-based column in the text, when known.
    pub column: Option<usize>,
    /// What sort of problem this is.
    pub kind: ProblemKind,
}

fn location_suffix(line: Option<usize>, column: Option<usize>) -> String {
    match (line, column) {
        (Some(l), Some(c)) => format!(" (line {l}, column {c})"),
        (Some(l), None) => format!(" (line {l})"),
        _ => String::new(),
    }
}

impl ValidationError {
    /// A rule broken at `path`.
    pub fn invalid(path: impl Into<String>, message: impl Into<String>) -> Self {
        ValidationError {
            path: path.into(),
            message: message.into(),
            line: None,
            column: None,
            kind: ProblemKind::Invalid,
        }
    }

    /// An operation or payload type this crate does not know, at `path`.
    pub fn unsupported(path: impl Into<String>, message: impl Into<String>) -> Self {
        ValidationError {
            kind: ProblemKind::Unsupported,
            ..ValidationError::invalid(path, message)
        }
    }

    /// A value that could not be read at all (syntax, JSON type, missing
    /// field), at `path`.
    pub fn syntax(path: impl Into<String>, message: impl Into<String>) -> Self {
        ValidationError {
            kind: ProblemKind::Syntax,
            ..ValidationError::invalid(path, message)
        }
    }

    /// The same problem with a text position.
    pub fn at(mut self, line: usize, column: usize) -> Self {
        if line > 0 {
            self.line = Some(line);
            self.column = Some(column);
        }
        self
    }
}

/// Every problem found in one job document (never empty when returned as an
/// error).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", render(&self.errors))]
pub struct ValidationErrors {
    /// The problems, in document order as far as the checks go.
    pub errors: Vec<ValidationError>,
}

fn render(errors: &[ValidationError]) -> String {
    let mut out = match errors.len() {
        1 => String::from("invalid job document: 1 problem"),
        n => format!("invalid job document: {n} problems"),
    };
    for e in errors {
        out.push_str("\n  - ");
        out.push_str(&e.to_string());
    }
    out
}

impl ValidationErrors {
    /// One problem.
    pub fn single(error: ValidationError) -> Self {
        ValidationErrors {
            errors: vec![error],
        }
    }

    /// `Ok(value)` when `errors` is empty, the errors otherwise.
    pub fn result<T>(errors: Vec<ValidationError>, value: T) -> Result<T, ValidationErrors> {
        if errors.is_empty() {
            Ok(value)
        } else {
            Err(ValidationErrors { errors })
        }
    }

    /// Number of problems.
    pub fn len(&self) -> usize {
        self.errors.len()
    }

    /// True when there is no problem (never for a returned error).
    pub fn is_empty(&self) -> bool {
        self.errors.is_empty()
    }

    /// The problems.
    pub fn iter(&self) -> std::slice::Iter<'_, ValidationError> {
        self.errors.iter()
    }

    /// The problem at exactly `path`, if any.
    pub fn at_path(&self, path: &str) -> Option<&ValidationError> {
        self.errors.iter().find(|e| e.path == path)
    }

    /// The result error code a worker reports for this rejection:
    /// `unsupported_operation` when the job asks for something unknown,
    /// `validation_failed` otherwise.
    pub fn error_code(&self) -> ErrorCode {
        if self
            .errors
            .iter()
            .any(|e| e.kind == ProblemKind::Unsupported)
        {
            ErrorCode::UnsupportedOperation
        } else {
            ErrorCode::ValidationFailed
        }
    }
}

impl<'a> IntoIterator for &'a ValidationErrors {
    type Item = &'a ValidationError;
    type IntoIter = std::slice::Iter<'a, ValidationError>;

    fn into_iter(self) -> Self::IntoIter {
        self.errors.iter()
    }
}

impl fmt::Display for ProblemKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ProblemKind::Syntax => "syntax",
            ProblemKind::Invalid => "invalid",
            ProblemKind::Unsupported => "unsupported",
        })
    }
}
