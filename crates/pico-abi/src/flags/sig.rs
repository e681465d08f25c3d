//! Signals as the tracer prints them: numbers, masks, `sigaction` flags.
//!
//! The numbers themselves live in [`crate::signal`].

use super::{bits, one_of, Table};
use crate::signal::{
    NSIG, SA_NOCLDSTOP, SA_NOCLDWAIT, SA_NODEFER, SA_ONSTACK, SA_RESETHAND, SA_RESTART,
    SA_RESTORER, SA_SIGINFO, SIGRTMIN, SIG_BLOCK, SIG_SETMASK, SIG_UNBLOCK,
};

/// Names of signals 1..=31, indexed by number - 1.
const NAMES: [&str; 31] = [
    "SIGHUP",
    "SIGINT",
    "SIGQUIT",
    "SIGILL",
    "SIGTRAP",
    "SIGABRT",
    "SIGBUS",
    "SIGFPE",
    "SIGKILL",
    "SIGUSR1",
    "SIGSEGV",
    "SIGUSR2",
    "SIGPIPE",
    "SIGALRM",
    "SIGTERM",
    "SIGSTKFLT",
    "SIGCHLD",
    "SIGCONT",
    "SIGSTOP",
    "SIGTSTP",
    "SIGTTIN",
    "SIGTTOU",
    "SIGURG",
    "SIGXCPU",
    "SIGXFSZ",
    "SIGVTALRM",
    "SIGPROF",
    "SIGWINCH",
    "SIGIO",
    "SIGPWR",
    "SIGSYS",
];

/// A signal number: `SIGSEGV`. Real-time signals count from the kernel's
/// `SIGRTMIN` (32), as strace does: 32 is `SIGRTMIN`, 33 is `SIGRT_1`, 34
/// (glibc's `SIGRTMIN`) is `SIGRT_2`, up to `SIGRT_32`. Anything else,
/// 0 included, prints as its decimal number.
pub fn signal_name(sig: u64) -> String {
    let rt_min = u64::from(SIGRTMIN);
    match sig {
        1..=31 => NAMES[(sig - 1) as usize].to_owned(),
        _ if sig == rt_min => "SIGRTMIN".to_owned(),
        _ if sig > rt_min && sig <= u64::from(NSIG) => format!("SIGRT_{}", sig - rt_min),
        _ => sig.to_string(),
    }
}

/// A kernel signal mask, strace style: `[INT TERM]`, or `~[KILL STOP]`
/// (the complement) when more than half the signals are set.
pub fn sigset(mask: u64) -> String {
    let (prefix, shown) = if mask.count_ones() > NSIG / 2 {
        ("~[", !mask)
    } else {
        ("[", mask)
    };
    let names: Vec<String> = (1..=u64::from(NSIG))
        .filter(|sig| shown & (1 << (sig - 1)) != 0)
        .map(|sig| signal_name(sig).trim_start_matches("SIG").to_owned())
        .collect();
    format!("{prefix}{}]", names.join(" "))
}

/// `rt_sigprocmask` how.
pub fn sigprocmask_how(how: u64) -> String {
    one_of(how, table![SIG_BLOCK, SIG_UNBLOCK, SIG_SETMASK])
}

/// `sigaction` flags, in strace's order.
const SA_FLAGS: Table = table![
    SA_RESTORER,
    SA_ONSTACK,
    SA_RESTART,
    SA_NODEFER,
    SA_RESETHAND,
    SA_SIGINFO,
    SA_NOCLDSTOP,
    SA_NOCLDWAIT,
    (0x400, "SA_UNSUPPORTED"),
    (0x800, "SA_EXPOSE_TAGBITS"),
];

/// `sigaction` flags: `SA_RESTORER|SA_RESTART`.
pub fn sa_flags(flags: u64) -> String {
    bits(flags, SA_FLAGS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(signal_name(1), "SIGHUP");
        assert_eq!(signal_name(11), "SIGSEGV");
        assert_eq!(signal_name(17), "SIGCHLD");
        assert_eq!(signal_name(31), "SIGSYS");
        assert_eq!(signal_name(32), "SIGRTMIN");
        assert_eq!(signal_name(34), "SIGRT_2");
        assert_eq!(signal_name(64), "SIGRT_32");
        assert_eq!(signal_name(0), "0");
        assert_eq!(signal_name(65), "65");
    }

    #[test]
    fn masks() {
        assert_eq!(sigset(0), "[]");
        assert_eq!(sigset((1 << 1) | (1 << 14)), "[INT TERM]");
        assert_eq!(sigset(1 << 32), "[RT_1]");
        assert_eq!(sigset(!((1 << 8) | (1 << 18))), "~[KILL STOP]");
        assert_eq!(sigset(u64::MAX), "~[]");
    }

    #[test]
    fn how_and_flags() {
        assert_eq!(sigprocmask_how(0), "SIG_BLOCK");
        assert_eq!(sigprocmask_how(2), "SIG_SETMASK");
        assert_eq!(sigprocmask_how(3), "0x3");
        assert_eq!(
            sa_flags(0x0400_0000 | 0x1000_0000),
            "SA_RESTORER|SA_RESTART"
        );
        assert_eq!(
            sa_flags(SA_RESTORER | SA_ONSTACK | SA_RESTART | SA_SIGINFO),
            "SA_RESTORER|SA_ONSTACK|SA_RESTART|SA_SIGINFO"
        );
        assert_eq!(sa_flags(0), "0");
    }
}
