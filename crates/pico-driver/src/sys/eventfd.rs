//! eventfd and timerfd: host descriptors of their own kind, created
//! close-on-exec on the host and installed with the guest's wish. Reading
//! and writing them is plain read(2)/write(2).

use super::{Args, SysResult};
use crate::host::{self, HostArg};
use crate::task::Task;

/// EFD_CLOEXEC, TFD_CLOEXEC: both O_CLOEXEC.
const CLOEXEC: u64 = 0o2000000;
const ITIMERSPEC_SIZE: u64 = 32;

/// eventfd2(2). The host checks the flags.
pub fn eventfd2(t: &mut Task, a: &Args) -> SysResult {
    let flags = u64::from(a[1] as u32);
    let fd = host::call(
        libc::SYS_eventfd2,
        &[u64::from(a[0] as u32).into(), (flags | CLOEXEC).into()],
    )?;
    super::fs::install(t, fd, flags & CLOEXEC != 0)
}

/// eventfd(2).
pub fn eventfd(t: &mut Task, a: &Args) -> SysResult {
    eventfd2(t, &Args([a[0], 0, 0, 0, 0, 0]))
}

/// timerfd_create(2). The host checks the clock and the flags.
pub fn timerfd_create(t: &mut Task, a: &Args) -> SysResult {
    let flags = u64::from(a[1] as u32);
    let fd = host::call(
        libc::SYS_timerfd_create,
        &[a[0].into(), (flags | CLOEXEC).into()],
    )?;
    super::fs::install(t, fd, flags & CLOEXEC != 0)
}

/// An itimerspec the host fills in.
fn zero_itimerspec() -> [u8; ITIMERSPEC_SIZE as usize] {
    [0; ITIMERSPEC_SIZE as usize]
}

/// timerfd_settime(2). The old value is written after the timer is set,
/// so a bad `old_value` is `EFAULT` with the new setting in force, as on
/// Linux.
pub fn timerfd_settime(t: &mut Task, a: &Args) -> SysResult {
    let new = t.in_buf(a[2], ITIMERSPEC_SIZE)?;
    let fd = t.fds.host(a[0])?;
    let mut old = zero_itimerspec();
    let old_arg = if a[3] == 0 {
        HostArg::Int(0)
    } else {
        HostArg::Local(old.as_mut_ptr())
    };
    host::call(
        libc::SYS_timerfd_settime,
        &[HostArg::Fd(fd), a[1].into(), new.into(), old_arg],
    )?;
    if a[3] != 0 {
        t.write_bytes(a[3], &old)?;
    }
    Ok(0)
}

/// timerfd_gettime(2).
pub fn timerfd_gettime(t: &mut Task, a: &Args) -> SysResult {
    let fd = t.fds.host(a[0])?;
    let mut cur = zero_itimerspec();
    host::call(
        libc::SYS_timerfd_gettime,
        &[HostArg::Fd(fd), HostArg::Local(cur.as_mut_ptr())],
    )?;
    t.write_bytes(a[1], &cur)?;
    Ok(0)
}
