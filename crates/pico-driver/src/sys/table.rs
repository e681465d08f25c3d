//! The syscall table: one line per implemented syscall, with its argument
//! kinds (which drive `--trace` and docs/syscalls.md), its handler, and how
//! completely it follows Linux. Every number not listed returns `ENOSYS`.

use std::sync::OnceLock;

use pico_abi::sysno as nr;

use super::Handler::{self, Control, Plain};
use super::{fs, futex, info, mm, poll, rw, signal, task, time, xattr};

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
    e(nr::MADVISE, &[Hex, Uint, Madvise], Plain(mm::madvise)),
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
    e(nr::GETPGID, &[Int], Plain(task::getpgid)),
    e(nr::GETSID, &[Int], Plain(task::getsid)),
    e(nr::EXIT, &[Int], Control(task::exit)),
    e(nr::EXIT_GROUP, &[Int], Control(task::exit_group)),
    e(nr::ARCH_PRCTL, &[ArchPrctl, Hex], Plain(task::arch_prctl)),
    e(nr::SET_TID_ADDRESS, &[Ptr], Plain(task::set_tid_address)),
    partial(nr::SET_ROBUST_LIST, &[Ptr, Uint], Plain(task::set_robust_list), "recorded; walked at thread exit once threads exist"),
    partial(nr::PRCTL, &[PrctlOption, Hex, Hex, Hex, Hex], Plain(task::prctl), "PR_SET_NAME and PR_GET_NAME; other options EINVAL"),
    e(nr::SCHED_YIELD, &[], Plain(task::sched_yield)),
    e(nr::SCHED_GETAFFINITY, &[Int, Uint, Ptr], Plain(task::sched_getaffinity)),
    e(nr::FUTEX, &[Ptr, Hex, Uint, Ptr, Ptr, Hex], Plain(futex::futex)),
    // signals
    partial(nr::RT_SIGACTION, &[Signal, Ptr, Ptr, Uint], Plain(signal::rt_sigaction), "default actions and SIG_IGN are exact; running a handler ends the process (no signal frames yet)"),
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
    e(nr::SETRLIMIT, &[Rlimit, Ptr], Plain(info::setrlimit)),
    e(nr::PRLIMIT64, &[Int, Rlimit, Ptr, Ptr], Plain(info::prlimit64)),
    e(nr::GETRANDOM, &[OutBuf(1), Uint, GetrandomFlags], Plain(info::getrandom)),
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
