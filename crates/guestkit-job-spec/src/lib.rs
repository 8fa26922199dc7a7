//! guestkit-job-spec: the job protocol v1 of guestkit as Rust types, with
//! no I/O.
//!
//! - [`JobDocument`]: the envelope (`version`, `job_id`, `created_at`,
//!   `kind`, `operation`, `payload`, and the optional `metadata`,
//!   `execution`, `constraints`, `routing`, `observability`, `audit`).
//!   Unknown members are kept at every level, so a document read and
//!   written again loses nothing.
//! - [`TypedPayload`]: the payload decoded for its operation
//!   (`system.echo`, `guestkit.inspect`, `guestkit.profile`).
//! - [`parse_and_validate`] / [`validate`]: every problem of a document at
//!   once, each with its JSON path ([`ValidationErrors`]).
//! - [`JobBuilder`], [`echo_job`], [`inspect_job`], [`profile_job`]: new
//!   jobs with `job-<ULID>` ids.
//! - [`JobResult`], [`JobStatus`], [`ErrorCode`]: what a worker reports.
//! - [`job_schema`]: the JSON Schema, kept at `docs/job-spec.schema.json`.
//!
//! ```
//! use guestkit_job_spec::{parse_and_validate, TypedPayload};
//!
//! let doc = parse_and_validate(r#"{
//!     "version": "1.0", "job_id": "demo-1", "created_at": "2026-01-30T10:00:00Z",
//!     "kind": "VMOperation", "operation": "guestkit.inspect",
//!     "payload": {"type": "guestkit.inspect.v1", "data": {"image": {"path": "demo/demo.qcow2"}}},
//!     "x-unknown": {"kept": true}
//! }"#).unwrap();
//! let TypedPayload::Inspect(inspect) = doc.validate().unwrap() else { unreachable!() };
//! assert_eq!(inspect.image.path, "demo/demo.qcow2");
//! assert!(doc.extra.contains_key("x-unknown"));
//! ```

#![warn(missing_docs)]

mod builder;
mod check;
mod checksum;
mod envelope;
mod error;
mod error_code;
mod image;
mod inspect;
mod operation;
mod output;
mod parse;
mod path;
mod payload;
mod profile;
mod result;
mod schema;
mod status;
mod validate;

pub use builder::{echo_job, inspect_job, new_job_id, profile_job, JobBuilder};
pub use checksum::{Checksum, ChecksumError, SHA256_PREFIX};
pub use envelope::{
    Audit, Authorization, Constraints, ExecutionPolicy, Extra, JobDocument, Metadata,
    Observability, Payload, Routing, DEFAULT_ATTEMPTS, DEFAULT_PRIORITY, DEFAULT_TIMEOUT_SECONDS,
    KIND_VM_OPERATION, MAX_PRIORITY, MIN_PRIORITY, PROTOCOL_VERSION,
};
pub use error::{ProblemKind, ValidationError, ValidationErrors};
pub use error_code::{ErrorCode, UnknownErrorCode};
pub use image::{ImageFormat, ImageSpec};
pub use inspect::{InspectOptions, InspectPayload, SECTION_FLAGS};
pub use operation::Operation;
pub use output::{OutputFormat, OutputSpec};
pub use parse::{parse_document, parse_document_yaml};
pub use payload::{decode_payload, EchoPayload, TypedPayload};
pub use profile::{ProfileKind, ProfileOptions, ProfilePayload, Severity};
pub use result::{
    result_file_name, ExecutionSummary, JobError, JobResult, OutputKind, ResultOutput,
};
pub use schema::{job_schema, job_schema_json};
pub use status::{JobStatus, UnknownStatus};
pub use validate::{
    is_supported_version, is_valid_job_id, parse_and_validate, parse_and_validate_yaml, validate,
    MAX_JOB_ID_LEN,
};
