//! The life of a job: its states and the legal moves between them.

use std::fmt;
use std::str::FromStr;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// State of a job.
///
/// ```text
/// Pending → Queued → Assigned → Running → Completed | Failed | Cancelled | TimedOut
/// Pending | Queued | Assigned → Cancelled
/// Running → Queued      (a retry, or recovery after a worker crash)
/// Assigned → Queued     (a claim released)
/// Queued → Failed       (rejected before running, e.g. attempts exhausted)
/// ```
// `Ord` is the declaration (lifecycle) order; stores key maps by status.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    /// Accepted, not yet queued.
    Pending,
    /// Waiting for a worker.
    Queued,
    /// Claimed by a worker, not started.
    Assigned,
    /// Executing.
    Running,
    /// Finished successfully.
    Completed,
    /// Finished with an error.
    Failed,
    /// Cancelled by a user.
    Cancelled,
    /// Ran past its timeout or deadline (`timeout` is read as this too).
    #[serde(alias = "timeout")]
    TimedOut,
}

/// A status name that is not one of [`JobStatus::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown job status `{0}`")]
pub struct UnknownStatus(pub String);

impl JobStatus {
    /// Every state.
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

    /// The state's name (`timed_out`).
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

    /// True for a final state: completed, failed, cancelled, timed out.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            JobStatus::Completed | JobStatus::Failed | JobStatus::Cancelled | JobStatus::TimedOut
        )
    }

    /// True when a job in this state may move to `next`. Staying in the
    /// same state is not a move.
    pub fn can_transition_to(self, next: JobStatus) -> bool {
        use JobStatus::*;
        matches!(
            (self, next),
            (Pending, Queued)
                | (Pending, Cancelled)
                | (Queued, Assigned)
                | (Queued, Cancelled)
                | (Queued, Failed)
                | (Assigned, Running)
                | (Assigned, Queued)
                | (Assigned, Cancelled)
                | (Running, Completed)
                | (Running, Failed)
                | (Running, Cancelled)
                | (Running, TimedOut)
                | (Running, Queued)
        )
    }
}

impl fmt::Display for JobStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for JobStatus {
    type Err = UnknownStatus;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s == "timeout" {
            return Ok(JobStatus::TimedOut);
        }
        JobStatus::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| UnknownStatus(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use JobStatus::*;

    #[test]
    fn terminal_states_go_nowhere() {
        for s in JobStatus::ALL {
            if s.is_terminal() {
                assert!(JobStatus::ALL.iter().all(|n| !s.can_transition_to(*n)));
            }
            assert!(!s.can_transition_to(s), "{s}");
        }
    }

    #[test]
    fn the_happy_path_and_its_exits() {
        let path = [Pending, Queued, Assigned, Running, Completed];
        for pair in path.windows(2) {
            assert!(pair[0].can_transition_to(pair[1]), "{pair:?}");
        }
        for end in [Failed, Cancelled, TimedOut, Queued] {
            assert!(Running.can_transition_to(end), "{end}");
        }
        for s in [Pending, Queued, Assigned] {
            assert!(s.can_transition_to(Cancelled), "{s}");
        }
        assert!(Assigned.can_transition_to(Queued));
        assert!(!Pending.can_transition_to(Running));
        assert!(!Queued.can_transition_to(Completed));
        assert!(!Pending.can_transition_to(Failed));
        assert!(Queued.can_transition_to(Failed));
    }

    #[test]
    fn transition_table_is_exactly_this() {
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
        // A terminal state has no way out.
        for status in JobStatus::ALL.into_iter().filter(|s| s.is_terminal()) {
            assert!(JobStatus::ALL
                .iter()
                .all(|&to| !status.can_transition_to(to)));
        }
    }

    #[test]
    fn names() {
        for s in JobStatus::ALL {
            assert_eq!(s.as_str().parse::<JobStatus>(), Ok(s));
            let json = serde_json::to_string(&s).unwrap();
            assert_eq!(json, format!("\"{}\"", s.as_str()));
        }
        assert_eq!(
            serde_json::from_str::<JobStatus>("\"timeout\"").unwrap(),
            TimedOut
        );
        assert_eq!("timeout".parse::<JobStatus>(), Ok(TimedOut));
        assert!(
            "TimedOut".parse::<JobStatus>().is_err(),
            "names are snake_case"
        );
        let err = "done".parse::<JobStatus>().unwrap_err();
        assert!(err.to_string().contains("done"), "{err}");
    }

    #[test]
    fn order_is_the_lifecycle_order() {
        let mut sorted = JobStatus::ALL;
        sorted.sort();
        assert_eq!(sorted, JobStatus::ALL);
        assert!(Pending < TimedOut);
    }
}
