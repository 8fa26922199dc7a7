//! The job lifecycle: [`JobStatus`] and its legal transitions.
//!
//! TEMPORARY: `guestkit-job-spec` will provide the same enum with the same
//! names and wire spellings; this file is then replaced by a re-export. Keep
//! it self-contained.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Where a job is in its lifecycle.
///
/// ```text
/// Pending ─▶ Queued ─▶ Assigned ─▶ Running ─▶ Completed | Failed | Cancelled | TimedOut
///              ▲  │        │          │
///              │  │        └──────────┤ (claim released / retry / crash recovery)
///              └──┼───────────────────┘
///                 └─▶ Failed (rejected before running)
/// Pending | Queued | Assigned ─▶ Cancelled
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    /// Known but not yet offered to workers.
    Pending,
    /// Waiting for a worker to claim it.
    Queued,
    /// Claimed by a worker that has not started it yet.
    Assigned,
    /// Being executed by its worker.
    Running,
    /// Finished successfully.
    Completed,
    /// Finished with an error, or rejected before running.
    Failed,
    /// Stopped on request.
    Cancelled,
    /// Stopped because it ran past its timeout or deadline.
    TimedOut,
}

impl JobStatus {
    /// Every status, in lifecycle order.
    pub const ALL: [JobStatus; 8] = [
        JobStatus::Pending,
        JobStatus::Queued,
        JobStatus::Assigned,
        JobStatus::Running,
        JobStatus::Completed,
        JobStatus::Failed,
        JobStatus::Cancelled,
        JobStatus::TimedOut,
    ];

    /// The wire spelling (snake_case), the same as serde's.
    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Pending => "pending",
            JobStatus::Queued => "queued",
            JobStatus::Assigned => "assigned",
            JobStatus::Running => "running",
            JobStatus::Completed => "completed",
            JobStatus::Failed => "failed",
            JobStatus::Cancelled => "cancelled",
            JobStatus::TimedOut => "timed_out",
        }
    }

    /// True for the states a job never leaves.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            JobStatus::Completed | JobStatus::Failed | JobStatus::Cancelled | JobStatus::TimedOut
        )
    }

    /// Whether a job in this state may move to `next`.
    pub fn can_transition_to(self, next: JobStatus) -> bool {
        use JobStatus::*;
        matches!(
            (self, next),
            (Pending, Queued)
                | (Queued, Assigned)
                | (Assigned, Running)
                // The claim was released before the job started.
                | (Assigned, Queued)
                | (Running, Completed | Failed | Cancelled | TimedOut)
                // Retry, or recovery after a worker crash.
                | (Running, Queued)
                | (Pending | Queued | Assigned, Cancelled)
                // Rejected before running, e.g. attempts exhausted.
                | (Queued, Failed)
        )
    }
}

impl fmt::Display for JobStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A status name that is not one of [`JobStatus`]'s spellings.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown job status {0:?} (expected one of pending, queued, assigned, running, completed, failed, cancelled, timed_out)")]
pub struct UnknownStatus(pub String);

impl FromStr for JobStatus {
    type Err = UnknownStatus;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        JobStatus::ALL
            .into_iter()
            .find(|status| status.as_str() == s)
            .ok_or_else(|| UnknownStatus(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_through_str_and_serde() {
        for status in JobStatus::ALL {
            assert_eq!(status.as_str().parse::<JobStatus>(), Ok(status));
            let json = serde_json::to_string(&status).unwrap();
            assert_eq!(json, format!("\"{}\"", status.as_str()));
            assert_eq!(serde_json::from_str::<JobStatus>(&json).unwrap(), status);
        }
        assert_eq!(JobStatus::TimedOut.as_str(), "timed_out");
        let err = "TimedOut".parse::<JobStatus>().unwrap_err();
        assert!(err.to_string().contains("\"TimedOut\""), "{err}");
    }

    #[test]
    fn transition_table() {
        use JobStatus::*;
        let legal = [
            (Pending, Queued),
            (Queued, Assigned),
            (Assigned, Running),
            (Assigned, Queued),
            (Running, Completed),
            (Running, Failed),
            (Running, Cancelled),
            (Running, TimedOut),
            (Running, Queued),
            (Pending, Cancelled),
            (Queued, Cancelled),
            (Assigned, Cancelled),
            (Queued, Failed),
        ];
        for from in JobStatus::ALL {
            for to in JobStatus::ALL {
                assert_eq!(
                    from.can_transition_to(to),
                    legal.contains(&(from, to)),
                    "{from} -> {to}"
                );
            }
        }
        for status in JobStatus::ALL {
            // A terminal state has no way out.
            if status.is_terminal() {
                assert!(JobStatus::ALL
                    .iter()
                    .all(|&to| !status.can_transition_to(to)));
            }
        }
    }
}
