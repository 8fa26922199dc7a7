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
