//! Runs a program with a fixed environment, piped stdio and a timeout.
//!
//! Native and picorun runs must see identical inputs, or a difference in
//! output means nothing: both get the same small environment (nothing
//! inherited from the developer's shell, no `RUST_LOG`), the same stdin
//! bytes through a pipe, and the same working directory.

use std::ffi::OsStr;
use std::fmt;
use std::io::{Read, Write};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

/// How long a single run may take before it is killed and the test fails.
pub const TIMEOUT: Duration = Duration::from_secs(60);

/// The environment every run gets, in order. Deterministic on purpose.
const ENV: &[(&str, &str)] = &[
    (
        "PATH",
        "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    ),
    ("HOME", "/root"),
    ("LANG", "C"),
    ("LC_ALL", "C"),
    ("TZ", "UTC"),
    ("PICORUN_TEST", "1"),
];

/// What a finished program produced.
#[derive(Clone, Debug)]
pub struct Outcome {
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub status: ExitStatus,
}

impl Outcome {
    /// The exit code, or `None` if the program died of a signal.
    pub fn code(&self) -> Option<i32> {
        self.status.code()
    }

    /// The signal that killed the program, if it died of one.
    pub fn signal(&self) -> Option<i32> {
        self.status.signal()
    }

    pub fn stdout_str(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    pub fn stderr_str(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            describe(self.status),
            self.stdout_str(),
            self.stderr_str()
        )
    }
}

/// "exit code 1" / "killed by signal 11 (SIGSEGV)" / "killed by signal 11 (SIGSEGV), core dumped".
pub(crate) fn describe(status: ExitStatus) -> String {
    if let Some(code) = status.code() {
        return format!("exit code {code}");
    }
    let sig = status.signal().unwrap_or(0);
    let core = if status.core_dumped() {
        ", core dumped"
    } else {
        ""
    };
    format!("killed by signal {sig} ({}){core}", signal_name(sig))
}

fn signal_name(sig: i32) -> String {
    pico_abi::flags::signal_name(sig as u64)
}

/// Why [`run`] produced no [`Outcome`].
#[derive(Debug)]
pub enum RunError {
    /// The program could not be started (not found, `ENOEXEC`, …).
    Spawn(std::io::Error),
    /// It was still running at the deadline; it and its process group were killed.
    TimedOut { stdout: Vec<u8>, stderr: Vec<u8> },
}

/// A `Command` for `program` with the fixed test environment applied.
pub fn command(program: impl AsRef<OsStr>) -> Command {
    let mut cmd = Command::new(program);
    cmd.env_clear().envs(ENV.iter().copied());
    cmd
}

/// Runs `cmd` with `stdin` fed through a pipe and stdout/stderr captured.
///
/// The child gets its own process group so that a timeout kills everything it
/// started (shell pipelines, picorun's helpers), not just the direct child.
pub fn run(cmd: &mut Command, stdin: &[u8], timeout: Duration) -> Result<Outcome, RunError> {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .map_err(RunError::Spawn)?;
    let deadline = Instant::now() + timeout;

    let mut input = child.stdin.take().expect("stdin is piped");
    let data = stdin.to_vec();
    // Errors are ignored: a program may exit without reading its input (EPIPE).
    thread::spawn(move || {
        let _ = input.write_all(&data);
    });
    let stdout = collect(child.stdout.take().expect("stdout is piped"));
    let stderr = collect(child.stderr.take().expect("stderr is piped"));

    let status = wait_until(&mut child, deadline);
    let grace = Instant::now() + Duration::from_secs(2);
    let stdout_bytes = receive(&stdout, deadline.max(grace));
    let stderr_bytes = receive(&stderr, deadline.max(grace));
    match status {
        Some(status) => Ok(Outcome {
            stdout: stdout_bytes,
            stderr: stderr_bytes,
            status,
        }),
        None => Err(RunError::TimedOut {
            stdout: stdout_bytes,
            stderr: stderr_bytes,
        }),
    }
}

/// Reads a pipe to EOF on its own thread; the bytes arrive on the channel.
fn collect(mut pipe: impl Read + Send + 'static) -> mpsc::Receiver<Vec<u8>> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = pipe.read_to_end(&mut buf);
        let _ = tx.send(buf);
    });
    rx
}

/// The pipe's bytes, or nothing if a leftover grandchild keeps it open past `until`.
fn receive(rx: &mpsc::Receiver<Vec<u8>>, until: Instant) -> Vec<u8> {
    rx.recv_timeout(until.saturating_duration_since(Instant::now()))
        .unwrap_or_default()
}

/// Waits for `child` until `deadline`; on timeout kills its process group and returns `None`.
fn wait_until(child: &mut Child, deadline: Instant) -> Option<ExitStatus> {
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Some(status),
            Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(5)),
            Ok(None) | Err(_) => break,
        }
    }
    // std cannot signal a process group; the shell's `kill` can.
    let _ = Command::new("sh")
        .arg("-c")
        .arg(format!("kill -9 -{} 2>/dev/null", child.id()))
        .status();
    let _ = child.kill();
    let _ = child.wait();
    None
}

fn run_or_panic(cmd: &mut Command, stdin: &[u8], label: &str) -> Outcome {
    match run(cmd, stdin, TIMEOUT) {
        Ok(outcome) => outcome,
        Err(RunError::Spawn(e)) => panic!("{label}: cannot start: {e}"),
        Err(RunError::TimedOut { stdout, stderr }) => panic!(
            "{label}: still running after {TIMEOUT:?}, killed\n--- stdout ---\n{}\n--- stderr ---\n{}",
            String::from_utf8_lossy(&stdout),
            String::from_utf8_lossy(&stderr)
        ),
    }
}

/// Runs `prog args…` natively. Panics if it cannot start or exceeds [`TIMEOUT`].
pub fn run_native(prog: &Path, args: &[&str], stdin: &[u8], cwd: Option<&Path>) -> Outcome {
    let mut cmd = command(prog);
    cmd.args(args);
    if let Some(dir) = cwd {
        cmd.current_dir(dir);
    }
    run_or_panic(&mut cmd, stdin, &format!("native {}", prog.display()))
}

/// Runs `picorun -- prog args…`. Panics if it cannot start or exceeds [`TIMEOUT`].
pub fn run_picorun(
    picorun: &Path,
    prog: &Path,
    args: &[&str],
    stdin: &[u8],
    cwd: Option<&Path>,
) -> Outcome {
    let mut cmd = command(picorun);
    cmd.arg("--").arg(prog).args(args);
    if let Some(dir) = cwd {
        cmd.current_dir(dir);
    }
    run_or_panic(&mut cmd, stdin, &format!("picorun {}", prog.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describes_codes_and_signals() {
        assert_eq!(describe(ExitStatus::from_raw(3 << 8)), "exit code 3");
        assert_eq!(
            describe(ExitStatus::from_raw(11)),
            "killed by signal 11 (SIGSEGV)"
        );
        assert_eq!(
            describe(ExitStatus::from_raw(6 | 0x80)),
            "killed by signal 6 (SIGABRT), core dumped"
        );
    }

    #[test]
    fn runs_with_the_fixed_environment_and_stdin() {
        let mut cmd = command("sh");
        cmd.arg("-c")
            .arg("cat; echo \"$PICORUN_TEST $LANG ${RUST_LOG-unset}\" >&2; exit 3");
        let out = run(&mut cmd, b"in", TIMEOUT).unwrap();
        assert_eq!(out.stdout, b"in");
        assert_eq!(out.stderr, b"1 C unset\n");
        assert_eq!(out.code(), Some(3));
    }

    #[test]
    fn reports_death_by_signal() {
        let mut cmd = command("sh");
        cmd.arg("-c").arg("kill -TERM $$");
        let out = run(&mut cmd, b"", TIMEOUT).unwrap();
        assert_eq!(out.signal(), Some(15));
        assert_eq!(out.code(), None);
    }

    #[test]
    fn kills_on_timeout() {
        let mut cmd = command("sh");
        cmd.arg("-c").arg("echo started; sleep 30 & wait");
        let start = Instant::now();
        match run(&mut cmd, b"", Duration::from_millis(300)) {
            Err(RunError::TimedOut { stdout, .. }) => assert_eq!(stdout, b"started\n"),
            other => panic!("expected a timeout, got {other:?}"),
        }
        assert!(start.elapsed() < Duration::from_secs(10));
    }

    #[test]
    fn spawn_failure_is_an_error() {
        let mut cmd = command("/nonexistent/picorun-testkit");
        assert!(matches!(
            run(&mut cmd, b"", TIMEOUT),
            Err(RunError::Spawn(_))
        ));
    }
}
