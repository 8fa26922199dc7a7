//! The job lifecycle: [`JobStatus`] and its legal transitions, as defined by
//! `guestkit-job-spec` (re-exported here so the worker and the protocol share
//! one type).
//!
//! The store relies on exactly this table ([`JobStatus::can_transition_to`]):
//!
//! ```text
//! Pending ─▶ Queued ─▶ Assigned ─▶ Running ─▶ Completed | Failed | Cancelled | TimedOut
//!              ▲  │        │          │
//!              │  │        └──────────┤ (claim released / retry / crash recovery)
//!              └──┼───────────────────┘
//!                 └─▶ Failed (rejected before running)
//! Pending | Queued | Assigned ─▶ Cancelled
//! ```
//!
//! Stored and serialised as the snake_case names ([`JobStatus::as_str`],
//! `FromStr`, serde); `timeout` is read as [`JobStatus::TimedOut`].

pub use guestkit_job_spec::{JobStatus, UnknownStatus};

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
        assert!(err.to_string().contains("TimedOut"), "{err}");
    }

    /// The moves the store makes; the protocol's table must be exactly these.
    #[test]
    fn transition_table_is_the_one_the_store_relies_on() {
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
