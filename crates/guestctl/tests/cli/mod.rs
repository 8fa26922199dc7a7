//! Running the `guestctl` binary from tests, shared by the CLI test files.
#![allow(dead_code)] // each test file uses its own subset

use std::path::Path;
use std::process::{Command, Output};

/// Runs `guestctl ARGS`.
pub fn guestctl(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_guestctl"))
        .args(args)
        .output()
        .expect("running guestctl")
}

/// Standard output of a run that must have succeeded.
pub fn stdout(out: &Output) -> String {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The demo image the repository ships.
pub fn demo() -> String {
    guestkit_fixtures::demo::committed_demo()
        .display()
        .to_string()
}

/// A path as a command-line argument.
pub fn s(p: &Path) -> &str {
    p.to_str().expect("UTF-8 path")
}
