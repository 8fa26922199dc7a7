//! Ways jobs arrive. Each transport hands documents to the shared
//! [`crate::intake::Intake`] and learns of finished jobs from the
//! executor's announcements.

pub mod file;
