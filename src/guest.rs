//! The pico process of a spawn: a host process forked by the supervisor
//! that sets itself up as an exec would (signal dispositions, descriptors,
//! working directory), installs the policy, loads the program, confines
//! itself, then becomes the guest program. A start-up failure goes back to the supervisor as a report
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
    /// `--root` and its binds (see `pico_driver::rootfs`).
    pub root: Option<PathBuf>,
    pub binds: Vec<pico_driver::rootfs::Bind>,
    /// Confine the host process once the program is loaded.
    pub confine: bool,
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

/// Why the program could not be started: kind, errno, message.
type Failure = (FailKind, i32, String);

/// Runs the pico process; never returns. `status` is the pipe to the
/// supervisor, closed once the program is loaded.
pub(crate) fn run(plan: &Plan, status: OwnedFd) -> ! {
    let mut process = match start(plan, status.as_raw_fd()) {
        Ok(process) => process,
        Err((kind, errno, message)) => fail(&status, kind, errno, &message),
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
    process.release_for_exit();
    pico_driver::host::finish(outcome)
}

/// Sets this process up as an exec would, installs the policy, loads the
/// program and confines the host process.
fn start(plan: &Plan, status: RawFd) -> Result<Process, Failure> {
    // Default dispositions (ignored ones stay ignored, except SIGPIPE,
    // which Rust programs ignore for themselves), nothing blocked.
    os::set_dispositions(plan.ignored & !(1 << (libc::SIGPIPE - 1)), 0);
    os::set_blocked(&[]);
    let io_failure = |kind, e: std::io::Error, what: String| {
        (kind, e.raw_os_error().unwrap_or(0), format!("{what}{e}"))
    };
    set_up(plan, status).map_err(|e| io_failure(FailKind::Picorun, e, String::new()))?;
    // The descriptors are final: the VM's set-up can start (see
    // `pico_vm::prewarm`).
    let _ = pico_vm::prewarm(None);
    // Under a root, the working directory is the guest's, set once the
    // root is installed, and the program was checked inside it.
    if let (Some(cwd), None) = (&plan.cwd, &plan.root) {
        std::env::set_current_dir(cwd)
            .map_err(|e| io_failure(FailKind::NotFound, e, format!("{}: ", cwd.display())))?;
    }
    // As execve checks it (the loader reads any file it can).
    if plan.root.is_none() {
        pico_driver::host::check_executable(&plan.program).map_err(|errno| {
            let (kind, what) = match i32::from(errno.raw()) {
                libc::ENOENT => (FailKind::NotFound, "not found"),
                _ => (FailKind::NotExecutable, errno.description()),
            };
            let message = format!("{}: {what}", plan.program.display());
            (kind, i32::from(errno.raw()), message)
        })?;
    }
    pico_vm::set_fast_syscalls(plan.fast_syscalls);
    pico_driver::policy::install(&plan.policy).map_err(|e| {
        let message = format!("cannot install the policy: {e}");
        (FailKind::Picorun, i32::from(e.raw()), message)
    })?;
    let config = Config {
        program: plan.program.clone(),
        args: plan.args.clone(),
        env: plan.env.clone(),
        trace: plan.trace,
        stats: plan.stats,
        take_over_descriptors: true,
        exitless: plan.exitless,
        root: plan.root.clone(),
        binds: plan.binds.clone(),
    };
    let process = Process::new(&config).map_err(|e| {
        let (kind, errno) = match &e {
            ExecError::NotFound(_) => (FailKind::NotFound, libc::ENOENT),
            ExecError::NotExecutable(_, _, errno) => {
                (FailKind::NotExecutable, i32::from(errno.raw()))
            }
            ExecError::Vm(_) | ExecError::Policy(_) => (FailKind::Picorun, 0),
        };
        (kind, errno, e.to_string())
    })?;
    if let (Some(cwd), Some(_)) = (&plan.cwd, &plan.root) {
        guest_chdir(cwd).map_err(|errno| {
            let message = format!("{}: {}", cwd.display(), errno.description());
            (FailKind::NotFound, i32::from(errno.raw()), message)
        })?;
    }
    if plan.confine {
        confine(plan).map_err(|e| {
            let message =
                format!("{e}; Command::confine(false) (picorun --no-confine) runs without");
            (FailKind::Picorun, 0, message)
        })?;
    }
    Ok(process)
}

/// Sets the guest's working directory inside its root.
fn guest_chdir(cwd: &std::path::Path) -> Result<(), pico_abi::Errno> {
    use std::os::unix::ffi::OsStrExt;
    let ns = pico_driver::rootfs::get().ok_or(pico_abi::Errno::ENOENT)?;
    let found = ns.resolve(b"/", cwd.as_os_str().as_bytes(), true)?;
    ns.open(&found, (libc::O_PATH | libc::O_DIRECTORY) as u64, 0)?;
    ns.set_cwd(&found.guest);
    Ok(())
}

/// Confines this host process as the `picorun` command does: Landlock to
/// the root's files under a root, then the seccomp allow-list.
fn confine(plan: &Plan) -> Result<(), String> {
    if let Some(root) = &plan.root {
        pico_driver::confine::confine_filesystem(root, &plan.binds)
            .map_err(|e| format!("cannot confine the host process (Landlock): {e}"))?;
    }
    pico_driver::confine::confine()
        .map_err(|e| format!("cannot confine the host process (seccomp): {e}"))
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
