//! Running the `switchboard` binary from the crate's folder, with assertions that read like
//! the expectation; shared by the CLI test files (each uses only part of it). The server
//! harness (`server.rs`) and the Twilio driver (`twilio.rs`) beside it are declared only by
//! tests/server.rs (and the driver by the webhooks bench), so the CLI tests do not compile them.
#![allow(dead_code)]

use std::io::Write;
use std::process::{Command, Output, Stdio};

/// One run of the binary, with assertions that read like the expectation.
pub struct Run {
    pub out: Output,
}

pub fn run(args: &[&str]) -> Run {
    run_with_stdin(args, "")
}

/// The binary in the crate's folder, for arguments that are paths or an environment of its own;
/// run it with [`Run::of`].
pub fn switchboard() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_switchboard"));
    command.current_dir(env!("CARGO_MANIFEST_DIR"));
    command
}

pub fn run_with_stdin(args: &[&str], stdin: &str) -> Run {
    run_in(std::path::Path::new(env!("CARGO_MANIFEST_DIR")), args, stdin)
}

/// Runs the binary in `dir` instead of the crate's folder, as a user elsewhere would.
pub fn run_in(dir: &std::path::Path, args: &[&str], stdin: &str) -> Run {
    let mut child = switchboard()
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    child.stdin.take().expect("stdin is piped").write_all(stdin.as_bytes()).expect("stdin accepts the script");
    Run { out: child.wait_with_output().expect("the binary finishes") }
}

impl Run {
    pub fn of(command: &mut Command) -> Run {
        Run { out: command.stdin(Stdio::null()).output().expect("the binary runs") }
    }

    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.out.stdout).into_owned()
    }

    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.out.stderr).into_owned()
    }

    #[track_caller]
    pub fn code(self, code: i32) -> Self {
        assert_eq!(self.out.status.code(), Some(code), "stdout:\n{}\nstderr:\n{}", self.stdout(), self.stderr());
        self
    }

    #[track_caller]
    pub fn stderr_has(self, text: &str) -> Self {
        assert!(self.stderr().contains(text), "expected {text:?} in stderr:\n{}", self.stderr());
        self
    }

    #[track_caller]
    pub fn stdout_has(self, text: &str) -> Self {
        assert!(self.stdout().contains(text), "expected {text:?} in stdout:\n{}", self.stdout());
        self
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.out.stdout).unwrap_or_else(|e| panic!("stdout is JSON ({e}):\n{}", self.stdout()))
    }
}
