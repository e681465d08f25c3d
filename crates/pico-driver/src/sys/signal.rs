//! Signal syscalls: dispositions, masks, and sending. Signals a process
//! sends itself are handled by the driver (so masks and dispositions are
//! the guest's); signals to other processes go to the host.

use pico_abi::signal::KernelSigaction;
use pico_abi::Errno;

use super::{Args, SysResult};
use crate::host::{self, HostArg};
use crate::task::Task;

const SIGSET_SIZE: u64 = 8;
const SIG_BLOCK: u64 = 0;
const SIG_UNBLOCK: u64 = 1;
const SIG_SETMASK: u64 = 2;

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
    // Unblocking may make a pending signal deliverable now.
    if t.signal_effect == crate::signal::Disposition::None {
        t.signal_effect = t.signals.next_deliverable();
    }
    Ok(0)
}

/// rt_sigpending(2).
pub fn rt_sigpending(t: &mut Task, a: &Args) -> SysResult {
    if a[1] > SIGSET_SIZE {
        return Err(Errno::EINVAL);
    }
    let pending = (t.signals.pending & t.signals.blocked).to_le_bytes();
    t.write_bytes(a[0], &pending[..a[1] as usize])?;
    Ok(0)
}

fn checked_signal(raw: u64) -> Result<u32, Errno> {
    let signo = raw as i32;
    if (0..=64).contains(&signo) {
        Ok(signo as u32)
    } else {
        Err(Errno::EINVAL)
    }
}

fn send_self(t: &mut Task, signo: u32) -> SysResult {
    if signo != 0 {
        t.raise(signo, false);
    }
    Ok(0)
}

/// kill(2).
pub fn kill(t: &mut Task, a: &Args) -> SysResult {
    let signo = checked_signal(a[1])?;
    if a[0] as i32 == t.pid as i32 {
        return send_self(t, signo);
    }
    host::call(
        libc::SYS_kill,
        &[u64::from(a[0] as u32).into(), u64::from(signo).into()],
    )
}

/// tgkill(2).
pub fn tgkill(t: &mut Task, a: &Args) -> SysResult {
    let signo = checked_signal(a[2])?;
    if (a[0] as i32) <= 0 || (a[1] as i32) <= 0 {
        return Err(Errno::EINVAL);
    }
    if a[0] as i32 == t.pid as i32 && a[1] as i32 == t.pid as i32 {
        return send_self(t, signo);
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
    if a[0] as i32 == t.pid as i32 {
        return send_self(t, signo);
    }
    host::call(
        libc::SYS_tkill,
        &[
            HostArg::Int(u64::from(a[0] as u32)),
            u64::from(signo).into(),
        ],
    )
}
