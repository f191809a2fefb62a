//! The child processes the fetchers run (`npm pack`, `apt-get download`, `dpkg-deb -x`): run to
//! completion with their output captured, and a failure told with the command and the last
//! lines it printed.

use std::ffi::OsStr;
use std::io;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use crate::error::{PffError, Result};

fn command_line(program: &OsStr, args: &[&OsStr]) -> String {
    let mut s = program.to_string_lossy().into_owned();
    for a in args {
        s.push(' ');
        s.push_str(&a.to_string_lossy());
    }
    s
}

fn tail(bytes: &[u8], max_lines: usize) -> String {
    let text = String::from_utf8_lossy(bytes);
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(max_lines)..].join("\n")
}

/// Runs a program to completion, capturing its output; `path` replaces the child's `PATH`. `not_found` completes the sentence
/// "PROGRAM not found on PATH: ..." when the program cannot be started; `failed_hint` is
/// appended to the program's error output when it exits with an error.
pub fn run(program: &OsStr, args: &[&OsStr], cwd: Option<&Path>, path: Option<&OsStr>, not_found: &str, failed_hint: &str) -> Result<Output> {
    let mut cmd = Command::new(program);
    cmd.args(args).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    if let Some(dir) = cwd {
        cmd.current_dir(dir);
    }
    if let Some(path) = path {
        cmd.env("PATH", path);
    }
    let output = match cmd.output() {
        Ok(o) => o,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(PffError::io(format!("{} not found on PATH: {not_found}", program.to_string_lossy()), e));
        }
        Err(e) => {
            return Err(PffError::io(format!("cannot run `{}`", command_line(program, args)), e));
        }
    };
    if !output.status.success() {
        let mut msg = tail(&output.stderr, 12);
        if msg.is_empty() {
            msg = tail(&output.stdout, 12);
        }
        if msg.is_empty() {
            msg = "(no output)".into();
        }
        return Err(PffError::io(format!("`{}` failed ({})", command_line(program, args), output.status), io::Error::other(format!("{msg}{failed_hint}"))));
    }
    Ok(output)
}
