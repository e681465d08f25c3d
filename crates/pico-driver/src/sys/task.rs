//! Process and thread identity, exit, and per-thread CPU state (fs/gs base).

use pico_abi::Errno;

use super::{Args, Flow, SysResult};
use crate::host::{self, HostArg};
use crate::task::{Outcome, Task};

/// exit(2): this thread ends; the process with it if it is the last.
pub fn exit(_t: &mut Task, a: &Args) -> Result<Flow, Errno> {
    Ok(Flow::ThreadExit(a.int(0) & 0xff))
}

/// exit_group(2).
pub fn exit_group(_t: &mut Task, a: &Args) -> Result<Flow, Errno> {
    Ok(Flow::Exit(Outcome::Exited(a.int(0) & 0xff)))
}

/// getpid(2): the host pid is the guest pid.
pub fn getpid(t: &mut Task, _a: &Args) -> SysResult {
    Ok(u64::from(t.pid))
}

/// gettid(2): the host thread's id (the main thread's is the pid).
pub fn gettid(t: &mut Task, _a: &Args) -> SysResult {
    Ok(u64::from(t.tid))
}

/// getppid(2).
pub fn getppid(_t: &mut Task, _a: &Args) -> SysResult {
    Ok(std::os::unix::process::parent_id().into())
}

/// getuid(2).
pub fn getuid(_t: &mut Task, _a: &Args) -> SysResult {
    host::call(libc::SYS_getuid, &[])
}

/// geteuid(2).
pub fn geteuid(_t: &mut Task, _a: &Args) -> SysResult {
    host::call(libc::SYS_geteuid, &[])
}

/// getgid(2).
pub fn getgid(_t: &mut Task, _a: &Args) -> SysResult {
    host::call(libc::SYS_getgid, &[])
}

/// getegid(2).
pub fn getegid(_t: &mut Task, _a: &Args) -> SysResult {
    host::call(libc::SYS_getegid, &[])
}

/// getpgrp(2).
pub fn getpgrp(_t: &mut Task, _a: &Args) -> SysResult {
    host::call(libc::SYS_getpgid, &[0u64.into()])
}

/// getpgid(2).
pub fn getpgid(_t: &mut Task, a: &Args) -> SysResult {
    host::call(libc::SYS_getpgid, &[u64::from(a[0] as u32).into()])
}

/// getsid(2).
pub fn getsid(_t: &mut Task, a: &Args) -> SysResult {
    host::call(libc::SYS_getsid, &[u64::from(a[0] as u32).into()])
}

/// getgroups(2).
pub fn getgroups(t: &mut Task, a: &Args) -> SysResult {
    let size = a.int(0);
    if size < 0 {
        return Err(Errno::EINVAL);
    }
    let list = if size == 0 {
        crate::host::GuestBuf::null()
    } else {
        t.out_buf(a[1], 4 * size as u64)?
    };
    host::call(libc::SYS_getgroups, &[(size as u64).into(), list.into()])
}

fn getres(t: &mut Task, a: &Args, nr: i64) -> SysResult {
    let bufs = [
        t.out_buf(a[0], 4)?,
        t.out_buf(a[1], 4)?,
        t.out_buf(a[2], 4)?,
    ];
    host::call(nr, &[bufs[0].into(), bufs[1].into(), bufs[2].into()])
}

/// getresuid(2).
pub fn getresuid(t: &mut Task, a: &Args) -> SysResult {
    getres(t, a, libc::SYS_getresuid)
}

/// getresgid(2).
pub fn getresgid(t: &mut Task, a: &Args) -> SysResult {
    getres(t, a, libc::SYS_getresgid)
}

/// arch_prctl(2): the fs/gs bases live in the vCPU.
pub fn arch_prctl(t: &mut Task, a: &Args) -> SysResult {
    const ARCH_SET_GS: u64 = 0x1001;
    const ARCH_SET_FS: u64 = 0x1002;
    const ARCH_GET_FS: u64 = 0x1003;
    const ARCH_GET_GS: u64 = 0x1004;
    let canonical = |v: u64| v < (1 << 47);
    let vm_err = |e: pico_vm::VmError| {
        log::error!("arch_prctl: {e}");
        Errno::EIO
    };
    match a[0] {
        ARCH_SET_FS | ARCH_SET_GS if !canonical(a[1]) => Err(Errno::EPERM),
        ARCH_SET_FS => t.vcpu.set_fs_base(a[1]).map(|_| 0).map_err(vm_err),
        ARCH_SET_GS => t.vcpu.set_gs_base(a[1]).map(|_| 0).map_err(vm_err),
        ARCH_GET_FS => {
            let v = t.vcpu.fs_base().map_err(vm_err)?;
            t.write_u64(a[1], v).map(|_| 0)
        }
        ARCH_GET_GS => {
            let v = t.vcpu.gs_base().map_err(vm_err)?;
            t.write_u64(a[1], v).map(|_| 0)
        }
        _ => Err(Errno::EINVAL),
    }
}

/// set_tid_address(2): remembered for thread exit; returns the tid.
pub fn set_tid_address(t: &mut Task, a: &Args) -> SysResult {
    t.clear_child_tid = a[0];
    Ok(u64::from(t.tid))
}

/// sizeof(struct robust_list_head).
const ROBUST_LIST_HEAD_SIZE: u64 = 24;

/// set_robust_list(2): the list head is remembered for thread exit.
pub fn set_robust_list(t: &mut Task, a: &Args) -> SysResult {
    if a[1] != ROBUST_LIST_HEAD_SIZE {
        return Err(Errno::EINVAL);
    }
    t.robust_list = a[0];
    Ok(0)
}

/// get_robust_list(2) of the calling thread (pid 0 or its own tid): the
/// head and its size. musl asks it to see whether robust mutexes work.
/// Another thread's list lives in that thread's driver state, out of reach
/// here: EPERM, as for a thread the caller may not trace.
pub fn get_robust_list(t: &mut Task, a: &Args) -> SysResult {
    let pid = a.int(0);
    if pid != 0 && pid != t.tid as i32 {
        return Err(Errno::EPERM);
    }
    t.write_u64(a[1], t.robust_list)?;
    t.write_u64(a[2], ROBUST_LIST_HEAD_SIZE)?;
    Ok(0)
}

/// prctl(2): the thread name (the host thread's, see `host::set_thread_name`);
/// other options are EINVAL (logged).
pub fn prctl(t: &mut Task, a: &Args) -> SysResult {
    const PR_SET_NAME: u64 = 15;
    const PR_GET_NAME: u64 = 16;
    match a[0] {
        PR_SET_NAME => {
            let mut name = [0u8; 16];
            // Up to 15 bytes; the string may end before (read page-safely).
            let bytes = t.vm.memory().read_cstr(a[1], 15).or_else(|e| match e {
                pico_vm::CstrError::TooLong => {
                    let mut b = [0u8; 15];
                    t.read_bytes(a[1], &mut b).map(|_| b.to_vec())
                }
                pico_vm::CstrError::Fault(_) => Err(Errno::EFAULT),
            })?;
            name[..bytes.len()].copy_from_slice(&bytes);
            // The host thread's name is the guest's comm (ps, /proc).
            host::set_thread_name(&name)?;
            Ok(0)
        }
        PR_GET_NAME => t.write_bytes(a[1], &host::thread_name()?).map(|_| 0),
        _ => {
            crate::warn::once(
                &format!("prctl-{}", a[0].min(1000)),
                format_args!("prctl option {} is not supported: EINVAL", a[0]),
            );
            Err(Errno::EINVAL)
        }
    }
}

/// sched_yield(2).
pub fn sched_yield(_t: &mut Task, _a: &Args) -> SysResult {
    host::call(libc::SYS_sched_yield, &[])
}

/// sched_getaffinity(2).
pub fn sched_getaffinity(t: &mut Task, a: &Args) -> SysResult {
    let mask = t.out_buf(a[2], a[1] & 0xffff_ffff)?;
    host::call(
        libc::SYS_sched_getaffinity,
        &[
            u64::from(a[0] as u32).into(),
            (mask.len() as u64).into(),
            HostArg::Buf(mask),
        ],
    )
}

/// The credential setters: the host process is the guest process, so its
/// credentials are the guest's; the host kernel checks permissions.
fn set_ids(nr: i64, a: &Args, n: usize) -> SysResult {
    let args: Vec<HostArg> = (0..n)
        .map(|i| HostArg::Int(u64::from(a[i] as u32)))
        .collect();
    host::call(nr, &args)
}

/// setuid(2).
pub fn setuid(_t: &mut Task, a: &Args) -> SysResult {
    set_ids(libc::SYS_setuid, a, 1)
}

/// setgid(2).
pub fn setgid(_t: &mut Task, a: &Args) -> SysResult {
    set_ids(libc::SYS_setgid, a, 1)
}

/// setreuid(2).
pub fn setreuid(_t: &mut Task, a: &Args) -> SysResult {
    set_ids(libc::SYS_setreuid, a, 2)
}

/// setregid(2).
pub fn setregid(_t: &mut Task, a: &Args) -> SysResult {
    set_ids(libc::SYS_setregid, a, 2)
}

/// setresuid(2).
pub fn setresuid(_t: &mut Task, a: &Args) -> SysResult {
    set_ids(libc::SYS_setresuid, a, 3)
}

/// setresgid(2).
pub fn setresgid(_t: &mut Task, a: &Args) -> SysResult {
    set_ids(libc::SYS_setresgid, a, 3)
}

/// setfsuid(2).
pub fn setfsuid(_t: &mut Task, a: &Args) -> SysResult {
    set_ids(libc::SYS_setfsuid, a, 1)
}

/// setfsgid(2).
pub fn setfsgid(_t: &mut Task, a: &Args) -> SysResult {
    set_ids(libc::SYS_setfsgid, a, 1)
}

/// setgroups(2).
pub fn setgroups(t: &mut Task, a: &Args) -> SysResult {
    let n = a.int(0);
    if !(0..=65536).contains(&n) {
        return Err(Errno::EINVAL);
    }
    let list = t.opt_in_buf(a[1], 4 * n as u64)?;
    host::call(libc::SYS_setgroups, &[(n as u64).into(), list.into()])
}
