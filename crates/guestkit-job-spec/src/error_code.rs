//! Stable error codes of job results (`error.code`).

use std::fmt;
use std::str::FromStr;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Why a job did not complete. The names are part of the protocol: new
/// codes may be added, existing ones never change meaning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The job document breaks a rule of the protocol.
    ValidationFailed,
    /// The operation or payload type is not one the worker runs.
    UnsupportedOperation,
    /// The image path is outside the worker's allowed image roots, or
    /// missing.
    ImageNotAllowed,
    /// The image's SHA-256 is not `image.checksum`.
    ChecksumMismatch,
    /// The output destination is outside the worker's allowed output
    /// roots.
    DestinationNotAllowed,
    /// The job ran past its timeout or deadline.
    TimedOut,
    /// The job was cancelled.
    Cancelled,
    /// The operation's handler failed (unreadable image, bad filesystem…).
    HandlerFailed,
    /// A profile run found a failing critical check and `fail_on_critical`
    /// was set (`critical_finding` is read as this too).
    #[serde(alias = "critical_finding")]
    CriticalFindings,
    /// Reading or writing a file failed.
    IoError,
    /// A bug or an unexpected state of the worker.
    Internal,
    /// The job failed every attempt it was allowed (`max_attempts`) and
    /// will not be tried again.
    AttemptsExhausted,
}

/// A code name that is not one of [`ErrorCode::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown error code `{0}`")]
pub struct UnknownErrorCode(pub String);

impl ErrorCode {
    /// Every code.
    pub const ALL: [ErrorCode; 12] = [
        ErrorCode::ValidationFailed,
        ErrorCode::UnsupportedOperation,
        ErrorCode::ImageNotAllowed,
        ErrorCode::ChecksumMismatch,
        ErrorCode::DestinationNotAllowed,
        ErrorCode::TimedOut,
        ErrorCode::Cancelled,
        ErrorCode::HandlerFailed,
        ErrorCode::CriticalFindings,
        ErrorCode::IoError,
        ErrorCode::Internal,
        ErrorCode::AttemptsExhausted,
    ];

    /// The code's name (`checksum_mismatch`).
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::ValidationFailed => "validation_failed",
            ErrorCode::UnsupportedOperation => "unsupported_operation",
            ErrorCode::ImageNotAllowed => "image_not_allowed",
            ErrorCode::ChecksumMismatch => "checksum_mismatch",
            ErrorCode::DestinationNotAllowed => "destination_not_allowed",
            ErrorCode::TimedOut => "timed_out",
            ErrorCode::Cancelled => "cancelled",
            ErrorCode::HandlerFailed => "handler_failed",
            ErrorCode::CriticalFindings => "critical_findings",
            ErrorCode::IoError => "io_error",
            ErrorCode::Internal => "internal",
            ErrorCode::AttemptsExhausted => "attempts_exhausted",
        }
    }

    /// Whether the same job may succeed if tried again (a hint for
    /// `error.recoverable`): true for timeouts, I/O errors and internal
    /// errors, false when the job itself is at fault or has no attempts
    /// left.
    pub fn is_recoverable(self) -> bool {
        matches!(
            self,
            ErrorCode::TimedOut | ErrorCode::IoError | ErrorCode::Internal
        )
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ErrorCode {
    type Err = UnknownErrorCode;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s == "critical_finding" {
            return Ok(ErrorCode::CriticalFindings);
        }
        ErrorCode::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| UnknownErrorCode(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_stable() {
        let names: Vec<_> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(
            names,
            [
                "validation_failed",
                "unsupported_operation",
                "image_not_allowed",
                "checksum_mismatch",
                "destination_not_allowed",
                "timed_out",
                "cancelled",
                "handler_failed",
                "critical_findings",
                "io_error",
                "internal",
                "attempts_exhausted"
            ]
        );
        for c in ErrorCode::ALL {
            assert_eq!(c.as_str().parse::<ErrorCode>(), Ok(c));
            assert_eq!(
                serde_json::to_value(c).unwrap(),
                serde_json::Value::String(c.as_str().into())
            );
        }
        assert_eq!(
            serde_json::from_str::<ErrorCode>("\"critical_finding\"").unwrap(),
            ErrorCode::CriticalFindings
        );
        assert!(!ErrorCode::AttemptsExhausted.is_recoverable());
    }
}
