//! The driver's one door to the host kernel with guest memory: host
//! syscalls whose pointer arguments are checked guest ranges or strings the
//! driver owns. Zero-copy: the host kernel reads and writes guest memory
//! directly, so `read(2)` into a guest buffer costs what it costs natively.

use std::ffi::CStr;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

use pico_abi::Errno;
use pico_vm::{Access, Memory};

/// A guest range checked against the guest's mappings, as a host pointer.
/// Only [`GuestBuf::new`] makes one.
#[derive(Clone, Copy, Debug)]
pub struct GuestBuf {
    ptr: *mut u8,
    len: usize,
}

impl GuestBuf {
    /// Checks `[addr, addr+len)` for `access`; `EFAULT` if the guest may not.
    pub fn new(mem: &Memory, addr: u64, len: u64, access: Access) -> Result<GuestBuf, Errno> {
        let ptr = mem
            .host_range(addr, len, access)
            .map_err(|_| Errno::EFAULT)?;
        Ok(GuestBuf {
            ptr,
            len: len as usize,
        })
    }

    /// Like [`GuestBuf::new`], but shortened to the part that is accessible,
    /// as Linux copies up to the first fault: `EFAULT` only if no byte is.
    pub fn prefix(mem: &Memory, addr: u64, len: u64, access: Access) -> Result<GuestBuf, Errno> {
        let usable = mem.accessible_len(addr, len, access);
        if usable == 0 && len > 0 {
            return Err(Errno::EFAULT);
        }
        // `accessible_len` has checked the range (inside the window, mapped
        // for `access`): no second walk over the regions.
        Ok(GuestBuf {
            ptr: mem.host_base().wrapping_add(addr) as *mut u8,
            len: usable as usize,
        })
    }

    /// A guest range of whole pages the guest has mapped, whatever their
    /// protection; `ENOMEM` where it has not (as mlock(2) and mincore(2)
    /// answer for a hole). Only for calls that name pages without reading
    /// or writing them through the pointer (mlock, munlock, mincore).
    pub fn mapped(mem: &Memory, addr: u64, len: u64) -> Result<GuestBuf, Errno> {
        let end = addr
            .checked_add(len)
            .filter(|&e| e <= pico_vm::layout::WINDOW_SIZE)
            .ok_or(Errno::ENOMEM)?;
        if len != 0 && !mem.regions().covered(addr, end, |_| true) {
            return Err(Errno::ENOMEM);
        }
        Ok(GuestBuf {
            ptr: (mem.host_base() + addr) as *mut u8,
            len: len as usize,
        })
    }

    /// A null pointer argument (an optional buffer the guest left out).
    pub fn null() -> GuestBuf {
        GuestBuf {
            ptr: std::ptr::null_mut(),
            len: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn addr(&self) -> u64 {
        self.ptr as u64
    }
}

/// One argument of a host syscall.
#[derive(Clone, Copy)]
pub enum HostArg<'a> {
    /// A plain integer (flags, sizes, ids); never a pointer.
    Int(u64),
    /// A host descriptor from the guest's fd table.
    Fd(RawFd),
    /// Guest memory.
    Buf(GuestBuf),
    /// A string the driver owns for the duration of the call.
    Str(&'a CStr),
    /// A host-side struct the driver owns (e.g. an iovec array).
    Local(*mut u8),
}

impl HostArg<'_> {
    fn raw(self) -> u64 {
        match self {
            HostArg::Int(v) => v,
            HostArg::Fd(fd) => fd as i64 as u64,
            HostArg::Buf(b) => b.ptr as u64,
            HostArg::Str(s) => s.as_ptr() as u64,
            HostArg::Local(p) => p as u64,
        }
    }
}

impl From<u64> for HostArg<'_> {
    fn from(v: u64) -> Self {
        HostArg::Int(v)
    }
}

impl From<GuestBuf> for HostArg<'_> {
    fn from(b: GuestBuf) -> Self {
        HostArg::Buf(b)
    }
}

impl<'a> From<&'a CStr> for HostArg<'a> {
    fn from(s: &'a CStr) -> Self {
        HostArg::Str(s)
    }
}

/// Host syscalls the driver passes guest requests through to. Anything
/// that could change picorun's own memory or descriptors behind its back
/// (mmap, munmap, close of arbitrary numbers, clone, exec) is absent: the
/// driver does those itself.
const PASSTHROUGH: &[i64] = &[
    libc::SYS_read,
    libc::SYS_write,
    libc::SYS_pread64,
    libc::SYS_pwrite64,
    libc::SYS_readv,
    libc::SYS_writev,
    libc::SYS_lseek,
    libc::SYS_fstat,
    libc::SYS_newfstatat,
    libc::SYS_statx,
    libc::SYS_getdents64,
    libc::SYS_fcntl,
    libc::SYS_ioctl,
    libc::SYS_faccessat2,
    libc::SYS_readlinkat,
    libc::SYS_openat2,
    libc::SYS_getcwd,
    libc::SYS_chdir,
    libc::SYS_fchdir,
    libc::SYS_mkdirat,
    libc::SYS_unlinkat,
    libc::SYS_renameat2,
    libc::SYS_linkat,
    libc::SYS_symlinkat,
    libc::SYS_fchmodat,
    libc::SYS_fchmod,
    libc::SYS_fchownat,
    libc::SYS_fchown,
    libc::SYS_truncate,
    libc::SYS_ftruncate,
    libc::SYS_umask,
    libc::SYS_utimensat,
    libc::SYS_fsync,
    libc::SYS_fdatasync,
    libc::SYS_sendfile,
    libc::SYS_copy_file_range,
    libc::SYS_fadvise64,
    libc::SYS_openat,
    libc::SYS_clock_gettime,
    libc::SYS_clock_getres,
    libc::SYS_gettimeofday,
    libc::SYS_nanosleep,
    libc::SYS_clock_nanosleep,
    libc::SYS_uname,
    libc::SYS_sysinfo,
    libc::SYS_getrusage,
    libc::SYS_times,
    libc::SYS_prlimit64,
    libc::SYS_getrandom,
    libc::SYS_sched_yield,
    libc::SYS_sched_getaffinity,
    libc::SYS_getgroups,
    libc::SYS_getresuid,
    libc::SYS_getresgid,
    libc::SYS_getpgid,
    libc::SYS_getsid,
    libc::SYS_kill,
    libc::SYS_tgkill,
    libc::SYS_flock,
    libc::SYS_statfs,
    libc::SYS_fstatfs,
    libc::SYS_getpriority,
    libc::SYS_pipe2,
    libc::SYS_dup3,
    libc::SYS_getcpu,
    libc::SYS_getuid,
    libc::SYS_geteuid,
    libc::SYS_getgid,
    libc::SYS_getegid,
    libc::SYS_tkill,
    libc::SYS_preadv,
    libc::SYS_pwritev,
    libc::SYS_preadv2,
    libc::SYS_pwritev2,
    libc::SYS_poll,
    libc::SYS_ppoll,
    libc::SYS_futex,
    libc::SYS_rt_sigpending,
    libc::SYS_rt_sigtimedwait,
    libc::SYS_signalfd4,
    libc::SYS_setuid,
    libc::SYS_setgid,
    libc::SYS_setreuid,
    libc::SYS_setregid,
    libc::SYS_setresuid,
    libc::SYS_setresgid,
    libc::SYS_setfsuid,
    libc::SYS_setfsgid,
    libc::SYS_setgroups,
    libc::SYS_wait4,
    libc::SYS_waitid,
    libc::SYS_setpgid,
    libc::SYS_setsid,
    libc::SYS_alarm,
    libc::SYS_setitimer,
    libc::SYS_getitimer,
    libc::SYS_rt_sigqueueinfo,
    libc::SYS_rt_tgsigqueueinfo,
    libc::SYS_getxattr,
    libc::SYS_lgetxattr,
    libc::SYS_fgetxattr,
    libc::SYS_listxattr,
    libc::SYS_llistxattr,
    libc::SYS_flistxattr,
    libc::SYS_setxattr,
    libc::SYS_lsetxattr,
    libc::SYS_fsetxattr,
    libc::SYS_pselect6,
    libc::SYS_epoll_create1,
    libc::SYS_epoll_ctl,
    libc::SYS_epoll_pwait,
    libc::SYS_epoll_pwait2,
    libc::SYS_eventfd2,
    libc::SYS_timerfd_create,
    libc::SYS_timerfd_settime,
    libc::SYS_timerfd_gettime,
    libc::SYS_socketpair,
    libc::SYS_sendto,
    libc::SYS_recvfrom,
    libc::SYS_sendmsg,
    libc::SYS_recvmsg,
    libc::SYS_shutdown,
    libc::SYS_getsockopt,
    libc::SYS_setsockopt,
    libc::SYS_getsockname,
    libc::SYS_getpeername,
    libc::SYS_memfd_create,
    // more syscalls
    libc::SYS_setpriority,
    libc::SYS_sched_setaffinity,
    libc::SYS_sched_getparam,
    libc::SYS_sched_setparam,
    libc::SYS_sched_getscheduler,
    libc::SYS_sched_setscheduler,
    libc::SYS_sched_get_priority_max,
    libc::SYS_sched_get_priority_min,
    libc::SYS_sched_rr_get_interval,
    // These change whether pages stay resident, never what is mapped.
    libc::SYS_mlock,
    libc::SYS_mlock2,
    libc::SYS_munlock,
    libc::SYS_munlockall,
    libc::SYS_mincore,
    libc::SYS_removexattr,
    libc::SYS_lremovexattr,
    libc::SYS_fremovexattr,
    libc::SYS_fallocate,
    libc::SYS_sync,
    libc::SYS_syncfs,
    libc::SYS_sync_file_range,
    libc::SYS_readahead,
    libc::SYS_mknodat,
    libc::SYS_splice,
    libc::SYS_tee,
    libc::SYS_vmsplice,
    libc::SYS_inotify_init1,
    libc::SYS_inotify_add_watch,
    libc::SYS_inotify_rm_watch,
    libc::SYS_timer_create,
    libc::SYS_timer_settime,
    libc::SYS_timer_gettime,
    libc::SYS_timer_getoverrun,
    libc::SYS_timer_delete,
];

/// Calls host syscall `nr` with `args`; `Err` carries the host's errno.
pub fn call(nr: i64, args: &[HostArg<'_>]) -> Result<u64, Errno> {
    debug_assert!(
        PASSTHROUGH.contains(&nr),
        "syscall {nr} is not a passthrough"
    );
    if !PASSTHROUGH.contains(&nr) {
        return Err(Errno::ENOSYS);
    }
    let mut raw = [0u64; 6];
    for (slot, arg) in raw.iter_mut().zip(args) {
        *slot = arg.raw();
    }
    // SAFETY: `nr` is a constant from PASSTHROUGH (checked above), none of
    // which can unmap, remap or close memory or descriptors it is not given.
    // Every pointer argument is a `GuestBuf` (a checked range of the guest
    // window: the kernel validates the access itself and answers EFAULT if
    // the guest unmapped it meanwhile), a `CStr` borrowed for the call, or a
    // `Local` the caller keeps alive across it.
    let ret = unsafe { libc::syscall(nr, raw[0], raw[1], raw[2], raw[3], raw[4], raw[5]) };
    if ret < 0 {
        Err(Errno::last_os_error())
    } else {
        Ok(ret as u64)
    }
}

/// Takes ownership of a descriptor a host call just created.
pub fn own_fd(raw: u64) -> OwnedFd {
    // SAFETY: callers pass only a descriptor a host call just created
    // (openat, pipe2, fcntl F_DUPFD_CLOEXEC, epoll_create1, socketpair,
    // memfd_create, or one received in SCM_RIGHTS); nothing else owns it.
    unsafe { OwnedFd::from_raw_fd(raw as RawFd) }
}

/// Names the host thread (ps, /proc) like the guest named itself. The host
/// thread's name is the guest's comm: PR_GET_NAME and /proc/self/comm read
/// it back, and a write to the comm file changes it.
pub fn set_thread_name(name: &[u8; 16]) -> Result<(), Errno> {
    if name[15] != 0 {
        return Err(Errno::EINVAL);
    }
    // SAFETY: PR_SET_NAME reads at most 16 bytes from `name`, a
    // NUL-terminated 16-byte array alive across the call.
    let r = unsafe { libc::prctl(libc::PR_SET_NAME, name.as_ptr()) };
    if r == 0 {
        Ok(())
    } else {
        Err(Errno::last_os_error())
    }
}

/// The host thread's name, which is the guest's (see [`set_thread_name`]).
pub fn thread_name() -> Result<[u8; 16], Errno> {
    let mut name = [0u8; 16];
    // SAFETY: PR_GET_NAME writes at most 16 bytes (NUL included) into
    // `name`, a 16-byte array alive across the call.
    let r = unsafe { libc::prctl(libc::PR_GET_NAME, name.as_mut_ptr()) };
    if r == 0 {
        Ok(name)
    } else {
        Err(Errno::last_os_error())
    }
}

/// Sets the host's disposition of `signo` to ignore or default.
pub fn set_host_disposition(signo: i32, ignore: bool) {
    let handler = if ignore { libc::SIG_IGN } else { libc::SIG_DFL };
    // SAFETY: installing SIG_IGN or SIG_DFL runs no code of ours in signal
    // context; picorun catches no signal itself.
    unsafe {
        libc::signal(signo, handler);
    }
}

/// Ends picorun by `signo`, as the guest died: default disposition,
/// unblocked, raised; never returns.
pub fn die_by_signal(signo: i32) -> ! {
    set_host_disposition(signo, false);
    // SAFETY: plain libc calls on local, initialised values.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, signo);
        libc::sigprocmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
        libc::raise(signo);
    }
    // A signal whose default action does not kill (should not happen).
    std::process::exit(128 + signo)
}

/// The host's own auxiliary-vector entry `key` (0 when absent).
pub fn auxval(key: libc::c_ulong) -> u64 {
    // SAFETY: getauxval only reads this process's auxiliary vector.
    unsafe { libc::getauxval(key) }
}

/// Stops picorun with `signo` (the guest's default "stop" action), as job
/// control would stop the native process; returns once continued, with the
/// signal routed to the guest again.
pub fn stop_self(signo: i32) {
    set_host_disposition(signo, false);
    // SAFETY: raising a stop signal on ourselves with its default
    // disposition only suspends the process until SIGCONT.
    unsafe {
        libc::raise(signo);
    }
    crate::hostsig::catch(signo as u32);
}

/// The real user id (for siginfo of self-sent signals).
pub fn uid() -> u32 {
    call(libc::SYS_getuid, &[]).map(|u| u as u32).unwrap_or(0)
}

/// Which side of a host fork this is.
pub enum Forked {
    Parent(u32),
    Child,
}

/// Host fork: a new host process (a new pico process once the driver has
/// rebuilt its VM) whose memory is a copy-on-write copy of this one's —
/// guest memory included. `exit_signal` is what the parent gets when the
/// child ends (SIGCHLD normally).
pub fn fork(exit_signal: u64) -> Result<Forked, Errno> {
    let pid = if exit_signal == libc::SIGCHLD as u64 {
        // SAFETY: picorun has one thread per vCPU and this one holds no
        // lock the child needs; glibc's fork resets its own locks.
        unsafe { libc::fork() as i64 }
    } else {
        // SAFETY: a raw clone with only an exit signal is fork() with that
        // signal; no stack or TLS is shared.
        unsafe { libc::syscall(libc::SYS_clone, exit_signal, 0, 0, 0, 0) }
    };
    match pid {
        -1 => Err(Errno::last_os_error()),
        0 => Ok(Forked::Child),
        pid => Ok(Forked::Parent(pid as u32)),
    }
}

/// A host pipe, both ends close-on-exec.
pub fn pipe() -> Result<(OwnedFd, OwnedFd), Errno> {
    let mut ends = [0i32; 2];
    call(
        libc::SYS_pipe2,
        &[
            HostArg::Local(ends.as_mut_ptr().cast()),
            (libc::O_CLOEXEC as u64).into(),
        ],
    )?;
    Ok((own_fd(ends[0] as u64), own_fd(ends[1] as u64)))
}

/// `n` zeroed words of host memory shared with every process this one
/// forks from now on (MAP_SHARED), outside the guest's window, for the
/// life of the process.
pub fn shared_words(n: usize) -> Result<&'static [std::sync::atomic::AtomicU64], Errno> {
    let len = n.checked_mul(8).ok_or(Errno::ENOMEM)?.max(1);
    // SAFETY: a fresh anonymous shared mapping; no existing memory is
    // affected.
    let at = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    if at == libc::MAP_FAILED {
        return Err(Errno::last_os_error());
    }
    // SAFETY: the mapping is page-aligned, zero-filled, `len` bytes long and
    // never unmapped, so it is `n` valid AtomicU64 (all-zero is a valid
    // value) for 'static; atomics make the sharing across threads and
    // processes well-defined.
    Ok(unsafe { std::slice::from_raw_parts(at.cast::<std::sync::atomic::AtomicU64>(), n) })
}

/// Ends this host process at once (a fork child that cannot run).
pub fn exit_now(code: i32) -> ! {
    // SAFETY: _exit ends the process without running Rust or libc exit
    // handlers, which belong to the parent's state.
    unsafe { libc::_exit(code) }
}

/// Whether the file may be executed by this user, as execve checks it:
/// the host's errno when not.
pub fn check_executable(path: &std::path::Path) -> Result<(), Errno> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).map_err(|_| Errno::EINVAL)?;
    call(
        libc::SYS_faccessat2,
        &[
            HostArg::Int(libc::AT_FDCWD as i64 as u64),
            HostArg::Str(&c),
            (libc::X_OK as u64).into(),
            0u64.into(),
        ],
    )
    .map(|_| ())
}

/// This host thread's id.
pub fn gettid() -> u32 {
    // SAFETY: gettid takes no arguments and cannot fail.
    unsafe { libc::gettid() as u32 }
}

/// Ends the whole process as the guest process ended, from any thread.
/// Exit handlers do not run: in a pico process forked from a program
/// embedding picorun they and the buffers they flush are that program's.
pub fn finish(outcome: crate::task::Outcome) -> ! {
    match outcome {
        crate::task::Outcome::Exited(code) => exit_now(code),
        crate::task::Outcome::Signaled(signo) => die_by_signal(signo),
    }
}

/// Lets go of descriptor `fd` that picorun inherited and the guest now
/// owns a duplicate of: closed, except that 0 and 1 become /dev/null (so
/// the numbers stay taken) and 2 stays picorun's own stderr.
pub fn release_inherited(fd: RawFd) {
    match fd {
        2 => {}
        0 | 1 => {
            if let Ok(null) = std::fs::OpenOptions::new()
                .read(fd == 0)
                .write(fd == 1)
                .open("/dev/null")
            {
                use std::os::fd::AsRawFd;
                // SAFETY: dup2 onto a standard descriptor picorun owns; the
                // guest's copy is a separate duplicate made before.
                unsafe {
                    libc::dup2(null.as_raw_fd(), fd);
                }
            }
        }
        _ => {
            // SAFETY: `fd` was inherited from picorun's parent; nothing in
            // picorun refers to it (the guest owns a duplicate).
            unsafe {
                libc::close(fd);
            }
        }
    }
}

/// Whether host descriptor `fd` is open.
pub fn is_open(fd: RawFd) -> bool {
    call(
        libc::SYS_fcntl,
        &[HostArg::Fd(fd), (libc::F_GETFD as u64).into()],
    )
    .is_ok()
}

/// The host's clock `clock` in nanoseconds, if it has one.
pub fn clock_ns(clock: libc::clockid_t) -> Option<u64> {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: writes one timespec into a local.
    let ok = unsafe { libc::clock_gettime(clock, &mut ts) } == 0;
    ok.then(|| (ts.tv_sec as u64).wrapping_mul(1_000_000_000) + ts.tv_nsec as u64)
}

/// The host's `clock_getres(clock)` in nanoseconds, if it has the clock.
pub fn clock_res_ns(clock: libc::clockid_t) -> Option<u64> {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: writes one timespec into a local.
    let ok = unsafe { libc::clock_getres(clock, &mut ts) } == 0;
    ok.then(|| (ts.tv_sec as u64).wrapping_mul(1_000_000_000) + ts.tv_nsec as u64)
}

/// Whether the host CPU's TSC is invariant (CPUID 0x8000_0007 EDX bit 8):
/// it then ticks at one rate whatever the power state, which the vDSO's
/// clocks rely on.
pub fn invariant_tsc() -> bool {
    // Leaf 0x8000_0000 gives the highest extended leaf, checked first.
    use std::arch::x86_64::__cpuid;
    __cpuid(0x8000_0000).eax >= 0x8000_0007 && __cpuid(0x8000_0007).edx & (1 << 8) != 0
}

/// Spawns a helper thread with every host signal blocked, so signals meant
/// for the guest reach the vCPU threads, never the helper.
pub fn spawn_quiet(
    name: &str,
    body: impl FnOnce() + Send + 'static,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    pico_vm::spawn_quiet(name, body)
}

/// The file type bits and device number of host descriptor `fd`.
pub fn file_kind(fd: RawFd) -> Option<(u32, u64)> {
    // SAFETY: fstat writes only the local stat buffer.
    unsafe {
        let mut st: libc::stat = std::mem::zeroed();
        (libc::fstat(fd, &mut st) == 0).then_some((st.st_mode, st.st_rdev))
    }
}

/// A connected pair of host datagram sockets (close-on-exec), for picorun's
/// own messages between its processes.
pub fn datagram_pair() -> Result<(OwnedFd, OwnedFd), Errno> {
    let mut ends = [0i32; 2];
    // SAFETY: socketpair writes two descriptors into the local array.
    let ret = unsafe {
        libc::socketpair(
            libc::AF_UNIX,
            libc::SOCK_DGRAM | libc::SOCK_CLOEXEC,
            0,
            ends.as_mut_ptr(),
        )
    };
    if ret != 0 {
        return Err(Errno::last_os_error());
    }
    Ok((own_fd(ends[0] as u64), own_fd(ends[1] as u64)))
}

/// A pidfd for this process (pidfd_open(2), Linux 5.3).
pub fn own_pidfd() -> Result<OwnedFd, Errno> {
    // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor.
    let ret = unsafe { libc::syscall(libc::SYS_pidfd_open, libc::getpid(), 0) };
    if ret < 0 {
        return Err(Errno::last_os_error());
    }
    Ok(own_fd(ret as u64))
}

/// Sends `fds` over datagram socket `sock` (SCM_RIGHTS, one byte of data),
/// without blocking and without SIGPIPE.
pub fn send_fds(sock: BorrowedFd<'_>, fds: &[BorrowedFd<'_>]) -> Result<(), Errno> {
    const MAX: usize = 4;
    if fds.len() > MAX {
        return Err(Errno::EINVAL);
    }
    let mut byte = [0u8; 1];
    let mut iov = libc::iovec {
        iov_base: byte.as_mut_ptr().cast(),
        iov_len: 1,
    };
    // Room for one cmsghdr with MAX descriptors, 8-byte aligned.
    let mut control = [0u64; 2 + MAX / 2];
    // SAFETY: CMSG_SPACE/CMSG_LEN are pure size computations.
    let (space, len) = unsafe {
        let n = (fds.len() * std::mem::size_of::<RawFd>()) as u32;
        (libc::CMSG_SPACE(n) as usize, libc::CMSG_LEN(n) as usize)
    };
    // SAFETY: msghdr is plain data; every pointer in it refers to a local
    // that outlives the sendmsg call, and `space` fits in `control`
    // (CMSG_SPACE of MAX descriptors is 32 bytes). CMSG_FIRSTHDR of a
    // control buffer that large is its start.
    let ret = unsafe {
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = space;
        let cmsg = libc::CMSG_FIRSTHDR(&msg);
        (*cmsg).cmsg_level = libc::SOL_SOCKET;
        (*cmsg).cmsg_type = libc::SCM_RIGHTS;
        (*cmsg).cmsg_len = len;
        let data = libc::CMSG_DATA(cmsg).cast::<RawFd>();
        for (i, fd) in fds.iter().enumerate() {
            data.add(i).write_unaligned(fd.as_raw_fd());
        }
        libc::sendmsg(
            sock.as_raw_fd(),
            &msg,
            libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL,
        )
    };
    if ret < 0 {
        return Err(Errno::last_os_error());
    }
    Ok(())
}

/// Receives one datagram's descriptors from `sock` (blocking), made
/// close-on-exec.
pub fn recv_fds(sock: BorrowedFd<'_>) -> Result<Vec<OwnedFd>, Errno> {
    let mut byte = [0u8; 1];
    let mut iov = libc::iovec {
        iov_base: byte.as_mut_ptr().cast(),
        iov_len: 1,
    };
    let mut control = [0u64; 8];
    // SAFETY: as in `send_fds`: msghdr's pointers refer to locals that
    // outlive the call; the kernel writes at most `msg_controllen` bytes
    // of control data. The descriptors read back are new ones the kernel
    // just installed, owned by nothing else.
    unsafe {
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = std::mem::size_of_val(&control);
        if libc::recvmsg(sock.as_raw_fd(), &mut msg, libc::MSG_CMSG_CLOEXEC) < 0 {
            return Err(Errno::last_os_error());
        }
        let mut fds = Vec::new();
        let mut cmsg = libc::CMSG_FIRSTHDR(&msg);
        while !cmsg.is_null() {
            if (*cmsg).cmsg_level == libc::SOL_SOCKET && (*cmsg).cmsg_type == libc::SCM_RIGHTS {
                let data = libc::CMSG_DATA(cmsg).cast::<RawFd>();
                let n =
                    ((*cmsg).cmsg_len - libc::CMSG_LEN(0) as usize) / std::mem::size_of::<RawFd>();
                for i in 0..n {
                    fds.push(own_fd(data.add(i).read_unaligned() as u64));
                }
            }
            cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
        }
        Ok(fds)
    }
}

/// Waits until one of `fds` is readable (or hung up); returns which are.
pub fn wait_readable(fds: &[BorrowedFd<'_>]) -> Result<Vec<bool>, Errno> {
    let mut polled: Vec<libc::pollfd> = fds
        .iter()
        .map(|fd| libc::pollfd {
            fd: fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    // SAFETY: poll reads and writes the local pollfd array of that length.
    let ret = unsafe { libc::poll(polled.as_mut_ptr(), polled.len() as libc::nfds_t, -1) };
    if ret < 0 {
        return Err(Errno::last_os_error());
    }
    Ok(polled.iter().map(|p| p.revents != 0).collect())
}
