//! POSIX per-process timers: the host's. The host process is the guest
//! process and guest thread ids are host thread ids, so a timer's signal
//! (SIGEV_SIGNAL to the process, SIGEV_THREAD_ID to a thread) reaches
//! picorun, whose catcher routes it to the guest with the timer's siginfo
//! (SI_TIMER, the timer id, the overrun, the guest's sigev_value). Timer
//! ids are the host's. Linux deletes a process's timers at execve, and
//! picorun's execve keeps the host process: it deletes them itself
//! ([`delete_all`]), so it remembers which exist.

use std::collections::BTreeSet;
use std::sync::Mutex;

use pico_abi::Errno;

use super::{Args, SysResult};
use crate::host::{self, HostArg};
use crate::task::Task;

const SIGEVENT_SIZE: usize = 64;
const ITIMERSPEC_SIZE: usize = 32;
const SIGEV_SIGNAL: i32 = 0;
const SIGEV_THREAD: i32 = 2;
const SIGEV_THREAD_ID: i32 = 4;
const SIGKILL: u32 = 9;
const SIGSTOP: u32 = 19;

/// The host timers the guest created (a forked child's copy may name
/// timers it does not have, which deleting ignores).
static TIMERS: Mutex<BTreeSet<i32>> = Mutex::new(BTreeSet::new());

fn timers() -> std::sync::MutexGuard<'static, BTreeSet<i32>> {
    TIMERS.lock().unwrap_or_else(|p| p.into_inner())
}

/// Deletes every timer the guest created (execve: Linux does not keep them).
pub fn delete_all() {
    let ids = std::mem::take(&mut *timers());
    for id in ids {
        let _ = host::call(libc::SYS_timer_delete, &[u64::from(id as u32).into()]);
    }
}

/// Whether a host signal `signo` from a timer reaches the guest as the
/// guest's: the signals picorun routes, and SIGKILL and SIGSTOP, which act
/// on picorun as they would on the native process. The others (the fault
/// signals, SIGPIPE, and the two libc reserves) would hit picorun itself.
fn deliverable(signo: u32) -> bool {
    crate::hostsig::routed(signo) || signo == SIGKILL || signo == SIGSTOP
}

fn int_at(raw: &[u8], at: usize) -> i32 {
    raw.get(at..at + 4)
        .and_then(|b| b.try_into().ok())
        .map_or(0, i32::from_le_bytes)
}

/// timer_create(2). A signal picorun cannot route (SIGSEGV, SIGBUS,
/// SIGILL, SIGFPE, SIGTRAP, SIGPIPE, 32, 33) is `EINVAL`. The id is written
/// after the host created the timer, as Linux does (a bad pointer then
/// deletes it again and is `EFAULT`).
pub fn timer_create(t: &mut Task, a: &Args) -> SysResult {
    let mut event = [0u8; SIGEVENT_SIZE];
    let event_arg = if a[1] == 0 {
        HostArg::Int(0)
    } else {
        t.read_bytes(a[1], &mut event)?;
        let (signo, notify) = (int_at(&event, 8), int_at(&event, 12));
        let signals = matches!(notify, SIGEV_SIGNAL | SIGEV_THREAD | SIGEV_THREAD_ID);
        if signals && (1..=64).contains(&signo) && !deliverable(signo as u32) {
            return Err(Errno::EINVAL);
        }
        HostArg::Local(event.as_mut_ptr())
    };
    let mut id = 0i32;
    host::call(
        libc::SYS_timer_create,
        &[
            a[0].into(),
            event_arg,
            HostArg::Local((&mut id as *mut i32).cast()),
        ],
    )?;
    if let Err(e) = t.write_bytes(a[2], &id.to_le_bytes()) {
        let _ = host::call(libc::SYS_timer_delete, &[u64::from(id as u32).into()]);
        return Err(e);
    }
    timers().insert(id);
    Ok(0)
}

/// timer_settime(2). The old value goes through a local copy, written
/// once the timer is set.
pub fn timer_settime(t: &mut Task, a: &Args) -> SysResult {
    if a[2] == 0 {
        return Err(Errno::EINVAL);
    }
    let new = t.in_buf(a[2], ITIMERSPEC_SIZE as u64)?;
    let mut old = [0u8; ITIMERSPEC_SIZE];
    let old_arg = if a[3] == 0 {
        HostArg::Int(0)
    } else {
        HostArg::Local(old.as_mut_ptr())
    };
    host::call(
        libc::SYS_timer_settime,
        &[a[0].into(), a[1].into(), new.into(), old_arg],
    )?;
    if a[3] != 0 {
        t.write_bytes(a[3], &old)?;
    }
    Ok(0)
}

/// timer_gettime(2), through a local copy: a bad id is `EINVAL` before a
/// bad pointer is `EFAULT`, as on Linux.
pub fn timer_gettime(t: &mut Task, a: &Args) -> SysResult {
    let mut cur = [0u8; ITIMERSPEC_SIZE];
    host::call(
        libc::SYS_timer_gettime,
        &[a[0].into(), HostArg::Local(cur.as_mut_ptr())],
    )?;
    t.write_bytes(a[1], &cur)?;
    Ok(0)
}

/// timer_getoverrun(2).
pub fn timer_getoverrun(_t: &mut Task, a: &Args) -> SysResult {
    host::call(libc::SYS_timer_getoverrun, &[a[0].into()])
}

/// timer_delete(2).
pub fn timer_delete(_t: &mut Task, a: &Args) -> SysResult {
    let r = host::call(libc::SYS_timer_delete, &[a[0].into()])?;
    timers().remove(&(a[0] as i32));
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_routable_signals_are_deliverable() {
        for signo in [1, 2, 10, 12, 14, 15, 17, 32, 33, 34, 64, SIGKILL, SIGSTOP] {
            assert!(deliverable(signo), "{signo}");
        }
        for signo in [4, 5, 7, 8, 11, 13] {
            assert!(!deliverable(signo), "{signo}");
        }
    }
}
