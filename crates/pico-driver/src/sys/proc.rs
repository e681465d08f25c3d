//! Processes: fork/vfork/clone (a host fork; the child rebuilds its VM
//! around its copy-on-write copy of guest memory), execve (a new VM in the
//! same host process), wait, process groups and sessions.
//!
//! Differs from Linux: a vfork child runs on a copy of memory whose
//! written pages are copied back before its parent resumes (see
//! `crate::vfork`), which no program can tell from sharing; a `CLONE_VM`
//! child without `CLONE_VFORK` just gets a copy.

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::path::PathBuf;

use pico_abi::flags::{
    CLONE_CHILD_CLEARTID, CLONE_CHILD_SETTID, CLONE_FILES, CLONE_FS, CLONE_NEWCGROUP, CLONE_NEWIPC,
    CLONE_NEWNET, CLONE_NEWNS, CLONE_NEWPID, CLONE_NEWTIME, CLONE_NEWUSER, CLONE_NEWUTS,
    CLONE_PARENT, CLONE_PARENT_SETTID, CLONE_PIDFD, CLONE_PTRACE, CLONE_SETTLS, CLONE_SIGHAND,
    CLONE_SYSVSEM, CLONE_THREAD, CLONE_VFORK, CLONE_VM,
};
use pico_abi::Errno;

/// The namespace flags: picorun has no namespaces to give a child.
const CLONE_NEWNS_AND_FRIENDS: u64 = CLONE_NEWNS
    | CLONE_NEWCGROUP
    | CLONE_NEWUTS
    | CLONE_NEWIPC
    | CLONE_NEWUSER
    | CLONE_NEWPID
    | CLONE_NEWNET
    | CLONE_NEWTIME;

use super::{Args, Flow, SysResult};
use crate::exec;
use crate::host::{self, Forked, HostArg};
use crate::hostsig;
use crate::task::Task;

const SIGCHLD: u64 = 17;
const AT_FDCWD: u64 = -100i64 as u64;
/// execve: longest argument or environment string, and all of them.
const MAX_ARG_STRLEN: usize = 32 * 4096;
const ARG_MAX: usize = 2 << 20;

fn vm_errno(e: pico_vm::VmError) -> Errno {
    log::error!("{e}");
    Errno::ENOMEM
}

/// The shared part of fork, vfork and clone.
fn fork(
    t: &mut Task,
    flags: u64,
    stack: u64,
    parent_tid: u64,
    child_tid: u64,
    tls: u64,
) -> SysResult {
    if flags & CLONE_THREAD != 0 {
        return crate::thread::spawn(t, flags, stack, parent_tid, child_tid, tls);
    }
    if flags
        & (CLONE_FS
            | CLONE_FILES
            | CLONE_SIGHAND
            | CLONE_PIDFD
            | CLONE_PTRACE
            | CLONE_PARENT
            | CLONE_NEWNS_AND_FRIENDS)
        != 0
    {
        return Err(Errno::EINVAL);
    }
    let _ = CLONE_SYSVSEM;
    let exit_signal = flags & 0xff;
    if exit_signal > 64 {
        return Err(Errno::EINVAL);
    }
    let vfork = flags & CLONE_VFORK != 0;
    // Under a process limit: a place in the tree's table, or EAGAIN.
    let slot = crate::policy::procs::reserve()?;
    let state = t.vcpu.capture().map_err(vm_errno)?;
    let done = if vfork { Some(host::pipe()?) } else { None };
    let single_threaded = t.threads.live() == 1;
    // The child's copies of the shared state, taken while consistent: the
    // address space stays write-locked across the fork so no other thread
    // changes it half-way, and the child starts with its own tables.
    let child_fds = t.fds.deep_copy();
    let child_signals = t.signals.for_child();
    let mut mm = t.vm.write();
    crate::retire::before_fork();
    match host::fork(exit_signal)? {
        Forked::Parent(pid) => {
            drop(mm);
            if let Some(slot) = slot {
                slot.assign(pid);
            }
            if flags & CLONE_PARENT_SETTID != 0 {
                t.write_bytes(parent_tid, &pid.to_le_bytes())?;
            }
            if let Some((read_end, write_end)) = done {
                drop(write_end);
                crate::vfork::parent_wait(t, read_end);
            }
            Ok(u64::from(pid))
        }
        Forked::Child => {
            crate::retire::after_fork_in_child();
            // The slot is the parent's to fill in.
            std::mem::forget(slot);
            let renewed = mm.vm.renew_after_fork();
            drop(mm);
            let pid = std::process::id();
            let result = renewed
                .map_err(|e| e.to_string())
                .and_then(|_| become_child(t, &state, flags, stack, child_tid, tls, pid));
            if let Err(e) = result {
                // No VM: this process cannot run the guest at all.
                eprintln!("picorun: fork: cannot rebuild the VM in the child: {e}");
                host::exit_now(125);
            }
            std::mem::replace(&mut t.fds, child_fds).release_in_child();
            t.signals = child_signals;
            t.threads = Default::default();
            if let Some((_, write_end)) = done {
                t.vfork_done = Some(crate::vfork::VforkDone::new(write_end, single_threaded));
            }
            Ok(0)
        }
    }
}

fn become_child(
    t: &mut Task,
    state: &pico_vm::CpuState,
    flags: u64,
    stack: u64,
    child_tid: u64,
    tls: u64,
    pid: u32,
) -> Result<(), String> {
    let mut state = state.clone();
    if stack != 0 {
        state.regs.rsp = stack;
    }
    if flags & CLONE_SETTLS != 0 {
        state.fs_base = tls;
    }
    let mut vcpu = {
        let mm = t.vm.read();
        let vcpu = mm
            .vm
            .create_vcpu_from(0, &state)
            .map_err(|e| e.to_string())?;
        crate::clock::attach(&mm.vm, &vcpu);
        vcpu
    };
    hostsig::set_kick(vcpu.kick_handle());
    t.vcpu = vcpu;
    t.pid = pid;
    t.tid = pid;
    t.tracer.stats = None;
    t.tracer.pid = Some(pid);
    if flags & CLONE_CHILD_SETTID != 0 {
        let _ = t.write_bytes(child_tid, &pid.to_le_bytes());
    }
    t.clear_child_tid = if flags & CLONE_CHILD_CLEARTID != 0 {
        child_tid
    } else {
        0
    };
    Ok(())
}

/// fork(2).
pub fn fork_(t: &mut Task, _a: &Args) -> SysResult {
    fork(t, SIGCHLD, 0, 0, 0, 0)
}

/// vfork(2): the parent waits until the child execs or exits.
pub fn vfork(t: &mut Task, _a: &Args) -> SysResult {
    fork(t, CLONE_VM | CLONE_VFORK | SIGCHLD, 0, 0, 0, 0)
}

/// clone(2): a new process, or with CLONE_THREAD a new thread.
pub fn clone(t: &mut Task, a: &Args) -> SysResult {
    // x86-64 order: flags, stack, parent_tid, child_tid, tls.
    fork(t, a[0], a[1], a[2], a[3], a[4])
}

/// Reads a NULL-terminated array of guest strings (argv, envp).
fn string_array(t: &Task, addr: u64) -> Result<Vec<OsString>, Errno> {
    let mut out = Vec::new();
    if addr == 0 {
        return Ok(out);
    }
    let mut total = 0;
    for i in 0.. {
        let ptr = t.read_u64(addr + 8 * i)?;
        if ptr == 0 {
            break;
        }
        let s =
            t.vm.memory()
                .read_cstr(ptr, MAX_ARG_STRLEN)
                .map_err(|e| match e {
                    pico_vm::CstrError::Fault(_) => Errno::EFAULT,
                    pico_vm::CstrError::TooLong => Errno::E2BIG,
                })?;
        total += s.len() + 1 + 8;
        if total > ARG_MAX {
            return Err(Errno::E2BIG);
        }
        out.push(OsString::from_vec(s));
    }
    Ok(out)
}

/// Runs `program`: a guest path, or with `host_path` one picorun made
/// (`/proc/self/fd/N` for a guest descriptor); they differ under `--root`.
fn exec_program(
    t: &mut Task,
    program: PathBuf,
    host_path: bool,
    argv: Vec<OsString>,
    envp: Vec<OsString>,
) -> Result<Flow, Errno> {
    // The host's own answer gives Linux's errno (ENOENT, ENOTDIR, EACCES,
    // ELOOP, ENAMETOOLONG, ...).
    match crate::rootfs::get() {
        Some(ns) if !host_path => crate::rootfs::check_executable(ns, &program)?,
        _ => crate::host::check_executable(&program)?,
    }
    if t.threads.live() > 1 {
        crate::warn::once(
            "execve-threads",
            "execve from a process with several threads is not supported: ENOSYS",
        );
        return Err(Errno::ENOSYS);
    }
    // Everything that can fail happens before the old image is touched.
    let mut vm = pico_vm::Vm::new().map_err(vm_errno)?;
    let loaded = exec::load_from(&mut vm, &program, host_path, &argv, &envp).map_err(|e| {
        log::debug!("execve {}: {e}", program.display());
        e.errno()
    })?;
    // The new image counts against a memory limit, as under RLIMIT_AS.
    crate::policy::may_map(&vm, 0, 0, 0)?;
    let mut vcpu = vm
        .create_vcpu(0, loaded.entry, loaded.stack_pointer)
        .map_err(vm_errno)?;
    crate::clock::attach(&vm, &vcpu);
    // A vfork parent gets the child's stores and may continue now.
    if let Some(done) = t.vfork_done.take() {
        crate::vfork::child_done(t, done);
    }
    hostsig::set_kick(vcpu.kick_handle());
    // The old image's exitless server goes with it (it holds the old VM).
    t.server = None;
    // The old VM, its vCPU and the vCPUs its exited threads left are
    // destroyed off the exec's path (see `crate::retire`).
    let old_vcpu = std::mem::replace(&mut t.vcpu, vcpu);
    let old_vm = std::mem::replace(&mut t.vm, crate::shared::SharedVm::new(vm, loaded.layout));
    let old_threads = std::mem::take(&mut t.threads);
    crate::retire::drop_in_background((old_vcpu, old_vm, old_threads));
    t.exe = std::fs::canonicalize(&loaded.exe).unwrap_or(loaded.exe);
    t.image = loaded.image;
    t.fds.close_on_exec();
    super::timer::delete_all();
    t.signals.reset_for_exec();
    t.clear_child_tid = 0;
    t.robust_list = 0;
    let _ = host::set_thread_name(&crate::process::comm_of(&program));
    // A vfork parent may continue now.
    t.vfork_done = None;
    Ok(Flow::FrameReplaced)
}

/// execve(2).
pub fn execve(t: &mut Task, a: &Args) -> Result<Flow, Errno> {
    let path = t.path(a[0])?;
    let argv = string_array(t, a[1])?;
    let envp = string_array(t, a[2])?;
    // `/proc/self/exe`, `/dev/fd/N` and friends name the guest's files.
    let resolved = crate::procfs::resolve(t, AT_FDCWD, &path, true)?;
    let host_path = resolved.host_path().is_some();
    let bytes = resolved
        .host_path()
        .map_or_else(|| path.as_bytes().to_vec(), |p| p.to_bytes().to_vec());
    let program = PathBuf::from(OsString::from_vec(bytes));
    exec_program(t, program, host_path, argv, envp)
}

/// execveat(2).
pub fn execveat(t: &mut Task, a: &Args) -> Result<Flow, Errno> {
    const AT_EMPTY_PATH: u64 = 0x1000;
    const AT_SYMLINK_NOFOLLOW: u64 = 0x100;
    if a[4] & !(AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) != 0 {
        return Err(Errno::EINVAL);
    }
    let path = t.path(a[1])?;
    let argv = string_array(t, a[2])?;
    let envp = string_array(t, a[3])?;
    let resolved = crate::procfs::resolve(t, a[0], &path, a[4] & AT_SYMLINK_NOFOLLOW == 0)?;
    if let Some(host_path) = resolved.host_path() {
        let program = PathBuf::from(OsString::from_vec(host_path.to_bytes().to_vec()));
        return exec_program(t, program, true, argv, envp);
    }
    let bytes = path.into_bytes();
    if bytes.is_empty() && a[4] & AT_EMPTY_PATH == 0 {
        return Err(Errno::ENOENT);
    }
    if let Some(ns) = crate::rootfs::get() {
        // Under --root a relative path counts from the guest path of dirfd.
        if !bytes.is_empty() {
            let mut guest = if bytes.first() == Some(&b'/') || a[0] as i32 == -100 {
                Vec::new()
            } else {
                let mut base = super::fs::guest_path_of_fd(t, ns, a[0])?;
                base.push(b'/');
                base
            };
            guest.extend_from_slice(&bytes);
            let program = PathBuf::from(OsString::from_vec(guest));
            if a[4] & AT_SYMLINK_NOFOLLOW != 0 {
                use std::os::unix::ffi::OsStrExt;
                let c = std::ffi::CString::new(program.as_os_str().as_bytes())
                    .map_err(|_| Errno::ENOENT)?;
                let at = super::fs::at(t, AT_FDCWD, &c, false)?;
                let mut st = std::mem::MaybeUninit::<libc::stat>::zeroed();
                host::call(
                    libc::SYS_newfstatat,
                    &[
                        at.dir,
                        HostArg::Str(at.path(&c)),
                        HostArg::Local(st.as_mut_ptr().cast()),
                        (libc::AT_SYMLINK_NOFOLLOW as u64).into(),
                    ],
                )?;
                // SAFETY: newfstatat succeeded, so it filled the struct.
                let st = unsafe { st.assume_init() };
                if st.st_mode & libc::S_IFMT == libc::S_IFLNK {
                    return Err(Errno::ELOOP);
                }
            }
            return exec_program(t, program, false, argv, envp);
        }
    }
    let program = if bytes.is_empty() && a[4] & AT_EMPTY_PATH != 0 {
        PathBuf::from(format!("/proc/self/fd/{}", t.fds.host(a[0])?))
    } else if bytes.first() == Some(&b'/') || a[0] as i32 == -100 {
        PathBuf::from(OsString::from_vec(bytes))
    } else {
        PathBuf::from(format!("/proc/self/fd/{}", t.fds.host(a[0])?))
            .join(OsString::from_vec(bytes))
    };
    if a[4] & AT_SYMLINK_NOFOLLOW != 0
        && std::fs::symlink_metadata(&program).is_ok_and(|m| m.file_type().is_symlink())
    {
        return Err(Errno::ELOOP);
    }
    // Under --root only AT_EMPTY_PATH gets here: the descriptor's host path.
    exec_program(t, program, true, argv, envp)
}

/// wait4(2): children are host processes, their statuses the guests'.
pub fn wait4(t: &mut Task, a: &Args) -> SysResult {
    let status = t.opt_out_buf(a[1], 4)?;
    let rusage = t.opt_out_buf(a[3], 144)?;
    host::call(
        libc::SYS_wait4,
        &[
            u64::from(a[0] as u32).into(),
            status.into(),
            a[2].into(),
            rusage.into(),
        ],
    )
}

/// waitid(2).
pub fn waitid(t: &mut Task, a: &Args) -> SysResult {
    let info = t.opt_out_buf(a[2], 128)?;
    let rusage = t.opt_out_buf(a[4], 144)?;
    host::call(
        libc::SYS_waitid,
        &[
            a[0].into(),
            u64::from(a[1] as u32).into(),
            info.into(),
            a[3].into(),
            rusage.into(),
        ],
    )
}

/// setpgid(2).
pub fn setpgid(_t: &mut Task, a: &Args) -> SysResult {
    host::call(
        libc::SYS_setpgid,
        &[u64::from(a[0] as u32).into(), u64::from(a[1] as u32).into()],
    )
}

/// setsid(2).
pub fn setsid(_t: &mut Task, _a: &Args) -> SysResult {
    host::call(libc::SYS_setsid, &[HostArg::Int(0)])
}
