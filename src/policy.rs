//! [`Policy`]: what a sandboxed pico process tree may not do, and
//! [`Limit`]: which limit ended a run.

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::time::Duration;

use pico_driver::policy as driver;

/// The limits and denials a pico process tree runs under.
///
/// Every pico process of the tree — the program, what it forks, what
/// those exec — lives under the same policy; none can lift it. The
/// default restricts nothing.
///
/// | builder | the guest sees |
/// |---|---|
/// | [`no_network`](Policy::no_network) | `socket()`/`socketpair()` of any family but `AF_UNIX`: `EACCES` |
/// | [`mem_limit`](Policy::mem_limit) | `mmap`, `mremap`: `ENOMEM`, `brk` does not move, past the bytes a process has mapped (like `RLIMIT_AS`, per process) |
/// | [`max_procs`](Policy::max_procs) | `fork`/`vfork`/`clone` past that many live processes in the tree: `EAGAIN` |
/// | [`cpu_time`](Policy::cpu_time) | per process, `SIGXCPU` at the limit, `SIGKILL` a second later (`RLIMIT_CPU`) |
/// | [`wall_time`](Policy::wall_time) | the whole tree is killed with `SIGKILL` |
/// | [`deny_syscall`](Policy::deny_syscall) | that syscall: `EPERM` |
/// | [`env_allow`](Policy::env_allow) | only these variables of the embedding program's environment |
///
/// When the CPU-time or wall-time limit ends a run,
/// [`ExitStatus::limit`](crate::ExitStatus::limit) says which.
///
/// ```
/// use std::time::Duration;
/// use picorun::Policy;
///
/// let policy = Policy::new()
///     .no_network()
///     .mem_limit(256 << 20)
///     .max_procs(16)
///     .wall_time(Duration::from_secs(10))
///     .deny_syscall("ptrace")?;
/// assert!(!policy.is_unrestricted());
/// # Ok::<(), picorun::UnknownSyscall>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Policy {
    pub(crate) driver: driver::Policy,
    pub(crate) wall_time: Option<Duration>,
    pub(crate) env_allow: Option<Vec<OsString>>,
}

impl Policy {
    /// A policy that restricts nothing.
    pub fn new() -> Policy {
        Policy::default()
    }

    /// Whether this policy restricts nothing.
    pub fn is_unrestricted(&self) -> bool {
        *self == Policy::default()
    }

    /// No network: `socket()` and `socketpair()` of any address family but
    /// `AF_UNIX` fail with `EACCES` (what a Linux security module answers).
    pub fn no_network(mut self) -> Policy {
        self.driver.no_network = true;
        self
    }

    /// At most `bytes` of guest address space mapped per process,
    /// counted like `RLIMIT_AS` (every mapping, whatever its protection):
    /// `mmap` and `mremap` past it fail with `ENOMEM` and `brk` stays put,
    /// so a runaway allocation ends in the guest's out-of-memory path,
    /// never in the host's OOM killer.
    pub fn mem_limit(mut self, bytes: u64) -> Policy {
        self.driver.mem_limit = Some(bytes);
        self
    }

    /// At most `n` live pico processes in the tree, the program included
    /// (a zombie counts until reaped, as for `RLIMIT_NPROC`): `fork`,
    /// `vfork` and `clone` past it fail with `EAGAIN`. Threads do not count.
    pub fn max_procs(mut self, n: u32) -> Policy {
        self.driver.max_procs = Some(n.max(1));
        self
    }

    /// At most `time` of CPU per process, rounded up to whole seconds:
    /// the host's `RLIMIT_CPU`, which every child inherits. At the limit
    /// the process gets `SIGXCPU` (it may catch it), a second later
    /// `SIGKILL`. When this ends the program, the run's status says
    /// [`Limit::CpuTime`].
    pub fn cpu_time(mut self, time: Duration) -> Policy {
        let secs = time.as_secs() + u64::from(time.subsec_nanos() > 0);
        self.driver.cpu_time = Some(secs.max(1));
        self
    }

    /// At most `time` from spawn to the end: then every process of the
    /// tree is killed with `SIGKILL`, and the status says
    /// [`Limit::WallTime`].
    pub fn wall_time(mut self, time: Duration) -> Policy {
        self.wall_time = Some(time);
        self
    }

    /// Syscall `name` (as in `docs/syscalls.md` and strace: `"mkdir"`,
    /// `"ptrace"`) fails with `EPERM`. Like seccomp, this does not reach
    /// what the vDSO answers without a syscall (`clock_gettime`,
    /// `gettimeofday`, `time`, `getcpu`).
    pub fn deny_syscall(mut self, name: &str) -> Result<Policy, UnknownSyscall> {
        let nr = pico_abi::sysno::number(name).ok_or_else(|| UnknownSyscall(name.to_owned()))?;
        self.driver.denied.insert(nr);
        Ok(self)
    }

    /// Lets variable `name` of the embedding program's environment through
    /// to the program; once any is allowed, the others are left out.
    /// Variables set with [`Command::env`](crate::Command::env) always pass.
    pub fn env_allow(mut self, name: impl AsRef<OsStr>) -> Policy {
        self.env_allow
            .get_or_insert_with(Vec::new)
            .push(name.as_ref().to_owned());
        self
    }

    /// Whether the inherited variable `name` may pass.
    pub(crate) fn allows_env(&self, name: &OsStr) -> bool {
        self.env_allow
            .as_ref()
            .is_none_or(|allowed| allowed.iter().any(|a| a == name))
    }
}

/// A syscall name that x86-64 Linux does not have.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownSyscall(pub String);

impl fmt::Display for UnknownSyscall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "no x86-64 syscall is called `{}`", self.0)
    }
}

impl std::error::Error for UnknownSyscall {}

/// A policy limit that ended a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Limit {
    /// [`Policy::wall_time`]: the tree was killed.
    WallTime,
    /// [`Policy::cpu_time`]: the program died of `SIGXCPU`, or of the
    /// `SIGKILL` that follows it.
    CpuTime,
}

impl Limit {
    pub(crate) fn code(self) -> i32 {
        match self {
            Limit::WallTime => 1,
            Limit::CpuTime => 2,
        }
    }

    pub(crate) fn from_code(code: i32) -> Option<Limit> {
        match code {
            1 => Some(Limit::WallTime),
            2 => Some(Limit::CpuTime),
            _ => None,
        }
    }
}

impl fmt::Display for Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Limit::WallTime => "wall-time limit exceeded",
            Limit::CpuTime => "CPU-time limit exceeded",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builders_set_what_they_say() {
        let p = Policy::new()
            .no_network()
            .mem_limit(1 << 20)
            .max_procs(0)
            .cpu_time(Duration::from_millis(1500))
            .wall_time(Duration::from_secs(3))
            .deny_syscall("mkdir")
            .unwrap();
        assert!(p.driver.no_network);
        assert_eq!(p.driver.mem_limit, Some(1 << 20));
        assert_eq!(p.driver.max_procs, Some(1), "the program itself counts");
        assert_eq!(p.driver.cpu_time, Some(2), "rounded up to seconds");
        assert_eq!(p.wall_time, Some(Duration::from_secs(3)));
        assert!(p.driver.denied.contains(pico_abi::sysno::MKDIR));
        assert!(Policy::new().is_unrestricted() && !p.is_unrestricted());
    }

    #[test]
    fn unknown_syscalls_are_refused() {
        let e = Policy::new().deny_syscall("no_such_call").unwrap_err();
        assert_eq!(e, UnknownSyscall("no_such_call".into()));
    }

    #[test]
    fn env_allow_list() {
        let open = Policy::new();
        assert!(open.allows_env(OsStr::new("HOME")));
        let p = Policy::new().env_allow("PATH");
        assert!(p.allows_env(OsStr::new("PATH")) && !p.allows_env(OsStr::new("HOME")));
    }

    #[test]
    fn limit_codes_round_trip() {
        for l in [Limit::WallTime, Limit::CpuTime] {
            assert_eq!(Limit::from_code(l.code()), Some(l));
        }
        assert_eq!(Limit::from_code(0), None);
    }
}
