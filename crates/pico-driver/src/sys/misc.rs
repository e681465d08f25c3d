//! File calls beyond the everyday ones: the old time setters (utime,
//! utimes, futimesat, turned into utimensat), space allocation, syncing
//! and read-ahead, device nodes and FIFOs, closing descriptor ranges and
//! memfds. Paths go through [`super::fs::at`], so `/proc/self/...` and
//! `/dev/fd/N` stay the guest's; descriptors are the guest's numbers.

use pico_abi::Errno;

use super::fs::{at, install, AT_FDCWD};
use super::{Args, SysResult};
use crate::host::{self, HostArg};
use crate::task::Task;

const CLOSE_RANGE_UNSHARE: u64 = 1 << 1;
const CLOSE_RANGE_CLOEXEC: u64 = 1 << 2;
const MFD_CLOEXEC: u64 = 1;
/// Longest memfd name, without its NUL (Linux's MFD_NAME_MAX_LEN).
const MFD_NAME_MAX: usize = 249;
const USEC_PER_SEC: i64 = 1_000_000;

fn word(raw: &[u8], i: usize) -> i64 {
    raw.get(8 * i..8 * i + 8)
        .and_then(|b| b.try_into().ok())
        .map_or(0, i64::from_le_bytes)
}

/// Sets the times of `(dirfd, path)` — or of `dirfd` itself when the
/// path pointer is NULL — following a final symlink; `times` are two
/// timespecs (access, modification), `None` for "now".
fn set_times(t: &Task, dirfd: u64, path_addr: u64, times: Option<[i64; 4]>) -> SysResult {
    let mut times = times;
    let times_arg = match times.as_mut() {
        Some(ts) => HostArg::Local(ts.as_mut_ptr().cast()),
        None => HostArg::Int(0),
    };
    if path_addr == 0 {
        // Linux: a NULL path names the descriptor, but not the cwd.
        if dirfd as i32 == AT_FDCWD {
            return Err(Errno::EFAULT);
        }
        super::fs::fd_writable(t, dirfd)?;
        let fd = t.fds.host(dirfd)?;
        return host::call(
            libc::SYS_utimensat,
            &[HostArg::Fd(fd), 0u64.into(), times_arg, 0u64.into()],
        );
    }
    let path = t.path(path_addr)?;
    let at = at(t, dirfd, &path, true)?;
    at.check(crate::rootfs::Intent::Modify)?;
    host::call(
        libc::SYS_utimensat,
        &[at.dir, HostArg::Str(at.path(&path)), times_arg, 0u64.into()],
    )
}

/// utime(2): whole seconds.
pub fn utime(t: &mut Task, a: &Args) -> SysResult {
    let times = if a[1] == 0 {
        None
    } else {
        let mut raw = [0u8; 16];
        t.read_bytes(a[1], &mut raw)?;
        Some([word(&raw, 0), 0, word(&raw, 1), 0])
    };
    set_times(t, AT_FDCWD as i64 as u64, a[0], times)
}

/// futimesat(2): two timevals; microseconds outside `[0, 1e6)` are
/// `EINVAL` (which also keeps utimensat's UTIME_NOW/UTIME_OMIT out).
pub fn futimesat(t: &mut Task, a: &Args) -> SysResult {
    let times = if a[2] == 0 {
        None
    } else {
        let mut raw = [0u8; 32];
        t.read_bytes(a[2], &mut raw)?;
        let (atime_us, mtime_us) = (word(&raw, 1), word(&raw, 3));
        if ![atime_us, mtime_us]
            .iter()
            .all(|us| (0..USEC_PER_SEC).contains(us))
        {
            return Err(Errno::EINVAL);
        }
        Some([
            word(&raw, 0),
            atime_us * 1000,
            word(&raw, 2),
            mtime_us * 1000,
        ])
    };
    set_times(t, a[0], a[1], times)
}

/// utimes(2).
pub fn utimes(t: &mut Task, a: &Args) -> SysResult {
    futimesat(t, &Args([AT_FDCWD as i64 as u64, a[0], a[1], 0, 0, 0]))
}

/// A call on one guest descriptor whose other arguments are plain values.
fn on_fd(t: &Task, nr: i64, a: &Args, n: usize) -> SysResult {
    let mut args = vec![HostArg::Fd(t.fds.host(a[0])?)];
    args.extend((1..n).map(|i| HostArg::Int(a[i])));
    host::call(nr, &args)
}

/// fallocate(2).
pub fn fallocate(t: &mut Task, a: &Args) -> SysResult {
    on_fd(t, libc::SYS_fallocate, a, 4)
}

/// sync(2): the host's, as a native process's sync is the system's.
pub fn sync(_t: &mut Task, _a: &Args) -> SysResult {
    host::call(libc::SYS_sync, &[])
}

/// syncfs(2).
pub fn syncfs(t: &mut Task, a: &Args) -> SysResult {
    on_fd(t, libc::SYS_syncfs, a, 1)
}

/// sync_file_range(2).
pub fn sync_file_range(t: &mut Task, a: &Args) -> SysResult {
    on_fd(t, libc::SYS_sync_file_range, a, 4)
}

/// readahead(2).
pub fn readahead(t: &mut Task, a: &Args) -> SysResult {
    on_fd(t, libc::SYS_readahead, a, 3)
}

/// mknodat(2): the host creates the node and checks the privilege
/// device nodes need.
pub fn mknodat(t: &mut Task, a: &Args) -> SysResult {
    let path = t.path(a[1])?;
    let at = at(t, a[0], &path, false)?;
    at.check(crate::rootfs::Intent::Modify)?;
    host::call(
        libc::SYS_mknodat,
        &[
            at.dir,
            HostArg::Str(at.path(&path)),
            a[2].into(),
            a[3].into(),
        ],
    )
}

/// mknod(2).
pub fn mknod(t: &mut Task, a: &Args) -> SysResult {
    mknodat(t, &Args([AT_FDCWD as i64 as u64, a[0], a[1], a[2], 0, 0]))
}

/// close_range(2) on the guest's descriptor numbers. With
/// `CLOSE_RANGE_UNSHARE` this thread first gets its own copy of the table
/// (as Linux does when threads share it; for one thread it changes nothing).
pub fn close_range(t: &mut Task, a: &Args) -> SysResult {
    let (first, last, flags) = (a[0] as u32, a[1] as u32, a[2] & 0xffff_ffff);
    if flags & !(CLOSE_RANGE_UNSHARE | CLOSE_RANGE_CLOEXEC) != 0 || first > last {
        return Err(Errno::EINVAL);
    }
    if flags & CLOSE_RANGE_UNSHARE != 0 {
        t.fds = t.fds.deep_copy();
    }
    t.fds.close_range(
        first as usize,
        last as usize,
        flags & CLOSE_RANGE_CLOEXEC != 0,
    );
    Ok(0)
}

/// memfd_create(2): a new host memfd (close-on-exec on the host; the
/// guest's MFD_CLOEXEC is recorded) installed at the lowest free number.
pub fn memfd_create(t: &mut Task, a: &Args) -> SysResult {
    let name =
        t.vm.memory()
            .read_cstr(a[0], MFD_NAME_MAX)
            .map_err(|e| match e {
                pico_vm::CstrError::Fault(_) => Errno::EFAULT,
                pico_vm::CstrError::TooLong => Errno::EINVAL,
            })?;
    let name = std::ffi::CString::new(name).map_err(|_| Errno::EINVAL)?;
    let flags = a[1] & 0xffff_ffff;
    let fd = host::call(
        libc::SYS_memfd_create,
        &[HostArg::Str(&name), (flags | MFD_CLOEXEC).into()],
    )?;
    install(t, fd, flags & MFD_CLOEXEC != 0)
}
