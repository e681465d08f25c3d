//! Moving data through pipes without a copy to the guest: splice, tee,
//! vmsplice. Offsets (`loff_t *`) are checked guest buffers the host
//! kernel reads and updates itself; vmsplice's iovecs are translated like
//! readv/writev's. Writing into a pipe nobody reads raises SIGPIPE, as on
//! Linux.

use pico_abi::Errno;
use pico_vm::Access;

use super::rw::{iovecs, pipe_check, Extent};
use super::{Args, SysResult};
use crate::host::{self, HostArg};
use crate::task::Task;

/// SPLICE_F_MOVE | SPLICE_F_NONBLOCK | SPLICE_F_MORE | SPLICE_F_GIFT.
const SPLICE_F_ALL: u64 = 0xf;
const LOFF_SIZE: u64 = 8;

/// splice(2).
pub fn splice(t: &mut Task, a: &Args) -> SysResult {
    let fd_in = t.fds.host(a[0])?;
    let fd_out = t.fds.host(a[2])?;
    let off_in = t.opt_out_buf(a[1], LOFF_SIZE)?;
    let off_out = t.opt_out_buf(a[3], LOFF_SIZE)?;
    let r = host::call(
        libc::SYS_splice,
        &[
            HostArg::Fd(fd_in),
            off_in.into(),
            HostArg::Fd(fd_out),
            off_out.into(),
            a[4].into(),
            a[5].into(),
        ],
    );
    pipe_check(t, fd_out, r)
}

/// tee(2).
pub fn tee(t: &mut Task, a: &Args) -> SysResult {
    let fd_in = t.fds.host(a[0])?;
    let fd_out = t.fds.host(a[1])?;
    let r = host::call(
        libc::SYS_tee,
        &[
            HostArg::Fd(fd_in),
            HostArg::Fd(fd_out),
            a[2].into(),
            a[3].into(),
        ],
    );
    pipe_check(t, fd_out, r)
}

/// vmsplice(2). Which way the data goes is the descriptor's: a pipe's
/// write end (or any descriptor open for writing) takes guest memory in,
/// a read end fills it, as Linux decides by the file's mode.
pub fn vmsplice(t: &mut Task, a: &Args) -> SysResult {
    let flags = a[3] & 0xffff_ffff;
    if flags & !SPLICE_F_ALL != 0 {
        return Err(Errno::EINVAL);
    }
    let fd = t.fds.host(a[0])?;
    let status = host::call(
        libc::SYS_fcntl,
        &[HostArg::Fd(fd), (libc::F_GETFL as u64).into()],
    )? as i32;
    let access = match status & (libc::O_ACCMODE | libc::O_PATH) {
        libc::O_WRONLY | libc::O_RDWR => Access::Read,
        libc::O_RDONLY => Access::Write,
        _ => return Err(Errno::EBADF),
    };
    let mut iov = iovecs(t, a[1], a[2], access, Extent::Prefix)?;
    let n = iov.len() as u64;
    // Every iovec points into checked guest memory; `iov` outlives the call.
    let r = host::call(
        libc::SYS_vmsplice,
        &[
            HostArg::Fd(fd),
            HostArg::Local(iov.as_mut_ptr().cast()),
            n.into(),
            flags.into(),
        ],
    );
    pipe_check(t, fd, r)
}
