//! Scheduling: nice values, policies, CPU affinity and the current CPU.
//! Each guest thread is a host thread with the same id (the main thread's
//! is the pid), so the host's answers about a pid or tid, 0 included, are
//! the guest's; the host kernel checks permissions.

use std::sync::OnceLock;

use pico_abi::Errno;

use super::{Args, SysResult};
use crate::host::{self, HostArg};
use crate::task::Task;

const SCHED_PARAM_SIZE: u64 = 4;
const TIMESPEC_SIZE: usize = 16;

/// getpriority(2): the raw kernel value, 20 - nice (libc converts it).
pub fn getpriority(_t: &mut Task, a: &Args) -> SysResult {
    host::call(libc::SYS_getpriority, &[a[0].into(), a[1].into()])
}

/// setpriority(2).
pub fn setpriority(_t: &mut Task, a: &Args) -> SysResult {
    host::call(
        libc::SYS_setpriority,
        &[a[0].into(), a[1].into(), a[2].into()],
    )
}

/// How many bytes of a mask the host's sched_setaffinity reads at most
/// (its cpumask size), learned once from sched_getaffinity.
fn cpumask_size() -> Option<u64> {
    static SIZE: OnceLock<Option<u64>> = OnceLock::new();
    *SIZE.get_or_init(|| {
        let mut mask = [0u8; 1024];
        host::call(
            libc::SYS_sched_getaffinity,
            &[
                0u64.into(),
                (mask.len() as u64).into(),
                HostArg::Local(mask.as_mut_ptr()),
            ],
        )
        .ok()
    })
}

/// sched_setaffinity(2). Only the part of the mask the kernel reads
/// (at most its cpumask size) must be readable, as on Linux.
pub fn sched_setaffinity(t: &mut Task, a: &Args) -> SysResult {
    let len = a[1] & 0xffff_ffff;
    let read = cpumask_size().map_or(len, |size| len.min(size));
    let mask = t.in_buf(a[2], read)?;
    host::call(
        libc::SYS_sched_setaffinity,
        &[a[0].into(), len.into(), mask.into()],
    )
}

/// The `EINVAL` Linux gives the sched_param calls before anything else.
fn check_param(pid: u64, param: u64) -> Result<(), Errno> {
    if param == 0 || (pid as i32) < 0 {
        Err(Errno::EINVAL)
    } else {
        Ok(())
    }
}

/// sched_getparam(2). The host fills a local copy first, so a missing
/// process is `ESRCH` before a bad pointer is `EFAULT`, as on Linux.
pub fn sched_getparam(t: &mut Task, a: &Args) -> SysResult {
    check_param(a[0], a[1])?;
    let mut param = [0u8; SCHED_PARAM_SIZE as usize];
    host::call(
        libc::SYS_sched_getparam,
        &[a[0].into(), HostArg::Local(param.as_mut_ptr())],
    )?;
    t.write_bytes(a[1], &param)?;
    Ok(0)
}

/// sched_setparam(2).
pub fn sched_setparam(t: &mut Task, a: &Args) -> SysResult {
    check_param(a[0], a[1])?;
    let param = t.in_buf(a[1], SCHED_PARAM_SIZE)?;
    host::call(libc::SYS_sched_setparam, &[a[0].into(), param.into()])
}

/// sched_getscheduler(2).
pub fn sched_getscheduler(_t: &mut Task, a: &Args) -> SysResult {
    host::call(libc::SYS_sched_getscheduler, &[a[0].into()])
}

/// sched_setscheduler(2).
pub fn sched_setscheduler(t: &mut Task, a: &Args) -> SysResult {
    if (a[1] as i32) < 0 {
        return Err(Errno::EINVAL);
    }
    check_param(a[0], a[2])?;
    let param = t.in_buf(a[2], SCHED_PARAM_SIZE)?;
    host::call(
        libc::SYS_sched_setscheduler,
        &[a[0].into(), a[1].into(), param.into()],
    )
}

/// sched_get_priority_max(2).
pub fn sched_get_priority_max(_t: &mut Task, a: &Args) -> SysResult {
    host::call(libc::SYS_sched_get_priority_max, &[a[0].into()])
}

/// sched_get_priority_min(2).
pub fn sched_get_priority_min(_t: &mut Task, a: &Args) -> SysResult {
    host::call(libc::SYS_sched_get_priority_min, &[a[0].into()])
}

/// sched_rr_get_interval(2), through a local copy like [`sched_getparam`].
pub fn sched_rr_get_interval(t: &mut Task, a: &Args) -> SysResult {
    let mut ts = [0u8; TIMESPEC_SIZE];
    host::call(
        libc::SYS_sched_rr_get_interval,
        &[a[0].into(), HostArg::Local(ts.as_mut_ptr())],
    )?;
    t.write_bytes(a[1], &ts)?;
    Ok(0)
}

/// getcpu(2): the CPU and NUMA node the host thread runs on, which is
/// where the guest thread runs. The cache argument is unused since 2.6.24.
pub fn getcpu(t: &mut Task, a: &Args) -> SysResult {
    let cpu = t.opt_out_buf(a[0], 4)?;
    let node = t.opt_out_buf(a[1], 4)?;
    host::call(libc::SYS_getcpu, &[cpu.into(), node.into(), 0u64.into()])
}
