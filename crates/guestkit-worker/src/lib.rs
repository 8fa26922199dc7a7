//! The guestkit worker's library: the job lifecycle, the job store and
//! checksum verification of image files.
//!
//! * [`status`]: [`JobStatus`] and its legal transitions (the protocol's
//!   type from `guestkit-job-spec`, re-exported).
//! * [`store`]: the [`JobStore`] trait (async, object-safe) that every job
//!   store implements, its record types and [`StoreError`];
//!   [`SqliteStore`] keeps everything in one SQLite file, [`PgStore`] in
//!   PostgreSQL for many workers (leases renewed by heartbeat, reclaimed
//!   when they expire).
//! * [`checksum`]: streamed, cancellable, cached SHA-256 of image files,
//!   verified against an expected [`Checksum`] (the protocol's type from
//!   `guestkit-job-spec`, re-exported; `sha256:<hex>` or bare hex).
//!
//! * [`config`]: the daemon's settings (flags, environment, TOML).
//! * [`policy`]: the image and output roots jobs are confined to.
//! * [`handlers`]: `system.echo`, `guestkit.inspect`, `guestkit.profile`
//!   and the registry reporting capabilities.
//! * [`intake`]: validating and queueing a job from any transport.
//! * [`executor`]: claiming, running, timing out, retrying and finishing
//!   jobs.
//! * [`results`]: atomic result files.
//! * [`transport`]: where jobs come from (a watched directory).
//! * [`api`]: the REST API (submit, list, follow, cancel jobs; results;
//!   OpenAPI document), with bearer tokens, rate limits and TLS.
//!
//! Timestamps are [`chrono::DateTime<Utc>`](chrono::DateTime) everywhere
//! (the protocol's time type), kept to the millisecond by the stores.

// Job documents and files are untrusted: no panicking shortcuts outside the tests.
// Job errors are built once per job: boxing them would buy nothing.
#![allow(clippy::result_large_err)]
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing,
        clippy::arithmetic_side_effects
    )
)]

pub mod api;
pub mod checksum;
pub mod config;
pub mod executor;
pub mod handlers;
pub mod intake;
pub mod metrics;
pub mod policy;
pub mod results;
pub mod status;
pub mod store;
pub mod telemetry;
pub mod transport;

pub use checksum::{
    digest_file, verify_file, BlockingStoreCache, Checksum, ChecksumCache, ChecksumError,
    FileDigest, FileIdentity,
};
pub use status::{JobStatus, UnknownStatus};
pub use store::{
    ClaimFilter, ClaimedJob, JobFilter, JobPage, JobRecord, JobStore, ListCursor, NewJob, PgStore,
    ProgressRecord, RecoveryReport, RetryOutcome, SqliteStore, StateChange, StatusCounts,
    StoreError, Submitted, WorkerInfo, WorkerRecord,
};
