//! `output`: where and how a payload's result is written.

use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::check::Problems;
use crate::envelope::Extra;
use crate::path;

/// Format of a written result.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum OutputFormat {
    /// JSON (the default).
    #[default]
    Json,
    /// YAML.
    Yaml,
}

impl OutputFormat {
    /// The format's name in a job document.
    pub fn name(self) -> &'static str {
        match self {
            OutputFormat::Json => "json",
            OutputFormat::Yaml => "yaml",
        }
    }
}

impl fmt::Display for OutputFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// `output {format, destination}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct OutputSpec {
    /// Format of the written result (`json` when absent).
    #[serde(default)]
    pub format: OutputFormat,
    /// Where to write the result; the worker confines it to its allowed
    /// output roots. Absent: the result goes only into the job result.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination: Option<String>,
    /// Unknown members (for example `compression`), kept.
    #[serde(flatten)]
    pub extra: Extra,
}

impl OutputSpec {
    /// Output in `format` written to `destination`.
    pub fn to(format: OutputFormat, destination: impl Into<String>) -> Self {
        OutputSpec {
            format,
            destination: Some(destination.into()),
            extra: Extra::new(),
        }
    }

    /// Reports every problem of the optional `output` member of `data`.
    pub(crate) fn check(data: &serde_json::Map<String, Value>, at: &str, problems: &mut Problems) {
        let Some(value) = data.get("output") else {
            return;
        };
        if value.is_null() {
            return;
        }
        let here = path::child(at, "output");
        let Some(output) = problems.object(value, &here) else {
            return;
        };
        problems.field::<OutputFormat>(output, &here, "format");
        if let Some(destination) = problems.optional::<String>(output, &here, "destination") {
            problems.path_text(&destination, &path::child(&here, "destination"));
        }
    }
}
