//! Reading and writing: data moves between host descriptors and guest
//! memory directly (the host kernel copies; picorun never bounces it).

use std::os::fd::RawFd;

use pico_abi::{signal as sig, Errno};
use pico_vm::Access;

use super::{Args, SysResult};
use crate::fd::FdTable;
use crate::host::{self, GuestBuf, HostArg};
use crate::shared::SharedVm;
use crate::task::Task;

/// Most iovecs one call may pass (UIO_MAXIOV).
pub(crate) const IOV_MAX: u64 = 1024;

/// A write-like call on host descriptor `fd` failed with EPIPE: the guest
/// also gets SIGPIPE (to the writing thread, si_code SI_USER), where Linux
/// sends it.
pub(crate) fn pipe_check(task: &mut Task, fd: RawFd, r: SysResult) -> SysResult {
    if r == Err(Errno::EPIPE) && super::socket::epipe_raises_sigpipe(fd) {
        task.raise(sig::SIGPIPE, 0);
    }
    r
}

/// read(2).
pub fn read(t: &mut Task, a: &Args) -> SysResult {
    read_in(t.fds.host(a[0])?, &t.vm, a)
}

/// write(2).
pub fn write(t: &mut Task, a: &Args) -> SysResult {
    let fd = t.fds.host(a[0])?;
    let r = write_in(fd, &t.vm, a);
    pipe_check(t, fd, r)
}

/// pread64(2).
pub fn pread64(t: &mut Task, a: &Args) -> SysResult {
    pread64_in(t.fds.host(a[0])?, &t.vm, a)
}

/// pwrite64(2).
pub fn pwrite64(t: &mut Task, a: &Args) -> SysResult {
    let fd = t.fds.host(a[0])?;
    let r = pwrite64_in(fd, &t.vm, a);
    pipe_check(t, fd, r)
}

fn mem_buf(vm: &SharedVm, addr: u64, len: u64, access: Access) -> Result<GuestBuf, Errno> {
    if len == 0 {
        return Ok(GuestBuf::null());
    }
    GuestBuf::prefix(&vm.memory(), addr, len.min(isize::MAX as u64), access)
}

/// The four calls' bodies, over a host descriptor and guest memory, so
/// the exitless server (`exitless.rs`) makes exactly the same calls.
/// (EPIPE's SIGPIPE is the caller's business.)
pub(crate) fn read_in(fd: RawFd, vm: &SharedVm, a: &Args) -> SysResult {
    let b = mem_buf(vm, a[1], a[2], Access::Write)?;
    host::call(
        libc::SYS_read,
        &[HostArg::Fd(fd), b.into(), (b.len() as u64).into()],
    )
}

pub(crate) fn write_in(fd: RawFd, vm: &SharedVm, a: &Args) -> SysResult {
    let b = mem_buf(vm, a[1], a[2], Access::Read)?;
    host::call(
        libc::SYS_write,
        &[HostArg::Fd(fd), b.into(), (b.len() as u64).into()],
    )
}

pub(crate) fn pread64_in(fd: RawFd, vm: &SharedVm, a: &Args) -> SysResult {
    let b = mem_buf(vm, a[1], a[2], Access::Write)?;
    host::call(
        libc::SYS_pread64,
        &[
            HostArg::Fd(fd),
            b.into(),
            (b.len() as u64).into(),
            a[3].into(),
        ],
    )
}

pub(crate) fn pwrite64_in(fd: RawFd, vm: &SharedVm, a: &Args) -> SysResult {
    let b = mem_buf(vm, a[1], a[2], Access::Read)?;
    host::call(
        libc::SYS_pwrite64,
        &[
            HostArg::Fd(fd),
            b.into(),
            (b.len() as u64).into(),
            a[3].into(),
        ],
    )
}

/// How much of the memory a guest iovec array names must be accessible.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Extent {
    /// Up to the first inaccessible byte, as Linux's read and write stop
    /// copying at the first fault; `EFAULT` only if that is the first byte.
    Prefix,
    /// All of it, or `EFAULT`: a datagram or record must not be cut short
    /// (Linux fails the whole message when a copy faults).
    Whole,
}

/// Translates a guest iovec array into host iovecs over checked guest
/// memory; empty iovecs are left out. `EINVAL` past [`IOV_MAX`] entries or
/// for a length above `isize::MAX`, `EFAULT` as `extent` says.
pub(crate) fn iovecs(
    t: &Task,
    addr: u64,
    count: u64,
    access: Access,
    extent: Extent,
) -> Result<Vec<libc::iovec>, Errno> {
    if count > IOV_MAX {
        return Err(Errno::EINVAL);
    }
    let mut raw = vec![0u8; count as usize * 16];
    t.read_bytes(addr, &mut raw)?;
    let mut out = Vec::with_capacity(count as usize);
    for pair in raw.chunks_exact(16) {
        let base = u64::from_le_bytes(pair[..8].try_into().unwrap_or_default());
        let len = u64::from_le_bytes(pair[8..].try_into().unwrap_or_default());
        if len > isize::MAX as u64 {
            return Err(Errno::EINVAL);
        }
        if len == 0 {
            continue;
        }
        if extent == Extent::Whole {
            let b = GuestBuf::new(&t.vm.memory(), base, len, access)?;
            out.push(libc::iovec {
                iov_base: b.addr() as *mut libc::c_void,
                iov_len: b.len(),
            });
            continue;
        }
        match GuestBuf::prefix(&t.vm.memory(), base, len, access) {
            Ok(b) => {
                out.push(libc::iovec {
                    iov_base: b.addr() as *mut libc::c_void,
                    iov_len: b.len(),
                });
                if (b.len() as u64) < len {
                    break;
                }
            }
            Err(e) if out.is_empty() => return Err(e),
            Err(_) => break,
        }
    }
    Ok(out)
}

/// readv/writev and their positioned forms: `a[3..6]` (offset, unused
/// high half, flags) pass through for preadv/pwritev(2).
fn vector_io(t: &mut Task, a: &Args, nr: i64, access: Access) -> SysResult {
    let fd = t.fds.host(a[0])?;
    let mut iov = iovecs(t, a[1], a[2], access, Extent::Prefix)?;
    let n = iov.len() as u64;
    // Every iovec points into checked guest memory; `iov` outlives the call.
    let iov = HostArg::Local(iov.as_mut_ptr().cast());
    host::call(
        nr,
        &[
            HostArg::Fd(fd),
            iov,
            n.into(),
            a[3].into(),
            a[4].into(),
            a[5].into(),
        ],
    )
}

/// The writing forms of [`vector_io`], with SIGPIPE on EPIPE.
fn vector_write(t: &mut Task, a: &Args, nr: i64) -> SysResult {
    let fd = t.fds.host(a[0])?;
    let r = vector_io(t, a, nr, Access::Read);
    pipe_check(t, fd, r)
}

/// preadv(2).
pub fn preadv(t: &mut Task, a: &Args) -> SysResult {
    vector_io(t, a, libc::SYS_preadv, Access::Write)
}

/// pwritev(2).
pub fn pwritev(t: &mut Task, a: &Args) -> SysResult {
    vector_write(t, a, libc::SYS_pwritev)
}

/// preadv2(2).
pub fn preadv2(t: &mut Task, a: &Args) -> SysResult {
    vector_io(t, a, libc::SYS_preadv2, Access::Write)
}

/// pwritev2(2).
pub fn pwritev2(t: &mut Task, a: &Args) -> SysResult {
    vector_write(t, a, libc::SYS_pwritev2)
}

/// readv(2).
pub fn readv(t: &mut Task, a: &Args) -> SysResult {
    vector_io(t, a, libc::SYS_readv, Access::Write)
}

/// writev(2).
pub fn writev(t: &mut Task, a: &Args) -> SysResult {
    vector_write(t, a, libc::SYS_writev)
}

/// lseek(2).
pub fn lseek(t: &mut Task, a: &Args) -> SysResult {
    lseek_in(&t.fds, a)
}

pub(crate) fn lseek_in(fds: &FdTable, a: &Args) -> SysResult {
    let fd = fds.host(a[0])?;
    host::call(
        libc::SYS_lseek,
        &[HostArg::Fd(fd), a[1].into(), a[2].into()],
    )
}

/// sendfile(2).
pub fn sendfile(t: &mut Task, a: &Args) -> SysResult {
    let out = t.fds.host(a[0])?;
    let inp = t.fds.host(a[1])?;
    let off = t.opt_out_buf(a[2], 8)?;
    let r = host::call(
        libc::SYS_sendfile,
        &[HostArg::Fd(out), HostArg::Fd(inp), off.into(), a[3].into()],
    );
    pipe_check(t, out, r)
}

/// copy_file_range(2).
pub fn copy_file_range(t: &mut Task, a: &Args) -> SysResult {
    let inp = t.fds.host(a[0])?;
    let off_in = t.opt_out_buf(a[1], 8)?;
    let out = t.fds.host(a[2])?;
    let off_out = t.opt_out_buf(a[3], 8)?;
    host::call(
        libc::SYS_copy_file_range,
        &[
            HostArg::Fd(inp),
            off_in.into(),
            HostArg::Fd(out),
            off_out.into(),
            a[4].into(),
            a[5].into(),
        ],
    )
}
