//! [`Command`]: run a Linux program as a pico process tree from a Rust
//! program, with the shape of [`std::process::Command`] and a [`Policy`].
//!
//! # How a spawn works
//!
//! ```text
//! embedding program ── fork ──► supervisor ── fork ──► pico process ──► its children …
//!   Child (pipes,        (one thread: process group,     (the program, in its
//!   report, lifeline)     subreaper, deadline, reaping)    own KVM guest)
//! ```
//!
//! Everything is decided before the first fork: the program is looked up
//! in `PATH`, the environment composed, pipes and `/dev/null` opened. The
//! forked supervisor closes what an exec would close, forks the pico
//! process, reports its pid (or why it could not start: `spawn` returns
//! that error, as `std` does for a failed exec), watches it, kills what is
//! left of the tree when it ends or must be killed, and reports how it
//! ended. The pico process is an ordinary picorun host process.
//!
//! # Fork safety
//!
//! A KVM virtual machine belongs to the host process that created it, so
//! a pico process needs a process of its own, and there is no picorun
//! binary to exec for a library user: the children are forks of the
//! embedding program. In a multi-threaded program, a forked child has only
//! the forking thread, and locks other threads held at the fork stay held
//! in it. The children therefore use only what is safe there on glibc:
//! allocation (glibc's fork resets malloc's locks), their own state
//! prepared before the fork, plain system calls, and new threads; they
//! never touch the environment lock (`std::env::set_var`), `std::io`'s
//! stdout or stderr (messages go out with write(2)), nor any state of the
//! embedding program, and they end with `_exit`, so the embedding
//! program's exit handlers and buffered output never run twice. What is
//! not covered: a global lock of a library the driver itself uses (a
//! `log` backend the embedding program installed, for instance) held by
//! another thread at the moment of the fork would stall the child, and a
//! policy wall-time limit is then what ends it.
//!
//! The other limits of the design: each spawn costs two forks of the
//! embedding program (page tables, not memory, are copied); the program's
//! pid is a host pid and its parent is the supervisor. And the pico
//! process's host memory holds a copy-on-write image of the embedding
//! program's: the guest cannot address it (it sees only its own guest
//! memory, and its `/proc/self/mem` is refused), but any process of the
//! same user may read another's `/proc/PID/mem`, and a guest without a
//! [`root`](Command::root) (whose `/proc` shows only its own processes) is
//! such a process. Keep secrets out of a program that embeds guests it
//! does not trust without a root.

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::fmt;
use std::fs::File;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use crate::child::{Child, ExitStatus, Output};
use crate::guest::Plan;
use crate::os;
use crate::policy::Policy;
use crate::report::{FailKind, Record};
use crate::stdio::{Kind, Prepared, Stdio};

/// A program to run as a pico process, and how: arguments, environment,
/// working directory, standard descriptors and [`Policy`], in the manner
/// of [`std::process::Command`].
///
/// ```
/// use picorun::Command;
///
/// let output = Command::new("sh")
///     .args(["-c", "echo hello from $WHO; exit 3"])
///     .env("WHO", "a pico process")
///     .output()?;
/// assert_eq!(output.stdout, b"hello from a pico process\n");
/// assert_eq!(output.status.code(), Some(3));
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct Command {
    program: OsString,
    arg0: Option<OsString>,
    args: Vec<OsString>,
    env_clear: bool,
    /// Variables set (`Some`) or removed (`None`) on top of the inherited ones.
    env: BTreeMap<OsString, Option<OsString>>,
    cwd: Option<PathBuf>,
    stdio: [Option<Stdio>; 3],
    policy: Policy,
    root: Option<PathBuf>,
    binds: Vec<pico_driver::rootfs::Bind>,
    confine: bool,
    trace: bool,
    stats: bool,
    exitless: bool,
    fast_syscalls: bool,
}

impl Command {
    /// A command for `program`, looked up in `PATH` when it has no slash
    /// (the `PATH` set with [`env`](Command::env) if any, else the
    /// embedding program's). By default it inherits the environment, the
    /// working directory and, for [`spawn`](Command::spawn) and
    /// [`status`](Command::status), the standard descriptors, and runs
    /// under no policy.
    pub fn new(program: impl AsRef<OsStr>) -> Command {
        Command {
            program: program.as_ref().to_owned(),
            arg0: None,
            args: Vec::new(),
            env_clear: false,
            env: BTreeMap::new(),
            cwd: None,
            stdio: [None, None, None],
            policy: Policy::default(),
            root: None,
            binds: Vec::new(),
            confine: true,
            trace: false,
            stats: false,
            exitless: false,
            fast_syscalls: true,
        }
    }

    /// The program's `argv[0]`, when it should differ from the program
    /// name (as `std`'s `CommandExt::arg0`).
    pub fn arg0(&mut self, arg0: impl AsRef<OsStr>) -> &mut Command {
        self.arg0 = Some(arg0.as_ref().to_owned());
        self
    }

    /// Adds an argument.
    pub fn arg(&mut self, arg: impl AsRef<OsStr>) -> &mut Command {
        self.args.push(arg.as_ref().to_owned());
        self
    }

    /// Adds arguments.
    pub fn args<I, S>(&mut self, args: I) -> &mut Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }

    /// Sets an environment variable.
    pub fn env(&mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> &mut Command {
        self.env
            .insert(key.as_ref().to_owned(), Some(value.as_ref().to_owned()));
        self
    }

    /// Sets environment variables.
    pub fn envs<I, K, V>(&mut self, vars: I) -> &mut Command
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<OsStr>,
        V: AsRef<OsStr>,
    {
        for (k, v) in vars {
            self.env(k, v);
        }
        self
    }

    /// Removes an environment variable.
    pub fn env_remove(&mut self, key: impl AsRef<OsStr>) -> &mut Command {
        self.env.insert(key.as_ref().to_owned(), None);
        self
    }

    /// Starts from an empty environment: only variables set from now on
    /// with [`env`](Command::env) are passed.
    pub fn env_clear(&mut self) -> &mut Command {
        self.env_clear = true;
        self.env.clear();
        self
    }

    /// The program's working directory (a relative program path is
    /// relative to it, as with `std`).
    pub fn current_dir(&mut self, dir: impl AsRef<Path>) -> &mut Command {
        self.cwd = Some(dir.as_ref().to_owned());
        self
    }

    /// The program's standard input.
    pub fn stdin(&mut self, stdio: impl Into<Stdio>) -> &mut Command {
        self.stdio[0] = Some(stdio.into());
        self
    }

    /// The program's standard output.
    pub fn stdout(&mut self, stdio: impl Into<Stdio>) -> &mut Command {
        self.stdio[1] = Some(stdio.into());
        self
    }

    /// The program's standard error.
    pub fn stderr(&mut self, stdio: impl Into<Stdio>) -> &mut Command {
        self.stdio[2] = Some(stdio.into());
        self
    }

    /// The policy the whole tree runs under.
    pub fn policy(&mut self, policy: Policy) -> &mut Command {
        self.policy = policy;
        self
    }

    /// Makes host directory `dir` the program's `/` (`picorun --root`):
    /// every path the tree uses is resolved inside it, `/proc` and `/dev`
    /// are picorun's; the program is looked up inside it, and the working
    /// directory set with [`current_dir`](Command::current_dir) is a path
    /// inside it (`/` by default).
    pub fn root(&mut self, dir: impl AsRef<Path>) -> &mut Command {
        self.root = Some(dir.as_ref().to_owned());
        self
    }

    /// With [`root`](Command::root): shows host directory `host` at
    /// `guest` inside the root, writable or not (`--rw`, `--ro`).
    pub fn bind(
        &mut self,
        host: impl AsRef<Path>,
        guest: impl AsRef<Path>,
        writable: bool,
    ) -> &mut Command {
        self.binds.push(pico_driver::rootfs::Bind {
            host: host.as_ref().to_owned(),
            guest: guest.as_ref().to_owned(),
            writable,
        });
        self
    }

    /// Whether each pico process's host process confines itself once the
    /// program is loaded (a seccomp allow-list of host syscalls, and
    /// Landlock to the root's files under [`root`](Command::root)), as
    /// the `picorun` command does. On by default.
    pub fn confine(&mut self, on: bool) -> &mut Command {
        self.confine = on;
        self
    }

    /// Prints one strace-style line per syscall on the program's stderr.
    pub fn trace(&mut self, on: bool) -> &mut Command {
        self.trace = on;
        self
    }

    /// Prints a per-syscall count and time table on the program's stderr
    /// when it ends.
    pub fn stats(&mut self, on: bool) -> &mut Command {
        self.stats = on;
        self
    }

    /// Exitless mode (see the `--exitless` option of `picorun`).
    pub fn exitless(&mut self, on: bool) -> &mut Command {
        self.exitless = on;
        self
    }

    /// Off, every syscall exits to the host, even those the guest's fast
    /// syscall page answers (getpid, gettid, ...): for measurements.
    pub fn fast_syscalls(&mut self, on: bool) -> &mut Command {
        self.fast_syscalls = on;
        self
    }

    /// Starts the program; its standard descriptors default to the
    /// embedding program's.
    ///
    /// Fails like [`std::process::Command::spawn`] when the program
    /// cannot be started: `NotFound`, `PermissionDenied`, or an error
    /// saying why picorun cannot run it (not an x86-64 ELF file, no KVM).
    pub fn spawn(&mut self) -> io::Result<Child> {
        self.start([Kind::Inherit, Kind::Inherit, Kind::Inherit])
    }

    /// Runs the program to its end with the embedding program's standard
    /// descriptors (unless set otherwise).
    pub fn status(&mut self) -> io::Result<ExitStatus> {
        self.start([Kind::Inherit, Kind::Inherit, Kind::Inherit])?
            .wait()
    }

    /// Runs the program to its end and collects its output: stdout and
    /// stderr are piped and stdin is `/dev/null`, unless set otherwise.
    pub fn output(&mut self) -> io::Result<Output> {
        self.start([Kind::Null, Kind::Piped, Kind::Piped])?
            .wait_with_output()
    }

    fn start(&mut self, defaults: [Kind; 3]) -> io::Result<Child> {
        let program = self.resolve()?;
        let defaults = defaults.map(Stdio);
        let mut prepared = Vec::with_capacity(3);
        for (n, (set, default)) in self.stdio.iter().zip(&defaults).enumerate() {
            prepared.push(Prepared::new(set.as_ref().unwrap_or(default), n as i32)?);
        }
        let mut argv = vec![self.arg0.clone().unwrap_or_else(|| self.program.clone())];
        argv.extend(self.args.iter().cloned());
        let plan = Plan {
            program,
            args: argv,
            env: self.environment(),
            cwd: self.cwd.clone(),
            stdio: [prepared[0].child, prepared[1].child, prepared[2].child],
            policy: self.policy.driver,
            wall_time: self.policy.wall_time,
            root: self.root.clone(),
            binds: self.binds.clone(),
            confine: self.confine,
            ignored: os::ignored_signals(),
            trace: self.trace,
            stats: self.stats,
            exitless: self.exitless,
            fast_syscalls: self.fast_syscalls,
        };
        let (report_read, report_write) = os::pipe()?;
        let (lifeline, lifeline_theirs) = os::socketpair()?;
        let supervisor = match os::fork()? {
            None => {
                // Never back into the embedding program's code, not even
                // by unwinding.
                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    crate::supervisor::run(&plan, report_write, lifeline_theirs)
                }));
                os::exit_now(125)
            }
            Some(pid) => pid,
        };
        drop((report_write, lifeline_theirs));
        let [stdin, stdout, stderr] = take3(prepared);
        let mut report = File::from(report_read);
        let failure = match Record::receive(&mut report) {
            Ok(Some(Record::Started { pid })) => {
                let mut child = Child::new(pid, supervisor, report, lifeline);
                child.stdin = stdin.map(Into::into);
                child.stdout = stdout.map(Into::into);
                child.stderr = stderr.map(Into::into);
                return Ok(child);
            }
            Ok(Some(Record::Failed {
                kind,
                errno,
                message,
            })) => spawn_error(kind, errno, message),
            Ok(_) => io::Error::other("picorun: the supervisor ended before the program started"),
            Err(e) => e,
        };
        let _ = os::wait(supervisor as i32, false);
        Err(failure)
    }

    /// The program file: looked up in `PATH` when its name has no slash
    /// (inside the root, under [`root`](Command::root)).
    fn resolve(&self) -> io::Result<PathBuf> {
        let path = match self.env.get(OsStr::new("PATH")) {
            Some(set) => set.clone(),
            None => std::env::var_os("PATH"),
        };
        if let Some(root) = &self.root {
            return crate::resolve::in_root(&self.program, root, &self.binds, path.as_deref())
                .map_err(|(kind, errno, message)| spawn_error(kind, errno, message));
        }
        crate::resolve::resolve(&self.program, path.as_deref()).ok_or_else(|| {
            spawn_error(
                FailKind::NotFound,
                libc::ENOENT,
                format!("{}: not found", self.program.to_string_lossy()),
            )
        })
    }

    /// The program's environment as `KEY=value` strings: the inherited
    /// one (unless cleared, and only the allowed variables), then what was
    /// set and removed. Untouched, it keeps its order, as `std` does.
    fn environment(&self) -> Vec<OsString> {
        let join = |(k, v): (OsString, OsString)| {
            let mut kv = k;
            kv.push("=");
            kv.push(v);
            kv
        };
        let inherited = std::env::vars_os().filter(|(k, _)| self.policy.allows_env(k));
        if !self.env_clear && self.env.is_empty() {
            return inherited.map(join).collect();
        }
        let mut vars: BTreeMap<OsString, OsString> = if self.env_clear {
            BTreeMap::new()
        } else {
            inherited.collect()
        };
        for (k, v) in &self.env {
            match v {
                Some(v) => vars.insert(k.clone(), v.clone()),
                None => vars.remove(k),
            };
        }
        vars.into_iter()
            .filter(|(k, _)| !k.as_bytes().is_empty())
            .map(join)
            .collect()
    }
}

/// The embedding program's ends of the three standard descriptors.
fn take3(prepared: Vec<Prepared>) -> [Option<std::os::fd::OwnedFd>; 3] {
    let mut ends = prepared.into_iter().map(|p| p.parent);
    [
        ends.next().flatten(),
        ends.next().flatten(),
        ends.next().flatten(),
    ]
}

/// Why a program could not be started, for the CLI's exit status.
#[derive(Debug)]
pub(crate) struct SpawnFailure {
    pub kind: FailKind,
    message: String,
}

impl fmt::Display for SpawnFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for SpawnFailure {}

fn spawn_error(kind: FailKind, errno: i32, message: String) -> io::Error {
    let io_kind = match kind {
        FailKind::NotFound => io::ErrorKind::NotFound,
        FailKind::NotExecutable if errno != 0 => io::Error::from_raw_os_error(errno).kind(),
        _ => io::ErrorKind::Other,
    };
    io::Error::new(io_kind, SpawnFailure { kind, message })
}

impl fmt::Debug for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Command")
            .field("program", &self.program)
            .field("args", &self.args)
            .field("env_clear", &self.env_clear)
            .field("env", &self.env)
            .field("cwd", &self.cwd)
            .field("policy", &self.policy)
            .field("root", &self.root)
            .finish_non_exhaustive()
    }
}
