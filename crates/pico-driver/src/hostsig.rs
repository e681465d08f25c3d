//! Host signals bound for the guest: picorun catches every signal a guest
//! could receive from outside (kill from another process, SIGCHLD, SIGALRM,
//! terminal signals), records it with its siginfo, and kicks the vCPU out
//! of `KVM_RUN` so the driver can deliver it with the guest's own
//! dispositions and masks. The catcher only stores words and a byte, which
//! is async-signal-safe.
//!
//! Not routed: SIGKILL and SIGSTOP (cannot be), the synchronous fault
//! signals (SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP: guest faults arrive as
//! VM exits, and a host one from the CPU means picorun itself crashed) and
//! SIGPIPE (host writes return EPIPE and the driver raises the guest's
//! SIGPIPE). A fault signal that was *sent* (kill, tgkill, sigqueue: a
//! si_code of 0 or below), say by the guest to its own process group or by
//! another process, is the guest's all the same: [`catch`] installs a
//! catcher that routes those and leaves genuine faults to what handled them
//! before (Rust's stack-overflow report, or the default action). The two
//! real-time signals libc reserves (32, 33: a guest libc's thread
//! cancellation and set*id broadcast) are caught too, installed with a raw
//! rt_sigaction since picorun's own libc refuses them; picorun uses neither.

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

use crate::sigframe::SIGINFO_SIZE;

const WORDS: usize = SIGINFO_SIZE / 8;

// Per host thread, because each guest thread is a host thread with its own
// vCPU: the kernel runs the catcher on the thread a signal was sent to
// (tgkill) or on any thread that does not block it (kill), and that
// thread's vCPU is the one to kick. Const-initialised thread locals without
// destructors are plain TLS accesses, usable from a signal handler.
thread_local! {
    /// Signals caught and not yet taken by this thread, bit `n-1` for `n`.
    static PENDING: AtomicU64 = const { AtomicU64::new(0) };
    /// The latest siginfo per signal.
    static INFO: [[AtomicU64; WORDS]; 64] = const { [const { [const { AtomicU64::new(0) }; WORDS] }; 64] };
    /// `immediate_exit` of this thread's vCPU (null when it has none).
    static KICK: Cell<*mut u8> = const { Cell::new(std::ptr::null_mut()) };
}

/// Whether picorun routes host signal `signo` to the guest.
pub fn routed(signo: u32) -> bool {
    !matches!(signo, 0 | 9 | 19 | 11 | 7 | 4 | 8 | 5 | 13) && signo <= 64
}

extern "C" fn catcher(signo: libc::c_int, info: *mut libc::siginfo_t, _ctx: *mut libc::c_void) {
    let Ok(n) = usize::try_from(signo) else {
        return;
    };
    if !(1..=64).contains(&n) {
        return;
    }
    if !info.is_null() {
        // SAFETY: the kernel passes a valid siginfo_t (128 bytes) to an
        // SA_SIGINFO handler; it is only read here.
        let words = unsafe { std::ptr::read(info.cast::<[u64; WORDS]>()) };
        INFO.with(|slots| {
            for (slot, w) in slots[n - 1].iter().zip(words) {
                slot.store(w, Ordering::Relaxed);
            }
        });
    }
    PENDING.with(|p| p.fetch_or(1 << (n - 1), Ordering::Release));
    let kick = KICK.with(Cell::get);
    if !kick.is_null() {
        // SAFETY: KICK points at this thread's vCPU's immediate_exit byte
        // while that vCPU exists (set_kick is called for each new vCPU, and
        // a thread's vCPU lives as long as the thread runs the guest).
        unsafe { std::ptr::write_volatile(kick, 1) };
    }
}

// The return path of the catcher when it is installed with a raw
// rt_sigaction: the kernel requires a restorer (SA_RESTORER) on x86-64.
std::arch::global_asm!(
    ".pushsection .text.pico_host_restorer, \"ax\"",
    ".globl pico_host_restorer",
    "pico_host_restorer:",
    "mov $15, %eax",
    "syscall",
    ".popsection",
    options(att_syntax)
);

extern "C" {
    fn pico_host_restorer();
}

/// The fault signals whose sent instances are routed (see the module docs).
fn is_fault(signo: u32) -> bool {
    matches!(signo, 4 | 5 | 7 | 8 | 11)
}

/// Per fault signal: whether the fault catcher is installed, and the
/// handler and flags it replaced.
static FAULT_CAUGHT: [AtomicBool; 12] = [const { AtomicBool::new(false) }; 12];
static FAULT_PREVIOUS: [AtomicUsize; 12] = [const { AtomicUsize::new(0) }; 12];
static FAULT_PREVIOUS_FLAGS: [AtomicUsize; 12] = [const { AtomicUsize::new(0) }; 12];

extern "C" fn fault_catcher(
    signo: libc::c_int,
    info: *mut libc::siginfo_t,
    ctx: *mut libc::c_void,
) {
    let code = if info.is_null() {
        1
    } else {
        // SAFETY: the kernel passes a valid siginfo_t to an SA_SIGINFO
        // handler; only its code is read.
        unsafe { (*info).si_code }
    };
    if code <= 0 {
        // Sent, not raised by the CPU: the guest's signal.
        catcher(signo, info, ctx);
        return;
    }
    let n = usize::try_from(signo).unwrap_or(0).min(11);
    let previous = FAULT_PREVIOUS[n].load(Ordering::Relaxed);
    let siginfo = FAULT_PREVIOUS_FLAGS[n].load(Ordering::Relaxed) & libc::SA_SIGINFO as usize != 0;
    if previous > libc::SIG_IGN && siginfo {
        // SAFETY: `previous` is the SA_SIGINFO handler this one replaced
        // (Rust's runtime's); it is called as the kernel would have.
        unsafe {
            let f: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) =
                std::mem::transmute(previous);
            f(signo, info, ctx);
        }
        return;
    }
    // SAFETY: restores the default action (sigaction is async-signal-safe);
    // returning re-runs the faulting instruction, which then kills picorun
    // with this signal, as without the catcher.
    unsafe {
        let mut dfl: libc::sigaction = std::mem::zeroed();
        dfl.sa_sigaction = libc::SIG_DFL;
        libc::sigaction(signo, &dfl, std::ptr::null_mut());
    }
}

/// Installs [`fault_catcher`] for fault signal `signo`, once.
fn catch_sent_fault(signo: u32) {
    let n = signo as usize;
    if FAULT_CAUGHT[n].swap(true, Ordering::AcqRel) {
        return;
    }
    // SAFETY: queries and replaces the disposition with local, initialised
    // structs; the catcher only stores atomics, or chains to the handler it
    // replaced, or restores the default.
    unsafe {
        let mut old: libc::sigaction = std::mem::zeroed();
        libc::sigaction(signo as i32, std::ptr::null(), &mut old);
        FAULT_PREVIOUS[n].store(old.sa_sigaction, Ordering::Relaxed);
        FAULT_PREVIOUS_FLAGS[n].store(old.sa_flags as usize, Ordering::Relaxed);
        let mut new: libc::sigaction = std::mem::zeroed();
        new.sa_sigaction = fault_catcher as *const () as usize;
        new.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
        libc::sigfillset(&mut new.sa_mask);
        libc::sigaction(signo as i32, &new, std::ptr::null_mut());
    }
}

/// Routes `signo` to the guest: installs the catcher (no SA_RESTART, so
/// blocking host calls return EINTR and the driver decides), every signal
/// blocked while it runs. For a fault signal, only its sent instances.
pub fn catch(signo: u32) {
    if is_fault(signo) {
        catch_sent_fault(signo);
        return;
    }
    if !routed(signo) {
        return;
    }
    const SA_SIGINFO: u64 = 4;
    const SA_RESTORER: u64 = 0x0400_0000;
    // The kernel's struct sigaction on x86-64.
    let action: [u64; 4] = [
        catcher as *const () as u64,
        SA_SIGINFO | SA_RESTORER,
        pico_host_restorer as *const () as u64,
        u64::MAX,
    ];
    // SAFETY: installs an SA_SIGINFO handler that only performs atomic and
    // thread-local stores, with a restorer that issues rt_sigreturn; the
    // struct is the kernel's layout and lives across the call.
    unsafe {
        libc::syscall(
            libc::SYS_rt_sigaction,
            signo as libc::c_long,
            action.as_ptr(),
            std::ptr::null::<u64>(),
            8,
        );
    }
}

/// Whether the host currently ignores `signo` (inherited from picorun's
/// parent, like a native process inherits ignored signals).
pub fn host_ignores(signo: u32) -> bool {
    // SAFETY: queries the current disposition into a zeroed struct.
    unsafe {
        let mut old: libc::sigaction = std::mem::zeroed();
        libc::sigaction(signo as i32, std::ptr::null(), &mut old) == 0
            && old.sa_sigaction == libc::SIG_IGN
    }
}

/// Tells the catcher which vCPU this thread runs.
pub fn set_kick(handle: pico_vm::KickHandle) {
    KICK.with(|k| k.set(handle.as_ptr()));
}

/// Forgets this thread's vCPU (it is going away).
pub fn clear_kick() {
    KICK.with(|k| k.set(std::ptr::null_mut()));
}

/// Takes the signals this thread caught since the last call, with their
/// siginfo.
pub fn take() -> Vec<(u32, [u8; SIGINFO_SIZE])> {
    let bits = PENDING.with(|p| p.swap(0, Ordering::Acquire));
    if bits == 0 {
        return Vec::new();
    }
    let mut out = Vec::new();
    INFO.with(|slots| {
        for n in 1..=64u32 {
            if bits & (1 << (n - 1)) == 0 {
                continue;
            }
            let mut info = [0u8; SIGINFO_SIZE];
            for (i, w) in slots[(n - 1) as usize].iter().enumerate() {
                info[8 * i..8 * i + 8].copy_from_slice(&w.load(Ordering::Relaxed).to_le_bytes());
            }
            out.push((n, info));
        }
    });
    out
}

/// Whether this thread caught a signal not yet taken.
pub fn any_pending() -> bool {
    PENDING.with(|p| p.load(Ordering::Acquire)) != 0
}

/// Waits until a routed host signal arrives (or `timeout` passes), without
/// the race between checking and sleeping: routed signals are blocked,
/// checked, then atomically unblocked for the wait.
pub fn wait(timeout: Option<libc::timespec>) {
    // SAFETY: sigset and timespec values are local and initialised; ppoll
    // with no descriptors only sleeps until a signal or the timeout.
    unsafe {
        let mut all: libc::sigset_t = std::mem::zeroed();
        let mut old: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut all);
        libc::pthread_sigmask(libc::SIG_BLOCK, &all, &mut old);
        if !any_pending() {
            let ts = timeout
                .as_ref()
                .map_or(std::ptr::null(), |t| t as *const libc::timespec);
            libc::ppoll(std::ptr::null_mut(), 0, ts, &old);
        }
        libc::pthread_sigmask(libc::SIG_SETMASK, &old, std::ptr::null_mut());
    }
}

/// Makes the host thread block the routed signals the guest thread blocks.
/// The host kernel then treats them as the guest asked: a blocked signal
/// does not interrupt a host call, and job control sees SIGTTOU/SIGTTIN as
/// blocked (so a background `tcsetpgrp` with SIGTTOU blocked succeeds, as
/// bash relies on). Unblocking lets pending ones reach the catcher.
pub fn mirror_mask(guest_blocked: u64) {
    // SAFETY: builds a local sigset and sets this thread's mask; only
    // routed signals are ever blocked, never the fault signals picorun
    // needs to see.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for signo in 1..=64u32 {
            if guest_blocked & (1 << (signo - 1)) != 0 && routed(signo) {
                libc::sigaddset(&mut set, signo as i32);
            }
        }
        libc::pthread_sigmask(libc::SIG_SETMASK, &set, std::ptr::null_mut());
    }
}

/// This thread's host signal mask, as a guest sigset.
pub fn host_blocked() -> u64 {
    // SAFETY: queries the mask into a local, zeroed sigset.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        if libc::pthread_sigmask(libc::SIG_SETMASK, std::ptr::null(), &mut set) != 0 {
            return 0;
        }
        (1..=64u32)
            .filter(|&n| libc::sigismember(&set, n as i32) == 1)
            .fold(0, |m, n| m | 1 << (n - 1))
    }
}
