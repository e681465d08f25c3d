//! Host self-confinement: once a pico process is set up, the picorun host
//! process (and every host process and thread it later creates) may make
//! only the host syscalls the driver needs. Even a bug in the driver cannot
//! then make picorun call `ptrace`, `mount`, `bpf`, `kexec_load`, … on a
//! guest's behalf. `no_new_privs` comes first, as seccomp requires.
//!
//! The allow-list is grouped by why picorun needs each call; everything
//! else fails with `EPERM` (a refusal the driver reports as an errno, never
//! a crash). `clone` is allowed only without namespace flags, and `clone3`
//! (whose flags seccomp cannot see) fails with `ENOSYS`, so glibc and
//! Rust's threads fall back to `clone`.

use seccompiler::BpfProgram;

/// The host syscalls picorun needs after set-up, by purpose.
pub const ALLOWED: &[(&str, &[i64])] = &[
    (
        "the runtime: memory, threads, signals, time, exit",
        &[
            libc::SYS_brk,
            libc::SYS_mmap,
            libc::SYS_munmap,
            libc::SYS_mprotect,
            libc::SYS_madvise,
            libc::SYS_msync,
            libc::SYS_mremap,
            libc::SYS_futex,
            libc::SYS_set_robust_list,
            libc::SYS_get_robust_list,
            libc::SYS_rseq,
            libc::SYS_set_tid_address,
            libc::SYS_rt_sigaction,
            libc::SYS_rt_sigprocmask,
            libc::SYS_rt_sigreturn,
            libc::SYS_sigaltstack,
            libc::SYS_sched_yield,
            libc::SYS_sched_getaffinity,
            libc::SYS_getrandom,
            libc::SYS_exit,
            libc::SYS_exit_group,
            libc::SYS_restart_syscall,
            libc::SYS_clock_gettime,
            libc::SYS_clock_getres,
            libc::SYS_clock_nanosleep,
            libc::SYS_nanosleep,
            libc::SYS_gettimeofday,
            libc::SYS_prctl,
        ],
    ),
    (
        "KVM: /dev/kvm, VM and vCPU ioctls, the kvm_run mapping (new VMs at fork and exec)",
        &[libc::SYS_ioctl, libc::SYS_openat, libc::SYS_close, libc::SYS_memfd_create],
    ),
    (
        "processes and threads: host fork and threads (clone, filtered below), waits, signals between processes",
        &[
            libc::SYS_clone,
            libc::SYS_wait4,
            libc::SYS_waitid,
            libc::SYS_kill,
            libc::SYS_tkill,
            libc::SYS_tgkill,
            libc::SYS_rt_sigqueueinfo,
            libc::SYS_rt_tgsigqueueinfo,
            libc::SYS_rt_sigpending,
            libc::SYS_rt_sigtimedwait,
            libc::SYS_rt_sigsuspend,
            libc::SYS_signalfd4,
            libc::SYS_getpid,
            libc::SYS_gettid,
            libc::SYS_getppid,
            libc::SYS_getpgid,
            libc::SYS_setpgid,
            libc::SYS_getsid,
            libc::SYS_setsid,
            libc::SYS_getrusage,
            libc::SYS_times,
            libc::SYS_prlimit64,
            libc::SYS_setitimer,
            libc::SYS_getitimer,
            libc::SYS_alarm,
            libc::SYS_timer_create,
            libc::SYS_timer_delete,
            libc::SYS_timer_settime,
            libc::SYS_timer_gettime,
            libc::SYS_timer_getoverrun,
            libc::SYS_sched_setaffinity,
            libc::SYS_sched_getparam,
            libc::SYS_sched_setparam,
            libc::SYS_sched_getscheduler,
            libc::SYS_sched_setscheduler,
            libc::SYS_sched_get_priority_max,
            libc::SYS_sched_get_priority_min,
            libc::SYS_sched_rr_get_interval,
            libc::SYS_getpriority,
            libc::SYS_setpriority,
            libc::SYS_getcpu,
            // The parent holds a forked child's pidfd to retire its VM.
            libc::SYS_pidfd_open,
            // The teardown process closes all it does not keep (retire.rs).
            libc::SYS_close_range,
            libc::SYS_sysinfo,
            libc::SYS_uname,
        ],
    ),
    (
        "credentials the guest reads and sets on its own process (passthrough)",
        &[
            libc::SYS_getuid,
            libc::SYS_geteuid,
            libc::SYS_getgid,
            libc::SYS_getegid,
            libc::SYS_getresuid,
            libc::SYS_getresgid,
            libc::SYS_getgroups,
            libc::SYS_setuid,
            libc::SYS_setgid,
            libc::SYS_setreuid,
            libc::SYS_setregid,
            libc::SYS_setresuid,
            libc::SYS_setresgid,
            libc::SYS_setgroups,
            libc::SYS_setfsuid,
            libc::SYS_setfsgid,
            libc::SYS_umask,
        ],
    ),
    (
        "files and descriptors the guest uses (passthrough on host descriptors and paths)",
        &[
            libc::SYS_read,
            libc::SYS_write,
            libc::SYS_readv,
            libc::SYS_writev,
            libc::SYS_pread64,
            libc::SYS_pwrite64,
            libc::SYS_preadv,
            libc::SYS_pwritev,
            libc::SYS_preadv2,
            libc::SYS_pwritev2,
            libc::SYS_lseek,
            libc::SYS_fcntl,
            libc::SYS_dup,
            libc::SYS_dup3,
            libc::SYS_pipe2,
            libc::SYS_fstat,
            libc::SYS_newfstatat,
            libc::SYS_statx,
            libc::SYS_statfs,
            libc::SYS_fstatfs,
            libc::SYS_getdents64,
            libc::SYS_getcwd,
            libc::SYS_chdir,
            libc::SYS_fchdir,
            libc::SYS_readlinkat,
            // --root: the resolver opens each final name beneath its
            // directory (RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS).
            libc::SYS_openat2,
            libc::SYS_readlink,
            libc::SYS_faccessat2,
            libc::SYS_mkdirat,
            libc::SYS_mknodat,
            libc::SYS_unlinkat,
            libc::SYS_renameat2,
            libc::SYS_linkat,
            libc::SYS_symlinkat,
            libc::SYS_fchmod,
            libc::SYS_fchmodat,
            libc::SYS_fchown,
            libc::SYS_fchownat,
            libc::SYS_utimensat,
            libc::SYS_truncate,
            libc::SYS_ftruncate,
            libc::SYS_fallocate,
            libc::SYS_fsync,
            libc::SYS_fdatasync,
            libc::SYS_sync,
            libc::SYS_syncfs,
            libc::SYS_sync_file_range,
            libc::SYS_flock,
            libc::SYS_fadvise64,
            libc::SYS_readahead,
            libc::SYS_sendfile,
            libc::SYS_copy_file_range,
            libc::SYS_splice,
            libc::SYS_tee,
            libc::SYS_vmsplice,
            libc::SYS_getxattr,
            libc::SYS_lgetxattr,
            libc::SYS_fgetxattr,
            libc::SYS_setxattr,
            libc::SYS_lsetxattr,
            libc::SYS_fsetxattr,
            libc::SYS_listxattr,
            libc::SYS_llistxattr,
            libc::SYS_flistxattr,
            libc::SYS_removexattr,
            libc::SYS_lremovexattr,
            libc::SYS_fremovexattr,
            libc::SYS_mlock,
            libc::SYS_mlock2,
            libc::SYS_munlock,
            libc::SYS_mlockall,
            libc::SYS_munlockall,
            libc::SYS_mincore,
        ],
    ),
    (
        "waiting and events: poll, select, epoll, eventfd, timerfd, inotify",
        &[
            libc::SYS_poll,
            libc::SYS_ppoll,
            libc::SYS_pselect6,
            libc::SYS_epoll_create1,
            libc::SYS_epoll_ctl,
            libc::SYS_epoll_pwait,
            libc::SYS_epoll_pwait2,
            libc::SYS_eventfd2,
            libc::SYS_timerfd_create,
            libc::SYS_timerfd_settime,
            libc::SYS_timerfd_gettime,
            libc::SYS_inotify_init1,
            libc::SYS_inotify_add_watch,
            libc::SYS_inotify_rm_watch,
        ],
    ),
    (
        "local sockets: socketpair(AF_UNIX) and its messages (no socket(): networking is not offered)",
        &[
            libc::SYS_socketpair,
            libc::SYS_sendmsg,
            libc::SYS_recvmsg,
            libc::SYS_sendto,
            libc::SYS_recvfrom,
            libc::SYS_shutdown,
            libc::SYS_getsockname,
            libc::SYS_getpeername,
            libc::SYS_getsockopt,
            libc::SYS_setsockopt,
        ],
    ),
];

/// clone flags that would make a new namespace: never needed, refused.
const CLONE_NAMESPACES: u64 = (libc::CLONE_NEWNS
    | libc::CLONE_NEWCGROUP
    | libc::CLONE_NEWUTS
    | libc::CLONE_NEWIPC
    | libc::CLONE_NEWUSER
    | libc::CLONE_NEWPID
    | libc::CLONE_NEWNET) as u64;

/// The allow-list filter: what is not listed fails with EPERM (a search
/// tree, see `bpftree.rs`); clone only without namespace flags; clone3
/// fails with ENOSYS (its flags are in memory, out of seccomp's sight),
/// so callers fall back to the filtered clone.
fn allow_list() -> BpfProgram {
    let allowed: Vec<u32> = ALLOWED
        .iter()
        .flat_map(|(_, calls)| calls.iter())
        .filter(|&&nr| nr != libc::SYS_clone)
        .map(|&nr| nr as u32)
        .collect();
    let guarded = (libc::SYS_clone as u32, CLONE_NAMESPACES as u32);
    let answered = [(
        libc::SYS_clone3 as u32,
        crate::bpftree::ret_errno(libc::ENOSYS as u32),
    )];
    crate::bpftree::allow_list(
        &allowed,
        guarded,
        &answered,
        crate::bpftree::ret_errno(libc::EPERM as u32),
    )
}

/// Confines this host process and all its threads, now and for good.
pub fn confine() -> Result<(), String> {
    let allow = allow_list();
    // SAFETY: prctl(PR_SET_NO_NEW_PRIVS) takes no pointers and only
    // restricts this process.
    if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
        return Err(format!("no_new_privs: {}", std::io::Error::last_os_error()));
    }
    seccompiler::apply_filter_all_threads(&allow).map_err(|e| e.to_string())
}

/// Host paths picorun itself opens after set-up: `/dev/kvm` for the new
/// VM of a forked child or an exec, the devices `--root` exposes as the
/// guest's `/dev`, and `/proc` (the guest's descriptors by
/// `/proc/self/fd/N`, vfork's pagemap).
const HOST_DEVICES: &[&str] = &[
    "/dev/kvm",
    "/dev/null",
    "/dev/zero",
    "/dev/full",
    "/dev/random",
    "/dev/urandom",
    "/dev/tty",
];

/// With `--root`: Landlock limits this host process's own file access to
/// the guest's root (everything), read-only binds (read, execute), writable
/// binds (everything), [`HOST_DEVICES`] (read, write) and `/proc` (read),
/// so that a path the driver failed to keep inside the root still cannot
/// reach the host's files. Applies to the calling thread and the threads
/// and processes it creates later (the guest's), not to helper threads
/// that already run (the clock updater, which opens nothing). Returns
/// whether the kernel enforced it fully, partly or not at all.
pub fn confine_filesystem(
    root: &std::path::Path,
    binds: &[crate::rootfs::Bind],
) -> Result<String, String> {
    use landlock::{
        path_beneath_rules, Access, AccessFs, Ruleset, RulesetAttr, RulesetCreatedAttr, ABI,
    };
    let abi = ABI::V3;
    let all = AccessFs::from_all(abi);
    let read = AccessFs::from_read(abi);
    let (rw, ro): (Vec<_>, Vec<_>) = binds.iter().partition(|b| b.writable);
    let status = Ruleset::default()
        .handle_access(all)
        .and_then(|r| r.create())
        .and_then(|r| r.add_rules(path_beneath_rules([root], all)))
        .and_then(|r| r.add_rules(path_beneath_rules(rw.iter().map(|b| &b.host), all)))
        .and_then(|r| r.add_rules(path_beneath_rules(ro.iter().map(|b| &b.host), read)))
        .and_then(|r| {
            r.add_rules(path_beneath_rules(
                HOST_DEVICES,
                AccessFs::ReadFile | AccessFs::WriteFile,
            ))
        })
        .and_then(|r| r.add_rules(path_beneath_rules(["/proc"], read)))
        .and_then(|r| r.restrict_self())
        .map_err(|e| e.to_string())?;
    Ok(format!("{:?}", status.ruleset))
}

/// Whether this process may open `path` for reading now.
pub fn can_open(path: &std::path::Path) -> Result<(), i32> {
    std::fs::File::open(path)
        .map(drop)
        .map_err(|e| e.raw_os_error().unwrap_or(0))
}

/// Dangerous host syscalls the confinement must refuse, for
/// `picorun --check-confinement` and the tests.
pub const DENIED_EXAMPLES: &[(&str, i64)] = &[
    ("ptrace", libc::SYS_ptrace),
    ("mount", libc::SYS_mount),
    ("umount2", libc::SYS_umount2),
    ("bpf", libc::SYS_bpf),
    ("kexec_load", libc::SYS_kexec_load),
    ("init_module", libc::SYS_init_module),
    ("unshare", libc::SYS_unshare),
    ("setns", libc::SYS_setns),
    ("chroot", libc::SYS_chroot),
    ("pivot_root", libc::SYS_pivot_root),
    ("reboot", libc::SYS_reboot),
    ("socket", libc::SYS_socket),
    ("execve", libc::SYS_execve),
    ("process_vm_writev", libc::SYS_process_vm_writev),
    ("perf_event_open", libc::SYS_perf_event_open),
    ("keyctl", libc::SYS_keyctl),
    ("userfaultfd", libc::SYS_userfaultfd),
];

/// Tries each of [`DENIED_EXAMPLES`] with harmless arguments (all -1:
/// an invalid descriptor, pointer, request or flag set, so an allowed call
/// fails with EBADF/EFAULT/EINVAL/…, never acts — zeros would not do:
/// `kexec_load` with no segments unloads the loaded image) and
/// returns each name with the errno it got.
pub fn probe_denied() -> Vec<(&'static str, i32)> {
    DENIED_EXAMPLES
        .iter()
        .map(|&(name, nr)| {
            // SAFETY: every argument is -1: no valid pointer is passed, and
            // none of these calls acts on such arguments (bad fd, faulting
            // path, invalid request, flags or counts).
            let r = unsafe { libc::syscall(nr, -1i64, -1i64, -1i64, -1i64, -1i64, -1i64) };
            let errno = if r == -1 {
                std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
            } else {
                0
            };
            (name, errno)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_installed_tree_allows_the_list_and_refuses_the_rest() {
        use crate::bpftree::{ret_errno, run, AUDIT_ARCH_X86_64, RET_ALLOW};
        let program = allow_list();
        let verdict = |nr: i64, arg0: u64| run(&program, AUDIT_ARCH_X86_64, nr as u32, arg0);
        for (_, calls) in ALLOWED {
            for &nr in *calls {
                if nr != libc::SYS_clone {
                    assert_eq!(verdict(nr, 0), RET_ALLOW, "syscall {nr}");
                }
            }
        }
        let eperm = ret_errno(libc::EPERM as u32);
        for (name, nr) in DENIED_EXAMPLES {
            assert_eq!(verdict(*nr, 0), eperm, "{name}");
        }
        let thread = (libc::CLONE_VM | libc::CLONE_THREAD | libc::CLONE_SIGHAND) as u64;
        assert_eq!(verdict(libc::SYS_clone, thread), RET_ALLOW);
        assert_eq!(verdict(libc::SYS_clone, libc::CLONE_NEWUSER as u64), eperm);
        let enosys = ret_errno(libc::ENOSYS as u32);
        assert_eq!(verdict(libc::SYS_clone3, thread), enosys, "clone3");
        // Attaching costs ~0.12 µs an instruction: it was 966 as a chain,
        // 581 as a tree of numbers.
        assert!(program.len() < 250, "{} instructions", program.len());
    }

    #[test]
    fn no_dangerous_call_is_on_the_allow_list() {
        for (name, nr) in DENIED_EXAMPLES {
            for (why, calls) in ALLOWED {
                assert!(!calls.contains(nr), "{name} is allowed for {why}");
            }
        }
    }

    #[test]
    fn unconfined_the_probe_sees_other_errnos() {
        // What makes `--check-confinement` meaningful: without the filter
        // these calls fail differently (here, as root or not).
        let got: std::collections::HashMap<_, _> = probe_denied().into_iter().collect();
        assert_eq!(got["socket"], libc::EINVAL);
        assert_eq!(got["execve"], libc::EFAULT);
        assert_eq!(got["setns"], libc::EBADF);
    }
}
