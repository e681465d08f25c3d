//! epoll: the interest list lives in a host epoll instance. epoll_ctl
//! registers the host descriptor behind a guest descriptor, so closing
//! the guest's last descriptor of a file removes it as on Linux; the
//! event's `data` is the guest's own and passes through untouched. Waits
//! have the host write `struct epoll_event` (12 bytes, packed on x86-64,
//! the same layout the guest expects) straight into guest memory.

use pico_abi::Errno;
use pico_vm::Access;

use super::{Args, SysResult};
use crate::host::{self, GuestBuf, HostArg};
use crate::task::Task;

const EPOLL_CLOEXEC: u64 = 0o2000000;
const EPOLL_CTL_DEL: i32 = 2;
const EPOLL_EVENT_SIZE: u64 = 12;
/// Most events one wait may ask for (EP_MAX_EVENTS).
const EP_MAX_EVENTS: i32 = i32::MAX / EPOLL_EVENT_SIZE as i32;
const NSEC_PER_SEC: i64 = 1_000_000_000;

fn create(t: &mut Task, cloexec: bool) -> SysResult {
    let fd = host::call(libc::SYS_epoll_create1, &[EPOLL_CLOEXEC.into()])?;
    super::fs::install(t, fd, cloexec)
}

/// epoll_create(2).
pub fn epoll_create(t: &mut Task, a: &Args) -> SysResult {
    if a.int(0) <= 0 {
        return Err(Errno::EINVAL);
    }
    create(t, false)
}

/// epoll_create1(2).
pub fn epoll_create1(t: &mut Task, a: &Args) -> SysResult {
    let flags = u64::from(a[0] as u32);
    if flags & !EPOLL_CLOEXEC != 0 {
        return Err(Errno::EINVAL);
    }
    create(t, flags != 0)
}

/// epoll_ctl(2).
pub fn epoll_ctl(t: &mut Task, a: &Args) -> SysResult {
    let op = a.int(1);
    // EPOLL_CTL_DEL ignores the event; every other op reads it first.
    let event = if op == EPOLL_CTL_DEL {
        GuestBuf::null()
    } else {
        t.in_buf(a[3], EPOLL_EVENT_SIZE)?
    };
    let epfd = t.fds.host(a[0])?;
    let fd = t.fds.host(a[2])?;
    host::call(
        libc::SYS_epoll_ctl,
        &[
            HostArg::Fd(epfd),
            (op as u64).into(),
            HostArg::Fd(fd),
            event.into(),
        ],
    )
}

/// The guest's event array, checked in Linux's order: `EINVAL` for a
/// count out of range, then `EFAULT`. Only the accessible part is handed
/// to the host, as Linux stops writing events at the first fault.
fn events(t: &Task, addr: u64, maxevents: i32) -> Result<(GuestBuf, u64), Errno> {
    if maxevents <= 0 || maxevents > EP_MAX_EVENTS {
        return Err(Errno::EINVAL);
    }
    let len = maxevents as u64 * EPOLL_EVENT_SIZE;
    let buf = GuestBuf::prefix(&t.vm.memory(), addr, len, Access::Write)?;
    match buf.len() as u64 / EPOLL_EVENT_SIZE {
        0 => Err(Errno::EFAULT),
        n => Ok((buf, n)),
    }
}

/// A signal mask argument of epoll_pwait/epoll_pwait2: checked as Linux
/// checks it, not applied (no asynchronous signal delivery yet).
fn check_sigmask(t: &Task, mask: u64, size: u64) -> Result<(), Errno> {
    if mask == 0 {
        return Ok(());
    }
    if size != 8 {
        return Err(Errno::EINVAL);
    }
    t.read_u64(mask).map(|_| ())
}

/// Waits with the host's epoll_pwait (`timeout` in ms) or epoll_pwait2
/// (`timeout` a driver-owned timespec).
fn wait(t: &mut Task, a: &Args, nr: i64, timeout: HostArg<'_>) -> SysResult {
    let (buf, max) = events(t, a[1], a.int(2))?;
    let epfd = t.fds.host(a[0])?;
    host::call(
        nr,
        &[
            HostArg::Fd(epfd),
            buf.into(),
            max.into(),
            timeout,
            0u64.into(),
            8u64.into(),
        ],
    )
}

/// epoll_wait(2).
pub fn epoll_wait(t: &mut Task, a: &Args) -> SysResult {
    let ms = a.int(3) as i64 as u64;
    wait(t, a, libc::SYS_epoll_pwait, ms.into())
}

/// epoll_pwait(2).
pub fn epoll_pwait(t: &mut Task, a: &Args) -> SysResult {
    check_sigmask(t, a[4], a[5])?;
    let ms = a.int(3) as i64 as u64;
    wait(t, a, libc::SYS_epoll_pwait, ms.into())
}

/// epoll_pwait2(2).
pub fn epoll_pwait2(t: &mut Task, a: &Args) -> SysResult {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    let timeout = if a[3] == 0 {
        HostArg::Int(0)
    } else {
        let mut raw = [0u8; 16];
        t.read_bytes(a[3], &mut raw)?;
        ts.tv_sec = i64::from_le_bytes(raw[..8].try_into().unwrap_or_default());
        ts.tv_nsec = i64::from_le_bytes(raw[8..].try_into().unwrap_or_default());
        if ts.tv_sec < 0 || !(0..NSEC_PER_SEC).contains(&ts.tv_nsec) {
            return Err(Errno::EINVAL);
        }
        HostArg::Local((&mut ts as *mut libc::timespec).cast())
    };
    check_sigmask(t, a[4], a[5])?;
    wait(t, a, libc::SYS_epoll_pwait2, timeout)
}
