//! `guestkit.profile.v1`: security / compliance / hardening / performance /
//! migration findings for a disk image.

use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::check::Problems;
use crate::envelope::Extra;
use crate::image::ImageSpec;
use crate::output::OutputSpec;
use crate::path;

/// A set of checks.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum ProfileKind {
    /// Security settings.
    Security,
    /// Compliance (PCI-DSS, SCAP rules).
    Compliance,
    /// Hardening.
    Hardening,
    /// Performance tuning.
    Performance,
    /// Migration readiness.
    Migration,
}

impl ProfileKind {
    /// Every profile.
    pub const ALL: [ProfileKind; 5] = [
        ProfileKind::Security,
        ProfileKind::Compliance,
        ProfileKind::Hardening,
        ProfileKind::Performance,
        ProfileKind::Migration,
    ];

    /// The profile's name in a job document.
    pub fn name(self) -> &'static str {
        match self {
            ProfileKind::Security => "security",
            ProfileKind::Compliance => "compliance",
            ProfileKind::Hardening => "hardening",
            ProfileKind::Performance => "performance",
            ProfileKind::Migration => "migration",
        }
    }

    /// The profile called `name` (exact).
    pub fn from_name(name: &str) -> Option<ProfileKind> {
        ProfileKind::ALL.into_iter().find(|p| p.name() == name)
    }
}

impl fmt::Display for ProfileKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Severity of a finding, least to most severe.
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Informational (the default threshold: report everything).
    #[default]
    Info,
    /// Low.
    Low,
    /// Medium.
    Medium,
    /// High.
    High,
    /// Critical.
    Critical,
}

impl Severity {
    /// The severity's name in a job document.
    pub fn name(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// `options` of a profile run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ProfileOptions {
    /// Report findings of this severity and above (`info` when absent).
    #[serde(default)]
    pub severity_threshold: Severity,
    /// Whether findings carry remediation text; when absent,
    /// `output.include_remediation`, else true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub include_remediation: Option<bool>,
    /// Fail the job (`critical_findings`) when a critical check fails.
    #[serde(default)]
    pub fail_on_critical: bool,
    /// Unknown members, kept.
    #[serde(flatten)]
    pub extra: Extra,
}

/// Data of a `guestkit.profile.v1` payload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ProfilePayload {
    /// The image to evaluate.
    pub image: ImageSpec,
    /// Profiles to run (all five when absent; never empty).
    #[serde(default = "all_profiles")]
    #[schemars(length(min = 1))]
    pub profiles: Vec<ProfileKind>,
    /// Threshold and failure policy.
    #[serde(default)]
    pub options: ProfileOptions,
    /// Where to write the findings, besides the job result.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<OutputSpec>,
    /// Unknown members, kept.
    #[serde(flatten)]
    pub extra: Extra,
}

fn all_profiles() -> Vec<ProfileKind> {
    ProfileKind::ALL.to_vec()
}

impl ProfilePayload {
    /// Run `profiles` on the image at `path`.
    pub fn new(path: impl Into<String>, profiles: impl IntoIterator<Item = ProfileKind>) -> Self {
        ProfilePayload {
            image: ImageSpec::new(path),
            profiles: profiles.into_iter().collect(),
            options: ProfileOptions::default(),
            output: None,
            extra: Extra::new(),
        }
    }

    /// The same with these options.
    pub fn with_options(mut self, options: ProfileOptions) -> Self {
        self.options = options;
        self
    }

    /// The same with an output.
    pub fn with_output(mut self, output: OutputSpec) -> Self {
        self.output = Some(output);
        self
    }

    /// Whether to include remediation text: `options.include_remediation`,
    /// else `output.include_remediation` (where the original examples put
    /// it), else true.
    pub fn include_remediation(&self) -> bool {
        self.options
            .include_remediation
            .or_else(|| {
                self.output
                    .as_ref()
                    .and_then(|o| o.extra.get("include_remediation"))
                    .and_then(Value::as_bool)
            })
            .unwrap_or(true)
    }

    /// Reports every problem of the payload data at `at`.
    pub(crate) fn check(data: &Value, at: &str, problems: &mut Problems) {
        let Some(data) = problems.object(data, at) else {
            return;
        };
        ImageSpec::check(data, at, problems);
        if let Some(value) = data.get("profiles") {
            let here = path::child(at, "profiles");
            match value {
                Value::Array(items) if items.is_empty() => {
                    problems.invalid(&here, "at least one profile is needed");
                }
                Value::Array(items) => {
                    for (i, item) in items.iter().enumerate() {
                        check_profile_name(item, &path::index(&here, i), problems);
                    }
                }
                _ => {
                    problems.field::<Vec<ProfileKind>>(data, at, "profiles");
                }
            }
        }
        if let Some(value) = data.get("options") {
            let here = path::child(at, "options");
            if let Some(options) = problems.object(value, &here) {
                problems.field::<Severity>(options, &here, "severity_threshold");
                problems.optional::<bool>(options, &here, "include_remediation");
                problems.field::<bool>(options, &here, "fail_on_critical");
            }
        }
        OutputSpec::check(data, at, problems);
        if let Some(Value::Object(output)) = data.get("output") {
            problems.optional::<bool>(output, &path::child(at, "output"), "include_remediation");
        }
    }
}

fn check_profile_name(item: &Value, at: &str, problems: &mut Problems) {
    match item {
        Value::String(name) if ProfileKind::from_name(name).is_some() => {}
        Value::String(name) => {
            let known: Vec<_> = ProfileKind::ALL.iter().map(|p| p.name()).collect();
            problems.invalid(
                at,
                format!("unknown profile `{name}` (known: {})", known.join(", ")),
            );
        }
        other => problems.invalid(
            at,
            format!(
                "a profile name is a string, found {}",
                crate::check::json_type(other)
            ),
        ),
    }
}
