//! `system.echo`: returns its data. With a `delay_ms` member (at most one
//! hour) it waits that long first, watching for cancellation — a job of
//! known length for testing pipelines, timeouts and shutdown.

use std::time::{Duration, Instant};

use guestkit_job_spec::{ErrorCode, JobError, Operation, TypedPayload};
use serde_json::Value;

use super::{Failure, Handler, JobContext};

/// Longest accepted `delay_ms`.
const MAX_DELAY_MS: u64 = 3_600_000;
/// How often a delayed echo looks at its cancellation flag.
const POLL: Duration = Duration::from_millis(10);

/// The `system.echo` handler.
pub struct EchoHandler;

fn delay(data: &Value) -> Result<Option<Duration>, JobError> {
    match data.get("delay_ms") {
        None | Some(Value::Null) => Ok(None),
        Some(v) => match v.as_u64() {
            Some(ms) if ms <= MAX_DELAY_MS => Ok(Some(Duration::from_millis(ms))),
            _ => Err(JobError::new(
                ErrorCode::ValidationFailed,
                format!("$.payload.data.delay_ms: {v} is not a whole number of milliseconds up to {MAX_DELAY_MS}"),
                JobError::PHASE_VALIDATION,
            )),
        },
    }
}

impl Handler for EchoHandler {
    fn operation(&self) -> Operation {
        Operation::Echo
    }

    fn validate(&self, payload: &TypedPayload) -> Result<Vec<String>, JobError> {
        match payload {
            TypedPayload::Echo(e) => delay(&e.data).map(|_| Vec::new()),
            other => Err(super::inspect::wrong_payload(Operation::Echo, other)),
        }
    }

    fn run(&self, ctx: &JobContext, payload: &TypedPayload) -> Result<Value, Failure> {
        let TypedPayload::Echo(echo) = payload else {
            return Err(Failure::new(super::inspect::wrong_payload(
                Operation::Echo,
                payload,
            )));
        };
        if let Some(wait) = delay(&echo.data).map_err(Failure::new)? {
            ctx.report("echo", 10, &format!("waiting {} ms", wait.as_millis()));
            let Some(until) = Instant::now().checked_add(wait) else {
                return Ok(echo.data.clone());
            };
            while Instant::now() < until {
                ctx.check_cancelled("the echo")?;
                std::thread::sleep(POLL.min(until.saturating_duration_since(Instant::now())));
            }
        }
        Ok(echo.data.clone())
    }
}
