//! inotify: the host's instances and watches. Events are read with plain
//! read(2) on the guest's descriptor; their names are file names, which
//! need no translation. Watched paths are resolved like every other path
//! (procfs first), relative to the guest's cwd.

use super::fs::{at, install, AT_FDCWD};
use super::{Args, SysResult};
use crate::host::{self, HostArg};
use crate::task::Task;

const IN_CLOEXEC: u64 = libc::O_CLOEXEC as u64;
const IN_DONT_FOLLOW: u64 = 0x0200_0000;

/// inotify_init1(2): the host descriptor is close-on-exec; the guest's
/// IN_CLOEXEC is recorded.
pub fn inotify_init1(t: &mut Task, a: &Args) -> SysResult {
    let flags = a[0] & 0xffff_ffff;
    let fd = host::call(libc::SYS_inotify_init1, &[(flags | IN_CLOEXEC).into()])?;
    install(t, fd, flags & IN_CLOEXEC != 0)
}

/// inotify_init(2).
pub fn inotify_init(t: &mut Task, _a: &Args) -> SysResult {
    inotify_init1(t, &Args::default())
}

/// inotify_add_watch(2).
pub fn inotify_add_watch(t: &mut Task, a: &Args) -> SysResult {
    let fd = t.fds.host(a[0])?;
    let path = t.path(a[1])?;
    let mask = a[2] & 0xffff_ffff;
    let at = at(t, AT_FDCWD as i64 as u64, &path, mask & IN_DONT_FOLLOW == 0)?;
    host::call(
        libc::SYS_inotify_add_watch,
        &[HostArg::Fd(fd), HostArg::Str(at.path(&path)), mask.into()],
    )
}

/// inotify_rm_watch(2).
pub fn inotify_rm_watch(t: &mut Task, a: &Args) -> SysResult {
    let fd = t.fds.host(a[0])?;
    host::call(libc::SYS_inotify_rm_watch, &[HostArg::Fd(fd), a[1].into()])
}
