//! The pico process of a spawn: a host process forked by the supervisor
//! that sets itself up as an exec would (signal dispositions, descriptors,
//! working directory), installs the policy, then becomes the guest
//! program. A start-up failure goes back to the supervisor as a report
//! record; success is the closing of that pipe.

use std::ffi::OsString;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::path::PathBuf;

use pico_driver::{Config, ExecError, Outcome, Process};

use crate::os;
use crate::report::{FailKind, Record};

/// Everything a spawn decided, handed from the embedding program through
/// the supervisor to the pico process (all of it prepared before the
/// first fork, so the forked children only carry it out).
pub(crate) struct Plan {
    pub program: PathBuf,
    pub args: Vec<OsString>,
    /// `KEY=value` strings.
    pub env: Vec<OsString>,
    pub cwd: Option<PathBuf>,
    /// Descriptors to install as 0, 1, 2 (`None`: keep the inherited one).
    pub stdio: [Option<RawFd>; 3],
    pub policy: pico_driver::policy::Policy,
    pub wall_time: Option<std::time::Duration>,
    /// Signals the embedding program ignores: they stay ignored, as
    /// across exec; every other disposition goes back to the default.
    pub ignored: u64,
    pub trace: bool,
    pub stats: bool,
    pub exitless: bool,
    pub fast_syscalls: bool,
}

impl Plan {
    /// The descriptors the supervisor must keep open until it has forked
    /// the pico process.
    pub fn stdio_fds(&self) -> impl Iterator<Item = RawFd> + '_ {
        self.stdio.iter().flatten().copied()
    }
}

/// Runs the pico process; never returns. `status` is the pipe to the
/// supervisor, closed once the program is loaded.
pub(crate) fn run(plan: &Plan, status: OwnedFd) -> ! {
    // Default dispositions (ignored ones stay ignored, except SIGPIPE,
    // which Rust programs ignore for themselves), nothing blocked.
    os::set_dispositions(plan.ignored & !(1 << (libc::SIGPIPE - 1)), 0);
    os::set_blocked(&[]);
    if let Err(e) = set_up(plan, status.as_raw_fd()) {
        fail(
            &status,
            FailKind::Picorun,
            e.raw_os_error().unwrap_or(0),
            &e.to_string(),
        );
    }
    if let Some(cwd) = &plan.cwd {
        if let Err(e) = std::env::set_current_dir(cwd) {
            let message = format!("{}: {e}", cwd.display());
            fail(
                &status,
                FailKind::NotFound,
                e.raw_os_error().unwrap_or(0),
                &message,
            );
        }
    }
    // As execve checks it (the loader reads any file it can).
    if let Err(errno) = pico_driver::host::check_executable(&plan.program) {
        let (kind, what) = match errno.raw() as i32 {
            libc::ENOENT => (FailKind::NotFound, "not found".to_owned()),
            _ => (FailKind::NotExecutable, errno.description().to_owned()),
        };
        let message = format!("{}: {what}", plan.program.display());
        fail(&status, kind, i32::from(errno.raw()), &message);
    }
    pico_vm::set_fast_syscalls(plan.fast_syscalls);
    if let Err(e) = pico_driver::policy::install(&plan.policy) {
        let message = format!("cannot install the policy: {e}");
        fail(&status, FailKind::Picorun, i32::from(e.raw()), &message);
    }
    let config = Config {
        program: plan.program.clone(),
        args: plan.args.clone(),
        env: plan.env.clone(),
        trace: plan.trace,
        stats: plan.stats,
        take_over_descriptors: true,
        exitless: plan.exitless,
    };
    let mut process = match Process::new(&config) {
        Ok(p) => p,
        Err(e) => {
            let (kind, errno) = match &e {
                ExecError::NotFound(_) => (FailKind::NotFound, libc::ENOENT),
                ExecError::NotExecutable(_, _, errno) => {
                    (FailKind::NotExecutable, i32::from(errno.raw()))
                }
                ExecError::Vm(_) => (FailKind::Picorun, 0),
            };
            fail(&status, kind, errno, &e.to_string());
        }
    };
    // Loaded: the supervisor reports the start.
    drop(status);
    let outcome = match process.run() {
        Ok(outcome) => outcome,
        Err(e) => {
            let _ = os::write_all(2, format!("picorun: the VM failed: {e}\n").as_bytes());
            Outcome::Exited(125)
        }
    };
    if let Some(table) = process.stats_table() {
        let _ = os::write_all(2, table.as_bytes());
    }
    process.release();
    pico_driver::host::finish(outcome)
}

/// Puts the planned descriptors in place as 0, 1, 2 and closes what an
/// exec would close (close-on-exec descriptors: the supervisor's own, the
/// planned originals), keeping `status`. Descriptors the embedding
/// program left inheritable stay, as they would across its exec.
fn set_up(plan: &Plan, status: RawFd) -> std::io::Result<()> {
    // Out of the way first: a planned descriptor may itself be 0, 1 or 2.
    let mut moved: [Option<OwnedFd>; 3] = [None, None, None];
    for (slot, fd) in moved.iter_mut().zip(plan.stdio) {
        if let Some(fd) = fd {
            *slot = Some(os::dup_high(fd)?);
        }
    }
    let mut keep: Vec<RawFd> = moved.iter().flatten().map(|f| f.as_raw_fd()).collect();
    keep.push(status);
    os::close_cloexec_except(&keep);
    for (n, fd) in moved.iter().enumerate() {
        if let Some(fd) = fd {
            os::dup2(fd.as_raw_fd(), n as RawFd)?;
        }
    }
    Ok(())
}

/// Reports a start-up failure to the supervisor and ends.
fn fail(status: &OwnedFd, kind: FailKind, errno: i32, message: &str) -> ! {
    let record = Record::Failed {
        kind,
        errno,
        message: message.to_owned(),
    };
    let _ = record.send(status.as_raw_fd());
    os::exit_now(match kind {
        FailKind::NotFound => 127,
        FailKind::NotExecutable => 126,
        FailKind::Picorun => 125,
    })
}
