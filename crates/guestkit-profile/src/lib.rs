//! guestkit-profile: findings a security, compliance or migration team can
//! act on, from a [`guestkit_inspect::Report`] and (for the checks that
//! need a file the report does not carry) the guest's files.
//!
//! Every check is a [`Check`]: data (stable id, title, profiles, severity,
//! applicability, remediation, references) plus a small function returning
//! an [`Outcome`] (pass / fail / not_applicable / error with evidence). The
//! checks live in one table per area under [`checks`]; [`checks::all`]
//! lists them. A check that cannot decide says `not_applicable` or
//! `error`, never `pass`.

pub mod checks;
mod model;

use std::collections::BTreeMap;

use guestkit_inspect::{GuestFiles, OsReport, Report};
use serde::Serialize;

pub use checks::{Applies, Check, Ctx, Family, OsKind};
pub use model::{Evidence, Outcome, Profile, Severity, Status};

/// Version of the result's shape.
pub const RESULT_VERSION: &str = "1.0";

/// Errors of the profile engine.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    /// A profile name that is not one of security, compliance, hardening,
    /// migration, performance.
    #[error(
        "unknown profile {0:?} (known: security, compliance, hardening, migration, performance)"
    )]
    UnknownProfile(String),
    /// A severity name that is not one of critical, high, medium, low, info.
    #[error("unknown severity {0:?} (known: critical, high, medium, low, info)")]
    UnknownSeverity(String),
    /// `fail_on_critical` was set and critical checks failed.
    #[error("{count} critical finding(s) failed: {ids}")]
    CriticalFinding {
        /// How many critical checks failed.
        count: usize,
        /// Their ids, comma-separated.
        ids: String,
    },
}

impl ProfileError {
    /// A stable code for job results (`error.code`): `invalid_profile`,
    /// `invalid_severity`, `critical_finding`.
    pub fn code(&self) -> &'static str {
        match self {
            ProfileError::UnknownProfile(_) => "invalid_profile",
            ProfileError::UnknownSeverity(_) => "invalid_severity",
            ProfileError::CriticalFinding { .. } => "critical_finding",
        }
    }
}

/// What to evaluate and what to report.
#[derive(Debug, Clone)]
pub struct ProfileOptions {
    /// Profiles whose checks run (a check belonging to any of them runs).
    pub profiles: Vec<Profile>,
    /// Findings below this severity are left out of the result.
    pub severity_threshold: Severity,
    /// Whether findings carry their remediation text.
    pub include_remediation: bool,
    /// Whether a failing critical finding makes [`ProfileResult::check_critical`]
    /// an error (the job fails with a distinct code).
    pub fail_on_critical: bool,
}

impl Default for ProfileOptions {
    fn default() -> Self {
        ProfileOptions {
            profiles: Profile::ALL.to_vec(),
            severity_threshold: Severity::Info,
            include_remediation: true,
            fail_on_critical: false,
        }
    }
}

/// One evaluated check.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    /// Stable check id (`ssh.permit-root-login`).
    pub id: &'static str,
    pub severity: Severity,
    pub status: Status,
    pub title: &'static str,
    pub description: &'static str,
    /// The profiles the check belongs to.
    pub profiles: Vec<Profile>,
    /// The operating-system root the finding is about.
    pub root: String,
    /// What was seen: guest path and line, registry key, or report field,
    /// with the value.
    pub evidence: Vec<Evidence>,
    /// Why the check could not decide (not_applicable / error), or a
    /// summary of what failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remediation: Option<&'static str>,
    /// CIS section ids, SCAP Security Guide rule ids, PCI-DSS v4 numbers.
    pub references: Vec<&'static str>,
}

/// Counts of the result.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    /// Failing findings (at or above the threshold).
    pub total_findings: usize,
    /// Failing findings per severity.
    pub by_severity: BTreeMap<Severity, usize>,
    /// Every reported finding per status.
    pub by_status: BTreeMap<Status, usize>,
    /// Checks evaluated (before the severity threshold).
    pub checks_evaluated: usize,
}

/// The result of profiling one VM.
#[derive(Debug, Clone, Serialize)]
pub struct ProfileResult {
    pub version: &'static str,
    /// The image (or directory) profiled.
    pub image: String,
    pub profiles: Vec<Profile>,
    pub severity_threshold: Severity,
    pub summary: Summary,
    /// Every check evaluated at or above the threshold, failures first
    /// (by severity), then the others.
    pub findings: Vec<Finding>,
}

impl ProfileResult {
    /// Failing findings at or above `threshold`.
    pub fn failing_at_or_above(&self, threshold: Severity) -> impl Iterator<Item = &Finding> {
        self.findings
            .iter()
            .filter(move |f| f.status == Status::Fail && f.severity >= threshold)
    }

    /// With `fail_on_critical`, an error naming the failing critical
    /// checks, if any.
    pub fn check_critical(&self, options: &ProfileOptions) -> Result<(), ProfileError> {
        if !options.fail_on_critical {
            return Ok(());
        }
        let ids: Vec<&str> = self
            .failing_at_or_above(Severity::Critical)
            .map(|f| f.id)
            .collect();
        if ids.is_empty() {
            Ok(())
        } else {
            Err(ProfileError::CriticalFinding {
                count: ids.len(),
                ids: ids.join(", "),
            })
        }
    }
}

/// Parses a comma-separated list of profile names (`security,migration`).
pub fn parse_profiles(names: &[String]) -> Result<Vec<Profile>, ProfileError> {
    let mut out = Vec::new();
    for n in names.iter().flat_map(|n| n.split(',')) {
        let n = n.trim();
        if n.is_empty() {
            continue;
        }
        let p = Profile::from_name(n).ok_or_else(|| ProfileError::UnknownProfile(n.into()))?;
        if !out.contains(&p) {
            out.push(p);
        }
    }
    Ok(out)
}

/// Evaluates the checks of `options.profiles` that apply to one operating
/// system (by OS type and distribution family; the others are left out,
/// so a Debian guest gets no SELinux finding at all), `files` being its
/// guest files when available (checks needing a file then say
/// not_applicable without them).
pub fn evaluate_os(
    os: &OsReport,
    files: Option<&GuestFiles<'_>>,
    options: &ProfileOptions,
) -> Vec<Finding> {
    let ctx = Ctx::new(os, files);
    checks::all()
        .iter()
        .filter(|c| c.profiles.iter().any(|p| options.profiles.contains(p)))
        .filter(|c| c.applies.matches(&ctx))
        .map(|c| {
            let outcome = (c.run)(&ctx);
            Finding {
                id: c.id,
                severity: c.severity,
                status: outcome.status,
                title: c.title,
                description: c.description,
                profiles: c.profiles.to_vec(),
                root: os.root.clone(),
                evidence: outcome.evidence,
                note: outcome.note,
                remediation: options.include_remediation.then_some(c.remediation),
                references: c.references.to_vec(),
            }
        })
        .collect()
}

/// Profiles a whole report: the first operating system with `files` (the
/// files of the tree the report was made from), the others from the
/// report alone.
pub fn profile(
    report: &Report,
    files: Option<&GuestFiles<'_>>,
    image: &str,
    options: &ProfileOptions,
) -> ProfileResult {
    let mut all = Vec::new();
    for (i, os) in report.operating_systems.iter().enumerate() {
        all.extend(evaluate_os(os, if i == 0 { files } else { None }, options));
    }
    assemble(image, all, options)
}

/// Builds the result from evaluated findings: threshold applied, summary
/// counted, failures first.
pub fn assemble(image: &str, findings: Vec<Finding>, options: &ProfileOptions) -> ProfileResult {
    let checks_evaluated = findings.len();
    let mut findings: Vec<Finding> = findings
        .into_iter()
        .filter(|f| f.severity >= options.severity_threshold)
        .collect();
    findings.sort_by(|a, b| {
        (a.status != Status::Fail)
            .cmp(&(b.status != Status::Fail))
            .then(b.severity.cmp(&a.severity))
            .then(a.id.cmp(b.id))
    });
    let mut summary = Summary {
        checks_evaluated,
        ..Summary::default()
    };
    for f in &findings {
        *summary.by_status.entry(f.status).or_default() += 1;
        if f.status == Status::Fail {
            summary.total_findings += 1;
            *summary.by_severity.entry(f.severity).or_default() += 1;
        }
    }
    ProfileResult {
        version: RESULT_VERSION,
        image: image.to_string(),
        profiles: options.profiles.clone(),
        severity_threshold: options.severity_threshold,
        summary,
        findings,
    }
}
