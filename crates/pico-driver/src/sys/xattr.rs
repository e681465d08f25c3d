//! Extended attributes: by path (following a final symlink or not) and by
//! descriptor.

use super::fs::{at, AT_FDCWD};
use super::{Args, SysResult};
use crate::host::{self, GuestBuf, HostArg};
use crate::task::Task;

/// The path-based xattr calls: `get`/`list` (`value` out) and `set`
/// (`value` in), following or not following a final symlink.
fn xattr_path(t: &mut Task, a: &Args, nr: i64, has_name: bool, value_in: bool) -> SysResult {
    let path = t.path(a[0])?;
    let follow = ![
        libc::SYS_lgetxattr,
        libc::SYS_llistxattr,
        libc::SYS_lsetxattr,
    ]
    .contains(&nr);
    let at = at(t, AT_FDCWD as i64 as u64, &path, follow)?;
    if value_in {
        at.check(crate::rootfs::Intent::Modify)?;
    }
    xattr(t, a, nr, HostArg::Str(at.path(&path)), has_name, value_in)
}

fn xattr_fd(t: &mut Task, a: &Args, nr: i64, has_name: bool, value_in: bool) -> SysResult {
    if value_in {
        super::fs::fd_writable(t, a[0])?;
    }
    let fd = t.fds.host(a[0])?;
    xattr(t, a, nr, HostArg::Fd(fd), has_name, value_in)
}

/// One xattr call on `target` (a path or a descriptor): the name, when the
/// call has one, then the value buffer and its size.
fn xattr(
    t: &Task,
    a: &Args,
    nr: i64,
    target: HostArg<'_>,
    has_name: bool,
    value_in: bool,
) -> SysResult {
    let (name, value_arg, size_arg) = if has_name {
        (Some(t.path(a[1])?), 2, 3)
    } else {
        (None, 1, 2)
    };
    let size = a[size_arg] & 0xffff_ffff;
    let value = if value_in {
        t.opt_in_buf(a[value_arg], size)?
    } else if size == 0 {
        GuestBuf::null()
    } else {
        t.out_buf(a[value_arg], size)?
    };
    match &name {
        Some(name) => host::call(
            nr,
            &[
                target,
                HostArg::Str(name),
                value.into(),
                size.into(),
                a[4].into(),
            ],
        ),
        None => host::call(nr, &[target, value.into(), size.into()]),
    }
}

/// getxattr(2).
pub fn getxattr(t: &mut Task, a: &Args) -> SysResult {
    xattr_path(t, a, libc::SYS_getxattr, true, false)
}

/// lgetxattr(2).
pub fn lgetxattr(t: &mut Task, a: &Args) -> SysResult {
    xattr_path(t, a, libc::SYS_lgetxattr, true, false)
}

/// fgetxattr(2).
pub fn fgetxattr(t: &mut Task, a: &Args) -> SysResult {
    xattr_fd(t, a, libc::SYS_fgetxattr, true, false)
}

/// listxattr(2).
pub fn listxattr(t: &mut Task, a: &Args) -> SysResult {
    xattr_path(t, a, libc::SYS_listxattr, false, false)
}

/// llistxattr(2).
pub fn llistxattr(t: &mut Task, a: &Args) -> SysResult {
    xattr_path(t, a, libc::SYS_llistxattr, false, false)
}

/// flistxattr(2).
pub fn flistxattr(t: &mut Task, a: &Args) -> SysResult {
    xattr_fd(t, a, libc::SYS_flistxattr, false, false)
}

/// setxattr(2).
pub fn setxattr(t: &mut Task, a: &Args) -> SysResult {
    xattr_path(t, a, libc::SYS_setxattr, true, true)
}

/// lsetxattr(2).
pub fn lsetxattr(t: &mut Task, a: &Args) -> SysResult {
    xattr_path(t, a, libc::SYS_lsetxattr, true, true)
}

/// fsetxattr(2).
pub fn fsetxattr(t: &mut Task, a: &Args) -> SysResult {
    xattr_fd(t, a, libc::SYS_fsetxattr, true, true)
}

/// removexattr(2) and lremovexattr(2): by path, following a final
/// symlink or not.
fn remove_path(t: &mut Task, a: &Args, nr: i64) -> SysResult {
    let path = t.path(a[0])?;
    let at = at(
        t,
        AT_FDCWD as i64 as u64,
        &path,
        nr != libc::SYS_lremovexattr,
    )?;
    at.check(crate::rootfs::Intent::Modify)?;
    let name = t.path(a[1])?;
    host::call(nr, &[HostArg::Str(at.path(&path)), HostArg::Str(&name)])
}

/// removexattr(2).
pub fn removexattr(t: &mut Task, a: &Args) -> SysResult {
    remove_path(t, a, libc::SYS_removexattr)
}

/// lremovexattr(2).
pub fn lremovexattr(t: &mut Task, a: &Args) -> SysResult {
    remove_path(t, a, libc::SYS_lremovexattr)
}

/// fremovexattr(2).
pub fn fremovexattr(t: &mut Task, a: &Args) -> SysResult {
    super::fs::fd_writable(t, a[0])?;
    let fd = t.fds.host(a[0])?;
    let name = t.path(a[1])?;
    host::call(
        libc::SYS_fremovexattr,
        &[HostArg::Fd(fd), HostArg::Str(&name)],
    )
}
