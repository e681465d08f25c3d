//! Files, directories and descriptors: paths are read from the guest and
//! resolved by the host relative to the guest's cwd (picorun's own, which
//! the guest's chdir moves) or a translated directory descriptor, after
//! [`procfs`] has had its say about `/proc/self` and `/dev/fd` paths.

use std::ffi::{CStr, CString};

use pico_abi::Errno;

use super::{Args, SysResult};
use crate::fd::FdEntry;
use crate::host::{self, GuestBuf, HostArg};
use crate::procfs::{self, Origin, Resolved};
use crate::rootfs::{self, Intent};
use crate::task::Task;

pub(super) const AT_FDCWD: i32 = -100;
const AT_SYMLINK_NOFOLLOW: u64 = 0x100;
const AT_REMOVEDIR: u64 = 0x200;
const O_CLOEXEC: u64 = 0o2000000;
const STAT_SIZE: u64 = 144;
const STATX_SIZE: u64 = 256;
const STATFS_SIZE: u64 = 120;
const FLOCK_SIZE: u64 = 32;
const F_SETSIG: i32 = 10;
const F_GETSIG: i32 = 11;
const F_SETOWN_EX: i32 = 15;
const F_GETOWN_EX: i32 = 16;

/// A directory descriptor argument as the host needs it.
fn dirfd(t: &Task, raw: u64, path: &CStr) -> Result<HostArg<'static>, Errno> {
    // An absolute path ignores dirfd, whatever it is (as Linux does).
    if raw as i32 == AT_FDCWD || path.to_bytes().first() == Some(&b'/') {
        return Ok(HostArg::Int(AT_FDCWD as i64 as u64));
    }
    Ok(HostArg::Fd(t.fds.host(raw)?))
}

/// A guest `(dirfd, path)` as the host must see it: procfs may have named
/// another host path for it, and under `--root` [`rootfs`] has resolved it
/// inside the guest's namespace.
pub(super) struct At {
    pub(super) dir: HostArg<'static>,
    resolved: Resolved,
    rooted: Option<Rooted>,
    /// Under `--root`: what is named lies on a read-only mount (a
    /// descriptor's file reached through procfs).
    ro: bool,
}

/// A path resolved by [`rootfs`]: the host acts on `host` (with `AT_FDCWD`).
pub(super) struct Rooted {
    pub(super) found: rootfs::Found,
    host: CString,
    _pinned: Option<std::os::fd::OwnedFd>,
}

impl At {
    /// The path to pass with `dir`: the resolver's, procfs's, or the guest's own.
    pub(super) fn path<'a>(&'a self, guest: &'a CStr) -> &'a CStr {
        if let Some(r) = &self.rooted {
            return &r.host;
        }
        self.resolved.host_path().unwrap_or(guest)
    }

    /// Under `--root`, refuses what the mount does not allow (`EROFS`).
    pub(super) fn check(&self, intent: Intent) -> Result<(), Errno> {
        let Some(ns) = rootfs::get() else {
            return Ok(());
        };
        if let Some(r) = &self.rooted {
            return ns.check(&r.found, intent);
        }
        let writes = match intent {
            Intent::Modify => true,
            Intent::Open(f) => f & 0o3 != 0 || f & (libc::O_TRUNC | libc::O_CREAT) as u64 != 0,
        };
        if self.ro && writes {
            return Err(Errno::EROFS);
        }
        Ok(())
    }

    /// The mount the final name is in, under `--root`.
    pub(super) fn mount(&self) -> Option<usize> {
        self.rooted.as_ref().map(|r| r.found.mount())
    }
}

/// Whether guest descriptor `fd` is, under `--root`, on a read-only mount
/// (or in `/proc` or `/dev`): fchmod and the like refuse with `EROFS`.
pub(super) fn fd_read_only(t: &Task, fd: u64) -> bool {
    if rootfs::get().is_none() {
        return false;
    }
    match t.fds.get(fd).ok().and_then(|v| v.origin) {
        Some(Origin::Rooted { ro, .. }) => ro,
        Some(Origin::Dir(p)) => &*p != b"/",
        Some(Origin::Listing(..) | Origin::File(_)) => true,
        None => false,
    }
}

/// [`fd_read_only`] as an error.
pub(super) fn fd_writable(t: &Task, fd: u64) -> Result<(), Errno> {
    if fd_read_only(t, fd) {
        return Err(Errno::EROFS);
    }
    Ok(())
}

/// Under `--root`: the guest path of descriptor `fd`, from what it was
/// opened as, else from its host path (`EACCES` if that lies outside the
/// guest's namespace, `ENOTDIR` if it is no path at all).
pub(crate) fn guest_path_of_fd(
    t: &Task,
    ns: &rootfs::Namespace,
    fd: u64,
) -> Result<Vec<u8>, Errno> {
    use std::os::fd::AsRawFd;
    use std::os::unix::ffi::OsStrExt;
    let view = t.fds.get(fd)?;
    if let Some(p) = view.origin.as_ref().and_then(Origin::anchor) {
        return Ok(p.to_vec());
    }
    let host = std::fs::read_link(format!("/proc/self/fd/{}", view.file.as_raw_fd()))
        .map_err(|_| Errno::EBADF)?;
    match ns.guest_view(host.as_os_str().as_bytes()) {
        Some(p) if p.first() == Some(&b'/') => Ok(p),
        Some(_) => Err(Errno::ENOTDIR),
        None => Err(Errno::EACCES),
    }
}

/// Resolves a guest `(dirfd, path)`, following a final symlink if `follow`.
pub(super) fn at(t: &Task, raw: u64, path: &CStr, follow: bool) -> Result<At, Errno> {
    at_mode(t, raw, path, follow, true)
}

/// [`at`]; under `--root` with `pin`, a followed final name is pinned as
/// a descriptor first (for host calls that follow it; not for open, which
/// uses the resolver's own `openat2`).
pub(super) fn at_mode(
    t: &Task,
    raw: u64,
    path: &CStr,
    follow: bool,
    pin: bool,
) -> Result<At, Errno> {
    let resolved = procfs::resolve(t, raw, path, follow)?;
    if let Some(ns) = rootfs::get() {
        return rooted_at(t, ns, raw, path, follow, pin, resolved);
    }
    let dir = match resolved.host_path() {
        Some(_) => HostArg::Int(AT_FDCWD as i64 as u64),
        None => dirfd(t, raw, path)?,
    };
    Ok(At {
        dir,
        resolved,
        rooted: None,
        ro: false,
    })
}

fn rooted_at(
    t: &Task,
    ns: &rootfs::Namespace,
    raw: u64,
    path: &CStr,
    follow: bool,
    pin: bool,
    resolved: Resolved,
) -> Result<At, Errno> {
    let cwd = HostArg::Int(AT_FDCWD as i64 as u64);
    if let Some(host) = resolved.host_path() {
        // procfs's host paths: the guest's own descriptors, its program,
        // its comm. Only a descriptor itself, not a path through one.
        let ro = match resolved.node_fd() {
            Some(fd) => fd_read_only(t, fd),
            None if host.to_bytes() == b"/proc/thread-self/comm" => false,
            None if host.to_bytes().starts_with(b"/proc/self/fd/") => return Err(Errno::EACCES),
            None => true,
        };
        return Ok(At {
            dir: cwd,
            resolved,
            rooted: None,
            ro,
        });
    }
    let base: Vec<u8> = if path.to_bytes().first() == Some(&b'/') {
        b"/".to_vec()
    } else if raw as i32 == AT_FDCWD {
        ns.cwd().to_vec()
    } else {
        guest_path_of_fd(t, ns, raw)?
    };
    let found = ns.resolve(&base, path.to_bytes(), follow)?;
    let (host, pinned) = if pin && follow && found.magic.is_none() {
        let fd = found.pin()?;
        let host = CString::new(format!(
            "/proc/self/fd/{}",
            std::os::fd::AsRawFd::as_raw_fd(&fd)
        ))
        .map_err(|_| Errno::ENOENT)?;
        (host, Some(fd))
    } else {
        (found.host_path()?, None)
    };
    Ok(At {
        dir: cwd,
        resolved,
        rooted: Some(Rooted {
            found,
            host,
            _pinned: pinned,
        }),
        ro: false,
    })
}

/// [`at`] for calls that take `AT_EMPTY_PATH` (the descriptor itself) and
/// `AT_SYMLINK_NOFOLLOW`.
fn at_flags(t: &Task, raw: u64, path: &CStr, flags: u64) -> Result<At, Errno> {
    if path.to_bytes().is_empty() && flags & libc::AT_EMPTY_PATH as u64 != 0 {
        if raw as i32 == AT_FDCWD && rootfs::get().is_some() {
            return at_mode(t, raw, c".", true, true);
        }
        let dir = if raw as i32 == AT_FDCWD {
            HostArg::Int(AT_FDCWD as i64 as u64)
        } else {
            HostArg::Fd(t.fds.host(raw)?)
        };
        return Ok(At {
            dir,
            resolved: Resolved::default(),
            rooted: None,
            ro: raw as i32 != AT_FDCWD && fd_read_only(t, raw),
        });
    }
    at(t, raw, path, flags & AT_SYMLINK_NOFOLLOW == 0)
}

/// The guest's descriptor limit (RLIMIT_NOFILE, shared with the host process).
pub fn fd_limit() -> usize {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    let ok = host::call(
        libc::SYS_prlimit64,
        &[
            0u64.into(),
            (libc::RLIMIT_NOFILE as u64).into(),
            0u64.into(),
            HostArg::Local((&mut lim as *mut libc::rlimit).cast()),
        ],
    );
    match ok {
        Ok(_) => usize::try_from(lim.rlim_cur)
            .unwrap_or(usize::MAX)
            .min(1 << 20),
        Err(_) => 1024,
    }
}

/// Puts a new host descriptor in the guest's table at the lowest free
/// number; `cloexec` is the guest's FD_CLOEXEC (the host descriptor must
/// have been created close-on-exec). On `EMFILE` the host descriptor closes.
pub(crate) fn install(t: &mut Task, host_fd: u64, cloexec: bool) -> SysResult {
    let file = host::own_fd(host_fd);
    t.fds
        .insert_from(0, fd_limit(), FdEntry::new(file, cloexec))
}

/// Installs the two new host descriptors of a pipe or socket pair and
/// writes the guest numbers as `int[2]` to `addr`. On any failure neither
/// stays installed, as Linux releases both.
pub(crate) fn install_pair(t: &mut Task, ends: [i32; 2], cloexec: bool, addr: u64) -> SysResult {
    let first = install(t, ends[0] as u64, cloexec);
    let second = install(t, ends[1] as u64, cloexec);
    let (a, b) = match (first, second) {
        (Ok(a), Ok(b)) => (a, b),
        (a, b) => {
            for fd in [a, b].into_iter().flatten() {
                let _ = t.fds.remove(fd);
            }
            return Err(Errno::EMFILE);
        }
    };
    let bytes = [(a as u32).to_le_bytes(), (b as u32).to_le_bytes()].concat();
    if let Err(e) = t.write_bytes(addr, &bytes) {
        let _ = t.fds.remove(a);
        let _ = t.fds.remove(b);
        return Err(e);
    }
    Ok(0)
}

/// openat(2). `/proc/self/...` and `/dev/fd/N` are the guest's (procfs).
pub fn openat(t: &mut Task, a: &Args) -> SysResult {
    let path = t.path(a[1])?;
    let flags = a[2];
    let at = at_mode(t, a[0], &path, flags & libc::O_NOFOLLOW as u64 == 0, false)?;
    at.check(Intent::Open(flags))?;
    let mut origin = at.resolved.origin(t);
    let file = match procfs::open(t, &at.resolved, flags)? {
        Some(file) => file,
        None => match (&at.rooted, rootfs::get()) {
            (Some(r), Some(ns)) => {
                let file = ns.open(&r.found, flags, a[3])?;
                if origin.is_none() {
                    origin = Some(Origin::Rooted {
                        path: std::sync::Arc::from(r.found.guest.as_slice()),
                        ro: r.found.read_only(),
                    });
                }
                file
            }
            _ => host::own_fd(host::call(
                libc::SYS_openat,
                &[
                    at.dir,
                    HostArg::Str(at.path(&path)),
                    (flags | O_CLOEXEC).into(),
                    a[3].into(),
                ],
            )?),
        },
    };
    let entry = FdEntry {
        file,
        cloexec: flags & O_CLOEXEC != 0,
        origin,
    };
    t.fds.insert_from(0, fd_limit(), entry)
}

/// open(2).
pub fn open(t: &mut Task, a: &Args) -> SysResult {
    openat(t, &Args([AT_FDCWD as i64 as u64, a[0], a[1], a[2], 0, 0]))
}

/// creat(2).
pub fn creat(t: &mut Task, a: &Args) -> SysResult {
    let flags = (libc::O_CREAT | libc::O_WRONLY | libc::O_TRUNC) as u64;
    openat(t, &Args([AT_FDCWD as i64 as u64, a[0], flags, a[1], 0, 0]))
}

/// close(2).
pub fn close(t: &mut Task, a: &Args) -> SysResult {
    t.fds.remove(a[0]).map(|_| 0)
}

/// dup(2).
pub fn dup(t: &mut Task, a: &Args) -> SysResult {
    let entry = t.fds.get(a[0])?.dup(false)?;
    t.fds.insert_from(0, fd_limit(), entry)
}

fn dup_to(t: &mut Task, old: u64, new: u64, cloexec: bool) -> SysResult {
    let source = t.fds.get(old)?;
    let new_fd = usize::try_from(new as i32).map_err(|_| Errno::EBADF)?;
    if new_fd >= fd_limit() {
        return Err(Errno::EBADF);
    }
    let entry = source.dup(cloexec)?;
    t.fds.insert_at(new_fd, entry)?;
    Ok(new_fd as u64)
}

/// dup2(2).
pub fn dup2(t: &mut Task, a: &Args) -> SysResult {
    if a[0] as i32 == a[1] as i32 {
        t.fds.host(a[0])?;
        return Ok(u64::from(a[1] as u32));
    }
    dup_to(t, a[0], a[1], false)
}

/// dup3(2).
pub fn dup3(t: &mut Task, a: &Args) -> SysResult {
    if a[2] & !O_CLOEXEC != 0 || a[0] as i32 == a[1] as i32 {
        return Err(Errno::EINVAL);
    }
    dup_to(t, a[0], a[1], a[2] & O_CLOEXEC != 0)
}

/// fcntl(2).
pub fn fcntl(t: &mut Task, a: &Args) -> SysResult {
    let fd = t.fds.host(a[0])?;
    let cmd = a[1] as i32;
    let plain = |arg: u64| {
        host::call(
            libc::SYS_fcntl,
            &[HostArg::Fd(fd), (cmd as u64).into(), arg.into()],
        )
    };
    match cmd {
        libc::F_DUPFD | libc::F_DUPFD_CLOEXEC => {
            let min = usize::try_from(a[2] as i32).map_err(|_| Errno::EINVAL)?;
            let limit = fd_limit();
            if min >= limit {
                return Err(Errno::EINVAL);
            }
            let entry = t.fds.get(a[0])?.dup(cmd == libc::F_DUPFD_CLOEXEC)?;
            t.fds.insert_from(min, limit, entry)
        }
        libc::F_GETFD => Ok(u64::from(t.fds.cloexec(a[0])?)),
        libc::F_SETFD => {
            t.fds.set_cloexec(a[0], a[2] & 1 != 0)?;
            Ok(0)
        }
        libc::F_GETFL
        | libc::F_SETFL
        | libc::F_SETOWN
        | libc::F_GETOWN
        | F_SETSIG
        | F_GETSIG
        | libc::F_SETLEASE
        | libc::F_GETLEASE
        | libc::F_NOTIFY
        | libc::F_SETPIPE_SZ
        | libc::F_GETPIPE_SZ
        | libc::F_ADD_SEALS
        | libc::F_GET_SEALS => plain(a[2]),
        libc::F_GETLK | libc::F_OFD_GETLK => {
            let lock = t.out_buf(a[2], FLOCK_SIZE)?;
            host::call(
                libc::SYS_fcntl,
                &[HostArg::Fd(fd), (cmd as u64).into(), lock.into()],
            )
        }
        libc::F_SETLK | libc::F_SETLKW | libc::F_OFD_SETLK | libc::F_OFD_SETLKW => {
            let lock = t.in_buf(a[2], FLOCK_SIZE)?;
            host::call(
                libc::SYS_fcntl,
                &[HostArg::Fd(fd), (cmd as u64).into(), lock.into()],
            )
        }
        F_GETOWN_EX => {
            let own = t.out_buf(a[2], 8)?;
            host::call(
                libc::SYS_fcntl,
                &[HostArg::Fd(fd), (cmd as u64).into(), own.into()],
            )
        }
        F_SETOWN_EX => {
            let own = t.in_buf(a[2], 8)?;
            host::call(
                libc::SYS_fcntl,
                &[HostArg::Fd(fd), (cmd as u64).into(), own.into()],
            )
        }
        _ => Err(Errno::EINVAL),
    }
}

/// ioctl(2): terminal and FIONREAD-style requests on real descriptors;
/// `ENOTTY` for requests picorun does not pass through.
pub fn ioctl(t: &mut Task, a: &Args) -> SysResult {
    const TERMIOS: u64 = 36;
    let fd = t.fds.host(a[0])?;
    let req = a[1] as u32 as u64;
    let pass = |b: GuestBuf| host::call(libc::SYS_ioctl, &[HostArg::Fd(fd), req.into(), b.into()]);
    match req as libc::c_ulong {
        libc::TCGETS => pass(t.out_buf(a[2], TERMIOS)?),
        libc::TCSETS | libc::TCSETSW | libc::TCSETSF => pass(t.in_buf(a[2], TERMIOS)?),
        libc::TIOCGWINSZ => pass(t.out_buf(a[2], 8)?),
        libc::TIOCSWINSZ => pass(t.in_buf(a[2], 8)?),
        libc::FIONREAD | libc::TIOCOUTQ | libc::TIOCGPGRP | libc::TIOCGSID => {
            pass(t.out_buf(a[2], 4)?)
        }
        libc::TIOCSPGRP | libc::FIONBIO => pass(t.in_buf(a[2], 4)?),
        libc::TCFLSH | libc::TCXONC | libc::TCSBRK | libc::TIOCSCTTY => {
            host::call(libc::SYS_ioctl, &[HostArg::Fd(fd), req.into(), a[2].into()])
        }
        libc::TIOCNOTTY => host::call(libc::SYS_ioctl, &[HostArg::Fd(fd), req.into()]),
        libc::FIOCLEX | libc::FIONCLEX => {
            t.fds
                .set_cloexec(a[0], req as libc::c_ulong == libc::FIOCLEX)?;
            Ok(0)
        }
        _ => Err(Errno::ENOTTY),
    }
}

/// pipe2(2).
pub fn pipe2(t: &mut Task, a: &Args) -> SysResult {
    t.out_buf(a[0], 8)?;
    let mut ends = [0i32; 2];
    host::call(
        libc::SYS_pipe2,
        &[
            HostArg::Local(ends.as_mut_ptr().cast()),
            (a[1] | O_CLOEXEC).into(),
        ],
    )?;
    install_pair(t, ends, a[1] & O_CLOEXEC != 0, a[0])
}

/// pipe(2).
pub fn pipe(t: &mut Task, a: &Args) -> SysResult {
    pipe2(t, &Args([a[0], 0, 0, 0, 0, 0]))
}

/// newfstatat(2).
pub fn newfstatat(t: &mut Task, a: &Args) -> SysResult {
    let path = t.path(a[1])?;
    let at = at_flags(t, a[0], &path, a[3])?;
    let buf = t.out_buf(a[2], STAT_SIZE)?;
    host::call(
        libc::SYS_newfstatat,
        &[
            at.dir,
            HostArg::Str(at.path(&path)),
            buf.into(),
            a[3].into(),
        ],
    )
}

/// stat(2).
pub fn stat(t: &mut Task, a: &Args) -> SysResult {
    newfstatat(t, &Args([AT_FDCWD as i64 as u64, a[0], a[1], 0, 0, 0]))
}

/// lstat(2).
pub fn lstat(t: &mut Task, a: &Args) -> SysResult {
    newfstatat(
        t,
        &Args([
            AT_FDCWD as i64 as u64,
            a[0],
            a[1],
            AT_SYMLINK_NOFOLLOW,
            0,
            0,
        ]),
    )
}

/// fstat(2).
pub fn fstat(t: &mut Task, a: &Args) -> SysResult {
    let fd = t.fds.host(a[0])?;
    let buf = t.out_buf(a[1], STAT_SIZE)?;
    host::call(libc::SYS_fstat, &[HostArg::Fd(fd), buf.into()])
}

/// statx(2).
pub fn statx(t: &mut Task, a: &Args) -> SysResult {
    let path = t.path(a[1])?;
    let at = at_flags(t, a[0], &path, a[2])?;
    let buf = t.out_buf(a[4], STATX_SIZE)?;
    host::call(
        libc::SYS_statx,
        &[
            at.dir,
            HostArg::Str(at.path(&path)),
            a[2].into(),
            a[3].into(),
            buf.into(),
        ],
    )
}

/// statfs(2).
pub fn statfs(t: &mut Task, a: &Args) -> SysResult {
    let path = t.path(a[0])?;
    let at = at(t, AT_FDCWD as i64 as u64, &path, true)?;
    let buf = t.out_buf(a[1], STATFS_SIZE)?;
    host::call(
        libc::SYS_statfs,
        &[HostArg::Str(at.path(&path)), buf.into()],
    )
}

/// fstatfs(2).
pub fn fstatfs(t: &mut Task, a: &Args) -> SysResult {
    let fd = t.fds.host(a[0])?;
    let buf = t.out_buf(a[1], STATFS_SIZE)?;
    host::call(libc::SYS_fstatfs, &[HostArg::Fd(fd), buf.into()])
}

/// getdents64(2). procfs lists `/proc/self/fd` and the like itself.
pub fn getdents64(t: &mut Task, a: &Args) -> SysResult {
    if let Some(Origin::Listing(kind, _)) = t.fds.get(a[0])?.origin {
        return procfs::getdents64(t, a[0], kind, a[1], a[2] & 0xffff_ffff);
    }
    let fd = t.fds.host(a[0])?;
    let buf = GuestBuf::prefix(
        &t.vm.memory(),
        a[1],
        a[2] & 0xffff_ffff,
        pico_vm::Access::Write,
    )?;
    host::call(
        libc::SYS_getdents64,
        &[HostArg::Fd(fd), buf.into(), (buf.len() as u64).into()],
    )
}

/// faccessat2(2).
pub fn faccessat2(t: &mut Task, a: &Args) -> SysResult {
    let path = t.path(a[1])?;
    let at = at_flags(t, a[0], &path, a[3])?;
    host::call(
        libc::SYS_faccessat2,
        &[
            at.dir,
            HostArg::Str(at.path(&path)),
            a[2].into(),
            a[3].into(),
        ],
    )
}

/// faccessat(2).
pub fn faccessat(t: &mut Task, a: &Args) -> SysResult {
    faccessat2(t, &Args([a[0], a[1], a[2], 0, 0, 0]))
}

/// access(2).
pub fn access(t: &mut Task, a: &Args) -> SysResult {
    faccessat2(t, &Args([AT_FDCWD as i64 as u64, a[0], a[1], 0, 0, 0]))
}

/// readlinkat(2). `/proc/self/exe` names the guest program, `fd/N` the
/// guest's descriptor N (procfs).
pub fn readlinkat(t: &mut Task, a: &Args) -> SysResult {
    let path = t.path(a[1])?;
    if (a[3] as i32) <= 0 {
        return Err(Errno::EINVAL);
    }
    let at = at_flags(
        t,
        a[0],
        &path,
        AT_SYMLINK_NOFOLLOW | libc::AT_EMPTY_PATH as u64,
    )?;
    let ns = rootfs::get();
    let magic = at.rooted.as_ref().and_then(|r| r.found.magic.clone());
    let target = match magic {
        Some(m) => Some(m),
        None => procfs::readlink(t, &at.resolved),
    };
    // Under --root the guest sees guest paths: host link text is mapped.
    let target = match (target, ns, at.resolved.host_path()) {
        (Some(text), Some(ns), _) if at.rooted.is_none() => {
            Some(ns.guest_view(&text).unwrap_or(text))
        }
        (None, Some(ns), Some(host)) => {
            let link = std::fs::read_link(
                <std::ffi::OsStr as std::os::unix::ffi::OsStrExt>::from_bytes(host.to_bytes()),
            )
            .map_err(Errno::from)?;
            let text = link.into_os_string().into_encoded_bytes();
            Some(ns.guest_view(&text).unwrap_or(text))
        }
        (other, _, _) => other,
    };
    if let Some(target) = target {
        let n = target.len().min(a[3] as usize);
        t.write_bytes(a[2], target.get(..n).unwrap_or_default())?;
        return Ok(n as u64);
    }
    let buf = GuestBuf::prefix(
        &t.vm.memory(),
        a[2],
        a[3] & 0x7fff_ffff,
        pico_vm::Access::Write,
    )?;
    host::call(
        libc::SYS_readlinkat,
        &[
            at.dir,
            HostArg::Str(at.path(&path)),
            buf.into(),
            (buf.len() as u64).into(),
        ],
    )
}

/// readlink(2).
pub fn readlink(t: &mut Task, a: &Args) -> SysResult {
    readlinkat(t, &Args([AT_FDCWD as i64 as u64, a[0], a[1], a[2], 0, 0]))
}

/// getcwd(2).
pub fn getcwd(t: &mut Task, a: &Args) -> SysResult {
    if let Some(ns) = rootfs::get() {
        let mut cwd = ns.cwd().to_vec();
        cwd.push(0);
        if (cwd.len() as u64) > a[1] {
            return Err(Errno::ERANGE);
        }
        t.write_bytes(a[0], &cwd)?;
        return Ok(cwd.len() as u64);
    }
    let buf = GuestBuf::prefix(&t.vm.memory(), a[0], a[1], pico_vm::Access::Write)?;
    host::call(libc::SYS_getcwd, &[buf.into(), (buf.len() as u64).into()])
}

/// chdir(2).
pub fn chdir(t: &mut Task, a: &Args) -> SysResult {
    let path = t.path(a[0])?;
    if let Some(ns) = rootfs::get() {
        let at = at_mode(t, AT_FDCWD as i64 as u64, &path, true, false)?;
        let guest = match (&at.rooted, at.resolved.node_fd()) {
            (Some(r), _) => {
                let dir = ns.open(&r.found, (libc::O_PATH | libc::O_DIRECTORY) as u64, 0)?;
                search_permission(std::os::fd::AsRawFd::as_raw_fd(&dir))?;
                r.found.guest.clone()
            }
            (None, Some(fd)) => {
                let guest = guest_path_of_fd(t, ns, fd)?;
                is_dir(t.fds.host(fd)?)?;
                guest
            }
            (None, None) => return Err(Errno::ENOTDIR),
        };
        ns.set_cwd(&guest);
        t.procfs.cwd_changed();
        return Ok(0);
    }
    let at = at(t, AT_FDCWD as i64 as u64, &path, true)?;
    let r = host::call(libc::SYS_chdir, &[HostArg::Str(at.path(&path))])?;
    t.procfs.cwd_changed();
    Ok(r)
}

/// fchdir(2).
pub fn fchdir(t: &mut Task, a: &Args) -> SysResult {
    let fd = t.fds.host(a[0])?;
    if let Some(ns) = rootfs::get() {
        is_dir(fd)?;
        let guest = guest_path_of_fd(t, ns, a[0])?;
        search_permission(fd)?;
        ns.set_cwd(&guest);
        t.procfs.cwd_changed();
        return Ok(0);
    }
    let r = host::call(libc::SYS_fchdir, &[HostArg::Fd(fd)])?;
    t.procfs.cwd_changed();
    Ok(r)
}

/// `ENOTDIR` unless host descriptor `fd` is a directory.
fn is_dir(fd: i32) -> Result<(), Errno> {
    let mut st = std::mem::MaybeUninit::<libc::stat>::zeroed();
    host::call(
        libc::SYS_fstat,
        &[HostArg::Fd(fd), HostArg::Local(st.as_mut_ptr().cast())],
    )?;
    // SAFETY: fstat succeeded, so it filled the whole struct.
    let st = unsafe { st.assume_init() };
    if st.st_mode & libc::S_IFMT != libc::S_IFDIR {
        return Err(Errno::ENOTDIR);
    }
    Ok(())
}

/// chdir's search-permission check on a directory descriptor.
fn search_permission(fd: i32) -> Result<(), Errno> {
    host::call(
        libc::SYS_faccessat2,
        &[
            HostArg::Fd(fd),
            HostArg::Str(c""),
            (libc::X_OK as u64).into(),
            (libc::AT_EMPTY_PATH as u64).into(),
        ],
    )
    .map(|_| ())
}

/// mkdirat(2).
pub fn mkdirat(t: &mut Task, a: &Args) -> SysResult {
    let path = t.path(a[1])?;
    let at = at(t, a[0], &path, false)?;
    at.check(Intent::Modify)?;
    host::call(
        libc::SYS_mkdirat,
        &[at.dir, HostArg::Str(at.path(&path)), a[2].into()],
    )
}

/// mkdir(2).
pub fn mkdir(t: &mut Task, a: &Args) -> SysResult {
    mkdirat(t, &Args([AT_FDCWD as i64 as u64, a[0], a[1], 0, 0, 0]))
}

/// unlinkat(2).
pub fn unlinkat(t: &mut Task, a: &Args) -> SysResult {
    let path = t.path(a[1])?;
    let at = at(t, a[0], &path, false)?;
    at.check(Intent::Modify)?;
    host::call(
        libc::SYS_unlinkat,
        &[at.dir, HostArg::Str(at.path(&path)), a[2].into()],
    )
}

/// unlink(2).
pub fn unlink(t: &mut Task, a: &Args) -> SysResult {
    unlinkat(t, &Args([AT_FDCWD as i64 as u64, a[0], 0, 0, 0, 0]))
}

/// rmdir(2).
pub fn rmdir(t: &mut Task, a: &Args) -> SysResult {
    unlinkat(
        t,
        &Args([AT_FDCWD as i64 as u64, a[0], AT_REMOVEDIR, 0, 0, 0]),
    )
}

/// renameat2(2).
pub fn renameat2(t: &mut Task, a: &Args) -> SysResult {
    let old = t.path(a[1])?;
    let new = t.path(a[3])?;
    let old_at = at(t, a[0], &old, false)?;
    let new_at = at(t, a[2], &new, false)?;
    old_at.check(Intent::Modify)?;
    new_at.check(Intent::Modify)?;
    if old_at.mount() != new_at.mount() {
        return Err(Errno::EXDEV);
    }
    host::call(
        libc::SYS_renameat2,
        &[
            old_at.dir,
            HostArg::Str(old_at.path(&old)),
            new_at.dir,
            HostArg::Str(new_at.path(&new)),
            a[4].into(),
        ],
    )
}

/// renameat(2).
pub fn renameat(t: &mut Task, a: &Args) -> SysResult {
    renameat2(t, &Args([a[0], a[1], a[2], a[3], 0, 0]))
}

/// rename(2).
pub fn rename(t: &mut Task, a: &Args) -> SysResult {
    let cwd = AT_FDCWD as i64 as u64;
    renameat2(t, &Args([cwd, a[0], cwd, a[1], 0, 0]))
}

/// linkat(2).
pub fn linkat(t: &mut Task, a: &Args) -> SysResult {
    let old = t.path(a[1])?;
    let new = t.path(a[3])?;
    // linkat(AT_FDCWD, "/proc/self/fd/N", ..., AT_SYMLINK_FOLLOW) names an
    // O_TMPFILE file: the guest's descriptor N.
    let nofollow = if a[4] & libc::AT_SYMLINK_FOLLOW as u64 != 0 {
        0
    } else {
        AT_SYMLINK_NOFOLLOW
    };
    let old_at = at_flags(t, a[0], &old, a[4] & libc::AT_EMPTY_PATH as u64 | nofollow)?;
    let new_at = at(t, a[2], &new, false)?;
    new_at.check(Intent::Modify)?;
    if rootfs::get().is_some() && old_at.mount() != new_at.mount() {
        return Err(Errno::EXDEV);
    }
    host::call(
        libc::SYS_linkat,
        &[
            old_at.dir,
            HostArg::Str(old_at.path(&old)),
            new_at.dir,
            HostArg::Str(new_at.path(&new)),
            a[4].into(),
        ],
    )
}

/// link(2).
pub fn link(t: &mut Task, a: &Args) -> SysResult {
    let cwd = AT_FDCWD as i64 as u64;
    linkat(t, &Args([cwd, a[0], cwd, a[1], 0, 0]))
}

/// symlinkat(2).
pub fn symlinkat(t: &mut Task, a: &Args) -> SysResult {
    let target = t.path(a[0])?;
    let path = t.path(a[2])?;
    let at = at(t, a[1], &path, false)?;
    at.check(Intent::Modify)?;
    host::call(
        libc::SYS_symlinkat,
        &[HostArg::Str(&target), at.dir, HostArg::Str(at.path(&path))],
    )
}

/// symlink(2).
pub fn symlink(t: &mut Task, a: &Args) -> SysResult {
    symlinkat(t, &Args([a[0], AT_FDCWD as i64 as u64, a[1], 0, 0, 0]))
}

/// fchmodat(2) (the kernel call has no flags argument; glibc emulates them).
pub fn fchmodat(t: &mut Task, a: &Args) -> SysResult {
    let path = t.path(a[1])?;
    let at = at(t, a[0], &path, true)?;
    at.check(Intent::Modify)?;
    host::call(
        libc::SYS_fchmodat,
        &[at.dir, HostArg::Str(at.path(&path)), a[2].into()],
    )
}

/// chmod(2).
pub fn chmod(t: &mut Task, a: &Args) -> SysResult {
    fchmodat(t, &Args([AT_FDCWD as i64 as u64, a[0], a[1], 0, 0, 0]))
}

/// fchmod(2).
pub fn fchmod(t: &mut Task, a: &Args) -> SysResult {
    fd_writable(t, a[0])?;
    let fd = t.fds.host(a[0])?;
    host::call(libc::SYS_fchmod, &[HostArg::Fd(fd), a[1].into()])
}

/// fchownat(2).
pub fn fchownat(t: &mut Task, a: &Args) -> SysResult {
    let path = t.path(a[1])?;
    let at = at_flags(t, a[0], &path, a[4])?;
    at.check(Intent::Modify)?;
    host::call(
        libc::SYS_fchownat,
        &[
            at.dir,
            HostArg::Str(at.path(&path)),
            a[2].into(),
            a[3].into(),
            a[4].into(),
        ],
    )
}

/// chown(2).
pub fn chown(t: &mut Task, a: &Args) -> SysResult {
    fchownat(t, &Args([AT_FDCWD as i64 as u64, a[0], a[1], a[2], 0, 0]))
}

/// lchown(2).
pub fn lchown(t: &mut Task, a: &Args) -> SysResult {
    fchownat(
        t,
        &Args([
            AT_FDCWD as i64 as u64,
            a[0],
            a[1],
            a[2],
            AT_SYMLINK_NOFOLLOW,
            0,
        ]),
    )
}

/// fchown(2).
pub fn fchown(t: &mut Task, a: &Args) -> SysResult {
    fd_writable(t, a[0])?;
    let fd = t.fds.host(a[0])?;
    host::call(
        libc::SYS_fchown,
        &[HostArg::Fd(fd), a[1].into(), a[2].into()],
    )
}

/// truncate(2).
pub fn truncate(t: &mut Task, a: &Args) -> SysResult {
    let path = t.path(a[0])?;
    let at = at(t, AT_FDCWD as i64 as u64, &path, true)?;
    at.check(Intent::Modify)?;
    host::call(
        libc::SYS_truncate,
        &[HostArg::Str(at.path(&path)), a[1].into()],
    )
}

/// ftruncate(2).
pub fn ftruncate(t: &mut Task, a: &Args) -> SysResult {
    let fd = t.fds.host(a[0])?;
    host::call(libc::SYS_ftruncate, &[HostArg::Fd(fd), a[1].into()])
}

/// umask(2).
pub fn umask(_t: &mut Task, a: &Args) -> SysResult {
    host::call(libc::SYS_umask, &[(a[0] & 0o777).into()])
}

/// utimensat(2). A NULL path applies to `dirfd` itself (futimens).
pub fn utimensat(t: &mut Task, a: &Args) -> SysResult {
    let times = t.opt_in_buf(a[2], 32)?;
    if a[1] == 0 {
        fd_writable(t, a[0])?;
        let fd = t.fds.host(a[0])?;
        return host::call(
            libc::SYS_utimensat,
            &[HostArg::Fd(fd), 0u64.into(), times.into(), a[3].into()],
        );
    }
    let path = t.path(a[1])?;
    let at = at_flags(t, a[0], &path, a[3])?;
    at.check(Intent::Modify)?;
    host::call(
        libc::SYS_utimensat,
        &[
            at.dir,
            HostArg::Str(at.path(&path)),
            times.into(),
            a[3].into(),
        ],
    )
}

fn fd_only(t: &mut Task, a: &Args, nr: i64) -> SysResult {
    let fd = t.fds.host(a[0])?;
    host::call(
        nr,
        &[HostArg::Fd(fd), a[1].into(), a[2].into(), a[3].into()],
    )
}

/// fsync(2).
pub fn fsync(t: &mut Task, a: &Args) -> SysResult {
    fd_only(t, a, libc::SYS_fsync)
}

/// fdatasync(2).
pub fn fdatasync(t: &mut Task, a: &Args) -> SysResult {
    fd_only(t, a, libc::SYS_fdatasync)
}

/// fadvise64(2).
pub fn fadvise64(t: &mut Task, a: &Args) -> SysResult {
    fd_only(t, a, libc::SYS_fadvise64)
}

/// flock(2).
pub fn flock(t: &mut Task, a: &Args) -> SysResult {
    fd_only(t, a, libc::SYS_flock)
}
