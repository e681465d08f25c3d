//! [`Child`]: a running pico process tree as the embedding program holds
//! it, and [`ExitStatus`] / [`Output`]: how it ended.

use std::fmt;
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::process::ExitStatusExt;
use std::process::{ChildStderr, ChildStdin, ChildStdout};

use crate::os;
use crate::policy::Limit;
use crate::report::Record;

/// How a pico process ended: its exit code or the signal that killed it,
/// and the policy [`Limit`] that ended the run, if one did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExitStatus {
    /// The wait status, as `waitpid` reports it.
    raw: i32,
    limit: Option<Limit>,
}

impl ExitStatus {
    pub(crate) fn new(raw: i32, limit: Option<Limit>) -> ExitStatus {
        ExitStatus { raw, limit }
    }

    /// Whether the program exited with status 0.
    pub fn success(&self) -> bool {
        self.code() == Some(0)
    }

    /// The exit code, if the program exited.
    pub fn code(&self) -> Option<i32> {
        self.std().code()
    }

    /// The signal that killed the program, if one did.
    pub fn signal(&self) -> Option<i32> {
        self.std().signal()
    }

    /// The policy limit that ended the run: the program was then killed
    /// (see [`Policy`](crate::Policy)).
    pub fn limit(&self) -> Option<Limit> {
        self.limit
    }

    /// The same status as [`std::process::ExitStatus`] (without the limit).
    pub fn std(&self) -> std::process::ExitStatus {
        std::process::ExitStatus::from_raw(self.raw)
    }
}

impl fmt::Display for ExitStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.code(), self.signal()) {
            (Some(code), _) => write!(f, "exit status: {code}")?,
            (None, Some(signo)) => write!(
                f,
                "signal: {signo} ({})",
                pico_abi::flags::signal_name(signo as u64)
            )?,
            (None, None) => write!(f, "wait status: {}", self.raw)?,
        }
        match self.limit {
            Some(limit) => write!(f, ", {limit}"),
            None => Ok(()),
        }
    }
}

/// What [`Command::output`](crate::Command::output) collected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Output {
    pub status: ExitStatus,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

/// A spawned pico process tree, as [`std::process::Child`] is a process.
///
/// Unlike a `std` child, a `Child` owns its tree: dropping it (or the
/// embedding program ending) kills every process of the tree, so a
/// sandbox never outlives its handle. Call [`wait`](Child::wait) to let
/// the program finish.
///
/// ```
/// use std::io::{BufRead, BufReader};
/// use picorun::{Command, Stdio};
///
/// // A shell that starts a background job, says so, then waits forever.
/// let mut child = Command::new("sh")
///     .args(["-c", "sleep 1000 & echo ready; wait"])
///     .stdout(Stdio::piped())
///     .spawn()?;
/// let mut line = String::new();
/// BufReader::new(child.stdout.take().unwrap()).read_line(&mut line)?;
/// assert_eq!(line, "ready\n");
/// assert!(child.try_wait()?.is_none());
/// child.kill()?; // the shell and its sleep
/// assert_eq!(child.wait()?.signal(), Some(9));
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct Child {
    /// The write end of the program's stdin, if it was piped.
    pub stdin: Option<ChildStdin>,
    /// The read end of the program's stdout, if it was piped.
    pub stdout: Option<ChildStdout>,
    /// The read end of the program's stderr, if it was piped.
    pub stderr: Option<ChildStderr>,
    pid: u32,
    supervisor: u32,
    report: File,
    /// Open while the tree may live; a byte asks for a kill.
    lifeline: Option<OwnedFd>,
    status: Option<ExitStatus>,
    reaped: bool,
}

impl Child {
    pub(crate) fn new(pid: u32, supervisor: u32, report: File, lifeline: OwnedFd) -> Child {
        Child {
            stdin: None,
            stdout: None,
            stderr: None,
            pid,
            supervisor,
            report,
            lifeline: Some(lifeline),
            status: None,
            reaped: false,
        }
    }

    /// The program's process id: its `getpid()`, a host pid.
    pub fn id(&self) -> u32 {
        self.pid
    }

    /// Kills the whole tree with SIGKILL (the program, its children and
    /// theirs). Does not wait: [`wait`](Child::wait) then reports the
    /// SIGKILL. Killing a tree that already ended is not an error.
    pub fn kill(&mut self) -> io::Result<()> {
        let Some(lifeline) = &self.lifeline else {
            return Ok(());
        };
        match os::send_byte(lifeline.as_fd(), b'k') {
            Ok(()) => Ok(()),
            // The supervisor is gone: so is the tree.
            Err(e) if matches!(e.raw_os_error(), Some(libc::EPIPE | libc::ECONNRESET)) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Waits for the program to end, and for the rest of its tree to be
    /// gone. Closes the program's stdin first, if it was piped.
    pub fn wait(&mut self) -> io::Result<ExitStatus> {
        drop(self.stdin.take());
        if let Some(status) = self.status {
            return Ok(status);
        }
        let record = Record::receive(&mut self.report);
        self.reap(false)?;
        self.finish(record)
    }

    /// The status if the program has ended, without waiting.
    pub fn try_wait(&mut self) -> io::Result<Option<ExitStatus>> {
        if let Some(status) = self.status {
            return Ok(Some(status));
        }
        let ready = os::poll(
            &[(self.report.as_fd(), libc::POLLIN)],
            Some(Default::default()),
        )?;
        if ready[0] == 0 {
            return Ok(None);
        }
        let record = Record::receive(&mut self.report);
        self.reap(false)?;
        self.finish(record).map(Some)
    }

    /// Waits for the end and collects what was piped from stdout and
    /// stderr (as [`std::process::Child::wait_with_output`]).
    pub fn wait_with_output(mut self) -> io::Result<Output> {
        drop(self.stdin.take());
        let (stdout, stderr) = read_both(self.stdout.take(), self.stderr.take())?;
        let status = self.wait()?;
        Ok(Output {
            status,
            stdout,
            stderr,
        })
    }

    /// Reaps the supervisor (it exits right after its last report).
    fn reap(&mut self, nohang: bool) -> io::Result<()> {
        if self.reaped {
            return Ok(());
        }
        match os::wait(self.supervisor as i32, nohang) {
            Ok(Some(_)) => self.reaped = true,
            Ok(None) => {}
            // Someone else reaped it (a SIGCHLD handler of the embedding
            // program): the report says all there is.
            Err(e) if e.raw_os_error() == Some(libc::ECHILD) => self.reaped = true,
            Err(e) => return Err(e),
        }
        Ok(())
    }

    fn finish(&mut self, record: io::Result<Option<Record>>) -> io::Result<ExitStatus> {
        let status = match record? {
            Some(Record::Ended { status, limit }) => ExitStatus::new(status, limit),
            // The supervisor died without a word (killed from outside).
            _ => ExitStatus::new(libc::SIGKILL, None),
        };
        self.lifeline = None;
        self.status = Some(status);
        Ok(status)
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        // Closing the lifeline ends the tree; the supervisor is reaped on
        // a thread, so nothing is left behind and nobody waits here.
        self.lifeline = None;
        if self.reaped || self.reap(true).is_ok_and(|()| self.reaped) {
            return;
        }
        let supervisor = self.supervisor as i32;
        let _ = std::thread::Builder::new()
            .name("picorun-reaper".into())
            .spawn(move || {
                let _ = os::wait(supervisor, false);
            });
    }
}

impl fmt::Debug for Child {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Child")
            .field("pid", &self.pid)
            .field("supervisor", &self.supervisor)
            .field("status", &self.status)
            .finish_non_exhaustive()
    }
}

/// Reads two pipes to their ends at once (either may fill while the
/// other is read), with poll on this thread.
pub(crate) fn read_both(
    out: Option<ChildStdout>,
    err: Option<ChildStderr>,
) -> io::Result<(Vec<u8>, Vec<u8>)> {
    let mut pipes: [(Option<File>, Vec<u8>); 2] = [
        (out.map(|p| File::from(OwnedFd::from(p))), Vec::new()),
        (err.map(|p| File::from(OwnedFd::from(p))), Vec::new()),
    ];
    loop {
        let open: Vec<usize> = (0..2).filter(|&i| pipes[i].0.is_some()).collect();
        if open.is_empty() {
            break;
        }
        let fds: Vec<_> = open
            .iter()
            .filter_map(|&i| pipes[i].0.as_ref().map(|f| (f.as_fd(), libc::POLLIN)))
            .collect();
        let ready = os::poll(&fds, None)?;
        drop(fds);
        for (&i, &revents) in open.iter().zip(&ready) {
            if revents == 0 {
                continue;
            }
            let (pipe, buf) = &mut pipes[i];
            let mut chunk = [0u8; 65536];
            let n = match pipe.as_mut().map(|p| p.read(&mut chunk)) {
                Some(Ok(n)) => n,
                Some(Err(e)) if e.kind() == io::ErrorKind::Interrupted => continue,
                Some(Err(e)) => return Err(e),
                None => 0,
            };
            if n == 0 {
                *pipe = None;
            } else {
                buf.extend_from_slice(&chunk[..n]);
            }
        }
    }
    let [(_, out), (_, err)] = pipes;
    Ok((out, err))
}
