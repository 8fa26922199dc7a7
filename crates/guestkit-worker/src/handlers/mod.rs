//! Operation handlers and the registry that maps an operation to its
//! handler and reports the worker's capabilities.
//!
//! A handler runs on a blocking thread. It reads the job's cancellation
//! flag between steps (the inspection engine does so between sections)
//! and reports progress through [`JobContext::progress`].

mod echo;
mod guest;
mod inspect;
mod profile;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;

use guestkit_inspect::Cancellation;
use guestkit_job_spec::{ErrorCode, JobError, Operation, TypedPayload};
use serde_json::Value;

pub use echo::EchoHandler;
pub use inspect::InspectHandler;
pub use profile::ProfileHandler;

/// Phase name of errors raised while a handler runs.
pub const PHASE_EXECUTE: &str = JobError::PHASE_EXECUTION;

/// Receives progress reports: phase, percent (0-100), message.
pub type ProgressFn = Arc<dyn Fn(&str, u8, &str) + Send + Sync>;

/// What a handler gets besides its payload.
#[derive(Clone)]
pub struct JobContext {
    pub job_id: String,
    pub attempt: u32,
    /// The job's image, resolved inside the image roots (image jobs).
    pub image: Option<PathBuf>,
    /// Directories backing files may come from (the worker's image roots).
    pub image_roots: Vec<PathBuf>,
    /// The job's `constraints.maximum_disk_size_gb`, in bytes.
    pub max_disk_bytes: Option<u64>,
    /// Raised on timeout, cancellation or shutdown.
    pub cancel: Cancellation,
    pub progress: ProgressFn,
    /// Bytes the engine read from the job's image.
    pub io: Arc<guestkit_disk::IoStats>,
}

impl JobContext {
    /// Reports progress.
    pub fn report(&self, phase: &str, percent: u8, message: &str) {
        (self.progress)(phase, percent.min(100), message);
    }

    /// An error when the job was cancelled.
    pub fn check_cancelled(&self, step: &str) -> Result<(), Failure> {
        if self.cancel.is_cancelled() {
            return Err(Failure::new(JobError::new(
                ErrorCode::Cancelled,
                format!("stopped before {step}"),
                PHASE_EXECUTE,
            )));
        }
        Ok(())
    }
}

/// A handler's failure: the error, and the data produced before it (a
/// profile with a failing critical finding still returns its findings).
#[derive(Debug, Clone)]
pub struct Failure {
    pub error: JobError,
    pub data: Option<Value>,
}

impl Failure {
    /// A failure without data.
    pub fn new(error: JobError) -> Self {
        Failure { error, data: None }
    }

    /// A handler failure (not recoverable) with `message`.
    pub fn handler(message: impl Into<String>) -> Self {
        Failure::new(JobError::new(
            ErrorCode::HandlerFailed,
            message,
            PHASE_EXECUTE,
        ))
    }
}

/// One operation's implementation.
pub trait Handler: Send + Sync {
    /// The operation it runs.
    fn operation(&self) -> Operation;

    /// Capabilities it brings (besides the operation's name).
    fn capabilities(&self) -> Vec<String> {
        Vec::new()
    }

    /// Checks the payload before any work; returns warnings (fields that
    /// are ignored, say).
    fn validate(&self, payload: &TypedPayload) -> Result<Vec<String>, JobError>;

    /// Runs the job; the value is the result's `data`.
    fn run(&self, ctx: &JobContext, payload: &TypedPayload) -> Result<Value, Failure>;
}

/// Image formats and volume and filesystem kinds the engine reads.
const ENGINE_CAPABILITIES: &[&str] = &[
    "disk.raw",
    "disk.qcow2",
    "disk.vmdk",
    "disk.vdi",
    "disk.vhdx",
    "disk.vhd",
    "part.mbr",
    "part.gpt",
    "fs.lvm",
    "fs.md",
    "fs.ext2",
    "fs.ext3",
    "fs.ext4",
    "fs.xfs",
    "fs.btrfs",
    "fs.fat",
    "fs.ntfs",
    "os.linux",
    "os.windows",
];

/// Features a job may require (`constraints.required_features`).
pub const FEATURES: &[&str] = &[
    "lvm",
    "md",
    "btrfs",
    "xfs",
    "ntfs",
    "selinux",
    "apparmor",
    "windows-registry",
    "deep-scan",
    "checksum",
];

/// Operation name → handler.
#[derive(Clone, Default)]
pub struct Registry {
    handlers: BTreeMap<&'static str, Arc<dyn Handler>>,
}

impl Registry {
    /// The handlers this worker ships: `system.echo`, `guestkit.inspect`,
    /// `guestkit.profile`.
    pub fn standard() -> Self {
        let mut r = Registry::default();
        r.register(Arc::new(EchoHandler));
        r.register(Arc::new(InspectHandler));
        r.register(Arc::new(ProfileHandler));
        r
    }

    /// Adds (or replaces) the handler of its operation.
    pub fn register(&mut self, handler: Arc<dyn Handler>) {
        self.handlers.insert(handler.operation().name(), handler);
    }

    /// The handler of `operation`.
    pub fn get(&self, operation: &str) -> Option<&Arc<dyn Handler>> {
        self.handlers.get(operation)
    }

    /// Operation names handled.
    pub fn operations(&self) -> Vec<&'static str> {
        self.handlers.keys().copied().collect()
    }

    /// Every capability: operations, what handlers add, the engine's
    /// formats and filesystems.
    pub fn capabilities(&self) -> BTreeSet<String> {
        let mut out: BTreeSet<String> = self.handlers.keys().map(|k| k.to_string()).collect();
        for h in self.handlers.values() {
            out.extend(h.capabilities());
        }
        if self.handlers.len() > 1 {
            out.extend(ENGINE_CAPABILITIES.iter().map(|s| s.to_string()));
        }
        out
    }
}
