//! The values findings are made of: severity, status, profile, evidence
//! and a check's outcome.

use serde::Serialize;

/// How bad a failing check is (ordered: `Info` < … < `Critical`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    /// The severity called `name` (`critical`, `high`, `medium`, `low`,
    /// `info`), case-insensitive.
    pub fn from_name(name: &str) -> Option<Severity> {
        match name.to_ascii_lowercase().as_str() {
            "critical" => Some(Severity::Critical),
            "high" => Some(Severity::High),
            "medium" => Some(Severity::Medium),
            "low" => Some(Severity::Low),
            "info" => Some(Severity::Info),
            _ => None,
        }
    }

    /// The lower-case name.
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

/// The result of one check on one guest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Pass,
    Fail,
    /// The check does not apply to this guest, or lacks what it needs to
    /// decide.
    NotApplicable,
    /// What the check needs could not be read.
    Error,
}

impl Status {
    /// The snake_case name.
    pub fn name(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Fail => "fail",
            Status::NotApplicable => "not_applicable",
            Status::Error => "error",
        }
    }
}

/// A group of checks asked for together.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Profile {
    Security,
    Compliance,
    Hardening,
    Migration,
    Performance,
}

impl Profile {
    /// Every profile.
    pub const ALL: [Profile; 5] = [
        Profile::Security,
        Profile::Compliance,
        Profile::Hardening,
        Profile::Migration,
        Profile::Performance,
    ];

    /// The lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            Profile::Security => "security",
            Profile::Compliance => "compliance",
            Profile::Hardening => "hardening",
            Profile::Migration => "migration",
            Profile::Performance => "performance",
        }
    }

    /// The profile called `name`, case-insensitive.
    pub fn from_name(name: &str) -> Option<Profile> {
        Profile::ALL
            .into_iter()
            .find(|p| p.name().eq_ignore_ascii_case(name))
    }
}

/// One thing seen: a guest file and line, a registry key, or a report
/// field, with the value found there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Evidence {
    /// Guest path (`/etc/ssh/sshd_config`), registry key, or report field
    /// (`security.sshd`).
    pub source: String,
    /// 1-based line in `source`, when it is a file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    /// The value seen.
    pub value: String,
}

impl Evidence {
    /// A value read from a guest file (at a line when known).
    pub fn file(path: impl Into<String>, line: Option<usize>, value: impl Into<String>) -> Self {
        Evidence {
            source: path.into(),
            line,
            value: value.into(),
        }
    }

    /// A value of the inspection report (or a registry key), no line.
    pub fn field(source: impl Into<String>, value: impl Into<String>) -> Self {
        Evidence {
            source: source.into(),
            line: None,
            value: value.into(),
        }
    }
}

/// What a check function returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub status: Status,
    pub evidence: Vec<Evidence>,
    /// Why not applicable / error, or a one-line summary.
    pub note: Option<String>,
}

impl Outcome {
    /// Passed, with what was seen.
    pub fn pass(evidence: Vec<Evidence>) -> Self {
        Outcome {
            status: Status::Pass,
            evidence,
            note: None,
        }
    }

    /// Failed, with what was seen.
    pub fn fail(evidence: Vec<Evidence>) -> Self {
        Outcome {
            status: Status::Fail,
            evidence,
            note: None,
        }
    }

    /// Pass when `evidence` is empty, fail otherwise (for "none of these
    /// may exist" checks); `seen` describes what was looked at on a pass.
    pub fn fail_if_any(evidence: Vec<Evidence>, seen: Evidence) -> Self {
        if evidence.is_empty() {
            Outcome::pass(vec![seen])
        } else {
            Outcome::fail(evidence)
        }
    }

    /// Not applicable, saying why.
    pub fn na(why: impl Into<String>) -> Self {
        Outcome {
            status: Status::NotApplicable,
            evidence: Vec::new(),
            note: Some(why.into()),
        }
    }

    /// Could not be decided because something could not be read.
    pub fn error(why: impl Into<String>) -> Self {
        Outcome {
            status: Status::Error,
            evidence: Vec::new(),
            note: Some(why.into()),
        }
    }

    /// The same outcome with a note.
    pub fn with_note(mut self, note: impl Into<String>) -> Self {
        self.note = Some(note.into());
        self
    }
}
