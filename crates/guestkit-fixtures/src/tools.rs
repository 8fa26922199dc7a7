//! Running the rootless image tools (qemu-img, sfdisk, mkfs.*, cryptsetup).

use std::path::Path;
use std::process::{Command, Stdio};

use crate::{FixtureError, Result};

/// Runs `program args...`, failing with its stderr when it exits non-zero or
/// is not installed.
pub fn run(program: &str, args: &[&str]) -> Result<String> {
    run_with_stdin(program, args, None)
}

/// Like [`run`], writing `stdin` to the program's standard input.
pub fn run_with_stdin(program: &str, args: &[&str], stdin: Option<&[u8]>) -> Result<String> {
    execute(program, args, stdin, &[])
}

/// Like [`run`], with extra environment variables (e.g. `TZ=UTC`).
pub fn run_env(program: &str, args: &[&str], env: &[(&str, &str)]) -> Result<String> {
    execute(program, args, None, env)
}

fn execute(
    program: &str,
    args: &[&str],
    stdin: Option<&[u8]>,
    env: &[(&str, &str)],
) -> Result<String> {
    let mut cmd = Command::new(program);
    cmd.envs(env.iter().copied());
    cmd.args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let describe = || format!("{program} {}", args.join(" "));
    let mut child = cmd.spawn().map_err(|e| FixtureError::Tool {
        command: describe(),
        message: format!("cannot start: {e} (is it installed? run `cargo xtask deps`)"),
    })?;
    if let Some(input) = stdin {
        use std::io::Write;
        if let Some(mut pipe) = child.stdin.take() {
            pipe.write_all(input).map_err(|e| FixtureError::Tool {
                command: describe(),
                message: format!("writing stdin: {e}"),
            })?;
        }
    }
    let out = child.wait_with_output().map_err(|e| FixtureError::Tool {
        command: describe(),
        message: e.to_string(),
    })?;
    if !out.status.success() {
        return Err(FixtureError::Tool {
            command: describe(),
            message: format!(
                "{}: {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Path as a `&str` for tool arguments.
pub fn arg(path: &Path) -> Result<&str> {
    path.to_str().ok_or_else(|| FixtureError::Tool {
        command: String::new(),
        message: format!("non-UTF-8 path {}", path.display()),
    })
}

/// Whether `program` can be run.
pub fn available(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}
