//! `guestkit.profile`: security, compliance, hardening, migration and
//! performance findings for the job's image.

use guestkit_inspect::{GuestFiles, InspectOptions};
use guestkit_job_spec::{ErrorCode, JobError, Operation, ProfileKind, TypedPayload};
use guestkit_profile::{profile, Profile, ProfileOptions, Severity};
use serde_json::Value;

use super::inspect::{inspect_image, wrong_payload};
use super::{Failure, Handler, JobContext, PHASE_EXECUTE};

/// The `guestkit.profile` handler.
pub struct ProfileHandler;

fn profile_of(kind: ProfileKind) -> Profile {
    match kind {
        ProfileKind::Security => Profile::Security,
        ProfileKind::Compliance => Profile::Compliance,
        ProfileKind::Hardening => Profile::Hardening,
        ProfileKind::Performance => Profile::Performance,
        ProfileKind::Migration => Profile::Migration,
    }
}

fn options(p: &guestkit_job_spec::ProfilePayload) -> Result<ProfileOptions, JobError> {
    let threshold = Severity::from_name(p.options.severity_threshold.name()).ok_or_else(|| {
        JobError::new(
            ErrorCode::ValidationFailed,
            format!(
                "$.payload.data.options.severity_threshold: {:?} unknown",
                p.options.severity_threshold.name()
            ),
            JobError::PHASE_VALIDATION,
        )
    })?;
    let profiles = if p.profiles.is_empty() {
        Profile::ALL.to_vec()
    } else {
        p.profiles.iter().copied().map(profile_of).collect()
    };
    Ok(ProfileOptions {
        profiles,
        severity_threshold: threshold,
        include_remediation: p.include_remediation(),
        fail_on_critical: p.options.fail_on_critical,
    })
}

impl Handler for ProfileHandler {
    fn operation(&self) -> Operation {
        Operation::Profile
    }

    fn validate(&self, payload: &TypedPayload) -> Result<Vec<String>, JobError> {
        match payload {
            TypedPayload::Profile(p) => options(p).map(|_| Vec::new()),
            other => Err(wrong_payload(Operation::Profile, other)),
        }
    }

    fn run(&self, ctx: &JobContext, payload: &TypedPayload) -> Result<Value, Failure> {
        let TypedPayload::Profile(p) = payload else {
            return Err(Failure::new(wrong_payload(Operation::Profile, payload)));
        };
        let opts = options(p).map_err(Failure::new)?;
        let inspect_options = InspectOptions {
            deep_scan: true,
            ..InspectOptions::default()
        };
        let (guest, report) = inspect_image(ctx, &p.image, inspect_options)?;
        ctx.report("profile", 80, "evaluating checks");
        let files = guest.tree.as_ref().map(GuestFiles::new);
        let image = ctx
            .image
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        let result = profile(&report, files.as_ref(), &image, &opts);
        let data =
            serde_json::to_value(&result).map_err(|e| Failure::handler(format!("result: {e}")))?;
        match result.check_critical(&opts) {
            Ok(()) => Ok(data),
            Err(e) => Err(Failure {
                error: JobError::new(ErrorCode::CriticalFindings, e.to_string(), PHASE_EXECUTE),
                data: Some(data),
            }),
        }
    }
}
