//! The syscall table: one line per implemented syscall, with its argument
//! kinds (which drive `--trace` and docs/syscalls.md), its handler, and how
//! completely it follows Linux. Every number not listed returns `ENOSYS`.

use std::sync::OnceLock;

use pico_abi::sysno as nr;

use super::Handler::{self, Control, Plain};
use super::{
    epoll, eventfd, fs, futex, info, mm, poll, proc, rw, select, signal, socket, sockopt, task,
    time, xattr,
};
use super::{inotify, misc, mlock, sched, splice, timer};

/// How an argument is shown by `--trace`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arg {
    Int,
    Long,
    Uint,
    Hex,
    Ptr,
    Fd,
    DirFd,
    Path,
    /// Data the guest passes in; its length is argument N.
    InBuf(usize),
    /// Data the call fills in; its length is the result.
    OutBuf(usize),
    OpenFlags,
    Mode,
    AtFlags,
    Prot,
    MapFlags,
    MremapFlags,
    Madvise,
    Signal,
    SigHow,
    ClockId,
    Whence,
    FcntlCmd,
    IoctlReq,
    ArchPrctl,
    PrctlOption,
    Rlimit,
    AccessMode,
    RenameFlags,
    GetrandomFlags,
    StatxMask,
    SockFamily,
    SockType,
    MsgFlags,
    ShutdownHow,
    SockoptLevel,
    EpollOp,
    EpollCreateFlags,
    EventfdFlags,
    TimerfdCreateFlags,
    TimerfdSettimeFlags,
}

/// How the result is shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ret {
    Int,
    /// Addresses (mmap, brk).
    Hex,
}

/// How completely a syscall follows Linux.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Support {
    Full,
    Partial,
}

pub struct Entry {
    pub nr: u64,
    pub args: &'static [Arg],
    pub ret: Ret,
    pub handler: Handler,
    pub support: Support,
    pub note: &'static str,
}

use Arg::*;
use Support::*;

const fn e(nr: u64, args: &'static [Arg], handler: Handler) -> Entry {
    Entry {
        nr,
        args,
        ret: Ret::Int,
        handler,
        support: Full,
        note: "",
    }
}

const fn partial(nr: u64, args: &'static [Arg], handler: Handler, note: &'static str) -> Entry {
    Entry {
        nr,
        args,
        ret: Ret::Int,
        handler,
        support: Partial,
        note,
    }
}

const fn addr(mut entry: Entry) -> Entry {
    entry.ret = Ret::Hex;
    entry
}

pub static TABLE: &[Entry] = &[
    // I/O
    e(nr::READ, &[Fd, OutBuf(2), Uint], Plain(rw::read)),
    e(nr::WRITE, &[Fd, InBuf(2), Uint], Plain(rw::write)),
    e(nr::PREAD64, &[Fd, OutBuf(2), Uint, Long], Plain(rw::pread64)),
    e(nr::PWRITE64, &[Fd, InBuf(2), Uint, Long], Plain(rw::pwrite64)),
    e(nr::READV, &[Fd, Ptr, Uint], Plain(rw::readv)),
    e(nr::WRITEV, &[Fd, Ptr, Uint], Plain(rw::writev)),
    e(nr::PREADV, &[Fd, Ptr, Uint, Long], Plain(rw::preadv)),
    e(nr::PWRITEV, &[Fd, Ptr, Uint, Long], Plain(rw::pwritev)),
    e(nr::PREADV2, &[Fd, Ptr, Uint, Long, Hex, Hex], Plain(rw::preadv2)),
    e(nr::PWRITEV2, &[Fd, Ptr, Uint, Long, Hex, Hex], Plain(rw::pwritev2)),
    e(nr::POLL, &[Ptr, Uint, Int], Plain(poll::poll)),
    partial(nr::PPOLL, &[Ptr, Uint, Ptr, Ptr, Uint], Plain(poll::ppoll), "the signal mask argument has no effect until asynchronous signal delivery exists"),
    e(nr::SELECT, &[Int, Ptr, Ptr, Ptr, Ptr], Plain(select::select)),
    partial(nr::PSELECT6, &[Int, Ptr, Ptr, Ptr, Ptr, Ptr], Plain(select::pselect6), "the signal mask argument is checked but has no effect until asynchronous signal delivery exists"),
    e(nr::EPOLL_CREATE, &[Int], Plain(epoll::epoll_create)),
    e(nr::EPOLL_CREATE1, &[EpollCreateFlags], Plain(epoll::epoll_create1)),
    e(nr::EPOLL_CTL, &[Fd, EpollOp, Fd, Ptr], Plain(epoll::epoll_ctl)),
    e(nr::EPOLL_WAIT, &[Fd, Ptr, Int, Int], Plain(epoll::epoll_wait)),
    partial(nr::EPOLL_PWAIT, &[Fd, Ptr, Int, Int, Ptr, Uint], Plain(epoll::epoll_pwait), "the signal mask argument is checked but has no effect until asynchronous signal delivery exists"),
    partial(nr::EPOLL_PWAIT2, &[Fd, Ptr, Int, Ptr, Ptr, Uint], Plain(epoll::epoll_pwait2), "the signal mask argument is checked but has no effect until asynchronous signal delivery exists"),
    e(nr::EVENTFD, &[Uint], Plain(eventfd::eventfd)),
    e(nr::EVENTFD2, &[Uint, EventfdFlags], Plain(eventfd::eventfd2)),
    e(nr::TIMERFD_CREATE, &[ClockId, TimerfdCreateFlags], Plain(eventfd::timerfd_create)),
    e(nr::TIMERFD_SETTIME, &[Fd, TimerfdSettimeFlags, Ptr, Ptr], Plain(eventfd::timerfd_settime)),
    e(nr::TIMERFD_GETTIME, &[Fd, Ptr], Plain(eventfd::timerfd_gettime)),
    e(nr::LSEEK, &[Fd, Long, Whence], Plain(rw::lseek)),
    e(nr::SENDFILE, &[Fd, Fd, Ptr, Uint], Plain(rw::sendfile)),
    e(nr::COPY_FILE_RANGE, &[Fd, Ptr, Fd, Ptr, Uint, Hex], Plain(rw::copy_file_range)),
    // files and descriptors
    e(nr::OPEN, &[Path, OpenFlags, Mode], Plain(fs::open)),
    e(nr::OPENAT, &[DirFd, Path, OpenFlags, Mode], Plain(fs::openat)),
    e(nr::CREAT, &[Path, Mode], Plain(fs::creat)),
    e(nr::CLOSE, &[Fd], Plain(fs::close)),
    e(nr::DUP, &[Fd], Plain(fs::dup)),
    e(nr::DUP2, &[Fd, Fd], Plain(fs::dup2)),
    e(nr::DUP3, &[Fd, Fd, OpenFlags], Plain(fs::dup3)),
    e(nr::FCNTL, &[Fd, FcntlCmd, Hex], Plain(fs::fcntl)),
    partial(nr::IOCTL, &[Fd, IoctlReq, Hex], Plain(fs::ioctl), "terminal requests (TCGETS/TCSETS*, TIOCGWINSZ/TIOCSWINSZ, TIOCGPGRP/TIOCSPGRP, ...), FIONREAD, FIONBIO, FIOCLEX; others ENOTTY"),
    e(nr::PIPE, &[Ptr], Plain(fs::pipe)),
    e(nr::PIPE2, &[Ptr, OpenFlags], Plain(fs::pipe2)),
    // sockets the guest holds (creating and connecting them is the network's)
    e(nr::SOCKETPAIR, &[SockFamily, SockType, Int, Ptr], Plain(socket::socketpair)),
    e(nr::SENDTO, &[Fd, InBuf(2), Uint, MsgFlags, Ptr, Int], Plain(socket::sendto)),
    e(nr::RECVFROM, &[Fd, OutBuf(2), Uint, MsgFlags, Ptr, Ptr], Plain(socket::recvfrom)),
    e(nr::SENDMSG, &[Fd, Ptr, MsgFlags], Plain(socket::sendmsg)),
    e(nr::RECVMSG, &[Fd, Ptr, MsgFlags], Plain(socket::recvmsg)),
    e(nr::SHUTDOWN, &[Fd, ShutdownHow], Plain(socket::shutdown)),
    partial(nr::GETSOCKOPT, &[Fd, SockoptLevel, Int, Ptr, Ptr], Plain(sockopt::getsockopt), "SOL_SOCKET options; other levels are EOPNOTSUPP (what AF_UNIX answers)"),
    partial(nr::SETSOCKOPT, &[Fd, SockoptLevel, Int, Ptr, Int], Plain(sockopt::setsockopt), "SOL_SOCKET options; other levels are EOPNOTSUPP (what AF_UNIX answers)"),
    e(nr::GETSOCKNAME, &[Fd, Ptr, Ptr], Plain(socket::getsockname)),
    e(nr::GETPEERNAME, &[Fd, Ptr, Ptr], Plain(socket::getpeername)),
    e(nr::FSYNC, &[Fd], Plain(fs::fsync)),
    e(nr::FDATASYNC, &[Fd], Plain(fs::fdatasync)),
    e(nr::FADVISE64, &[Fd, Long, Long, Int], Plain(fs::fadvise64)),
    e(nr::FLOCK, &[Fd, Int], Plain(fs::flock)),
    e(nr::FTRUNCATE, &[Fd, Long], Plain(fs::ftruncate)),
    e(nr::TRUNCATE, &[Path, Long], Plain(fs::truncate)),
    // metadata
    e(nr::STAT, &[Path, Ptr], Plain(fs::stat)),
    e(nr::LSTAT, &[Path, Ptr], Plain(fs::lstat)),
    e(nr::FSTAT, &[Fd, Ptr], Plain(fs::fstat)),
    e(nr::NEWFSTATAT, &[DirFd, Path, Ptr, AtFlags], Plain(fs::newfstatat)),
    e(nr::STATX, &[DirFd, Path, AtFlags, StatxMask, Ptr], Plain(fs::statx)),
    e(nr::STATFS, &[Path, Ptr], Plain(fs::statfs)),
    e(nr::FSTATFS, &[Fd, Ptr], Plain(fs::fstatfs)),
    e(nr::ACCESS, &[Path, AccessMode], Plain(fs::access)),
    e(nr::FACCESSAT, &[DirFd, Path, AccessMode], Plain(fs::faccessat)),
    e(nr::FACCESSAT2, &[DirFd, Path, AccessMode, AtFlags], Plain(fs::faccessat2)),
    e(nr::CHMOD, &[Path, Mode], Plain(fs::chmod)),
    e(nr::FCHMOD, &[Fd, Mode], Plain(fs::fchmod)),
    e(nr::FCHMODAT, &[DirFd, Path, Mode], Plain(fs::fchmodat)),
    e(nr::CHOWN, &[Path, Int, Int], Plain(fs::chown)),
    e(nr::LCHOWN, &[Path, Int, Int], Plain(fs::lchown)),
    e(nr::FCHOWN, &[Fd, Int, Int], Plain(fs::fchown)),
    e(nr::FCHOWNAT, &[DirFd, Path, Int, Int, AtFlags], Plain(fs::fchownat)),
    e(nr::UTIMENSAT, &[DirFd, Path, Ptr, AtFlags], Plain(fs::utimensat)),
    e(nr::UMASK, &[Mode], Plain(fs::umask)),
    // directories and names
    e(nr::GETDENTS64, &[Fd, Ptr, Uint], Plain(fs::getdents64)),
    e(nr::GETCWD, &[Ptr, Uint], Plain(fs::getcwd)),
    e(nr::CHDIR, &[Path], Plain(fs::chdir)),
    e(nr::FCHDIR, &[Fd], Plain(fs::fchdir)),
    e(nr::MKDIR, &[Path, Mode], Plain(fs::mkdir)),
    e(nr::MKDIRAT, &[DirFd, Path, Mode], Plain(fs::mkdirat)),
    e(nr::RMDIR, &[Path], Plain(fs::rmdir)),
    e(nr::UNLINK, &[Path], Plain(fs::unlink)),
    e(nr::UNLINKAT, &[DirFd, Path, AtFlags], Plain(fs::unlinkat)),
    e(nr::RENAME, &[Path, Path], Plain(fs::rename)),
    e(nr::RENAMEAT, &[DirFd, Path, DirFd, Path], Plain(fs::renameat)),
    e(nr::RENAMEAT2, &[DirFd, Path, DirFd, Path, RenameFlags], Plain(fs::renameat2)),
    e(nr::LINK, &[Path, Path], Plain(fs::link)),
    e(nr::LINKAT, &[DirFd, Path, DirFd, Path, AtFlags], Plain(fs::linkat)),
    e(nr::SYMLINK, &[Path, Path], Plain(fs::symlink)),
    e(nr::SYMLINKAT, &[Path, DirFd, Path], Plain(fs::symlinkat)),
    e(nr::READLINK, &[Path, OutBuf(2), Uint], Plain(fs::readlink)),
    e(nr::READLINKAT, &[DirFd, Path, OutBuf(3), Uint], Plain(fs::readlinkat)),
    e(nr::GETXATTR, &[Path, Path, Ptr, Uint], Plain(xattr::getxattr)),
    e(nr::LGETXATTR, &[Path, Path, Ptr, Uint], Plain(xattr::lgetxattr)),
    e(nr::FGETXATTR, &[Fd, Path, Ptr, Uint], Plain(xattr::fgetxattr)),
    e(nr::LISTXATTR, &[Path, Ptr, Uint], Plain(xattr::listxattr)),
    e(nr::LLISTXATTR, &[Path, Ptr, Uint], Plain(xattr::llistxattr)),
    e(nr::FLISTXATTR, &[Fd, Ptr, Uint], Plain(xattr::flistxattr)),
    e(nr::SETXATTR, &[Path, Path, Ptr, Uint, Hex], Plain(xattr::setxattr)),
    e(nr::LSETXATTR, &[Path, Path, Ptr, Uint, Hex], Plain(xattr::lsetxattr)),
    e(nr::FSETXATTR, &[Fd, Path, Ptr, Uint, Hex], Plain(xattr::fsetxattr)),
    // memory
    addr(e(nr::BRK, &[Hex], Plain(mm::brk))),
    addr(partial(nr::MMAP, &[Hex, Uint, Prot, MapFlags, Fd, Hex], Plain(mm::mmap), "MAP_HUGETLB and MAP_SYNC are EINVAL; placement is inside picorun's 1 TiB window")),
    e(nr::MUNMAP, &[Hex, Uint], Plain(mm::munmap)),
    partial(nr::MPROTECT, &[Hex, Uint, Prot], Plain(mm::mprotect), "PROT_EXEC is not enforced separately from read (static guest page tables)"),
    addr(partial(nr::MREMAP, &[Hex, Uint, Uint, MremapFlags, Hex], Plain(mm::mremap), "MREMAP_DONTUNMAP is EINVAL")),
    e(nr::MSYNC, &[Hex, Uint, Hex], Plain(mm::msync)),
    partial(nr::MADVISE, &[Hex, Uint, Madvise], Plain(mm::madvise), "MADV_DONTFORK is accepted but not applied (a forked child keeps a copy); advice picorun does not know is EINVAL"),
    // time
    e(nr::CLOCK_GETTIME, &[ClockId, Ptr], Plain(time::clock_gettime)),
    e(nr::CLOCK_GETRES, &[ClockId, Ptr], Plain(time::clock_getres)),
    e(nr::GETTIMEOFDAY, &[Ptr, Ptr], Plain(time::gettimeofday)),
    e(nr::TIME, &[Ptr], Plain(time::time)),
    e(nr::NANOSLEEP, &[Ptr, Ptr], Plain(time::nanosleep)),
    e(nr::CLOCK_NANOSLEEP, &[ClockId, Int, Ptr, Ptr], Plain(time::clock_nanosleep)),
    e(nr::TIMES, &[Ptr], Plain(time::times)),
    // identity and process
    e(nr::GETPID, &[], Plain(task::getpid)),
    e(nr::GETPPID, &[], Plain(task::getppid)),
    e(nr::GETTID, &[], Plain(task::gettid)),
    e(nr::GETUID, &[], Plain(task::getuid)),
    e(nr::GETEUID, &[], Plain(task::geteuid)),
    e(nr::GETGID, &[], Plain(task::getgid)),
    e(nr::GETEGID, &[], Plain(task::getegid)),
    e(nr::GETGROUPS, &[Int, Ptr], Plain(task::getgroups)),
    e(nr::GETRESUID, &[Ptr, Ptr, Ptr], Plain(task::getresuid)),
    e(nr::GETRESGID, &[Ptr, Ptr, Ptr], Plain(task::getresgid)),
    e(nr::GETPGRP, &[], Plain(task::getpgrp)),
    e(nr::SETUID, &[Int], Plain(task::setuid)),
    e(nr::SETGID, &[Int], Plain(task::setgid)),
    e(nr::SETREUID, &[Int, Int], Plain(task::setreuid)),
    e(nr::SETREGID, &[Int, Int], Plain(task::setregid)),
    e(nr::SETRESUID, &[Int, Int, Int], Plain(task::setresuid)),
    e(nr::SETRESGID, &[Int, Int, Int], Plain(task::setresgid)),
    e(nr::SETFSUID, &[Int], Plain(task::setfsuid)),
    e(nr::SETFSGID, &[Int], Plain(task::setfsgid)),
    e(nr::SETGROUPS, &[Int, Ptr], Plain(task::setgroups)),
    e(nr::GETPGID, &[Int], Plain(task::getpgid)),
    e(nr::GETSID, &[Int], Plain(task::getsid)),
    partial(nr::FORK, &[], Plain(proc::fork_), "a host fork; the child rebuilds its VM over its copy-on-write memory"),
    partial(nr::VFORK, &[], Plain(proc::vfork), "the child runs on a copy of memory; its stores are copied back before the parent resumes"),
    partial(nr::CLONE, &[Hex, Hex, Ptr, Ptr, Hex], Plain(proc::clone), "new processes only: CLONE_THREAD is ENOSYS; CLONE_VM children get a copy of memory; CLONE_FILES/FS/SIGHAND without CLONE_THREAD are EINVAL"),
    e(nr::EXECVE, &[Path, Ptr, Ptr], Control(proc::execve)),
    e(nr::EXECVEAT, &[DirFd, Path, Ptr, Ptr, AtFlags], Control(proc::execveat)),
    e(nr::WAIT4, &[Int, Ptr, Hex, Ptr], Plain(proc::wait4)),
    e(nr::WAITID, &[Int, Int, Ptr, Hex, Ptr], Plain(proc::waitid)),
    e(nr::SETPGID, &[Int, Int], Plain(proc::setpgid)),
    e(nr::SETSID, &[], Plain(proc::setsid)),
    e(nr::EXIT, &[Int], Control(task::exit)),
    e(nr::EXIT_GROUP, &[Int], Control(task::exit_group)),
    e(nr::ARCH_PRCTL, &[ArchPrctl, Hex], Plain(task::arch_prctl)),
    e(nr::SET_TID_ADDRESS, &[Ptr], Plain(task::set_tid_address)),
    e(nr::SET_ROBUST_LIST, &[Ptr, Uint], Plain(task::set_robust_list)),
    e(nr::GET_ROBUST_LIST, &[Int, Ptr, Ptr], Plain(task::get_robust_list)),
    partial(nr::PRCTL, &[PrctlOption, Hex, Hex, Hex, Hex], Plain(task::prctl), "PR_SET_NAME and PR_GET_NAME; other options EINVAL"),
    e(nr::SCHED_YIELD, &[], Plain(task::sched_yield)),
    e(nr::SCHED_GETAFFINITY, &[Int, Uint, Ptr], Plain(task::sched_getaffinity)),
    e(nr::FUTEX, &[Ptr, Hex, Uint, Ptr, Ptr, Hex], Plain(futex::futex)),
    // signals
    e(nr::RT_SIGACTION, &[Signal, Ptr, Ptr, Uint], Plain(signal::rt_sigaction)),
    e(nr::RT_SIGRETURN, &[], Control(signal::rt_sigreturn)),
    e(nr::SIGALTSTACK, &[Ptr, Ptr], Plain(signal::sigaltstack)),
    e(nr::RT_SIGSUSPEND, &[Ptr, Uint], Plain(signal::rt_sigsuspend)),
    e(nr::PAUSE, &[], Plain(signal::pause)),
    e(nr::RT_SIGTIMEDWAIT, &[Ptr, Ptr, Ptr, Uint], Plain(signal::rt_sigtimedwait)),
    e(nr::SIGNALFD, &[Fd, Ptr, Uint], Plain(signal::signalfd)),
    e(nr::SIGNALFD4, &[Fd, Ptr, Uint, Hex], Plain(signal::signalfd4)),
    e(nr::RT_SIGQUEUEINFO, &[Int, Signal, Ptr], Plain(signal::rt_sigqueueinfo)),
    e(nr::RT_TGSIGQUEUEINFO, &[Int, Int, Signal, Ptr], Plain(signal::rt_tgsigqueueinfo)),
    e(nr::ALARM, &[Uint], Plain(signal::alarm)),
    e(nr::SETITIMER, &[Int, Ptr, Ptr], Plain(signal::setitimer)),
    e(nr::GETITIMER, &[Int, Ptr], Plain(signal::getitimer)),
    e(nr::RT_SIGPROCMASK, &[SigHow, Ptr, Ptr, Uint], Plain(signal::rt_sigprocmask)),
    e(nr::RT_SIGPENDING, &[Ptr, Uint], Plain(signal::rt_sigpending)),
    e(nr::KILL, &[Int, Signal], Plain(signal::kill)),
    e(nr::TGKILL, &[Int, Int, Signal], Plain(signal::tgkill)),
    e(nr::TKILL, &[Int, Signal], Plain(signal::tkill)),
    // system
    e(nr::UNAME, &[Ptr], Plain(info::uname)),
    e(nr::SYSINFO, &[Ptr], Plain(info::sysinfo)),
    e(nr::GETRUSAGE, &[Int, Ptr], Plain(info::getrusage)),
    e(nr::GETRLIMIT, &[Rlimit, Ptr], Plain(info::getrlimit)),
    partial(nr::SETRLIMIT, &[Rlimit, Ptr], Plain(info::setrlimit), "RLIMIT_AS, RLIMIT_DATA, RLIMIT_STACK and RLIMIT_NOFILE are kept for the program (on the host they would bind picorun itself); RLIMIT_NOFILE is enforced on its descriptors, the others are not"),
    partial(nr::PRLIMIT64, &[Int, Rlimit, Ptr, Ptr], Plain(info::prlimit64), "RLIMIT_AS, RLIMIT_DATA, RLIMIT_STACK and RLIMIT_NOFILE of the caller itself are kept for the program (on the host they would bind picorun itself); RLIMIT_NOFILE is enforced on its descriptors, the others are not"),
    e(nr::GETRANDOM, &[OutBuf(1), Uint, GetrandomFlags], Plain(info::getrandom)),
    // more syscalls
    e(nr::GETPRIORITY, &[Int, Int], Plain(sched::getpriority)),
    e(nr::SETPRIORITY, &[Int, Int, Int], Plain(sched::setpriority)),
    e(nr::SCHED_SETAFFINITY, &[Int, Uint, Ptr], Plain(sched::sched_setaffinity)),
    e(nr::SCHED_GETPARAM, &[Int, Ptr], Plain(sched::sched_getparam)),
    e(nr::SCHED_SETPARAM, &[Int, Ptr], Plain(sched::sched_setparam)),
    e(nr::SCHED_GETSCHEDULER, &[Int], Plain(sched::sched_getscheduler)),
    e(nr::SCHED_SETSCHEDULER, &[Int, Int, Ptr], Plain(sched::sched_setscheduler)),
    e(nr::SCHED_GET_PRIORITY_MAX, &[Int], Plain(sched::sched_get_priority_max)),
    e(nr::SCHED_GET_PRIORITY_MIN, &[Int], Plain(sched::sched_get_priority_min)),
    e(nr::SCHED_RR_GET_INTERVAL, &[Int, Ptr], Plain(sched::sched_rr_get_interval)),
    e(nr::GETCPU, &[Ptr, Ptr, Ptr], Plain(sched::getcpu)),
    e(nr::MLOCK, &[Hex, Uint], Plain(mlock::mlock)),
    e(nr::MLOCK2, &[Hex, Uint, Hex], Plain(mlock::mlock2)),
    e(nr::MUNLOCK, &[Hex, Uint], Plain(mlock::munlock)),
    partial(nr::MLOCKALL, &[Hex], Plain(mlock::mlockall), "MCL_CURRENT locks the guest's mappings (the 8 MiB stack reservation counts in full against RLIMIT_MEMLOCK); MCL_FUTURE is EINVAL"),
    e(nr::MUNLOCKALL, &[], Plain(mlock::munlockall)),
    e(nr::MINCORE, &[Hex, Uint, Ptr], Plain(mlock::mincore)),
    e(nr::UTIME, &[Path, Ptr], Plain(misc::utime)),
    e(nr::UTIMES, &[Path, Ptr], Plain(misc::utimes)),
    e(nr::FUTIMESAT, &[DirFd, Path, Ptr], Plain(misc::futimesat)),
    e(nr::REMOVEXATTR, &[Path, Path], Plain(xattr::removexattr)),
    e(nr::LREMOVEXATTR, &[Path, Path], Plain(xattr::lremovexattr)),
    e(nr::FREMOVEXATTR, &[Fd, Path], Plain(xattr::fremovexattr)),
    e(nr::FALLOCATE, &[Fd, Hex, Long, Long], Plain(misc::fallocate)),
    e(nr::SYNC, &[], Plain(misc::sync)),
    e(nr::SYNCFS, &[Fd], Plain(misc::syncfs)),
    e(nr::SYNC_FILE_RANGE, &[Fd, Long, Long, Hex], Plain(misc::sync_file_range)),
    e(nr::READAHEAD, &[Fd, Long, Uint], Plain(misc::readahead)),
    e(nr::MKNOD, &[Path, Mode, Hex], Plain(misc::mknod)),
    e(nr::MKNODAT, &[DirFd, Path, Mode, Hex], Plain(misc::mknodat)),
    e(nr::CLOSE_RANGE, &[Uint, Uint, Hex], Plain(misc::close_range)),
    e(nr::MEMFD_CREATE, &[Path, Hex], Plain(misc::memfd_create)),
    e(nr::SPLICE, &[Fd, Ptr, Fd, Ptr, Uint, Hex], Plain(splice::splice)),
    e(nr::TEE, &[Fd, Fd, Uint, Hex], Plain(splice::tee)),
    e(nr::VMSPLICE, &[Fd, Ptr, Uint, Hex], Plain(splice::vmsplice)),
    e(nr::INOTIFY_INIT, &[], Plain(inotify::inotify_init)),
    e(nr::INOTIFY_INIT1, &[OpenFlags], Plain(inotify::inotify_init1)),
    e(nr::INOTIFY_ADD_WATCH, &[Fd, Path, Hex], Plain(inotify::inotify_add_watch)),
    e(nr::INOTIFY_RM_WATCH, &[Fd, Int], Plain(inotify::inotify_rm_watch)),
    partial(nr::TIMER_CREATE, &[ClockId, Ptr, Ptr], Plain(timer::timer_create), "host timers; a signal picorun cannot route (SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP, SIGPIPE, 32, 33) is EINVAL, so glibc's and musl's SIGEV_THREAD (signal 32) fail"),
    e(nr::TIMER_SETTIME, &[Int, Hex, Ptr, Ptr], Plain(timer::timer_settime)),
    e(nr::TIMER_GETTIME, &[Int, Ptr], Plain(timer::timer_gettime)),
    e(nr::TIMER_GETOVERRUN, &[Int], Plain(timer::timer_getoverrun)),
    e(nr::TIMER_DELETE, &[Int], Plain(timer::timer_delete)),
];

/// The table entry for syscall `nr`: one index on the hot path.
pub fn lookup(nr: u64) -> Option<&'static Entry> {
    static INDEX: OnceLock<Vec<Option<&'static Entry>>> = OnceLock::new();
    let index = INDEX.get_or_init(|| {
        let mut v = vec![None; nr::MAX as usize];
        for entry in TABLE {
            v[entry.nr as usize] = Some(entry);
        }
        v
    });
    index.get(usize::try_from(nr).ok()?).copied().flatten()
}

/// Markdown for docs/syscalls.md: every x86-64 syscall with its support.
pub fn markdown() -> String {
    let mut out = String::from(
        "# Syscalls\n\nGenerated from `crates/pico-driver/src/sys/table.rs` by `cargo run -p pico-driver --example syscalls-doc`; \
         a test fails when this file is stale. Every syscall not marked here returns `ENOSYS`.\n\n\
         | nr | name | support | note |\n|---:|---|---|---|\n",
    );
    let implemented = TABLE.len();
    for n in 0..nr::MAX {
        let Some(name) = nr::name(n) else { continue };
        let (support, note) = match lookup(n) {
            Some(e) if e.support == Full => ("yes", e.note),
            Some(e) => ("partial", e.note),
            None if n == nr::RSEQ => ("ENOSYS", "glibc falls back when rseq is unavailable"),
            None => ("ENOSYS", ""),
        };
        out.push_str(&format!("| {n} | {name} | {support} | {note} |\n"));
    }
    out.push_str(&format!("\n{implemented} syscalls implemented.\n"));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_entry_is_reachable_and_unique() {
        let mut seen = std::collections::HashSet::new();
        for entry in TABLE {
            assert!(seen.insert(entry.nr), "syscall {} listed twice", entry.nr);
            assert!(nr::name(entry.nr).is_some(), "{} has no name", entry.nr);
            assert!(std::ptr::eq(lookup(entry.nr).unwrap(), entry));
        }
        assert!(lookup(nr::RSEQ).is_none());
        assert!(lookup(100_000).is_none());
        assert!(lookup(u64::MAX).is_none());
    }

    #[test]
    fn buffer_arguments_name_a_real_argument() {
        for entry in TABLE {
            for kind in entry.args {
                if let InBuf(i) | OutBuf(i) = kind {
                    assert!(*i < entry.args.len(), "{}", entry.nr);
                }
            }
        }
    }

    #[test]
    fn docs_are_current() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/syscalls.md");
        let on_disk = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            on_disk == markdown(),
            "docs/syscalls.md is stale: run `cargo run -p pico-driver --example syscalls-doc > docs/syscalls.md`"
        );
    }
}
