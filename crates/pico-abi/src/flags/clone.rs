//! `clone`/`clone3`/`unshare` flags.
//!
//! The driver decides from these whether a new task shares the address
//! space, descriptor table and signal handlers; the tracer prints them.

use super::{append_bits, push_part, Table};
use crate::flags::signal_name;

/// Share the address space (a thread).
pub const CLONE_VM: u64 = 0x100;
/// Share the working directory, root and umask.
pub const CLONE_FS: u64 = 0x200;
/// Share the descriptor table.
pub const CLONE_FILES: u64 = 0x400;
/// Share signal handlers (requires [`CLONE_VM`]).
pub const CLONE_SIGHAND: u64 = 0x800;
/// Return a pidfd for the child.
pub const CLONE_PIDFD: u64 = 0x1000;
/// Continue tracing in the child.
pub const CLONE_PTRACE: u64 = 0x2000;
/// Suspend the parent until the child execs or exits.
pub const CLONE_VFORK: u64 = 0x4000;
/// The child's parent is the caller's parent.
pub const CLONE_PARENT: u64 = 0x8000;
/// Same thread group (requires [`CLONE_SIGHAND`]).
pub const CLONE_THREAD: u64 = 0x10000;
/// New mount namespace.
pub const CLONE_NEWNS: u64 = 0x20000;
/// Share System V semaphore undo lists.
pub const CLONE_SYSVSEM: u64 = 0x40000;
/// Set the child's TLS (`fs` base) from the `tls` argument.
pub const CLONE_SETTLS: u64 = 0x80000;
/// Store the child's tid at `parent_tid` in the parent.
pub const CLONE_PARENT_SETTID: u64 = 0x10_0000;
/// Clear `child_tid` and futex-wake it when the child exits.
pub const CLONE_CHILD_CLEARTID: u64 = 0x20_0000;
/// Ignored (historical).
pub const CLONE_DETACHED: u64 = 0x40_0000;
/// A tracer cannot force [`CLONE_PTRACE`].
pub const CLONE_UNTRACED: u64 = 0x80_0000;
/// Store the child's tid at `child_tid` in the child.
pub const CLONE_CHILD_SETTID: u64 = 0x100_0000;
/// New cgroup namespace.
pub const CLONE_NEWCGROUP: u64 = 0x200_0000;
/// New UTS namespace.
pub const CLONE_NEWUTS: u64 = 0x400_0000;
/// New IPC namespace.
pub const CLONE_NEWIPC: u64 = 0x800_0000;
/// New user namespace.
pub const CLONE_NEWUSER: u64 = 0x1000_0000;
/// New PID namespace.
pub const CLONE_NEWPID: u64 = 0x2000_0000;
/// New network namespace.
pub const CLONE_NEWNET: u64 = 0x4000_0000;
/// Share the I/O context.
pub const CLONE_IO: u64 = 0x8000_0000;
/// `clone3`: reset all handlers to default in the child.
pub const CLONE_CLEAR_SIGHAND: u64 = 0x1_0000_0000;
/// `clone3`: start the child in the given cgroup.
pub const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;
/// New time namespace (`clone3` and `unshare` only: in `clone` this bit is
/// part of the exit signal).
pub const CLONE_NEWTIME: u64 = 0x80;
/// `clone`: mask of the signal sent to the parent when the child exits.
pub const CSIGNAL: u64 = 0xff;

/// Every flag but [`CLONE_NEWTIME`], in bit order as strace prints them.
const CLONE_FLAGS: Table = table![
    CLONE_VM,
    CLONE_FS,
    CLONE_FILES,
    CLONE_SIGHAND,
    CLONE_PIDFD,
    CLONE_PTRACE,
    CLONE_VFORK,
    CLONE_PARENT,
    CLONE_THREAD,
    CLONE_NEWNS,
    CLONE_SYSVSEM,
    CLONE_SETTLS,
    CLONE_PARENT_SETTID,
    CLONE_CHILD_CLEARTID,
    CLONE_DETACHED,
    CLONE_UNTRACED,
    CLONE_CHILD_SETTID,
    CLONE_NEWCGROUP,
    CLONE_NEWUTS,
    CLONE_NEWIPC,
    CLONE_NEWUSER,
    CLONE_NEWPID,
    CLONE_NEWNET,
    CLONE_IO,
    CLONE_CLEAR_SIGHAND,
    CLONE_INTO_CGROUP,
];

/// `clone` flags: the flags, then the exit signal from the low byte:
/// `CLONE_CHILD_CLEARTID|CLONE_CHILD_SETTID|SIGCHLD`.
pub fn clone_flags(flags: u64) -> String {
    let mut out = String::new();
    append_bits(&mut out, flags & !CSIGNAL, CLONE_FLAGS);
    let exit_signal = flags & CSIGNAL;
    if exit_signal != 0 {
        push_part(&mut out, &signal_name(exit_signal));
    }
    if out.is_empty() {
        out.push('0');
    }
    out
}

/// `clone3`'s `flags` field and `unshare`: no exit signal in the low byte,
/// so [`CLONE_NEWTIME`] can be decoded.
pub fn clone3_flags(flags: u64) -> String {
    let mut out = String::new();
    let rest = flags & !CLONE_NEWTIME;
    append_bits(&mut out, rest, CLONE_FLAGS);
    if flags & CLONE_NEWTIME != 0 {
        push_part(&mut out, "CLONE_NEWTIME");
    }
    if out.is_empty() {
        out.push('0');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fork_and_thread() {
        assert_eq!(
            clone_flags(CLONE_CHILD_CLEARTID | CLONE_CHILD_SETTID | 17),
            "CLONE_CHILD_CLEARTID|CLONE_CHILD_SETTID|SIGCHLD"
        );
        assert_eq!(
            clone_flags(0x003d_0f00),
            "CLONE_VM|CLONE_FS|CLONE_FILES|CLONE_SIGHAND|CLONE_THREAD|CLONE_SYSVSEM\
             |CLONE_SETTLS|CLONE_PARENT_SETTID|CLONE_CHILD_CLEARTID"
        );
        assert_eq!(
            clone_flags(CLONE_VM | CLONE_VFORK | 17),
            "CLONE_VM|CLONE_VFORK|SIGCHLD"
        );
        assert_eq!(clone_flags(0), "0");
    }

    #[test]
    fn clone3_has_newtime() {
        assert_eq!(clone3_flags(CLONE_NEWTIME), "CLONE_NEWTIME");
        assert_eq!(
            clone3_flags(CLONE_VM | CLONE_CLEAR_SIGHAND),
            "CLONE_VM|CLONE_CLEAR_SIGHAND"
        );
        assert_eq!(clone3_flags(0), "0");
    }
}
