//! The host calls the library needs to run a pico process in a forked
//! child and watch over it: fork, wait, signals, descriptors, process
//! groups. Thin and safe wrappers; the only `unsafe` of the facade crate.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::time::Duration;

/// -1 from a libc call becomes the errno.
fn check(r: libc::c_int) -> io::Result<libc::c_int> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

/// Forks this host process: `Some(child pid)` in the parent, `None` in
/// the child. In a multi-threaded program the child has only the calling
/// thread (see the module docs of `command` for what that allows).
pub fn fork() -> io::Result<Option<u32>> {
    // SAFETY: fork has no memory-safety preconditions; callers keep to
    // the rules for a child of a multi-threaded process.
    let pid = check(unsafe { libc::fork() })?;
    Ok((pid != 0).then_some(pid as u32))
}

/// Ends this host process now, without exit handlers or buffer flushes
/// (they belong to the program this process was forked from).
pub fn exit_now(code: i32) -> ! {
    // SAFETY: _exit never returns and touches no Rust state.
    unsafe { libc::_exit(code) }
}

/// A child that ended: its pid, wait status and CPU time.
#[derive(Clone, Copy, Debug)]
pub struct Reaped {
    pub pid: u32,
    pub status: i32,
    pub cpu: Duration,
}

/// wait4(`pid`): `None` with `nohang` while it runs. EINTR is retried.
pub fn wait(pid: i32, nohang: bool) -> io::Result<Option<Reaped>> {
    loop {
        let mut status = 0;
        // SAFETY: rusage is a plain C struct; all-zero is a valid value.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        let flags = if nohang { libc::WNOHANG } else { 0 };
        // SAFETY: status and usage are locals written by the kernel.
        let r = unsafe { libc::wait4(pid, &mut status, flags, &mut usage) };
        match check(r) {
            Ok(0) => return Ok(None),
            Ok(pid) => {
                let time = |t: libc::timeval| {
                    Duration::new(t.tv_sec as u64, (t.tv_usec as u32).saturating_mul(1000))
                };
                return Ok(Some(Reaped {
                    pid: pid as u32,
                    status,
                    cpu: time(usage.ru_utime) + time(usage.ru_stime),
                }));
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
}

/// Sends `signo` to process `pid`.
pub fn kill(pid: u32, signo: i32) -> io::Result<()> {
    // SAFETY: kill takes plain integers.
    check(unsafe { libc::kill(pid as libc::pid_t, signo) }).map(drop)
}

/// A pipe, both ends close-on-exec: (read, write).
pub fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut ends = [0; 2];
    // SAFETY: pipe2 writes two descriptors into the local array.
    check(unsafe { libc::pipe2(ends.as_mut_ptr(), libc::O_CLOEXEC) })?;
    // SAFETY: both descriptors were just created and are owned by nobody else.
    Ok(unsafe { (OwnedFd::from_raw_fd(ends[0]), OwnedFd::from_raw_fd(ends[1])) })
}

/// A connected pair of stream sockets, close-on-exec.
pub fn socketpair() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut ends = [0; 2];
    // SAFETY: socketpair writes two descriptors into the local array.
    check(unsafe {
        libc::socketpair(
            libc::AF_UNIX,
            libc::SOCK_STREAM | libc::SOCK_CLOEXEC,
            0,
            ends.as_mut_ptr(),
        )
    })?;
    // SAFETY: both descriptors were just created and are owned by nobody else.
    Ok(unsafe { (OwnedFd::from_raw_fd(ends[0]), OwnedFd::from_raw_fd(ends[1])) })
}

/// Sends one byte on a socket without raising SIGPIPE if the peer is gone.
pub fn send_byte(fd: BorrowedFd<'_>, byte: u8) -> io::Result<()> {
    // SAFETY: sends one byte from a local.
    let r = unsafe {
        libc::send(
            fd.as_raw_fd(),
            (&byte as *const u8).cast(),
            1,
            libc::MSG_NOSIGNAL,
        )
    };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// Makes this process the reaper of its orphaned descendants, so they
/// stay its descendants (and can be found and killed) whatever their
/// parents do.
pub fn become_subreaper() -> io::Result<()> {
    // SAFETY: PR_SET_CHILD_SUBREAPER takes an integer flag.
    check(unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) }).map(drop)
}

/// Signals the facade never touches: those that cannot be caught, and the
/// two real-time signals glibc keeps for itself.
fn untouchable(signo: i32) -> bool {
    matches!(signo, libc::SIGKILL | libc::SIGSTOP | 32 | 33)
}

/// The signals this process ignores, bit `n-1` for signal `n`.
pub fn ignored_signals() -> u64 {
    (1..=64)
        .filter(|&n| !untouchable(n))
        .filter(|&n| {
            // SAFETY: queries the disposition into a zeroed local struct.
            unsafe {
                let mut old: libc::sigaction = std::mem::zeroed();
                libc::sigaction(n, std::ptr::null(), &mut old) == 0
                    && old.sa_sigaction == libc::SIG_IGN
            }
        })
        .fold(0, |m, n| m | 1 << (n - 1))
}

/// Sets the disposition of every signal but those in `keep` (bit `n-1`):
/// ignored where `ignore` has the bit, default otherwise.
pub fn set_dispositions(ignore: u64, keep: u64) {
    for n in (1..=64).filter(|&n| !untouchable(n) && keep & 1 << (n - 1) == 0) {
        let handler = if ignore & 1 << (n - 1) != 0 {
            libc::SIG_IGN
        } else {
            libc::SIG_DFL
        };
        // SAFETY: installing SIG_IGN or SIG_DFL runs no code in signal context.
        unsafe {
            libc::signal(n, handler);
        }
    }
}

fn sigset(signals: &[i32]) -> libc::sigset_t {
    // SAFETY: sigemptyset/sigaddset initialise and fill a local set.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for &s in signals {
            libc::sigaddset(&mut set, s);
        }
        set
    }
}

/// Sets this thread's signal mask to exactly `signals`.
pub fn set_blocked(signals: &[i32]) {
    let set = sigset(signals);
    // SAFETY: sets the mask from a local set.
    unsafe {
        libc::pthread_sigmask(libc::SIG_SETMASK, &set, std::ptr::null_mut());
    }
}

/// A signalfd for `signals` (which must be blocked), close-on-exec and
/// non-blocking.
pub fn signalfd(signals: &[i32]) -> io::Result<OwnedFd> {
    let set = sigset(signals);
    // SAFETY: signalfd reads the local set and returns a new descriptor.
    let fd = check(unsafe { libc::signalfd(-1, &set, libc::SFD_CLOEXEC | libc::SFD_NONBLOCK) })?;
    // SAFETY: the descriptor was just created and is owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Empties a non-blocking descriptor (a signalfd): the bytes are dropped.
pub fn drain(fd: BorrowedFd<'_>) {
    let mut buf = [0u8; 512];
    // SAFETY: reads into a local buffer of the given size.
    while unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) } > 0 {}
}

/// Waits until one of `fds` is ready or `timeout` passes; returns the
/// `revents` of each. EINTR is an empty answer.
pub fn poll(fds: &[(BorrowedFd<'_>, i16)], timeout: Option<Duration>) -> io::Result<Vec<i16>> {
    let mut pfds: Vec<libc::pollfd> = fds
        .iter()
        .map(|(fd, events)| libc::pollfd {
            fd: fd.as_raw_fd(),
            events: *events,
            revents: 0,
        })
        .collect();
    let ms = timeout.map_or(-1, |t| {
        // Round up, so a deadline is never polled for 0 ms too early.
        i32::try_from(t.as_nanos().div_ceil(1_000_000)).unwrap_or(i32::MAX)
    });
    // SAFETY: pfds is a local array of the given length.
    let r = unsafe { libc::poll(pfds.as_mut_ptr(), pfds.len() as libc::nfds_t, ms) };
    match check(r) {
        Ok(_) => Ok(pfds.iter().map(|p| p.revents).collect()),
        Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(vec![0; pfds.len()]),
        Err(e) => Err(e),
    }
}

/// Closes every descriptor marked close-on-exec except those in `keep`,
/// as an exec would: what a forked child must not hold on to.
pub fn close_cloexec_except(keep: &[RawFd]) {
    let Ok(dir) = std::fs::read_dir("/proc/self/fd") else {
        return;
    };
    // Collected first: the directory's own descriptor is in the listing.
    let fds: Vec<RawFd> = dir
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    for fd in fds.into_iter().filter(|fd| !keep.contains(fd)) {
        // SAFETY: F_GETFD reads the flag of a number that may not be open
        // (then it fails); close releases a descriptor this forked child
        // holds a copy of and nothing in it uses.
        unsafe {
            let flags = libc::fcntl(fd, libc::F_GETFD);
            if flags >= 0 && flags & libc::FD_CLOEXEC != 0 {
                libc::close(fd);
            }
        }
    }
}

/// Closes every descriptor from 3 up except those in `keep`.
pub fn close_all_except(keep: &[RawFd]) {
    let Ok(dir) = std::fs::read_dir("/proc/self/fd") else {
        return;
    };
    let fds: Vec<RawFd> = dir
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    for fd in fds.into_iter().filter(|&fd| fd > 2 && !keep.contains(&fd)) {
        // SAFETY: releases a descriptor this forked child holds a copy of
        // and nothing in it uses (the directory's own one is closed already
        // and fails harmlessly).
        unsafe {
            libc::close(fd);
        }
    }
}

/// A close-on-exec duplicate of `fd` numbered 10 or higher, out of the
/// way of the standard descriptors.
pub fn dup_high(fd: RawFd) -> io::Result<OwnedFd> {
    // SAFETY: F_DUPFD_CLOEXEC returns a new descriptor or fails.
    let new = check(unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 10) })?;
    // SAFETY: the descriptor was just created and is owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(new) })
}

/// Makes descriptor `to` a copy of `from` (not close-on-exec).
pub fn dup2(from: RawFd, to: RawFd) -> io::Result<()> {
    // SAFETY: dup2 onto a standard descriptor number this child owns.
    check(unsafe { libc::dup2(from, to) }).map(drop)
}

/// setpgid(pid, pgid) (0 for this process / a new group led by pid).
pub fn setpgid(pid: u32, pgid: u32) -> io::Result<()> {
    // SAFETY: setpgid takes plain integers.
    check(unsafe { libc::setpgid(pid as libc::pid_t, pgid as libc::pid_t) }).map(drop)
}

/// This process's group.
pub fn getpgrp() -> u32 {
    // SAFETY: getpgrp takes no arguments and cannot fail.
    unsafe { libc::getpgrp() as u32 }
}

/// The foreground process group of the terminal on `fd`, if it is one.
pub fn foreground_group(fd: RawFd) -> Option<u32> {
    // SAFETY: isatty and tcgetpgrp only query the descriptor.
    unsafe {
        if libc::isatty(fd) != 1 {
            return None;
        }
        let pgrp = libc::tcgetpgrp(fd);
        (pgrp > 0).then_some(pgrp as u32)
    }
}

/// Makes `pgrp` the foreground group of the terminal on `fd` (SIGTTOU
/// must be blocked or ignored when this process is in the background).
pub fn set_foreground_group(fd: RawFd, pgrp: u32) -> io::Result<()> {
    // SAFETY: tcsetpgrp takes plain integers.
    check(unsafe { libc::tcsetpgrp(fd, pgrp as libc::pid_t) }).map(drop)
}

/// Writes all of `bytes` to `fd` with plain write(2) calls: no lock a
/// thread of the forking program could have held.
pub fn write_all(fd: RawFd, mut bytes: &[u8]) -> io::Result<()> {
    while !bytes.is_empty() {
        // SAFETY: writes from a live slice of the given length.
        let r = unsafe { libc::write(fd, bytes.as_ptr().cast(), bytes.len()) };
        if r < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        bytes = bytes.get(r as usize..).unwrap_or_default();
    }
    Ok(())
}
