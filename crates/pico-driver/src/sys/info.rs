//! System information and limits: the host's answers, written into guest
//! memory.

use pico_abi::Errno;

use super::{Args, SysResult};
use crate::host::{self, GuestBuf};
use crate::task::Task;

const RLIMIT_SIZE: u64 = 16;

/// uname(2).
pub fn uname(t: &mut Task, a: &Args) -> SysResult {
    let buf = t.out_buf(a[0], 6 * 65)?;
    host::call(libc::SYS_uname, &[buf.into()])
}

/// sysinfo(2).
pub fn sysinfo(t: &mut Task, a: &Args) -> SysResult {
    let buf = t.out_buf(a[0], 112)?;
    host::call(libc::SYS_sysinfo, &[buf.into()])
}

/// getrusage(2).
pub fn getrusage(t: &mut Task, a: &Args) -> SysResult {
    let buf = t.out_buf(a[1], 144)?;
    host::call(libc::SYS_getrusage, &[a[0].into(), buf.into()])
}

/// prlimit64(2). Limits are the host process's, which is this guest process.
pub fn prlimit64(t: &mut Task, a: &Args) -> SysResult {
    let new = t.opt_in_buf(a[2], RLIMIT_SIZE)?;
    let wanted = if a[2] == 0 {
        None
    } else {
        Some([t.read_u64(a[2])?, t.read_u64(a[2] + 8)?])
    };
    crate::policy::may_set_rlimit(a[1], wanted)?;
    let old = t.opt_out_buf(a[3], RLIMIT_SIZE)?;
    host::call(
        libc::SYS_prlimit64,
        &[
            u64::from(a[0] as u32).into(),
            a[1].into(),
            new.into(),
            old.into(),
        ],
    )
}

/// getrlimit(2).
pub fn getrlimit(t: &mut Task, a: &Args) -> SysResult {
    prlimit64(t, &Args([0, a[0], 0, a[1], 0, 0]))
}

/// setrlimit(2).
pub fn setrlimit(t: &mut Task, a: &Args) -> SysResult {
    if a[1] == 0 {
        return Err(Errno::EFAULT);
    }
    prlimit64(t, &Args([0, a[0], a[1], 0, 0, 0]))
}

/// getrandom(2).
pub fn getrandom(t: &mut Task, a: &Args) -> SysResult {
    if a[1] == 0 {
        return host::call(
            libc::SYS_getrandom,
            &[GuestBuf::null().into(), 0u64.into(), a[2].into()],
        );
    }
    let buf = GuestBuf::prefix(&t.vm.memory(), a[0], a[1], pico_vm::Access::Write)?;
    host::call(
        libc::SYS_getrandom,
        &[buf.into(), (buf.len() as u64).into(), a[2].into()],
    )
}
