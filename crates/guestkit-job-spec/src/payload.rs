//! Typed payloads: `payload.data` decoded according to the operation and
//! `payload.type`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::check::{decode_value, Problems};
use crate::envelope::{Extra, JobDocument, Payload};
use crate::error::{ValidationError, ValidationErrors};
use crate::image::ImageSpec;
use crate::inspect::InspectPayload;
use crate::operation::Operation;
use crate::output::OutputSpec;
use crate::path;
use crate::profile::ProfilePayload;

/// Data of a `system.echo` payload: any JSON value, returned as it came.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(transparent)]
pub struct EchoPayload {
    /// The value to echo.
    pub data: Value,
}

impl EchoPayload {
    /// Echo `data`.
    pub fn new(data: Value) -> Self {
        EchoPayload { data }
    }
}

/// A payload decoded for its operation.
#[derive(Debug, Clone, PartialEq)]
pub enum TypedPayload {
    /// `system.echo` / `system.echo.v1`.
    Echo(EchoPayload),
    /// `guestkit.inspect` / `guestkit.inspect.v1`.
    Inspect(InspectPayload),
    /// `guestkit.profile` / `guestkit.profile.v1`.
    Profile(ProfilePayload),
}

impl TypedPayload {
    /// The operation this payload belongs to.
    pub fn operation(&self) -> Operation {
        match self {
            TypedPayload::Echo(_) => Operation::Echo,
            TypedPayload::Inspect(_) => Operation::Inspect,
            TypedPayload::Profile(_) => Operation::Profile,
        }
    }

    /// The payload type written for it.
    pub fn payload_type(&self) -> &'static str {
        self.operation().payload_type()
    }

    /// The image it reads, when it reads one.
    pub fn image(&self) -> Option<&ImageSpec> {
        match self {
            TypedPayload::Echo(_) => None,
            TypedPayload::Inspect(p) => Some(&p.image),
            TypedPayload::Profile(p) => Some(&p.image),
        }
    }

    /// Its output settings, when it has some.
    pub fn output(&self) -> Option<&OutputSpec> {
        match self {
            TypedPayload::Echo(_) => None,
            TypedPayload::Inspect(p) => p.output.as_ref(),
            TypedPayload::Profile(p) => p.output.as_ref(),
        }
    }

    /// The envelope's `payload` object for it.
    pub fn to_payload(&self) -> Result<Payload, serde_json::Error> {
        let data = match self {
            TypedPayload::Echo(p) => p.data.clone(),
            TypedPayload::Inspect(p) => serde_json::to_value(p)?,
            TypedPayload::Profile(p) => serde_json::to_value(p)?,
        };
        Ok(Payload {
            payload_type: self.payload_type().to_string(),
            data,
            extra: Extra::new(),
        })
    }
}

impl From<EchoPayload> for TypedPayload {
    fn from(p: EchoPayload) -> Self {
        TypedPayload::Echo(p)
    }
}

impl From<InspectPayload> for TypedPayload {
    fn from(p: InspectPayload) -> Self {
        TypedPayload::Inspect(p)
    }
}

impl From<ProfilePayload> for TypedPayload {
    fn from(p: ProfilePayload) -> Self {
        TypedPayload::Profile(p)
    }
}

/// Path of `payload.type`.
pub const PAYLOAD_TYPE_PATH: &str = "$.payload.type";

/// Path of `payload.data`.
pub const PAYLOAD_DATA_PATH: &str = "$.payload.data";

/// Decodes the payload of `operation`, reporting every problem: an
/// unknown operation (named), a payload type that does not belong to the
/// operation, and each bad field of the data.
pub fn decode_payload(
    operation: &str,
    payload: &Payload,
) -> Result<TypedPayload, ValidationErrors> {
    let Some(op) = Operation::from_name(operation) else {
        return Err(ValidationErrors::single(ValidationError::unsupported(
            path::child(path::ROOT, "operation"),
            format!(
                "unsupported operation `{operation}` (supported: {})",
                Operation::known_names()
            ),
        )));
    };
    let mut problems = Problems::default();
    check_payload_type(op, &payload.payload_type, &mut problems);
    match op {
        Operation::Echo => {}
        Operation::Inspect => {
            InspectPayload::check(&payload.data, PAYLOAD_DATA_PATH, &mut problems)
        }
        Operation::Profile => {
            ProfilePayload::check(&payload.data, PAYLOAD_DATA_PATH, &mut problems)
        }
    }
    if !problems.is_empty() {
        return Err(ValidationErrors {
            errors: problems.errors,
        });
    }
    let typed =
        match op {
            Operation::Echo => Ok(TypedPayload::Echo(EchoPayload::new(payload.data.clone()))),
            Operation::Inspect => decode_value::<InspectPayload>(&payload.data, PAYLOAD_DATA_PATH)
                .map(TypedPayload::from),
            Operation::Profile => decode_value::<ProfilePayload>(&payload.data, PAYLOAD_DATA_PATH)
                .map(TypedPayload::from),
        };
    typed.map_err(ValidationErrors::single)
}

/// Decodes the payload of a document (see [`decode_payload`]).
pub fn decode(doc: &JobDocument) -> Result<TypedPayload, ValidationErrors> {
    decode_payload(&doc.operation, &doc.payload)
}

fn check_payload_type(op: Operation, payload_type: &str, problems: &mut Problems) {
    if op.accepts_payload_type(payload_type) {
        return;
    }
    let expected = op.payload_types().join("` or `");
    let other_op = Operation::ALL
        .into_iter()
        .find(|other| other.accepts_payload_type(payload_type));
    let message = match other_op {
        Some(other) => format!(
            "payload type `{payload_type}` belongs to operation `{other}`, not `{op}` (expected `{expected}`)"
        ),
        None => format!(
            "unsupported payload type `{payload_type}` for operation `{op}` (expected `{expected}`)"
        ),
    };
    let error = match other_op {
        Some(_) => ValidationError::invalid(PAYLOAD_TYPE_PATH, message),
        None => ValidationError::unsupported(PAYLOAD_TYPE_PATH, message),
    };
    problems.push(error);
}
