//! `guestkit.inspect`: the inspection report of the job's image.

use guestkit_fs::guest::Guest;
use guestkit_inspect::{inspect_guest, InspectOptions, Report, Section};
use guestkit_job_spec::{ErrorCode, JobError, Operation, TypedPayload};
use serde_json::Value;

use super::{guest, Failure, Handler, JobContext, PHASE_EXECUTE};

/// The `guestkit.inspect` handler.
pub struct InspectHandler;

/// The error for a payload of another operation.
pub(super) fn wrong_payload(want: Operation, got: &TypedPayload) -> JobError {
    JobError::new(
        ErrorCode::UnsupportedOperation,
        format!(
            "{} handler given a {} payload",
            want.name(),
            got.operation().name()
        ),
        JobError::PHASE_VALIDATION,
    )
}

/// The engine's options for a `guestkit.inspect.v1` payload's options.
pub fn engine_options(
    options: &guestkit_job_spec::InspectOptions,
) -> (InspectOptions, Vec<String>) {
    let sections: Vec<Section> = options
        .sections()
        .into_iter()
        .filter_map(Section::from_name)
        .collect();
    let unknown = options
        .unknown_include_flags()
        .into_iter()
        .map(|f| format!("$.payload.data.options.{f}: unknown section, ignored"))
        .collect();
    (
        InspectOptions {
            sections,
            deep_scan: options.deep_scan,
            ..InspectOptions::default()
        },
        unknown,
    )
}

/// Opens and inspects the job's image with `options`, stopping between
/// sections when the job is cancelled; the guest stays open for what
/// follows (the profile reads its files).
pub(super) fn inspect_image(
    ctx: &JobContext,
    image: &guestkit_job_spec::ImageSpec,
    mut options: InspectOptions,
) -> Result<(Guest, Report), Failure> {
    let guest = guest::open(ctx, image)?;
    ctx.check_cancelled("the inspection")?;
    ctx.report("inspect", 60, "inspecting the guest");
    options.cancel = ctx.cancel.clone();
    let report = inspect_guest(&guest, &options);
    ctx.check_cancelled("the end of the inspection")?;
    if report.operating_systems.is_empty() {
        let why: Vec<String> = report.warnings.iter().map(|w| w.to_string()).collect();
        return Err(Failure::new(JobError::new(
            ErrorCode::HandlerFailed,
            format!("no operating system found ({})", why.join("; ")),
            PHASE_EXECUTE,
        )));
    }
    Ok((guest, report))
}

impl Handler for InspectHandler {
    fn operation(&self) -> Operation {
        Operation::Inspect
    }

    fn validate(&self, payload: &TypedPayload) -> Result<Vec<String>, JobError> {
        match payload {
            TypedPayload::Inspect(p) => Ok(engine_options(&p.options).1),
            other => Err(wrong_payload(Operation::Inspect, other)),
        }
    }

    fn run(&self, ctx: &JobContext, payload: &TypedPayload) -> Result<Value, Failure> {
        let TypedPayload::Inspect(p) = payload else {
            return Err(Failure::new(wrong_payload(Operation::Inspect, payload)));
        };
        let (options, _) = engine_options(&p.options);
        let (_, report) = inspect_image(ctx, &p.image, options)?;
        serde_json::to_value(&report).map_err(|e| Failure::handler(format!("report: {e}")))
    }
}
