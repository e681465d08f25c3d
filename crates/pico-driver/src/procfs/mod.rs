//! `/proc/self`, `/proc/<pid>`, `/dev/fd/N` and `/dev/std{in,out,err}` as
//! the guest must see them.
//!
//! The guest is the picorun process: same pid, cwd, credentials, limits,
//! cgroup and namespaces, so the host's `/proc/<pid>` is right about most
//! things. It is wrong about four: the program (`exe`, `cmdline`,
//! `environ`, `auxv` describe picorun), the memory (`maps`, the sizes in
//! `stat`, `status` and `statm` include picorun's 1 TiB window), the
//! descriptors (`fd/`, `fdinfo/` use host numbers and would hand out
//! picorun's own kvm/vm/vcpu descriptors) and the threads (`task/` lists the
//! kernel's KVM worker thread). This module corrects those, and must never
//! let a guest path reach a host descriptor the guest does not own.
//!
//! How, in one pass per path-taking syscall ([`resolve`]):
//!
//! * A guest path is classified lexically (`//`, `.` and `..` folded),
//!   expanding the symlinks `/proc/self`, `/proc/thread-self`, `/dev/fd` and
//!   `/dev/std*` where they are followed. A relative path counts from the
//!   guest's cwd (recorded at start and after each chdir) or from a
//!   directory descriptor opened through this module (its [`Origin`]).
//!   Paths with no component named `proc` or `dev` cost one scan.
//! * The magic links `fd/N` and `exe`, when followed, become host paths:
//!   `/proc/self/fd/<host fd>` (so opening `/dev/fd/N` re-opens the same
//!   file, exactly as Linux does) and the program's path. The host then does
//!   the real work for every syscall: open, stat, chdir, `linkat` with
//!   `AT_SYMLINK_FOLLOW`. Not followed (lstat, readlink), `fd/N` is the host
//!   fd's link and `exe` answers with the guest program.
//! * Generated files (`maps`, `cmdline`, `environ`, `auxv`, `stat`,
//!   `status`, `statm`, `fdinfo/N`) are built when opened, written to a
//!   memfd and re-opened read-only through its `/proc/self/fd` link, so
//!   read, lseek, pread, fstat and mmap work and write fails with `EBADF` as
//!   on Linux. `cmdline` and `environ` are read from guest memory like
//!   Linux reads them, so a program that rewrites its argv shows the change.
//!   stat, access and the like on these names go to the host's file of the
//!   same name: its metadata (mode 0444, size 0) is Linux's.
//! * Listings (`fd/`, `fdinfo/`, `task/`) open the host's own directory, so
//!   fstat, fchdir and lseek work, and getdents64 lists the guest's entries
//!   instead, using the host directory's file position as the cursor with
//!   Linux's positions (0 is `.`, 1 is `..`, 2 + n is entry n). Chosen over
//!   a private temporary directory of symlinks: nothing to create or to
//!   clean up when picorun dies by a signal, no snapshot (a descriptor
//!   opened after opendir shows up, as on Linux), and lookups in the
//!   directory go through the same classification anyway.
//! * `comm`: the host thread's name is the guest's (set at start and by
//!   PR_SET_NAME, read by PR_GET_NAME), so the host's
//!   `/proc/thread-self/comm` is the guest's, readable and writable.
//! * Refused on open with `EACCES`, as Linux refuses a reader without
//!   ptrace access: `mem`, `pagemap`, `smaps`, `smaps_rollup`, `numa_maps`,
//!   `map_files/` and `syscall`, which would describe picorun's memory or
//!   thread and are not emulated.
//!
//! Left to the host, knowingly: a symlink elsewhere that points into
//! `/proc/self` (the host resolves it as picorun's); other processes'
//! `/proc/<pid>` (another pico process shows its picorun); fstat of a
//! generated file, which shows the memfd (its size is the content's, where
//! Linux says 0); the size stat reports for `fd/` (the host's descriptor
//! count); descriptor numbers inside `fdinfo/N` text (epoll's `tfd:`).
//! `status` reports the current size as `VmPeak`: the peak is not tracked.

mod content;
mod listing;

use std::ffi::{CStr, CString};
use std::fs::File;
use std::io::Write;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::Arc;

use pico_abi::Errno;

use crate::fd::FdTable;
use crate::host::{self, HostArg};
use crate::task::Task;

pub use listing::getdents64;

const AT_FDCWD: i32 = -100;
const O_ACCMODE: u64 = 0o3;
const O_CREAT: u64 = 0o100;
const O_EXCL: u64 = 0o200;
const O_DIRECTORY: u64 = 0o200000;
const O_PATH: u64 = 0o10000000;

/// What a descriptor opened through this module is, beyond its host
/// descriptor. Each carries the canonical guest path it was opened as.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    /// A directory on the way to the paths served here (`/`, `/proc`,
    /// `/dev`, `/proc/<pid>`): lookups relative to it are classified.
    Dir(Arc<[u8]>),
    /// A directory whose entries are the guest's, not the host's.
    Listing(Listing, Arc<[u8]>),
    /// Generated content: readlink of its `fd/N` names this path.
    File(Arc<[u8]>),
    /// Opened under `--root` ([`crate::rootfs`]) at this guest path; `ro`
    /// when on a read-only mount (fchmod and the like refuse with EROFS).
    Rooted { path: Arc<[u8]>, ro: bool },
}

impl Origin {
    /// The directory that relative paths start from, if this is one.
    pub fn anchor(&self) -> Option<&[u8]> {
        match self {
            Origin::Dir(p) | Origin::Listing(_, p) | Origin::Rooted { path: p, .. } => Some(p),
            Origin::File(_) => None,
        }
    }
}

/// The directories whose entries picorun lists.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Listing {
    /// `fd/`: one symlink per guest descriptor.
    Fds,
    /// `fdinfo/`: one file per guest descriptor.
    FdInfo,
    /// `task/`: the guest's one thread.
    Tasks,
}

/// The generated files.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Generated {
    Maps,
    Cmdline,
    Environ,
    Auxv,
    Stat,
    Status,
    Statm,
    FdInfo(u64),
}

/// What picorun serves at a path itself.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Node {
    Generated(Generated),
    /// Opening is refused (it would describe picorun).
    Denied,
    /// `exe`, not followed.
    ExeLink,
    /// `fd/N`, not followed.
    FdLink(u64),
    /// `fd/N`, followed: the guest's descriptor N re-opened.
    Fd(u64),
    Listing(Listing),
    /// A directory served by the host, worth remembering as an [`Origin`].
    Dir,
}

/// The guest's working directory, which relative `/proc` paths need.
#[derive(Debug, Default)]
pub struct State {
    cwd: Option<Vec<u8>>,
}

impl State {
    pub fn new() -> State {
        let mut state = State::default();
        state.cwd_changed();
        state
    }

    /// Re-reads the cwd (the host's is the guest's, or under `--root` the
    /// one [`crate::rootfs`] keeps) after chdir/fchdir.
    pub fn cwd_changed(&mut self) {
        if let Some(ns) = crate::rootfs::get() {
            self.cwd = Some(ns.cwd().to_vec());
            return;
        }
        self.cwd = std::env::current_dir()
            .ok()
            .map(|p| p.into_os_string().into_encoded_bytes());
    }
}

/// Where a guest path leads.
#[derive(Debug, Default)]
pub struct Resolved {
    /// A host path naming the same thing, when the guest's own (dirfd,
    /// path) would name something else on the host.
    host: Option<CString>,
    node: Option<Node>,
    /// Canonical guest path, for [`Origin`]s.
    canonical: Vec<u8>,
    /// The path ended with `/`.
    dir_slash: bool,
}

impl Resolved {
    /// The host path to use instead of the guest's (with `AT_FDCWD`).
    pub fn host_path(&self) -> Option<&CStr> {
        self.host.as_deref()
    }

    /// The guest descriptor a `fd/N` path names (followed or not).
    pub fn node_fd(&self) -> Option<u64> {
        match self.node {
            Some(Node::Fd(fd) | Node::FdLink(fd)) => Some(fd),
            _ => None,
        }
    }

    /// What a descriptor opened on this path must remember.
    pub fn origin(&self, t: &Task) -> Option<Origin> {
        let path = || Arc::from(self.canonical.as_slice());
        match self.node.as_ref()? {
            Node::Dir => Some(Origin::Dir(path())),
            Node::Listing(kind) => Some(Origin::Listing(*kind, path())),
            Node::Generated(_) => Some(Origin::File(path())),
            Node::Fd(fd) => t.fds.get(*fd).ok()?.origin.clone(),
            Node::Denied | Node::ExeLink | Node::FdLink(_) => None,
        }
    }
}

/// What classification needs from the task (its own type, so that tests
/// need no VM).
struct View<'a> {
    pid: u32,
    fds: &'a FdTable,
    exe: &'a Path,
    cwd: Option<&'a [u8]>,
}

/// Classifies the guest's `(dirfd, path)`; `follow` says whether a final
/// symlink is followed (not with `O_NOFOLLOW`, `AT_SYMLINK_NOFOLLOW`,
/// lstat, readlink). An error is the guest's (`ENOENT` for `fd/N` with no
/// descriptor N). Paths outside the namespace served here come back with
/// nothing set: the host resolves the guest's own `(dirfd, path)`.
pub fn resolve(t: &Task, dirfd: u64, path: &CStr, follow: bool) -> Result<Resolved, Errno> {
    let view = View {
        pid: t.pid,
        fds: &t.fds,
        exe: &t.exe,
        cwd: t.procfs.cwd.as_deref(),
    };
    view.resolve(dirfd, path.to_bytes(), follow)
}

impl View<'_> {
    fn resolve(&self, dirfd: u64, path: &[u8], follow: bool) -> Result<Resolved, Errno> {
        let joined;
        let full = match path.first() {
            None => return Ok(Resolved::default()),
            Some(b'/') => path,
            Some(_) => {
                let origin = if dirfd as i32 == AT_FDCWD {
                    None
                } else {
                    self.fds.get(dirfd).ok().and_then(|e| e.origin)
                };
                let base = if dirfd as i32 == AT_FDCWD {
                    self.cwd
                } else {
                    origin.as_ref().and_then(Origin::anchor)
                };
                let Some(base) = base else {
                    return Ok(Resolved::default());
                };
                if !mentions(base) && !mentions(path) {
                    return Ok(Resolved::default());
                }
                joined = [base, b"/", path].concat();
                &joined[..]
            }
        };
        let root = full.iter().all(|&b| b == b'/' || b == b'.');
        if !root && !mentions(full) {
            return Ok(Resolved::default());
        }
        self.walk(full, follow)
    }

    /// Walks the absolute path `full` component by component.
    fn walk(&self, full: &[u8], follow: bool) -> Result<Resolved, Errno> {
        let pid = self.pid.to_string();
        let pid = pid.as_bytes();
        let dir_slash = full.ends_with(b"/");
        let parts: Vec<&[u8]> = full
            .split(|&b| b == b'/')
            .filter(|c| !c.is_empty() && *c != b".")
            .collect();
        let mut at: Vec<&[u8]> = Vec::new();
        for (i, &part) in parts.iter().enumerate() {
            if part == b".." {
                at.pop();
                continue;
            }
            at.push(part);
            let rest = parts.get(i + 1..).unwrap_or_default();
            if rest.is_empty() && !follow && !dir_slash {
                break;
            }
            expand_symlink(&mut at, pid);
            let Some((rel, _)) = in_process(&at, pid) else {
                continue;
            };
            // The magic links: the rest of the path continues from their target.
            let (target, node) = match rel {
                [b"fd", n] => {
                    let fd = self.guest_fd(n)?;
                    let link = format!("/proc/self/fd/{}", self.fds.host(fd)?);
                    (link.into_bytes(), rest.is_empty().then_some(Node::Fd(fd)))
                }
                [b"exe"] => (self.exe.as_os_str().as_bytes().to_vec(), None),
                _ => continue,
            };
            return Ok(Resolved {
                host: Some(host_path(&target, rest, dir_slash)?),
                node,
                canonical: canonical(&at),
                dir_slash,
            });
        }
        self.classify(&at, pid, dir_slash)
    }

    /// What the path `at` (walked, a final symlink not followed) is.
    fn classify(&self, at: &[&[u8]], pid: &[u8], dir_slash: bool) -> Result<Resolved, Errno> {
        let served = |node, host: Option<String>| -> Result<Resolved, Errno> {
            Ok(Resolved {
                host: host
                    .map(|h| host_path(h.as_bytes(), &[], dir_slash))
                    .transpose()?,
                node: Some(node),
                canonical: canonical(at),
                dir_slash,
            })
        };
        let file = |what| served(Node::Generated(what), None);
        let Some((rel, thread)) = in_process(at, pid) else {
            return match at {
                [] | [b"proc"] | [b"dev"] => served(Node::Dir, None),
                _ => Ok(Resolved::default()),
            };
        };
        match rel {
            [] => served(Node::Dir, None),
            [b"task"] if !thread => served(Node::Listing(Listing::Tasks), None),
            [b"fd"] => served(Node::Listing(Listing::Fds), None),
            [b"fdinfo"] => served(Node::Listing(Listing::FdInfo), None),
            [b"fd", n] => {
                let fd = self.guest_fd(n)?;
                let host = format!("/proc/self/fd/{}", self.fds.host(fd)?);
                served(Node::FdLink(fd), Some(host))
            }
            [b"fdinfo", n] => {
                let fd = self.guest_fd(n)?;
                let host = format!("/proc/self/fdinfo/{}", self.fds.host(fd)?);
                served(Node::Generated(Generated::FdInfo(fd)), Some(host))
            }
            [b"exe"] => served(Node::ExeLink, None),
            [b"comm"] => Ok(Resolved {
                host: Some(host_path(b"/proc/thread-self/comm", &[], dir_slash)?),
                ..Resolved::default()
            }),
            [b"maps"] => file(Generated::Maps),
            [b"cmdline"] => file(Generated::Cmdline),
            [b"environ"] => file(Generated::Environ),
            [b"auxv"] => file(Generated::Auxv),
            [b"stat"] => file(Generated::Stat),
            [b"status"] => file(Generated::Status),
            [b"statm"] => file(Generated::Statm),
            [b"mem" | b"pagemap" | b"smaps" | b"smaps_rollup" | b"numa_maps" | b"syscall"]
            | [b"map_files", ..] => served(Node::Denied, None),
            _ => Ok(Resolved::default()),
        }
    }

    /// The guest descriptor a `fd/N` name means: decimal without leading
    /// zeros, and open in the guest, else `ENOENT` (as Linux's lookup).
    fn guest_fd(&self, name: &[u8]) -> Result<u64, Errno> {
        let digits = !name.is_empty() && name.iter().all(u8::is_ascii_digit);
        if !digits || (name.len() > 1 && name.first() == Some(&b'0')) {
            return Err(Errno::ENOENT);
        }
        let fd: u32 = std::str::from_utf8(name)
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or(Errno::ENOENT)?;
        self.fds.get(u64::from(fd)).map_err(|_| Errno::ENOENT)?;
        Ok(u64::from(fd))
    }
}

/// Whether a path may lead into `/proc` or `/dev`: it has a component of
/// that name (a cheap first test).
fn mentions(path: &[u8]) -> bool {
    path.split(|&b| b == b'/')
        .any(|c| c == b"proc" || c == b"dev")
}

/// Replaces a followed symlink at the end of `at` by its target.
fn expand_symlink<'a>(at: &mut Vec<&'a [u8]>, pid: &'a [u8]) {
    let fd = |n: &'a [u8]| vec![&b"proc"[..], pid, b"fd", n];
    *at = match at.as_slice() {
        [b"proc", b"self"] => vec![&b"proc"[..], pid],
        [b"proc", b"thread-self"] => vec![&b"proc"[..], pid, b"task", pid],
        [b"dev", b"fd"] => vec![&b"proc"[..], pid, b"fd"],
        [b"dev", b"stdin"] => fd(b"0"),
        [b"dev", b"stdout"] => fd(b"1"),
        [b"dev", b"stderr"] => fd(b"2"),
        _ => return,
    };
}

/// The part of `at` below the guest's `/proc/<pid>` (or its one thread's
/// `/proc/<pid>/task/<pid>`), and whether it is the thread's.
fn in_process<'p, 'a>(at: &'p [&'a [u8]], pid: &[u8]) -> Option<(&'p [&'a [u8]], bool)> {
    match at {
        [b"proc", p, b"task", tid, rest @ ..] if *p == pid && *tid == pid => Some((rest, true)),
        [b"proc", p, rest @ ..] if *p == pid => Some((rest, false)),
        _ => None,
    }
}

/// `/` + the components.
fn canonical(at: &[&[u8]]) -> Vec<u8> {
    if at.is_empty() {
        return b"/".to_vec();
    }
    at.iter()
        .flat_map(|c| [&b"/"[..], c])
        .flatten()
        .copied()
        .collect()
}

/// `base/rest…`, keeping a final `/` (which asks for a directory).
fn host_path(base: &[u8], rest: &[&[u8]], dir_slash: bool) -> Result<CString, Errno> {
    let mut path = base.to_vec();
    for part in rest {
        path.push(b'/');
        path.extend_from_slice(part);
    }
    if dir_slash {
        path.push(b'/');
    }
    CString::new(path).map_err(|_| Errno::ENOENT)
}

/// Opens what picorun serves itself: `Some` for a generated file, an error
/// for a refused one, `None` when the host opens [`Resolved::host_path`]
/// (or the guest's own path).
pub fn open(t: &Task, r: &Resolved, flags: u64) -> Result<Option<OwnedFd>, Errno> {
    if flags & O_PATH != 0 {
        return Ok(None);
    }
    match &r.node {
        Some(Node::Generated(what)) => {
            if r.dir_slash || flags & O_DIRECTORY != 0 {
                return Err(Errno::ENOTDIR);
            }
            if flags & (O_CREAT | O_EXCL) == O_CREAT | O_EXCL {
                return Err(Errno::EEXIST);
            }
            // Linux's files are read-only (0444, environ 0400).
            if flags & O_ACCMODE != 0 {
                return Err(Errno::EACCES);
            }
            let bytes = content::generate(t, *what)?;
            read_only_file(&bytes).map(Some)
        }
        Some(Node::Denied) => Err(Errno::EACCES),
        _ => Ok(None),
    }
}

/// A read-only descriptor of a new in-memory file holding `bytes`.
fn read_only_file(bytes: &[u8]) -> Result<OwnedFd, Errno> {
    let raw = host::call(
        libc::SYS_memfd_create,
        &[
            HostArg::Str(c"picorun-procfs"),
            (libc::MFD_CLOEXEC as u64).into(),
        ],
    )?;
    let mut file = File::from(host::own_fd(raw));
    file.write_all(bytes)?;
    // Re-opening through the link gives a read-only description at offset 0.
    let reader = File::open(format!("/proc/self/fd/{}", file.as_raw_fd()))?;
    Ok(reader.into())
}

/// The target of a link picorun answers itself (`exe`, `fd/N` of a
/// generated file); `None` when the host's link says the truth.
pub fn readlink(t: &Task, r: &Resolved) -> Option<Vec<u8>> {
    match r.node.as_ref()? {
        Node::ExeLink => Some(t.exe.as_os_str().as_bytes().to_vec()),
        Node::FdLink(fd) => match &t.fds.get(*fd).ok()?.origin {
            Some(Origin::File(path)) => Some(path.to_vec()),
            _ => None,
        },
        _ => None,
    }
}

#[cfg(test)]
mod tests;
