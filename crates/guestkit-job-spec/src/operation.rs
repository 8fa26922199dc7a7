//! The operations of protocol v1 and the payload types each accepts.

use std::fmt;

/// An operation this crate knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Operation {
    /// `system.echo`: returns its payload data; for testing a worker.
    Echo,
    /// `guestkit.inspect`: inspect a disk image.
    Inspect,
    /// `guestkit.profile`: security / compliance / hardening findings.
    Profile,
}

impl Operation {
    /// Every known operation.
    pub const ALL: [Operation; 3] = [Operation::Echo, Operation::Inspect, Operation::Profile];

    /// The operation called `name` (exact, case-sensitive).
    pub fn from_name(name: &str) -> Option<Operation> {
        Operation::ALL.into_iter().find(|op| op.name() == name)
    }

    /// The operation's name in a job document.
    pub fn name(self) -> &'static str {
        match self {
            Operation::Echo => "system.echo",
            Operation::Inspect => "guestkit.inspect",
            Operation::Profile => "guestkit.profile",
        }
    }

    /// The payload type this crate writes for the operation.
    pub fn payload_type(self) -> &'static str {
        match self {
            Operation::Echo => "system.echo.v1",
            Operation::Inspect => "guestkit.inspect.v1",
            Operation::Profile => "guestkit.profile.v1",
        }
    }

    /// Every payload type accepted for the operation (`system.echo` also
    /// takes the unversioned name).
    pub fn payload_types(self) -> &'static [&'static str] {
        match self {
            Operation::Echo => &["system.echo.v1", "system.echo"],
            Operation::Inspect => &["guestkit.inspect.v1"],
            Operation::Profile => &["guestkit.profile.v1"],
        }
    }

    /// True when `payload_type` is accepted for the operation.
    pub fn accepts_payload_type(self, payload_type: &str) -> bool {
        self.payload_types().contains(&payload_type)
    }

    /// The names of every known operation, comma-separated (for messages).
    pub fn known_names() -> String {
        Operation::ALL
            .iter()
            .map(|op| op.name())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for op in Operation::ALL {
            assert_eq!(Operation::from_name(op.name()), Some(op));
            assert!(op.accepts_payload_type(op.payload_type()));
        }
        assert_eq!(Operation::from_name("guestkit.fix"), None);
        assert!(Operation::Echo.accepts_payload_type("system.echo"));
        assert!(!Operation::Inspect.accepts_payload_type("guestkit.inspect.v2"));
    }
}
