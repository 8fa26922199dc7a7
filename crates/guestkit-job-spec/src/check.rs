//! Field-by-field checks of JSON values, so that one pass reports every bad
//! field of a payload instead of stopping at the first. Each field is decoded
//! with the very type the payload struct uses, so the checks and the types
//! cannot disagree on what a field accepts.

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::error::ValidationError;
use crate::path;

/// Collects the problems of one document.
#[derive(Debug, Default)]
pub struct Problems {
    /// The problems so far.
    pub errors: Vec<ValidationError>,
}

impl Problems {
    /// Records a broken rule at `path`.
    pub fn invalid(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.errors.push(ValidationError::invalid(path, message));
    }

    /// Records a problem.
    pub fn push(&mut self, error: ValidationError) {
        self.errors.push(error);
    }

    /// True when nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.errors.is_empty()
    }

    /// `value` as an object, or a problem at `at`.
    pub fn object<'v>(&mut self, value: &'v Value, at: &str) -> Option<&'v Map<String, Value>> {
        match value {
            Value::Object(map) => Some(map),
            other => {
                self.invalid(
                    at,
                    format!("expected an object, found {}", json_type(other)),
                );
                None
            }
        }
    }

    /// Member `key` of `obj` decoded as `T` when present (an absent member
    /// is not a problem, `null` is one unless `T` accepts it).
    pub fn field<T: DeserializeOwned>(
        &mut self,
        obj: &Map<String, Value>,
        at: &str,
        key: &str,
    ) -> Option<T> {
        let value = obj.get(key)?;
        match decode_value::<T>(value, &path::child(at, key)) {
            Ok(v) => Some(v),
            Err(e) => {
                self.push(e);
                None
            }
        }
    }

    /// Like [`Problems::field`], with `null` taken as absent.
    pub fn optional<T: DeserializeOwned>(
        &mut self,
        obj: &Map<String, Value>,
        at: &str,
        key: &str,
    ) -> Option<T> {
        match obj.get(key) {
            None | Some(Value::Null) => None,
            Some(_) => self.field(obj, at, key),
        }
    }

    /// Member `key` of `obj`, which must be present.
    pub fn required<'v>(
        &mut self,
        obj: &'v Map<String, Value>,
        at: &str,
        key: &str,
    ) -> Option<&'v Value> {
        let value = obj.get(key);
        if value.is_none() {
            self.invalid(path::child(at, key), format!("`{key}` is required"));
        }
        value
    }

    /// Checks that a text field holds something usable as a path: not
    /// empty, no control characters.
    pub fn path_text(&mut self, text: &str, at: &str) {
        if text.trim().is_empty() {
            self.invalid(at, "must not be empty");
        } else if let Some(c) = text.chars().find(|c| c.is_control()) {
            self.invalid(at, format!("must not contain the control character {c:?}"));
        }
    }
}

/// `value` decoded as `T`; a failure names the exact path inside `value`
/// below `at`.
pub fn decode_value<T: DeserializeOwned>(value: &Value, at: &str) -> Result<T, ValidationError> {
    serde_path_to_error::deserialize::<_, T>(value).map_err(|e| {
        let where_ = path::from_tracked(at, e.path());
        let message = humanize(&e.into_inner().to_string());
        match missing_field(&message) {
            Some(field) => ValidationError::invalid(path::child(&where_, field), message),
            None => ValidationError::invalid(where_, message),
        }
    })
}

/// A serde message in the protocol's words: "unknown value" rather than
/// "unknown variant", "a whole number" rather than "u32".
pub fn humanize(message: &str) -> String {
    message
        .replace("unknown variant", "unknown value")
        .replace("expected u8", "expected a whole number from 0 to 255")
        .replace(
            "expected u32",
            "expected a whole number from 0 to 4294967295",
        )
        .replace("expected u64", "expected a whole number of 0 or more")
}

/// The field name of a serde "missing field `x`" message.
pub fn missing_field(message: &str) -> Option<&str> {
    let rest = message.strip_prefix("missing field `")?;
    let end = rest.find('`')?;
    rest.get(..end)
}

/// The JSON type of a value, for messages.
pub fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_bad_field_is_reported() {
        let v = json!({"a": "x", "b": 3, "c": null, "d": true});
        let obj = v.as_object().unwrap();
        let mut p = Problems::default();
        assert_eq!(p.field::<u32>(obj, "$.o", "a"), None);
        assert_eq!(p.field::<u32>(obj, "$.o", "b"), Some(3));
        assert_eq!(p.optional::<u32>(obj, "$.o", "c"), None);
        assert_eq!(p.field::<bool>(obj, "$.o", "c"), None);
        assert_eq!(p.field::<bool>(obj, "$.o", "absent"), None);
        assert!(p.required(obj, "$.o", "absent").is_none());
        let paths: Vec<_> = p.errors.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(paths, ["$.o.a", "$.o.c", "$.o.absent"]);
    }

    #[test]
    fn missing_field_names() {
        assert_eq!(missing_field("missing field `path`"), Some("path"));
        assert_eq!(missing_field("invalid type"), None);
    }
}
