//! The sandbox policy a pico process runs under: syscalls refused with
//! `EPERM`, network sockets refused with `EACCES`, a cap on guest-mapped
//! memory (`ENOMEM`), a cap on live processes in the tree (`EAGAIN`), and
//! a CPU-time limit (the host's `RLIMIT_CPU`).
//!
//! The policy belongs to the host process, like the other per-process
//! switches of the driver: [`install`] sets it before the first pico
//! process is created. A forked child inherits it with its memory, and
//! execve keeps it (it is the same host process), so every pico process of
//! the tree lives under it and none can lift it.

pub mod procs;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::RwLock;

use pico_abi::{sysno, Errno};
use pico_vm::Vm;

/// A set of syscall numbers (below [`sysno::MAX`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SyscallSet([u64; 8]);

impl SyscallSet {
    pub const fn new() -> SyscallSet {
        SyscallSet([0; 8])
    }

    /// Adds `nr`; numbers outside the table are ignored (no syscall has them).
    pub fn insert(&mut self, nr: u64) {
        if nr < sysno::MAX {
            self.0[(nr / 64) as usize] |= 1 << (nr % 64);
        }
    }

    pub fn contains(&self, nr: u64) -> bool {
        nr < sysno::MAX && self.0[(nr / 64) as usize] & (1 << (nr % 64)) != 0
    }

    pub fn is_empty(&self) -> bool {
        self.0.iter().all(|&w| w == 0)
    }

    /// The numbers in the set, ascending.
    pub fn iter(&self) -> impl Iterator<Item = u64> + '_ {
        (0..sysno::MAX).filter(|&nr| self.contains(nr))
    }
}

/// What the guest may not do. The default restricts nothing.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Policy {
    /// socket(2) for any family but AF_UNIX is `EACCES`.
    pub no_network: bool,
    /// Bytes of guest address space one process may have mapped (like
    /// RLIMIT_AS): mmap, brk and mremap past it fail with `ENOMEM`.
    pub mem_limit: Option<u64>,
    /// Live pico processes in the tree at most: fork, vfork and clone past
    /// it fail with `EAGAIN` (see [`procs`]).
    pub max_procs: Option<u32>,
    /// Seconds of CPU time per process: `SIGXCPU` at the limit, `SIGKILL`
    /// a second later (the host's RLIMIT_CPU, inherited by every child).
    pub cpu_time: Option<u64>,
    /// Syscalls answered with `EPERM`.
    pub denied: SyscallSet,
}

impl Policy {
    pub const fn new() -> Policy {
        Policy {
            no_network: false,
            mem_limit: None,
            max_procs: None,
            cpu_time: None,
            denied: SyscallSet::new(),
        }
    }
}

static POLICY: RwLock<Policy> = RwLock::new(Policy::new());
/// Whether [`filter`] has anything to check: the syscall path's only cost
/// without a policy is this load.
static FILTERING: AtomicBool = AtomicBool::new(false);
/// The memory limit in bytes, 0 for none.
static MEM_LIMIT: AtomicU64 = AtomicU64::new(0);

/// Puts this host process, and every pico process it will become or
/// fork, under `policy`. Call before `Process::new`, in a host process
/// that runs only the guest: the CPU limit and the process table are the
/// host process's own.
pub fn install(policy: &Policy) -> Result<(), Errno> {
    if let Some(secs) = policy.cpu_time {
        set_cpu_limit(secs, secs.saturating_add(1))?;
    }
    if let Some(max) = policy.max_procs {
        procs::create(max)?;
    }
    // A denied call must exit, so the driver sees it.
    if pico_vm::FAST_SYSCALLS
        .iter()
        .any(|&nr| policy.denied.contains(nr as u64))
    {
        pico_vm::set_fast_syscalls(false);
    }
    *POLICY.write().unwrap_or_else(|p| p.into_inner()) = *policy;
    MEM_LIMIT.store(policy.mem_limit.unwrap_or(0), Ordering::Relaxed);
    FILTERING.store(
        policy.no_network || !policy.denied.is_empty(),
        Ordering::Release,
    );
    Ok(())
}

/// Sets this host process's RLIMIT_CPU (seconds).
fn set_cpu_limit(soft: u64, hard: u64) -> Result<(), Errno> {
    let mut limit = [soft, hard];
    crate::host::call(
        libc::SYS_prlimit64,
        &[
            0u64.into(),
            (libc::RLIMIT_CPU as u64).into(),
            crate::host::HostArg::Local(limit.as_mut_ptr().cast()),
            crate::host::GuestBuf::null().into(),
        ],
    )
    .map(|_| ())
}

/// The policy in force.
pub fn current() -> Policy {
    *POLICY.read().unwrap_or_else(|p| p.into_inner())
}

const AF_UNIX: u64 = 1;

/// The errno the policy answers syscall `nr` with, before its handler
/// runs; `None` lets it through.
pub fn filter(nr: u64, args: &[u64; 6]) -> Option<Errno> {
    if !FILTERING.load(Ordering::Acquire) {
        return None;
    }
    let policy = current();
    if policy.denied.contains(nr) {
        return Some(Errno::EPERM);
    }
    let network =
        matches!(nr, sysno::SOCKET | sysno::SOCKETPAIR) && u64::from(args[0] as u32) != AF_UNIX;
    (policy.no_network && network).then_some(Errno::EACCES)
}

/// Whether mapping `[at, at + len)`, replacing what is mapped there and
/// releasing `released` bytes elsewhere, keeps the process within its
/// memory limit; `ENOMEM` if not.
pub fn may_map(vm: &Vm, at: u64, len: u64, released: u64) -> Result<(), Errno> {
    let limit = MEM_LIMIT.load(Ordering::Relaxed);
    if limit == 0 {
        return Ok(());
    }
    let regions = vm.memory().regions();
    let mapped: u64 = regions.iter().map(|(s, e, _)| e - s).sum();
    let replaced: u64 = regions
        .overlapping(at, at.saturating_add(len))
        .iter()
        .map(|(s, e, _)| e - s)
        .sum();
    let after = (mapped - replaced.min(mapped))
        .saturating_sub(released)
        .saturating_add(len);
    if after > limit {
        Err(Errno::ENOMEM)
    } else {
        Ok(())
    }
}

/// Whether a guest may set resource `resource` to the limit `new` (a
/// `struct rlimit64`): not a CPU limit above the policy's, which only a
/// privileged process could raise natively.
pub fn may_set_rlimit(resource: u64, new: Option<[u64; 2]>) -> Result<(), Errno> {
    const RLIMIT_CPU: u64 = 0;
    let (Some(secs), Some([soft, hard])) = (current().cpu_time, new) else {
        return Ok(());
    };
    let cap = secs.saturating_add(1);
    if resource == RLIMIT_CPU && (soft > cap || hard > cap) {
        return Err(Errno::EPERM);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syscall_sets_hold_numbers_below_max() {
        let mut s = SyscallSet::new();
        assert!(s.is_empty());
        s.insert(sysno::GETPID);
        s.insert(sysno::MAX - 1);
        s.insert(sysno::MAX);
        s.insert(u64::MAX);
        assert!(s.contains(sysno::GETPID) && s.contains(sysno::MAX - 1));
        assert!(!s.contains(sysno::MAX) && !s.contains(u64::MAX) && !s.contains(0));
        assert_eq!(
            s.iter().collect::<Vec<_>>(),
            [sysno::GETPID, sysno::MAX - 1]
        );
    }
}
