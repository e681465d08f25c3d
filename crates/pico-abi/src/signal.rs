//! x86-64 signal numbers, `sigaction` layout and default actions.
//!
//! The driver emulates signal delivery itself (the guest never runs a real
//! kernel), so it needs the numbers, the exact bytes of the kernel's
//! `struct sigaction` that `rt_sigaction` copies in and out, and what
//! happens to a signal nobody handles. Nothing here delivers anything.

use std::mem::{offset_of, size_of};

/// Hangup.
pub const SIGHUP: u32 = 1;
/// Interrupt from the keyboard.
pub const SIGINT: u32 = 2;
/// Quit from the keyboard.
pub const SIGQUIT: u32 = 3;
/// Illegal instruction.
pub const SIGILL: u32 = 4;
/// Trace or breakpoint trap.
pub const SIGTRAP: u32 = 5;
/// `abort(3)`.
pub const SIGABRT: u32 = 6;
/// Same as [`SIGABRT`].
pub const SIGIOT: u32 = 6;
/// Bus error (bad memory access).
pub const SIGBUS: u32 = 7;
/// Arithmetic exception.
pub const SIGFPE: u32 = 8;
/// Kill; cannot be caught, blocked or ignored.
pub const SIGKILL: u32 = 9;
/// User-defined signal 1.
pub const SIGUSR1: u32 = 10;
/// Invalid memory reference.
pub const SIGSEGV: u32 = 11;
/// User-defined signal 2.
pub const SIGUSR2: u32 = 12;
/// Write to a pipe with no readers.
pub const SIGPIPE: u32 = 13;
/// `alarm(2)` timer.
pub const SIGALRM: u32 = 14;
/// Termination request.
pub const SIGTERM: u32 = 15;
/// Coprocessor stack fault (unused).
pub const SIGSTKFLT: u32 = 16;
/// Child stopped or terminated.
pub const SIGCHLD: u32 = 17;
/// Continue if stopped.
pub const SIGCONT: u32 = 18;
/// Stop; cannot be caught, blocked or ignored.
pub const SIGSTOP: u32 = 19;
/// Stop typed at the terminal.
pub const SIGTSTP: u32 = 20;
/// Terminal input for a background process.
pub const SIGTTIN: u32 = 21;
/// Terminal output for a background process.
pub const SIGTTOU: u32 = 22;
/// Urgent condition on a socket.
pub const SIGURG: u32 = 23;
/// CPU time limit exceeded.
pub const SIGXCPU: u32 = 24;
/// File size limit exceeded.
pub const SIGXFSZ: u32 = 25;
/// Virtual alarm clock.
pub const SIGVTALRM: u32 = 26;
/// Profiling timer expired.
pub const SIGPROF: u32 = 27;
/// Window resize.
pub const SIGWINCH: u32 = 28;
/// I/O now possible.
pub const SIGIO: u32 = 29;
/// Same as [`SIGIO`].
pub const SIGPOLL: u32 = 29;
/// Power failure.
pub const SIGPWR: u32 = 30;
/// Bad system call (seccomp).
pub const SIGSYS: u32 = 31;
/// The kernel's first real-time signal. glibc reserves 32 and 33 for
/// itself, so its `SIGRTMIN` is 34; this is the kernel's.
pub const SIGRTMIN: u32 = 32;
/// The last real-time signal.
pub const SIGRTMAX: u32 = 64;
/// Number of signals; valid signals are `1..=NSIG`.
pub const NSIG: u32 = 64;

/// `sa_handler` value: take the default action.
pub const SIG_DFL: u64 = 0;
/// `sa_handler` value: ignore the signal.
pub const SIG_IGN: u64 = 1;

/// Don't send `SIGCHLD` when a child stops or continues.
pub const SA_NOCLDSTOP: u64 = 0x0000_0001;
/// Don't turn terminated children into zombies.
pub const SA_NOCLDWAIT: u64 = 0x0000_0002;
/// The handler takes `(sig, siginfo, ucontext)`.
pub const SA_SIGINFO: u64 = 0x0000_0004;
/// `sa_restorer` is valid: x86-64 requires it, the kernel has no
/// trampoline of its own for 64-bit processes.
pub const SA_RESTORER: u64 = 0x0400_0000;
/// Run the handler on the alternate signal stack.
pub const SA_ONSTACK: u64 = 0x0800_0000;
/// Restart interrupted syscalls instead of failing them with `EINTR`.
pub const SA_RESTART: u64 = 0x1000_0000;
/// Don't block the signal while its handler runs.
pub const SA_NODEFER: u64 = 0x4000_0000;
/// Reset to `SIG_DFL` on entry to the handler.
pub const SA_RESETHAND: u64 = 0x8000_0000;

/// `rt_sigprocmask` how: add to the mask.
pub const SIG_BLOCK: u64 = 0;
/// `rt_sigprocmask` how: remove from the mask.
pub const SIG_UNBLOCK: u64 = 1;
/// `rt_sigprocmask` how: replace the mask.
pub const SIG_SETMASK: u64 = 2;

/// `sigaltstack` flag: the thread is running on the alternate stack.
pub const SS_ONSTACK: u32 = 1;
/// `sigaltstack` flag: the alternate stack is disabled.
pub const SS_DISABLE: u32 = 2;
/// Smallest alternate stack `sigaltstack` accepts.
pub const MINSIGSTKSZ: u64 = 2048;

/// The kernel's x86-64 `struct sigaction` (not glibc's, which orders the
/// fields differently and has a 128-byte mask). This is what
/// `rt_sigaction` reads and writes, with an 8-byte `sigsetsize`.
#[repr(C)]
#[derive(Clone, Copy, Default, Debug, PartialEq, Eq)]
pub struct KernelSigaction {
    /// Handler address, or [`SIG_DFL`] / [`SIG_IGN`].
    pub handler: u64,
    /// `SA_*` flags.
    pub flags: u64,
    /// Address the handler returns to; it calls `rt_sigreturn`.
    pub restorer: u64,
    /// Signals blocked while the handler runs; bit `n - 1` is signal `n`.
    pub mask: u64,
}

const _: () = assert!(size_of::<KernelSigaction>() == 32);
const _: () = assert!(offset_of!(KernelSigaction, handler) == 0);
const _: () = assert!(offset_of!(KernelSigaction, flags) == 8);
const _: () = assert!(offset_of!(KernelSigaction, restorer) == 16);
const _: () = assert!(offset_of!(KernelSigaction, mask) == 24);

/// The bit for `sig` in a kernel signal mask, or 0 for an invalid signal.
pub fn sig_bit(sig: u32) -> u64 {
    if (1..=NSIG).contains(&sig) {
        1 << (sig - 1)
    } else {
        0
    }
}

/// Signals that can never be blocked, caught or ignored.
pub const UNBLOCKABLE: u64 = (1 << (SIGKILL - 1)) | (1 << (SIGSTOP - 1));

/// What the kernel does with a signal whose handler is `SIG_DFL`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum DefaultAction {
    /// Terminate the process.
    Terminate,
    /// Terminate the process and dump core.
    CoreDump,
    /// Discard the signal.
    Ignore,
    /// Stop the process.
    Stop,
    /// Continue the process if it is stopped.
    Continue,
}

/// The default action for `sig`, per signal(7). Real-time and unknown
/// signals terminate.
pub fn default_action(sig: u32) -> DefaultAction {
    match sig {
        SIGQUIT | SIGILL | SIGTRAP | SIGABRT | SIGBUS | SIGFPE | SIGSEGV | SIGXCPU | SIGXFSZ
        | SIGSYS => DefaultAction::CoreDump,
        SIGCHLD | SIGURG | SIGWINCH => DefaultAction::Ignore,
        SIGSTOP | SIGTSTP | SIGTTIN | SIGTTOU => DefaultAction::Stop,
        SIGCONT => DefaultAction::Continue,
        _ => DefaultAction::Terminate,
    }
}

/// `si_code`: sent by `kill(2)`.
pub const SI_USER: i32 = 0;
/// `si_code`: sent by the kernel.
pub const SI_KERNEL: i32 = 0x80;
/// `si_code`: sent by `sigqueue(3)`.
pub const SI_QUEUE: i32 = -1;
/// `si_code`: a POSIX timer expired.
pub const SI_TIMER: i32 = -2;
/// `si_code`: sent by `tkill(2)` / `tgkill(2)`.
pub const SI_TKILL: i32 = -6;
/// `SIGILL`: illegal opcode.
pub const ILL_ILLOPC: i32 = 1;
/// `SIGILL`: illegal operand (what `#UD` reports on x86).
pub const ILL_ILLOPN: i32 = 2;
/// `SIGFPE`: integer divide by zero.
pub const FPE_INTDIV: i32 = 1;
/// `SIGFPE`: integer overflow.
pub const FPE_INTOVF: i32 = 2;
/// `SIGSEGV`: address not mapped.
pub const SEGV_MAPERR: i32 = 1;
/// `SIGSEGV`: mapped, but the access is not permitted.
pub const SEGV_ACCERR: i32 = 2;
/// `SIGBUS`: invalid address alignment.
pub const BUS_ADRALN: i32 = 1;
/// `SIGBUS`: nonexistent physical address (e.g. past the end of a mapped
/// file).
pub const BUS_ADRERR: i32 = 2;
/// `SIGTRAP`: breakpoint (`int3`).
pub const TRAP_BRKPT: i32 = 1;
/// `SIGTRAP`: single-step trap.
pub const TRAP_TRACE: i32 = 2;
/// `SIGCHLD`: child exited.
pub const CLD_EXITED: i32 = 1;
/// `SIGCHLD`: child was killed.
pub const CLD_KILLED: i32 = 2;
/// `SIGCHLD`: child was killed and dumped core.
pub const CLD_DUMPED: i32 = 3;
/// `SIGCHLD`: child stopped.
pub const CLD_STOPPED: i32 = 5;
/// `SIGCHLD`: stopped child continued.
pub const CLD_CONTINUED: i32 = 6;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sigaction_is_the_kernel_layout() {
        assert_eq!(size_of::<KernelSigaction>(), 32);
        assert_eq!(offset_of!(KernelSigaction, mask), 24);
    }

    #[test]
    fn numbers() {
        assert_eq!(SIGKILL, 9);
        assert_eq!(SIGSEGV, 11);
        assert_eq!(SIGCHLD, 17);
        assert_eq!(SIGSTOP, 19);
        assert_eq!(SIGSYS, 31);
        assert_eq!(SA_RESTORER, 0x0400_0000);
        assert_eq!(SI_TKILL, -6);
    }

    #[test]
    fn default_actions() {
        assert_eq!(default_action(SIGSEGV), DefaultAction::CoreDump);
        assert_eq!(default_action(SIGABRT), DefaultAction::CoreDump);
        assert_eq!(default_action(SIGSYS), DefaultAction::CoreDump);
        assert_eq!(default_action(SIGXFSZ), DefaultAction::CoreDump);
        assert_eq!(default_action(SIGCHLD), DefaultAction::Ignore);
        assert_eq!(default_action(SIGWINCH), DefaultAction::Ignore);
        assert_eq!(default_action(SIGURG), DefaultAction::Ignore);
        assert_eq!(default_action(SIGTSTP), DefaultAction::Stop);
        assert_eq!(default_action(SIGSTOP), DefaultAction::Stop);
        assert_eq!(default_action(SIGCONT), DefaultAction::Continue);
        assert_eq!(default_action(SIGTERM), DefaultAction::Terminate);
        assert_eq!(default_action(SIGKILL), DefaultAction::Terminate);
        assert_eq!(default_action(SIGPIPE), DefaultAction::Terminate);
        assert_eq!(default_action(SIGRTMIN + 3), DefaultAction::Terminate);
    }

    #[test]
    fn mask_bits() {
        assert_eq!(sig_bit(SIGHUP), 1);
        assert_eq!(sig_bit(SIGKILL), 0x100);
        assert_eq!(sig_bit(NSIG), 1 << 63);
        assert_eq!(sig_bit(0), 0);
        assert_eq!(sig_bit(65), 0);
        assert_eq!(UNBLOCKABLE, sig_bit(SIGKILL) | sig_bit(SIGSTOP));
    }
}
