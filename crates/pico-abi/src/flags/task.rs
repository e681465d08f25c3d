//! Process and thread state: clocks, `arch_prctl`, `prctl`, resource
//! limits, futexes, `getrandom`, `wait4` options.

use super::{bits, hex, lookup, one_of, push_part, Table};

/// Wall-clock time.
pub const CLOCK_REALTIME: u64 = 0;
/// Time since an unspecified start, never set back.
pub const CLOCK_MONOTONIC: u64 = 1;
/// CPU time of the process.
pub const CLOCK_PROCESS_CPUTIME_ID: u64 = 2;
/// CPU time of the thread.
pub const CLOCK_THREAD_CPUTIME_ID: u64 = 3;
/// [`CLOCK_MONOTONIC`] without NTP slewing.
pub const CLOCK_MONOTONIC_RAW: u64 = 4;
/// Fast, tick-resolution [`CLOCK_REALTIME`].
pub const CLOCK_REALTIME_COARSE: u64 = 5;
/// Fast, tick-resolution [`CLOCK_MONOTONIC`].
pub const CLOCK_MONOTONIC_COARSE: u64 = 6;
/// [`CLOCK_MONOTONIC`] including time suspended.
pub const CLOCK_BOOTTIME: u64 = 7;
/// [`CLOCK_REALTIME`] timers that wake the system.
pub const CLOCK_REALTIME_ALARM: u64 = 8;
/// [`CLOCK_BOOTTIME`] timers that wake the system.
pub const CLOCK_BOOTTIME_ALARM: u64 = 9;
/// International Atomic Time.
pub const CLOCK_TAI: u64 = 11;

const CLOCKS: Table = table![
    CLOCK_REALTIME,
    CLOCK_MONOTONIC,
    CLOCK_PROCESS_CPUTIME_ID,
    CLOCK_THREAD_CPUTIME_ID,
    CLOCK_MONOTONIC_RAW,
    CLOCK_REALTIME_COARSE,
    CLOCK_MONOTONIC_COARSE,
    CLOCK_BOOTTIME,
    CLOCK_REALTIME_ALARM,
    CLOCK_BOOTTIME_ALARM,
    (10, "CLOCK_SGI_CYCLE"),
    CLOCK_TAI,
];

/// A clock id. Dynamic (negative, per-process or fd) clocks print in hex.
pub fn clock_id(id: u64) -> String {
    one_of(id, CLOCKS)
}

/// Set the `gs` base.
pub const ARCH_SET_GS: u64 = 0x1001;
/// Set the `fs` base (the TLS pointer on x86-64).
pub const ARCH_SET_FS: u64 = 0x1002;
/// Get the `fs` base.
pub const ARCH_GET_FS: u64 = 0x1003;
/// Get the `gs` base.
pub const ARCH_GET_GS: u64 = 0x1004;
/// Whether `cpuid` is allowed.
pub const ARCH_GET_CPUID: u64 = 0x1011;
/// Allow or fault `cpuid`.
pub const ARCH_SET_CPUID: u64 = 0x1012;
/// Supported XSAVE features.
pub const ARCH_GET_XCOMP_SUPP: u64 = 0x1021;
/// Permitted XSAVE features.
pub const ARCH_GET_XCOMP_PERM: u64 = 0x1022;
/// Request permission for an XSAVE feature (AMX).
pub const ARCH_REQ_XCOMP_PERM: u64 = 0x1023;

const ARCH_PRCTL_CODES: Table = table![
    ARCH_SET_GS,
    ARCH_SET_FS,
    ARCH_GET_FS,
    ARCH_GET_GS,
    ARCH_GET_CPUID,
    ARCH_SET_CPUID,
    ARCH_GET_XCOMP_SUPP,
    ARCH_GET_XCOMP_PERM,
    ARCH_REQ_XCOMP_PERM,
    (0x1024, "ARCH_GET_XCOMP_GUEST_PERM"),
    (0x1025, "ARCH_REQ_XCOMP_GUEST_PERM"),
    (0x2001, "ARCH_MAP_VDSO_X32"),
    (0x2002, "ARCH_MAP_VDSO_32"),
    (0x2003, "ARCH_MAP_VDSO_64"),
    (0x4001, "ARCH_GET_UNTAG_MASK"),
    (0x4002, "ARCH_ENABLE_TAGGED_ADDR"),
    (0x4003, "ARCH_GET_MAX_TAG_BITS"),
    (0x4004, "ARCH_FORCE_TAGGED_SVA"),
    (0x5001, "ARCH_SHSTK_ENABLE"),
    (0x5002, "ARCH_SHSTK_DISABLE"),
    (0x5003, "ARCH_SHSTK_LOCK"),
    (0x5004, "ARCH_SHSTK_UNLOCK"),
    (0x5005, "ARCH_SHSTK_STATUS"),
];

/// `arch_prctl` code.
pub fn arch_prctl_code(code: u64) -> String {
    one_of(code, ARCH_PRCTL_CODES)
}

/// Signal sent to this process when its parent dies.
pub const PR_SET_PDEATHSIG: u64 = 1;
/// Whether the process may dump core / be ptraced.
pub const PR_SET_DUMPABLE: u64 = 4;
/// Set the thread name (16 bytes with the NUL).
pub const PR_SET_NAME: u64 = 15;
/// Get the thread name.
pub const PR_GET_NAME: u64 = 16;
/// Set `no_new_privs`.
pub const PR_SET_NO_NEW_PRIVS: u64 = 38;
/// Name an anonymous memory range.
pub const PR_SET_VMA: u64 = 0x5356_4d41;

const PRCTL_OPTIONS: Table = table![
    PR_SET_PDEATHSIG,
    (2, "PR_GET_PDEATHSIG"),
    (3, "PR_GET_DUMPABLE"),
    PR_SET_DUMPABLE,
    (5, "PR_GET_UNALIGN"),
    (6, "PR_SET_UNALIGN"),
    (7, "PR_GET_KEEPCAPS"),
    (8, "PR_SET_KEEPCAPS"),
    (9, "PR_GET_FPEMU"),
    (10, "PR_SET_FPEMU"),
    (11, "PR_GET_FPEXC"),
    (12, "PR_SET_FPEXC"),
    (13, "PR_GET_TIMING"),
    (14, "PR_SET_TIMING"),
    PR_SET_NAME,
    PR_GET_NAME,
    (19, "PR_GET_ENDIAN"),
    (20, "PR_SET_ENDIAN"),
    (21, "PR_GET_SECCOMP"),
    (22, "PR_SET_SECCOMP"),
    (23, "PR_CAPBSET_READ"),
    (24, "PR_CAPBSET_DROP"),
    (25, "PR_GET_TSC"),
    (26, "PR_SET_TSC"),
    (27, "PR_GET_SECUREBITS"),
    (28, "PR_SET_SECUREBITS"),
    (29, "PR_SET_TIMERSLACK"),
    (30, "PR_GET_TIMERSLACK"),
    (31, "PR_TASK_PERF_EVENTS_DISABLE"),
    (32, "PR_TASK_PERF_EVENTS_ENABLE"),
    (33, "PR_MCE_KILL"),
    (34, "PR_MCE_KILL_GET"),
    (35, "PR_SET_MM"),
    (36, "PR_SET_CHILD_SUBREAPER"),
    (37, "PR_GET_CHILD_SUBREAPER"),
    PR_SET_NO_NEW_PRIVS,
    (39, "PR_GET_NO_NEW_PRIVS"),
    (40, "PR_GET_TID_ADDRESS"),
    (41, "PR_SET_THP_DISABLE"),
    (42, "PR_GET_THP_DISABLE"),
    (43, "PR_MPX_ENABLE_MANAGEMENT"),
    (44, "PR_MPX_DISABLE_MANAGEMENT"),
    (45, "PR_SET_FP_MODE"),
    (46, "PR_GET_FP_MODE"),
    (47, "PR_CAP_AMBIENT"),
    (50, "PR_SVE_SET_VL"),
    (51, "PR_SVE_GET_VL"),
    (52, "PR_GET_SPECULATION_CTRL"),
    (53, "PR_SET_SPECULATION_CTRL"),
    (54, "PR_PAC_RESET_KEYS"),
    (55, "PR_SET_TAGGED_ADDR_CTRL"),
    (56, "PR_GET_TAGGED_ADDR_CTRL"),
    (57, "PR_SET_IO_FLUSHER"),
    (58, "PR_GET_IO_FLUSHER"),
    (59, "PR_SET_SYSCALL_USER_DISPATCH"),
    (60, "PR_PAC_SET_ENABLED_KEYS"),
    (61, "PR_PAC_GET_ENABLED_KEYS"),
    (62, "PR_SCHED_CORE"),
    (63, "PR_SME_SET_VL"),
    (64, "PR_SME_GET_VL"),
    (65, "PR_SET_MDWE"),
    (66, "PR_GET_MDWE"),
    (67, "PR_SET_MEMORY_MERGE"),
    (68, "PR_GET_MEMORY_MERGE"),
    (69, "PR_RISCV_V_SET_CONTROL"),
    (70, "PR_RISCV_V_GET_CONTROL"),
    (71, "PR_RISCV_SET_ICACHE_FLUSH_CTX"),
    (72, "PR_PPC_GET_DEXCR"),
    (73, "PR_PPC_SET_DEXCR"),
    (74, "PR_GET_SHADOW_STACK_STATUS"),
    (75, "PR_SET_SHADOW_STACK_STATUS"),
    (76, "PR_LOCK_SHADOW_STACK_STATUS"),
    (77, "PR_TIMER_CREATE_RESTORE_IDS"),
    (78, "PR_FUTEX_HASH"),
    (0x5961_6d61, "PR_SET_PTRACER"),
    PR_SET_VMA,
];

/// `prctl` option.
pub fn prctl_option(option: u64) -> String {
    one_of(option, PRCTL_OPTIONS)
}

/// CPU time in seconds.
pub const RLIMIT_CPU: u64 = 0;
/// Largest file size.
pub const RLIMIT_FSIZE: u64 = 1;
/// Data segment size (and, since 4.7, most private mappings).
pub const RLIMIT_DATA: u64 = 2;
/// Main thread's stack size.
pub const RLIMIT_STACK: u64 = 3;
/// Core file size.
pub const RLIMIT_CORE: u64 = 4;
/// Resident set size (no effect).
pub const RLIMIT_RSS: u64 = 5;
/// Processes of the real user.
pub const RLIMIT_NPROC: u64 = 6;
/// One more than the highest descriptor number.
pub const RLIMIT_NOFILE: u64 = 7;
/// Locked memory.
pub const RLIMIT_MEMLOCK: u64 = 8;
/// Address space size.
pub const RLIMIT_AS: u64 = 9;
/// File locks (no effect).
pub const RLIMIT_LOCKS: u64 = 10;
/// Queued signals of the real user.
pub const RLIMIT_SIGPENDING: u64 = 11;
/// Bytes in POSIX message queues.
pub const RLIMIT_MSGQUEUE: u64 = 12;
/// Ceiling of the nice value.
pub const RLIMIT_NICE: u64 = 13;
/// Ceiling of the real-time priority.
pub const RLIMIT_RTPRIO: u64 = 14;
/// Real-time CPU time without blocking, in microseconds.
pub const RLIMIT_RTTIME: u64 = 15;
/// No limit.
pub const RLIM_INFINITY: u64 = u64::MAX;

const RLIMITS: Table = table![
    RLIMIT_CPU,
    RLIMIT_FSIZE,
    RLIMIT_DATA,
    RLIMIT_STACK,
    RLIMIT_CORE,
    RLIMIT_RSS,
    RLIMIT_NPROC,
    RLIMIT_NOFILE,
    RLIMIT_MEMLOCK,
    RLIMIT_AS,
    RLIMIT_LOCKS,
    RLIMIT_SIGPENDING,
    RLIMIT_MSGQUEUE,
    RLIMIT_NICE,
    RLIMIT_RTPRIO,
    RLIMIT_RTTIME,
];

/// `getrlimit`/`prlimit64` resource.
pub fn rlimit_resource(resource: u64) -> String {
    one_of(resource, RLIMITS)
}

/// Sleep while the futex word equals the value.
pub const FUTEX_WAIT: u64 = 0;
/// Wake up to N waiters.
pub const FUTEX_WAKE: u64 = 1;
/// Requeue waiters to another futex.
pub const FUTEX_REQUEUE: u64 = 3;
/// Requeue if the word still equals the value.
pub const FUTEX_CMP_REQUEUE: u64 = 4;
/// Modify a second word and wake on both.
pub const FUTEX_WAKE_OP: u64 = 5;
/// [`FUTEX_WAIT`] with a bitset and an absolute timeout.
pub const FUTEX_WAIT_BITSET: u64 = 9;
/// [`FUTEX_WAKE`] with a bitset.
pub const FUTEX_WAKE_BITSET: u64 = 10;
/// The futex is not shared with other processes.
pub const FUTEX_PRIVATE_FLAG: u64 = 128;
/// The timeout is measured on `CLOCK_REALTIME`.
pub const FUTEX_CLOCK_REALTIME: u64 = 256;
/// Mask of the command in a futex op: everything but the two flags, within
/// the 32-bit `int` the kernel reads. An op with stray bits is an unknown
/// command (`ENOSYS`), not the command in its low bits.
pub const FUTEX_CMD_MASK: u64 = 0xffff_ffff & !(FUTEX_PRIVATE_FLAG | FUTEX_CLOCK_REALTIME);
/// Bitset matching every waiter.
pub const FUTEX_BITSET_MATCH_ANY: u64 = 0xffff_ffff;

const FUTEX_CMDS: Table = table![
    FUTEX_WAIT,
    FUTEX_WAKE,
    (2, "FUTEX_FD"),
    FUTEX_REQUEUE,
    FUTEX_CMP_REQUEUE,
    FUTEX_WAKE_OP,
    (6, "FUTEX_LOCK_PI"),
    (7, "FUTEX_UNLOCK_PI"),
    (8, "FUTEX_TRYLOCK_PI"),
    FUTEX_WAIT_BITSET,
    FUTEX_WAKE_BITSET,
    (11, "FUTEX_WAIT_REQUEUE_PI"),
    (12, "FUTEX_CMP_REQUEUE_PI"),
    (13, "FUTEX_LOCK_PI2"),
];

/// A `futex` op as strace prints it: `FUTEX_WAIT_PRIVATE`,
/// `FUTEX_WAIT_BITSET_PRIVATE|FUTEX_CLOCK_REALTIME`; an op whose command is
/// unknown prints whole, in hex. Only the low 32 bits count (an `int`).
pub fn futex_op(op: u64) -> String {
    let op = op & 0xffff_ffff;
    let Some(name) = lookup(op & FUTEX_CMD_MASK, FUTEX_CMDS) else {
        return hex(op);
    };
    let mut out = name.to_owned();
    if op & FUTEX_PRIVATE_FLAG != 0 {
        out.push_str("_PRIVATE");
    }
    if op & FUTEX_CLOCK_REALTIME != 0 {
        push_part(&mut out, "FUTEX_CLOCK_REALTIME");
    }
    out
}

/// `getrandom`: fail with `EAGAIN` instead of blocking.
pub const GRND_NONBLOCK: u64 = 1;
/// `getrandom`: use the (now identical) blocking pool.
pub const GRND_RANDOM: u64 = 2;
/// `getrandom`: return bytes even before the pool is initialised.
pub const GRND_INSECURE: u64 = 4;

/// `getrandom` flags.
pub fn getrandom_flags(flags: u64) -> String {
    bits(flags, table![GRND_NONBLOCK, GRND_RANDOM, GRND_INSECURE])
}

/// Return at once if no child has changed state.
pub const WNOHANG: u64 = 0x1;
/// Also report stopped children.
pub const WUNTRACED: u64 = 0x2;
/// Same as [`WUNTRACED`]; the name strace prints.
pub const WSTOPPED: u64 = WUNTRACED;
/// `waitid`: report exited children.
pub const WEXITED: u64 = 0x4;
/// Also report continued children.
pub const WCONTINUED: u64 = 0x8;
/// `waitid`: leave the child waitable.
pub const WNOWAIT: u64 = 0x0100_0000;
/// Wait for children of any type (clone or not).
pub const __WALL: u64 = 0x4000_0000;
/// Wait only for clone children.
pub const __WCLONE: u64 = 0x8000_0000;

/// `wait4`/`waitid` options, in strace's order.
const WAIT_OPTIONS: Table = table![
    WNOHANG,
    WEXITED,
    WSTOPPED,
    WCONTINUED,
    WNOWAIT,
    __WCLONE,
    __WALL,
    (0x2000_0000, "__WNOTHREAD"),
];

/// `wait4`/`waitid` options.
pub fn wait_options(options: u64) -> String {
    bits(options, WAIT_OPTIONS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clocks() {
        assert_eq!(clock_id(0), "CLOCK_REALTIME");
        assert_eq!(clock_id(1), "CLOCK_MONOTONIC");
        assert_eq!(clock_id(7), "CLOCK_BOOTTIME");
        assert_eq!(clock_id(11), "CLOCK_TAI");
        assert_eq!(clock_id(12), "0xc");
    }

    #[test]
    fn prctls() {
        assert_eq!(arch_prctl_code(0x1002), "ARCH_SET_FS");
        assert_eq!(arch_prctl_code(ARCH_GET_GS), "ARCH_GET_GS");
        assert_eq!(arch_prctl_code(0x1012), "ARCH_SET_CPUID");
        assert_eq!(arch_prctl_code(0x9999), "0x9999");
        assert_eq!(prctl_option(15), "PR_SET_NAME");
        assert_eq!(prctl_option(16), "PR_GET_NAME");
        assert_eq!(prctl_option(38), "PR_SET_NO_NEW_PRIVS");
        assert_eq!(prctl_option(PR_SET_VMA), "PR_SET_VMA");
        assert_eq!(prctl_option(48), "0x30");
    }

    #[test]
    fn rlimits() {
        assert_eq!(rlimit_resource(0), "RLIMIT_CPU");
        assert_eq!(rlimit_resource(3), "RLIMIT_STACK");
        assert_eq!(rlimit_resource(7), "RLIMIT_NOFILE");
        assert_eq!(rlimit_resource(15), "RLIMIT_RTTIME");
        assert_eq!(rlimit_resource(16), "0x10");
    }

    #[test]
    fn futex_ops() {
        assert_eq!(futex_op(0), "FUTEX_WAIT");
        assert_eq!(futex_op(128), "FUTEX_WAIT_PRIVATE");
        assert_eq!(futex_op(129), "FUTEX_WAKE_PRIVATE");
        assert_eq!(
            futex_op(FUTEX_WAIT_BITSET | FUTEX_PRIVATE_FLAG | FUTEX_CLOCK_REALTIME),
            "FUTEX_WAIT_BITSET_PRIVATE|FUTEX_CLOCK_REALTIME"
        );
        assert_eq!(futex_op(0x7f), "0x7f");
        assert_eq!(futex_op(0x1081), "0x1081");
        assert_eq!(futex_op(0xffff_ffff_0000_0081), "FUTEX_WAKE_PRIVATE");
        assert_eq!(FUTEX_CMD_MASK, 0xffff_fe7f);
    }

    #[test]
    fn random_and_wait() {
        assert_eq!(getrandom_flags(0), "0");
        assert_eq!(getrandom_flags(GRND_NONBLOCK), "GRND_NONBLOCK");
        assert_eq!(getrandom_flags(5), "GRND_NONBLOCK|GRND_INSECURE");
        assert_eq!(wait_options(0), "0");
        assert_eq!(wait_options(WNOHANG | __WALL), "WNOHANG|__WALL");
        assert_eq!(wait_options(WUNTRACED | WCONTINUED), "WSTOPPED|WCONTINUED");
    }
}
