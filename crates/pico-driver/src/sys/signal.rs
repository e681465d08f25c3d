//! Signal syscalls: dispositions, masks, sending, waiting, the alternate
//! stack and the return from a handler. Signals a process sends itself
//! are queued by the driver (so masks and dispositions are the guest's);
//! signals to other processes go to the host.

use pico_abi::signal::{self as sig, KernelSigaction};
use pico_abi::Errno;

use super::{Args, Flow, SysResult};
use crate::host::{self, HostArg};
use crate::hostsig;
use crate::sigframe::{self, AltStack, SIGINFO_SIZE, UCONTEXT_LEN};
use crate::signal::{SS_DISABLE, SS_ONSTACK};
use crate::task::Task;

const SIGSET_SIZE: u64 = 8;
const SIG_BLOCK: u64 = 0;
const SIG_UNBLOCK: u64 = 1;
const SIG_SETMASK: u64 = 2;
const SI_TKILL: i32 = -6;
const MINSIGSTKSZ: u64 = 2048;
/// SS_AUTODISARM: accepted and honoured as "disable while on it" is not;
/// Linux 4.7+ flag.
const SS_AUTODISARM: u32 = 1 << 31;

/// rt_sigaction(2).
pub fn rt_sigaction(t: &mut Task, a: &Args) -> SysResult {
    if a[3] != SIGSET_SIZE {
        return Err(Errno::EINVAL);
    }
    let new = if a[1] == 0 {
        None
    } else {
        let mut raw = [0u8; 32];
        t.read_bytes(a[1], &mut raw)?;
        let word =
            |i: usize| u64::from_le_bytes(raw[8 * i..8 * i + 8].try_into().unwrap_or_default());
        Some(KernelSigaction {
            handler: word(0),
            flags: word(1),
            restorer: word(2),
            mask: word(3),
        })
    };
    if a[2] != 0 {
        t.out_buf(a[2], 32)?;
    }
    let old = t.signals.set_action(a[0], new)?;
    if a[2] != 0 {
        let bytes: Vec<u8> = [old.handler, old.flags, old.restorer, old.mask]
            .iter()
            .flat_map(|w| w.to_le_bytes())
            .collect();
        t.write_bytes(a[2], &bytes)?;
    }
    Ok(0)
}

/// rt_sigprocmask(2).
pub fn rt_sigprocmask(t: &mut Task, a: &Args) -> SysResult {
    if a[3] != SIGSET_SIZE {
        return Err(Errno::EINVAL);
    }
    let old = t.signals.blocked;
    if a[1] != 0 {
        let set = t.read_u64(a[1])?;
        let new = match a[0] {
            SIG_BLOCK => old | set,
            SIG_UNBLOCK => old & !set,
            SIG_SETMASK => set,
            _ => return Err(Errno::EINVAL),
        };
        t.signals.set_blocked(new);
    }
    if a[2] != 0 {
        t.write_u64(a[2], old)?;
    }
    Ok(0)
}

/// rt_sigpending(2).
pub fn rt_sigpending(t: &mut Task, a: &Args) -> SysResult {
    if a[1] > SIGSET_SIZE {
        return Err(Errno::EINVAL);
    }
    drain_host(t);
    // Blocked routed signals wait in the host kernel (the host thread's
    // mask mirrors the guest's); the rest in the driver's queue.
    let mut host_set = 0u64;
    host::call(
        libc::SYS_rt_sigpending,
        &[
            HostArg::Local((&mut host_set as *mut u64).cast()),
            8u64.into(),
        ],
    )?;
    let pending = ((t.signals.pending_mask() | host_set) & t.signals.blocked).to_le_bytes();
    t.write_bytes(a[0], &pending[..a[1] as usize])?;
    Ok(0)
}

fn drain_host(t: &mut Task) {
    for (signo, info) in hostsig::take() {
        t.signals.enqueue(signo, info);
    }
}

fn checked_signal(raw: u64) -> Result<u32, Errno> {
    let signo = raw as i32;
    if (0..=64).contains(&signo) {
        Ok(signo as u32)
    } else {
        Err(Errno::EINVAL)
    }
}

/// A signal this process sends itself. Routed signals go through the host
/// kernel, so that a blocked one waits there like any other (visible to
/// signalfd and sigtimedwait), and an unblocked one reaches the catcher at
/// once and is delivered before the syscall returns; others are queued by
/// the driver.
fn send_self(t: &mut Task, signo: u32, code: i32, process_wide: bool) -> SysResult {
    if signo == 0 {
        return Ok(0);
    }
    if hostsig::routed(signo) {
        return if process_wide {
            host::call(
                libc::SYS_kill,
                &[u64::from(t.pid).into(), u64::from(signo).into()],
            )
        } else {
            host::call(
                libc::SYS_tgkill,
                &[
                    u64::from(t.pid).into(),
                    u64::from(t.tid).into(),
                    u64::from(signo).into(),
                ],
            )
        };
    }
    t.raise(signo, code);
    Ok(0)
}

/// kill(2).
pub fn kill(t: &mut Task, a: &Args) -> SysResult {
    let signo = checked_signal(a[1])?;
    if a[0] as i32 == t.pid as i32 {
        return send_self(t, signo, sig::SI_USER, true);
    }
    let sent = host::call(
        libc::SYS_kill,
        &[u64::from(a[0] as u32).into(), u64::from(signo).into()],
    )?;
    // To its own process group, the caller gets the signal too. picorun's
    // host ignores SIGPIPE (a write's EPIPE raises the guest's), so that
    // one would be lost: the driver delivers it.
    if signo == sig::SIGPIPE && own_group(a[0] as i32) {
        t.raise(signo, sig::SI_USER);
    }
    Ok(sent)
}

/// Whether kill's `pid` names the caller's own process group.
fn own_group(pid: i32) -> bool {
    pid == 0
        || (pid < -1
            && host::call(libc::SYS_getpgid, &[0u64.into()])
                .is_ok_and(|pgrp| pgrp == u64::from(pid.unsigned_abs())))
}

/// tgkill(2).
pub fn tgkill(t: &mut Task, a: &Args) -> SysResult {
    let signo = checked_signal(a[2])?;
    if (a[0] as i32) <= 0 || (a[1] as i32) <= 0 {
        return Err(Errno::EINVAL);
    }
    if a[0] as i32 == t.pid as i32 && a[1] as i32 == t.tid as i32 {
        return send_self(t, signo, SI_TKILL, false);
    }
    host::call(
        libc::SYS_tgkill,
        &[
            u64::from(a[0] as u32).into(),
            u64::from(a[1] as u32).into(),
            u64::from(signo).into(),
        ],
    )
}

/// tkill(2).
pub fn tkill(t: &mut Task, a: &Args) -> SysResult {
    let signo = checked_signal(a[1])?;
    if (a[0] as i32) <= 0 {
        return Err(Errno::EINVAL);
    }
    if a[0] as i32 == t.tid as i32 {
        return send_self(t, signo, SI_TKILL, false);
    }
    host::call(
        libc::SYS_tkill,
        &[
            HostArg::Int(u64::from(a[0] as u32)),
            u64::from(signo).into(),
        ],
    )
}

fn queueinfo(t: &mut Task, signo: u64, info_addr: u64) -> Result<(u32, [u8; SIGINFO_SIZE]), Errno> {
    let signo = checked_signal(signo)?;
    let mut info = [0u8; SIGINFO_SIZE];
    t.read_bytes(info_addr, &mut info)?;
    info[0..4].copy_from_slice(&signo.to_le_bytes());
    Ok((signo, info))
}

/// rt_sigqueueinfo(2).
pub fn rt_sigqueueinfo(t: &mut Task, a: &Args) -> SysResult {
    let (signo, info) = queueinfo(t, a[1], a[2])?;
    if a[0] as i32 == t.pid as i32 {
        if signo != 0 {
            t.signals.enqueue(signo, info);
        }
        return Ok(0);
    }
    let code = i32::from_le_bytes([info[8], info[9], info[10], info[11]]);
    if code >= 0 || code == SI_TKILL {
        return Err(Errno::EPERM);
    }
    let buf = t.in_buf(a[2], SIGINFO_SIZE as u64)?;
    host::call(
        libc::SYS_rt_sigqueueinfo,
        &[
            u64::from(a[0] as u32).into(),
            u64::from(signo).into(),
            buf.into(),
        ],
    )
}

/// rt_tgsigqueueinfo(2).
pub fn rt_tgsigqueueinfo(t: &mut Task, a: &Args) -> SysResult {
    let (signo, info) = queueinfo(t, a[2], a[3])?;
    if a[0] as i32 == t.pid as i32 && a[1] as i32 == t.tid as i32 {
        if signo != 0 {
            t.signals.enqueue(signo, info);
        }
        return Ok(0);
    }
    let buf = t.in_buf(a[3], SIGINFO_SIZE as u64)?;
    host::call(
        libc::SYS_rt_tgsigqueueinfo,
        &[
            u64::from(a[0] as u32).into(),
            u64::from(a[1] as u32).into(),
            u64::from(signo).into(),
            buf.into(),
        ],
    )
}

/// Queues a signal the driver holds back in the host kernel, on this
/// thread, with its siginfo (the host thread blocks it, so it waits there).
pub(crate) fn requeue_on_host(t: &Task, p: &crate::signal::Pending) {
    let r = host::call(
        libc::SYS_rt_tgsigqueueinfo,
        &[
            u64::from(t.pid).into(),
            u64::from(t.tid).into(),
            u64::from(p.signo).into(),
            HostArg::Local(p.info.as_ptr().cast_mut().cast()),
        ],
    );
    if let Err(e) = r {
        log::warn!("cannot requeue signal {} on the host: {e:?}", p.signo);
    }
}

/// Sleeps until a signal that the current mask lets through is queued.
fn wait_for_deliverable(t: &mut Task) {
    loop {
        drain_host(t);
        if t.signals.deliverable() {
            return;
        }
        hostsig::wait(None);
    }
}

/// rt_sigsuspend(2): the handler runs under the temporary mask, and the
/// frame records the old one for rt_sigreturn to restore.
pub fn rt_sigsuspend(t: &mut Task, a: &Args) -> SysResult {
    if a[1] != SIGSET_SIZE {
        return Err(Errno::EINVAL);
    }
    let mask = t.read_u64(a[0])?;
    let old = t.signals.blocked;
    t.signals.set_blocked(mask);
    wait_for_deliverable(t);
    if t.signals.next_handler().is_some() {
        t.signals.saved_mask = Some(old);
    } else {
        t.signals.set_blocked(old);
    }
    Err(Errno::EINTR)
}

/// pause(2).
pub fn pause(t: &mut Task, _a: &Args) -> SysResult {
    wait_for_deliverable(t);
    Err(Errno::EINTR)
}

/// rt_sigtimedwait(2): a signal from the driver's queue, else one the
/// host kernel holds pending for this thread (the waited-for signals are
/// blocked, so they wait there).
pub fn rt_sigtimedwait(t: &mut Task, a: &Args) -> SysResult {
    if a[3] != SIGSET_SIZE {
        return Err(Errno::EINVAL);
    }
    let set =
        t.read_u64(a[0])? & !(crate::signal::bit(sig::SIGKILL) | crate::signal::bit(sig::SIGSTOP));
    drain_host(t);
    if let Some(p) = t.signals.take_from(set) {
        if a[1] != 0 {
            t.write_bytes(a[1], &p.info)?;
        }
        return Ok(u64::from(p.signo));
    }
    let info = t.opt_out_buf(a[1], SIGINFO_SIZE as u64)?;
    let timeout = t.opt_in_buf(a[2], 16)?;
    let mut host_set: u64 = (1..=64u32)
        .filter(|&s| hostsig::routed(s) && set & crate::signal::bit(s) != 0)
        .fold(0, |m, s| m | crate::signal::bit(s));
    host::call(
        libc::SYS_rt_sigtimedwait,
        &[
            HostArg::Local((&mut host_set as *mut u64).cast()),
            info.into(),
            timeout.into(),
            8u64.into(),
        ],
    )
}

/// signalfd4(2): a host signalfd. The signals it reports are the ones
/// pending in the host kernel, which holds every blocked routed signal
/// (the host thread's mask mirrors the guest's), including ones the
/// process sends itself.
pub fn signalfd4(t: &mut Task, a: &Args) -> SysResult {
    const SFD_CLOEXEC: u64 = 0o2000000;
    const SFD_NONBLOCK: u64 = 0o4000;
    if a[2] != SIGSET_SIZE || a[3] & !(SFD_CLOEXEC | SFD_NONBLOCK) != 0 {
        return Err(Errno::EINVAL);
    }
    let mask = t.read_u64(a[1])?;
    let mut host_mask: u64 = (1..=64u32)
        .filter(|&s| hostsig::routed(s) && mask & crate::signal::bit(s) != 0)
        .fold(0, |m, s| m | crate::signal::bit(s));
    let local = HostArg::Local((&mut host_mask as *mut u64).cast());
    if a[0] as i32 != -1 {
        let fd = t.fds.host(a[0])?;
        host::call(
            libc::SYS_signalfd4,
            &[
                HostArg::Fd(fd),
                local,
                8u64.into(),
                (a[3] & SFD_NONBLOCK).into(),
            ],
        )?;
        return Ok(u64::from(a[0] as u32));
    }
    let fd = host::call(
        libc::SYS_signalfd4,
        &[
            HostArg::Int(u64::MAX),
            local,
            8u64.into(),
            (a[3] | SFD_CLOEXEC).into(),
        ],
    )?;
    super::fs::install(t, fd, a[3] & SFD_CLOEXEC != 0)
}

/// signalfd(2).
pub fn signalfd(t: &mut Task, a: &Args) -> SysResult {
    signalfd4(t, &Args([a[0], a[1], a[2], 0, 0, 0]))
}

/// rt_sigreturn(2): restores the registers, mask, FPU state and alternate
/// stack the frame at the stack pointer recorded (as the handler left them).
pub fn rt_sigreturn(t: &mut Task, _a: &Args) -> Result<Flow, Errno> {
    let uc_addr = t.vcpu.regs().rsp;
    let mut uc = vec![0u8; UCONTEXT_LEN];
    if t.read_bytes(uc_addr, &mut uc).is_err() {
        t.force(sig::SIGSEGV, sig::SI_KERNEL, 0);
        return Ok(Flow::FrameReplaced);
    }
    let restored = sigframe::restore(&uc);
    t.signals.set_blocked(restored.blocked);
    if restored.fpstate != 0 {
        let mut legacy = [0u8; 512];
        let fp = t
            .read_bytes(restored.fpstate, &mut legacy)
            .ok()
            .and_then(|_| sigframe::fpstate_len(&legacy));
        let size = fp.filter(|&n| n <= t.vm.xsave_size());
        let mut xsave = vec![0u8; size.unwrap_or(0)];
        if size.is_none()
            || t.read_bytes(restored.fpstate, &mut xsave).is_err()
            || t.vcpu.set_xsave(&xsave).is_err()
        {
            t.force(sig::SIGSEGV, sig::SI_KERNEL, 0);
            return Ok(Flow::FrameReplaced);
        }
    }
    let _ = set_altstack(t, restored.altstack, uc_addr);
    let (rip, rsp, rflags) = (restored.regs.rip, restored.regs.rsp, restored.regs.rflags);
    *t.vcpu.regs_mut() = restored.regs;
    t.vcpu.resume_user(rip, rsp, rflags).map_err(|e| {
        log::error!("rt_sigreturn: {e}");
        Errno::EIO
    })?;
    Ok(Flow::FrameReplaced)
}

fn set_altstack(t: &mut Task, new: AltStack, sp: u64) -> Result<(), Errno> {
    if t.signals.on_altstack(sp) {
        return Err(Errno::EPERM);
    }
    let mode = new.flags & !SS_AUTODISARM;
    if mode == SS_DISABLE {
        t.signals.altstack = AltStack {
            sp: 0,
            flags: SS_DISABLE,
            size: 0,
        };
        return Ok(());
    }
    if mode != 0 && mode != SS_ONSTACK {
        return Err(Errno::EINVAL);
    }
    if new.size < MINSIGSTKSZ {
        return Err(Errno::ENOMEM);
    }
    t.signals.altstack = AltStack {
        sp: new.sp,
        flags: new.flags & SS_AUTODISARM,
        size: new.size,
    };
    Ok(())
}

/// sigaltstack(2).
pub fn sigaltstack(t: &mut Task, a: &Args) -> SysResult {
    let sp = t.vcpu.regs().rsp;
    let new = if a[0] == 0 {
        None
    } else {
        let mut raw = [0u8; 24];
        t.read_bytes(a[0], &mut raw)?;
        let word =
            |i: usize| u64::from_le_bytes(raw[8 * i..8 * i + 8].try_into().unwrap_or_default());
        Some(AltStack {
            sp: word(0),
            flags: word(1) as u32,
            size: word(2),
        })
    };
    if a[1] != 0 {
        let cur = t.signals.altstack;
        let flags = if t.signals.on_altstack(sp) {
            SS_ONSTACK
        } else {
            cur.flags
        };
        let mut raw = [0u8; 24];
        raw[..8].copy_from_slice(&cur.sp.to_le_bytes());
        raw[8..12].copy_from_slice(&flags.to_le_bytes());
        raw[16..].copy_from_slice(&cur.size.to_le_bytes());
        t.out_buf(a[1], 24)?;
        if let Some(new) = new {
            set_altstack(t, new, sp)?;
        }
        t.write_bytes(a[1], &raw)?;
        return Ok(0);
    }
    if let Some(new) = new {
        set_altstack(t, new, sp)?;
    }
    Ok(0)
}

/// alarm(2): the host's timer; SIGALRM reaches the guest through the host.
pub fn alarm(_t: &mut Task, a: &Args) -> SysResult {
    host::call(libc::SYS_alarm, &[u64::from(a[0] as u32).into()])
}

/// setitimer(2).
pub fn setitimer(t: &mut Task, a: &Args) -> SysResult {
    let new = t.in_buf(a[1], 32)?;
    let old = t.opt_out_buf(a[2], 32)?;
    host::call(libc::SYS_setitimer, &[a[0].into(), new.into(), old.into()])
}

/// getitimer(2).
pub fn getitimer(t: &mut Task, a: &Args) -> SysResult {
    let cur = t.out_buf(a[1], 32)?;
    host::call(libc::SYS_getitimer, &[a[0].into(), cur.into()])
}
