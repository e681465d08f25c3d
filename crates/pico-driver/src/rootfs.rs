//! The filesystem policy: `--root DIR` makes DIR the guest's `/`, `--ro`
//! and `--rw` bind host paths into it (GitHub issue 4).
//!
//! Without a root nothing here is active and the guest sees the host's
//! filesystem, as before. With one, every guest path goes through
//! [`Namespace::resolve`] before the host sees it.
//!
//! # How a path is resolved
//!
//! The guest namespace is a list of mounts: the root (DIR), each bind, and
//! picorun's own `/proc` and `/dev`, each an `O_PATH` descriptor of its host
//! directory opened at start-up. A guest path (made absolute with the
//! guest's cwd or the guest path of a directory descriptor) is walked one
//! component at a time, in userspace, with a stack of `O_PATH` directory
//! descriptors:
//!
//! * a plain component is opened with `openat(dir, name, O_PATH |
//!   O_NOFOLLOW | O_DIRECTORY)`: a single name, never `..`, so the kernel
//!   cannot leave `dir`;
//! * `..` pops the stack (at the root it stays: `chdir("..")` loops stop at
//!   `/`); out of a bind it returns to the directory the bind sits in;
//! * a symlink is read (`readlinkat`) and its text is resolved *in the
//!   guest namespace*: an absolute target restarts from the guest root, a
//!   relative one from the link's directory; 40 links at most (`ELOOP`).
//!   Magic links of `/proc` are never followed by the kernel either: their
//!   text is taken as a guest path (so `/proc/<pid>/root` is `/`), and the
//!   guest's own `root`, `cwd` and `exe` answer with the guest's view;
//! * when the path crosses a mount point, the walk continues from that
//!   mount's descriptor (the point need not exist in DIR).
//!
//! The result is the parent directory (an `O_PATH` descriptor) and the
//! final name. The host then acts on `/proc/self/fd/<parent>/<name>`, so
//! the final component is never followed by the kernel, or, for calls
//! that follow it, on `/proc/self/fd/<pinned>` where `pinned` was opened
//! with `openat2(parent, name, RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS)`:
//! a symlink raced in by another guest thread can then at worst name
//! something else beneath the same directory. Opens use that `openat2`
//! directly.
//!
//! # Mount kinds
//!
//! * `--rw` binds and the root itself are writable (as the host's
//!   permissions allow).
//! * `--ro` binds refuse, with `EROFS` and before any host call: opening
//!   for writing or with `O_TRUNC`, creating (`O_CREAT` of a missing name,
//!   mkdir, mknod, symlink, link), unlink, rmdir, rename, chmod, chown,
//!   utimes, truncate and xattr changes, by path or by a descriptor opened
//!   there. rename and link across mounts fail with `EXDEV` as on Linux.
//! * `/proc` is the host's, filtered: only the guest's own pid (and
//!   `self`, `thread-self`) and a fixed list of system-wide files
//!   (`cpuinfo`, `meminfo`, `stat`, `uptime`, ...) exist; other pids are
//!   `ENOENT`; `mem`, `pagemap`, `map_files` and `syscall` are `EACCES`;
//!   nothing there can be opened for writing through this resolver (the
//!   guest's own `comm` is, through [`crate::procfs`]).
//! * `/dev` offers `null`, `zero`, `full`, `random`, `urandom`, `tty`
//!   (the host's devices, openable for writing) and `fd`, `stdin`, `stdout`,
//!   `stderr` (the guest's descriptors, via [`crate::procfs`]); every
//!   other name is `ENOENT` and the directory cannot be changed (`EROFS`).
//!
//! # Known limits
//!
//! Listing `/` does not show mount points that do not exist in DIR;
//! listing `/dev` and `/proc` shows the host's names (which cannot be
//! opened). Hard links to outside files that exist in DIR before the run
//! are the operator's business; the guest cannot make one, as it cannot
//! name an outside file. The cwd is kept as a guest path, so a cwd that is
//! renamed away is looked up again by name.

use std::ffi::{CStr, CString};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use pico_abi::Errno;

use crate::host::{self, HostArg};

const RESOLVE_NO_MAGICLINKS: u64 = 0x02;
const RESOLVE_BENEATH: u64 = 0x08;
const MAX_LINKS: usize = 40;
const O_TMPFILE: u64 = 0o20200000;
/// Flags openat2 accepts (it refuses unknown bits where openat ignores them).
const VALID_OPEN: u64 = 0o3
    | 0o100
    | 0o200
    | 0o400
    | 0o1000
    | 0o2000
    | 0o4000
    | 0o10000
    | 0o20000
    | 0o40000
    | 0o100000
    | 0o200000
    | 0o400000
    | 0o1000000
    | 0o2000000
    | 0o4000000
    | 0o10000000
    | 0o20000000;

/// A host path exposed inside the guest's root.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bind {
    /// The host directory or file.
    pub host: PathBuf,
    /// Where the guest sees it (absolute).
    pub guest: PathBuf,
    /// `--rw` (else `--ro`).
    pub writable: bool,
}

impl Bind {
    /// Parses `HOST:GUEST` or `PATH` (the same path on both sides).
    pub fn parse(spec: &std::ffi::OsStr, writable: bool) -> Bind {
        let bytes = spec.as_bytes();
        let (host, guest) = match bytes.iter().position(|&b| b == b':') {
            Some(i) => (&bytes[..i], &bytes[i + 1..]),
            None => (bytes, bytes),
        };
        let path = |b: &[u8]| PathBuf::from(std::ffi::OsStr::from_bytes(b));
        Bind {
            host: path(host),
            guest: path(guest),
            writable,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Root,
    Bind { writable: bool },
    Proc,
    Dev,
}

struct Mount {
    /// Canonical guest path (`/` for the root).
    guest: Vec<u8>,
    /// Canonical host path.
    host: Vec<u8>,
    /// `O_PATH` descriptor of the host directory.
    fd: OwnedFd,
    kind: Kind,
}

/// The guest's filesystem view (one per host process: forked children
/// inherit it, exec keeps it).
pub struct Namespace {
    mounts: Vec<Mount>,
    /// An empty, already removed directory: stands for the directories
    /// on the way to a mount point that DIR lacks (`/mnt` of `/mnt/data`):
    /// every lookup in it fails with `ENOENT`, every creation too.
    empty: OwnedFd,
    cwd: Mutex<Arc<[u8]>>,
    /// The program's host path, for `/proc/<pid>/exe` met during a walk.
    exe: Mutex<Arc<[u8]>>,
}

static NAMESPACE: OnceLock<Namespace> = OnceLock::new();

/// The installed namespace, if the guest runs under `--root`.
pub fn get() -> Option<&'static Namespace> {
    NAMESPACE.get()
}

/// Installs the namespace for this host process; the guest's cwd starts
/// at its `/`. Fails if one is already installed.
pub fn install(root: &Path, binds: &[Bind]) -> Result<&'static Namespace, String> {
    let ns = Namespace::new(root, binds)?;
    NAMESPACE
        .set(ns)
        .map_err(|_| "a root is already installed in this process".to_string())?;
    get().ok_or_else(|| "no namespace".to_string())
}

/// What a guest path resolved to.
pub struct Found {
    dir: Dir,
    /// The final component: a plain name, `.` when the path names a
    /// directory reached by `..`, `/` or a mount point; ends with `/` when
    /// the guest's path did.
    pub name: CString,
    /// The canonical guest path.
    pub guest: Vec<u8>,
    mount: usize,
    kind: Kind,
    /// The final component is the guest's own `/proc` magic link
    /// (`root`, `cwd`, `exe`) and reads as this guest path.
    pub magic: Option<Vec<u8>>,
}

enum Dir {
    Mount(RawFd),
    Own(OwnedFd),
}

impl Dir {
    fn raw(&self) -> RawFd {
        match self {
            Dir::Mount(fd) => *fd,
            Dir::Own(fd) => fd.as_raw_fd(),
        }
    }
}

/// Why a guest may be refused before any host call.
#[derive(Clone, Copy, Debug)]
pub enum Intent {
    /// An open with these flags.
    Open(u64),
    /// A change to the name or the inode: create, unlink, rename, link,
    /// chmod, chown, utimes, truncate, xattr.
    Modify,
}

/// `#[repr(C)] struct open_how` of openat2(2).
#[repr(C)]
struct OpenHow {
    flags: u64,
    mode: u64,
    resolve: u64,
}

fn openat2(dir: RawFd, name: &CStr, flags: u64, mode: u64) -> Result<OwnedFd, Errno> {
    let flags = (flags & VALID_OPEN) | libc::O_CLOEXEC as u64;
    let creates = flags & (libc::O_CREAT as u64) != 0 || flags & O_TMPFILE == O_TMPFILE;
    let mut how = OpenHow {
        flags,
        mode: if creates { mode & 0o7777 } else { 0 },
        resolve: RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
    };
    let fd = host::call(
        libc::SYS_openat2,
        &[
            HostArg::Fd(dir),
            HostArg::Str(name),
            HostArg::Local((&mut how as *mut OpenHow).cast()),
            (std::mem::size_of::<OpenHow>() as u64).into(),
        ],
    )?;
    Ok(host::own_fd(fd))
}

fn open_dir_path(path: &Path) -> Result<OwnedFd, String> {
    let c = CString::new(path.as_os_str().as_bytes())
        .map_err(|_| format!("{}: bad path", path.display()))?;
    let fd = host::call(
        libc::SYS_openat,
        &[
            HostArg::Int(libc::AT_FDCWD as i64 as u64),
            HostArg::Str(&c),
            ((libc::O_PATH | libc::O_CLOEXEC) as u64).into(),
        ],
    )
    .map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(host::own_fd(fd))
}

/// `/`-joined, `.` and `..` folded lexically, from `/`.
fn normalize(path: &[u8]) -> Vec<u8> {
    let mut parts: Vec<&[u8]> = Vec::new();
    for c in path.split(|&b| b == b'/') {
        match c {
            b"" | b"." => {}
            b".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    join(&parts)
}

fn join<T: AsRef<[u8]>>(parts: &[T]) -> Vec<u8> {
    if parts.is_empty() {
        return b"/".to_vec();
    }
    let mut out = Vec::new();
    for p in parts {
        out.push(b'/');
        out.extend_from_slice(p.as_ref());
    }
    out
}

fn is_number(s: &[u8]) -> bool {
    !s.is_empty() && s.iter().all(u8::is_ascii_digit)
}

/// System-wide `/proc` files the guest may read.
const PROC_FILES: &[&[u8]] = &[
    b"self",
    b"thread-self",
    b"cpuinfo",
    b"meminfo",
    b"stat",
    b"uptime",
    b"loadavg",
    b"version",
    b"filesystems",
    b"mounts",
    b"cmdline",
    b"sys",
    b"net",
    b"devices",
    b"diskstats",
    b"partitions",
    b"vmstat",
    b"zoneinfo",
    b"swaps",
    b"interrupts",
    b"crypto",
];

/// Per-process `/proc` entries that are never opened through the resolver.
const PROC_DENIED: &[&[u8]] = &[b"mem", b"pagemap", b"map_files", b"syscall"];

/// The `/dev` entries the guest has.
const DEV_FILES: &[&[u8]] = &[
    b"null", b"zero", b"full", b"random", b"urandom", b"tty", b"fd", b"stdin", b"stdout", b"stderr",
];

impl Namespace {
    /// Opens DIR, the binds, the host's `/proc` and `/dev`.
    pub fn new(root: &Path, binds: &[Bind]) -> Result<Namespace, String> {
        let canon = |p: &Path| {
            std::fs::canonicalize(p)
                .map(|c| c.into_os_string().into_vec())
                .map_err(|e| format!("{}: {e}", p.display()))
        };
        use std::os::unix::ffi::OsStringExt;
        let root_host = canon(root)?;
        if !Path::new(std::ffi::OsStr::from_bytes(&root_host)).is_dir() {
            return Err(format!("{}: not a directory", root.display()));
        }
        let mut mounts = vec![Mount {
            guest: b"/".to_vec(),
            fd: open_dir_path(Path::new(std::ffi::OsStr::from_bytes(&root_host)))?,
            host: root_host,
            kind: Kind::Root,
        }];
        for (guest, host, kind) in [("/proc", "/proc", Kind::Proc), ("/dev", "/dev", Kind::Dev)] {
            mounts.push(Mount {
                guest: guest.as_bytes().to_vec(),
                host: host.as_bytes().to_vec(),
                fd: open_dir_path(Path::new(host))?,
                kind,
            });
        }
        for bind in binds {
            let g = bind.guest.as_os_str().as_bytes();
            if g.first() != Some(&b'/') {
                return Err(format!(
                    "{}: the guest path must be absolute",
                    bind.guest.display()
                ));
            }
            let guest = normalize(g);
            let first = guest.split(|&b| b == b'/').nth(1).unwrap_or_default();
            if guest == b"/" || first == b"proc" || first == b"dev" {
                return Err(format!(
                    "{}: cannot bind over /, /proc or /dev",
                    bind.guest.display()
                ));
            }
            let host = canon(&bind.host)?;
            let hp = Path::new(std::ffi::OsStr::from_bytes(&host));
            if !hp.is_dir() {
                return Err(format!(
                    "{}: only directories can be bound",
                    bind.host.display()
                ));
            }
            mounts.retain(|m| m.guest != guest);
            mounts.push(Mount {
                guest,
                fd: open_dir_path(hp)?,
                host,
                kind: Kind::Bind {
                    writable: bind.writable,
                },
            });
        }
        let empty_path = std::env::temp_dir().join(format!(
            "picorun-empty-{}-{:x}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos())
        ));
        std::fs::create_dir(&empty_path).map_err(|e| format!("{}: {e}", empty_path.display()))?;
        let empty = open_dir_path(&empty_path);
        let _ = std::fs::remove_dir(&empty_path);
        Ok(Namespace {
            empty: empty?,
            mounts,
            cwd: Mutex::new(Arc::from(&b"/"[..])),
            exe: Mutex::new(Arc::from(&b""[..])),
        })
    }

    /// The guest's working directory (a canonical guest path).
    pub fn cwd(&self) -> Arc<[u8]> {
        self.cwd.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub fn set_cwd(&self, cwd: &[u8]) {
        *self.cwd.lock().unwrap_or_else(|p| p.into_inner()) = Arc::from(cwd);
    }

    /// Records the running program's host path.
    pub fn set_exe(&self, host: &Path) {
        *self.exe.lock().unwrap_or_else(|p| p.into_inner()) =
            Arc::from(host.as_os_str().as_bytes());
    }

    /// The guest path of a host path, if it lies in a mount (the longest
    /// matching host prefix wins); `None` for a path outside the guest's
    /// world. Text that is not a path (`pipe:[12]`) comes back unchanged.
    pub fn guest_view(&self, host: &[u8]) -> Option<Vec<u8>> {
        if host.first() != Some(&b'/') {
            return Some(host.to_vec());
        }
        let mut best: Option<(&Mount, &[u8])> = None;
        for m in &self.mounts {
            let rest = if m.host == b"/" {
                Some(host)
            } else {
                host.strip_prefix(m.host.as_slice())
                    .filter(|r| r.is_empty() || r.first() == Some(&b'/'))
            };
            if let Some(rest) = rest {
                if best.is_none_or(|(b, _)| m.host.len() > b.host.len()) {
                    best = Some((m, rest));
                }
            }
        }
        let (m, rest) = best?;
        let mut out = m.guest.clone();
        if out == b"/" {
            out.clear();
        }
        out.extend_from_slice(rest);
        Some(if out.is_empty() { b"/".to_vec() } else { out })
    }

    fn mount_at(&self, guest: &[u8]) -> Option<usize> {
        self.mounts.iter().position(|m| m.guest == guest)
    }

    /// Whether a mount point lies below the guest directory `guest`.
    fn leads_to_mount(&self, guest: &[u8]) -> bool {
        self.mounts.iter().any(|m| {
            m.guest
                .strip_prefix(guest)
                .is_some_and(|rest| rest.first() == Some(&b'/'))
        })
    }

    /// Resolves `path` (absolute, or relative to the guest directory
    /// `base`); a final symlink is followed if `follow`.
    pub fn resolve(&self, base: &[u8], path: &[u8], follow: bool) -> Result<Found, Errno> {
        if path.is_empty() {
            return Err(Errno::ENOENT);
        }
        let full = if path.first() == Some(&b'/') {
            path.to_vec()
        } else {
            [base, b"/", path].concat()
        };
        let dir_slash = full.ends_with(b"/");
        let mut pending: std::collections::VecDeque<Vec<u8>> = full
            .split(|&b| b == b'/')
            .filter(|c| !c.is_empty())
            .map(<[u8]>::to_vec)
            .collect();
        // The walked directories: (name, descriptor, mount), root first.
        let mut stack: Vec<(Vec<u8>, Dir, usize)> = vec![(
            Vec::new(),
            Dir::Mount(self.mounts.first().map_or(-1, |m| m.fd.as_raw_fd())),
            0,
        )];
        let mut links = 0;
        let own_pid = std::process::id().to_string().into_bytes();
        while let Some(c) = pending.pop_front() {
            let last = pending.is_empty();
            if c == b"." {
                continue;
            }
            if c == b".." {
                if stack.len() > 1 {
                    stack.pop();
                }
                continue;
            }
            let mut child: Vec<Vec<u8>> = stack.iter().skip(1).map(|l| l.0.clone()).collect();
            child.push(c.clone());
            let child_path = join(&child);
            if let Some(m) = self.mount_at(&child_path) {
                let fd = self.mounts.get(m).map_or(-1, |m| m.fd.as_raw_fd());
                stack.push((c, Dir::Mount(fd), m));
                continue;
            }
            let Some((_, top, mount)) = stack.last() else {
                return Err(Errno::ENOENT);
            };
            let (top, mount) = (top.raw(), *mount);
            let kind = self.mounts.get(mount).map_or(Kind::Root, |m| m.kind);
            let mount_depth = self.mounts.get(mount).map_or(0, |m| {
                m.guest
                    .split(|&b| b == b'/')
                    .filter(|s| !s.is_empty())
                    .count()
            });
            let rel: Vec<&[u8]> = child
                .get(mount_depth..)
                .unwrap_or_default()
                .iter()
                .map(Vec::as_slice)
                .collect();
            self.filter(kind, &rel, &own_pid)?;
            let cname = CString::new(c.clone()).map_err(|_| Errno::ENOENT)?;
            let magic = self.magic_link(kind, &rel, &own_pid);
            let found =
                |name: CString, magic: Option<Vec<u8>>, stack: Vec<(Vec<u8>, Dir, usize)>| {
                    let guest = child_path.clone();
                    let (_, dir, mount) = stack.into_iter().last().ok_or(Errno::ENOENT)?;
                    Ok(Found {
                        dir,
                        name,
                        guest,
                        mount,
                        kind,
                        magic,
                    })
                };
            if last && !follow && !dir_slash {
                return found(cname, magic, stack);
            }
            if !last {
                match host::call(
                    libc::SYS_openat,
                    &[
                        HostArg::Fd(top),
                        HostArg::Str(&cname),
                        ((libc::O_PATH | libc::O_NOFOLLOW | libc::O_DIRECTORY | libc::O_CLOEXEC)
                            as u64)
                            .into(),
                    ],
                ) {
                    Ok(fd) => {
                        stack.push((c, Dir::Own(host::own_fd(fd)), mount));
                        continue;
                    }
                    Err(Errno::ENOTDIR) => {} // a symlink, or not a directory
                    Err(Errno::ENOENT) if self.leads_to_mount(&child_path) => {
                        stack.push((c, Dir::Mount(self.empty.as_raw_fd()), mount));
                        continue;
                    }
                    Err(e) => return Err(e),
                }
            }
            let target = match magic.clone() {
                Some(t) => Some(t),
                None => match readlink(top, &cname) {
                    Ok(t) => Some(t),
                    Err(Errno::EINVAL) if last => None,
                    Err(Errno::EINVAL) => return Err(Errno::ENOTDIR),
                    Err(Errno::ENOENT) if self.leads_to_mount(&child_path) => {
                        let dir = Dir::Mount(self.empty.as_raw_fd());
                        return Ok(Found {
                            dir,
                            name: c".".to_owned(),
                            guest: child_path.clone(),
                            mount,
                            kind,
                            magic: None,
                        });
                    }
                    Err(Errno::ENOENT) if last => None,
                    Err(e) => return Err(e),
                },
            };
            let Some(target) = target else {
                let mut name = c.clone();
                if dir_slash {
                    name.push(b'/');
                }
                return found(CString::new(name).map_err(|_| Errno::ENOENT)?, None, stack);
            };
            links += 1;
            if links > MAX_LINKS {
                return Err(Errno::ELOOP);
            }
            if target.is_empty() {
                return Err(Errno::ENOENT);
            }
            if target.first() == Some(&b'/') {
                stack.truncate(1);
            }
            let mut expanded: std::collections::VecDeque<Vec<u8>> = target
                .split(|&b| b == b'/')
                .filter(|c| !c.is_empty())
                .map(<[u8]>::to_vec)
                .collect();
            if last && dir_slash {
                expanded.push_back(b".".to_vec());
            }
            expanded.extend(pending.drain(..));
            pending = expanded;
        }
        // The path names a directory already on the stack.
        let guest = join(
            &stack
                .iter()
                .skip(1)
                .map(|l| l.0.as_slice())
                .collect::<Vec<_>>(),
        );
        let (_, dir, mount) = stack.pop().ok_or(Errno::ENOENT)?;
        Ok(Found {
            dir,
            name: c".".to_owned(),
            guest,
            mount,
            kind: self.mounts.get(mount).map_or(Kind::Root, |m| m.kind),
            magic: None,
        })
    }

    /// Refuses names the guest does not have in `/proc` and `/dev`
    /// (`rel`: the path below the mount, ending with the new component).
    fn filter(&self, kind: Kind, rel: &[&[u8]], own_pid: &[u8]) -> Result<(), Errno> {
        match kind {
            Kind::Dev => match rel {
                [name] if DEV_FILES.contains(name) => Ok(()),
                _ => Err(Errno::ENOENT),
            },
            Kind::Proc => match rel {
                [top] if is_number(top) => {
                    if *top == own_pid {
                        Ok(())
                    } else {
                        Err(Errno::ENOENT)
                    }
                }
                [top] if PROC_FILES.contains(top) => Ok(()),
                [top] => {
                    let _ = top;
                    Err(Errno::ENOENT)
                }
                [top, rest @ ..] if is_number(top) => {
                    if rest.iter().any(|c| PROC_DENIED.contains(c)) {
                        return Err(Errno::EACCES);
                    }
                    // Descriptor links are the guest's only through procfs.
                    match rest {
                        [b"fd" | b"fdinfo", _, ..] | [b"task", _, b"fd" | b"fdinfo", _, ..] => {
                            Err(Errno::EACCES)
                        }
                        _ => Ok(()),
                    }
                }
                _ => Ok(()),
            },
            Kind::Root | Kind::Bind { .. } => Ok(()),
        }
    }

    /// The guest's own `root`, `cwd` and `exe` links, as guest paths.
    fn magic_link(&self, kind: Kind, rel: &[&[u8]], own_pid: &[u8]) -> Option<Vec<u8>> {
        if kind != Kind::Proc {
            return None;
        }
        let name = match rel {
            [pid, name] | [pid, b"task", _, name] if *pid == own_pid => *name,
            _ => return None,
        };
        match name {
            b"root" => Some(b"/".to_vec()),
            b"cwd" => Some(self.cwd().to_vec()),
            b"exe" => {
                let exe = self.exe.lock().unwrap_or_else(|p| p.into_inner()).clone();
                Some(self.guest_view(&exe).unwrap_or_default())
            }
            _ => None,
        }
    }

    /// Whether the guest may do `intent` at `found`: `EROFS` on a
    /// read-only bind, `/proc` or `/dev` (which may be opened for writing).
    pub fn check(&self, found: &Found, intent: Intent) -> Result<(), Errno> {
        check_kind(found.kind, intent, || exists(found))
    }

    /// Whether a descriptor opened at `found` is on a read-only mount.
    pub fn read_only(&self, found: &Found) -> bool {
        !matches!(found.kind, Kind::Root | Kind::Bind { writable: true })
    }

    /// Opens `found` with `flags` (the guest's) and `mode`.
    pub fn open(&self, found: &Found, flags: u64, mode: u64) -> Result<OwnedFd, Errno> {
        openat2(found.dir.raw(), &found.name, flags, mode)
    }
}

fn check_kind(kind: Kind, intent: Intent, exists: impl Fn() -> bool) -> Result<(), Errno> {
    let writes = |flags: u64| {
        flags & 0o3 != 0 || flags & (libc::O_TRUNC as u64) != 0 || flags & O_TMPFILE == O_TMPFILE
    };
    let creates = |flags: u64| flags & (libc::O_CREAT as u64) != 0;
    match (kind, intent) {
        (Kind::Root | Kind::Bind { writable: true }, _) => Ok(()),
        (Kind::Dev, Intent::Open(_)) => Ok(()),
        (Kind::Proc, Intent::Open(f)) if writes(f) || creates(f) && !exists() => Err(Errno::EACCES),
        (Kind::Bind { writable: false }, Intent::Open(f))
            if writes(f) || creates(f) && !exists() =>
        {
            Err(Errno::EROFS)
        }
        (_, Intent::Open(_)) => Ok(()),
        (_, Intent::Modify) => Err(Errno::EROFS),
    }
}

fn exists(found: &Found) -> bool {
    let mut st = std::mem::MaybeUninit::<libc::stat>::zeroed();
    host::call(
        libc::SYS_newfstatat,
        &[
            HostArg::Fd(found.dir.raw()),
            HostArg::Str(&found.name),
            HostArg::Local(st.as_mut_ptr().cast()),
            (libc::AT_SYMLINK_NOFOLLOW as u64).into(),
        ],
    )
    .is_ok()
}

fn readlink(dir: RawFd, name: &CStr) -> Result<Vec<u8>, Errno> {
    let mut buf = vec![0u8; libc::PATH_MAX as usize];
    let n = host::call(
        libc::SYS_readlinkat,
        &[
            HostArg::Fd(dir),
            HostArg::Str(name),
            HostArg::Local(buf.as_mut_ptr()),
            (buf.len() as u64).into(),
        ],
    )?;
    buf.truncate(n as usize);
    Ok(buf)
}

impl Found {
    /// Whether the host must refuse writes through a descriptor opened here.
    pub fn read_only(&self) -> bool {
        !matches!(self.kind, Kind::Root | Kind::Bind { writable: true })
    }

    /// Which mount the final name is in (rename and link must not cross).
    pub fn mount(&self) -> usize {
        self.mount
    }

    /// A host path for the final name, not followed by the kernel:
    /// `/proc/self/fd/<parent>/<name>`.
    pub fn host_path(&self) -> Result<CString, Errno> {
        let mut p = format!("/proc/self/fd/{}/", self.dir.raw()).into_bytes();
        p.extend_from_slice(self.name.to_bytes());
        CString::new(p).map_err(|_| Errno::ENOENT)
    }

    /// The final name pinned as an `O_PATH` descriptor (followed only
    /// beneath its directory), for calls that follow it.
    pub fn pin(&self) -> Result<OwnedFd, Errno> {
        openat2(self.dir.raw(), &self.name, libc::O_PATH as u64, 0)
    }

    /// The parent directory's host descriptor.
    pub fn dir_fd(&self) -> RawFd {
        self.dir.raw()
    }
}

/// Opens a guest path for reading as a program (`execve`, the ELF
/// interpreter, a `#!` interpreter). An error is an `io::Error` with the
/// guest's errno.
pub fn open_program(ns: &Namespace, path: &Path) -> std::io::Result<std::fs::File> {
    let err = |e: Errno| std::io::Error::from_raw_os_error(i32::from(e.raw()));
    let base = ns.cwd();
    let found = ns
        .resolve(&base, path.as_os_str().as_bytes(), true)
        .map_err(err)?;
    let fd = ns.open(&found, libc::O_RDONLY as u64, 0).map_err(err)?;
    Ok(std::fs::File::from(fd))
}

/// Whether the guest path names a file the guest may execute (`access(X_OK)`
/// and a regular file), with the errno execve would give.
pub fn check_executable(ns: &Namespace, path: &Path) -> Result<(), Errno> {
    let base = ns.cwd();
    let found = ns.resolve(&base, path.as_os_str().as_bytes(), true)?;
    let pinned = found.pin()?;
    let host =
        CString::new(format!("/proc/self/fd/{}", pinned.as_raw_fd())).map_err(|_| Errno::ENOENT)?;
    host::check_executable(Path::new(std::ffi::OsStr::from_bytes(host.as_bytes())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bind_specs() {
        let b = Bind::parse(std::ffi::OsStr::new("/usr"), false);
        assert_eq!(b.host, PathBuf::from("/usr"));
        assert_eq!(b.guest, PathBuf::from("/usr"));
        let b = Bind::parse(std::ffi::OsStr::new("/tmp/a:/data"), true);
        assert_eq!(b.host, PathBuf::from("/tmp/a"));
        assert_eq!(b.guest, PathBuf::from("/data"));
        assert!(b.writable);
    }

    #[test]
    fn normalizes() {
        assert_eq!(normalize(b"/a/../../b/./c/"), b"/b/c".to_vec());
        assert_eq!(normalize(b"//"), b"/".to_vec());
    }

    fn tree() -> (tempdir::Dir, Namespace) {
        let d = tempdir::Dir::new();
        std::fs::create_dir_all(d.0.join("root/sub/deep")).unwrap();
        std::fs::write(d.0.join("root/sub/file"), b"inside").unwrap();
        std::fs::write(d.0.join("secret"), b"outside").unwrap();
        std::fs::create_dir_all(d.0.join("data")).unwrap();
        std::fs::write(d.0.join("data/x"), b"bound").unwrap();
        std::os::unix::fs::symlink("/sub/file", d.0.join("root/abs")).unwrap();
        std::os::unix::fs::symlink("../../../../secret", d.0.join("root/sub/up")).unwrap();
        std::os::unix::fs::symlink("loop", d.0.join("root/loop")).unwrap();
        let ns = Namespace::new(
            &d.0.join("root"),
            &[Bind {
                host: d.0.join("data"),
                guest: PathBuf::from("/mnt/data"),
                writable: false,
            }],
        )
        .unwrap();
        (d, ns)
    }

    mod tempdir {
        pub struct Dir(pub std::path::PathBuf);
        impl Dir {
            pub fn new() -> Dir {
                use std::sync::atomic::{AtomicU32, Ordering};
                static N: AtomicU32 = AtomicU32::new(0);
                let p = std::env::temp_dir().join(format!(
                    "picorun-rootfs-{}-{}",
                    std::process::id(),
                    N.fetch_add(1, Ordering::Relaxed)
                ));
                std::fs::create_dir_all(&p).unwrap();
                Dir(p)
            }
        }
        impl Drop for Dir {
            fn drop(&mut self) {
                let _ = std::fs::remove_dir_all(&self.0);
            }
        }
    }

    fn read(ns: &Namespace, base: &[u8], path: &str) -> Result<String, Errno> {
        let f = ns.resolve(base, path.as_bytes(), true)?;
        let fd = ns.open(&f, 0, 0)?;
        Ok(std::fs::read_to_string(format!("/proc/self/fd/{}", fd.as_raw_fd())).unwrap())
    }

    #[test]
    fn stays_inside() {
        let (_d, ns) = tree();
        assert_eq!(read(&ns, b"/", "/sub/file").unwrap(), "inside");
        assert_eq!(
            read(&ns, b"/sub/deep", "../../../../../sub/file").unwrap(),
            "inside"
        );
        assert_eq!(read(&ns, b"/", "abs").unwrap(), "inside");
        assert_eq!(read(&ns, b"/", "/sub/up"), Err(Errno::ENOENT));
        assert_eq!(read(&ns, b"/", "/../secret"), Err(Errno::ENOENT));
        assert_eq!(read(&ns, b"/", "/loop").unwrap_err(), Errno::ELOOP);
        assert_eq!(read(&ns, b"/", "/mnt/data/x").unwrap(), "bound");
        assert_eq!(read(&ns, b"/mnt/data", "../../sub/file").unwrap(), "inside");
        let f = ns.resolve(b"/", b"/mnt/data/x", true).unwrap();
        assert_eq!(f.guest, b"/mnt/data/x".to_vec());
        assert_eq!(ns.check(&f, Intent::Modify), Err(Errno::EROFS));
        assert_eq!(ns.check(&f, Intent::Open(1)), Err(Errno::EROFS));
        assert_eq!(ns.check(&f, Intent::Open(0)), Ok(()));
        let f = ns.resolve(b"/", b"/sub/../..", true).unwrap();
        assert_eq!(f.guest, b"/".to_vec());
        assert_eq!(f.name.to_bytes(), b".");
    }

    #[test]
    fn proc_and_dev_are_filtered() {
        let (_d, ns) = tree();
        assert!(read(&ns, b"/", "/dev/null").is_ok());
        assert_eq!(read(&ns, b"/", "/dev/sda").unwrap_err(), Errno::ENOENT);
        assert_eq!(
            read(&ns, b"/", "/proc/1/environ").unwrap_err(),
            Errno::ENOENT
        );
        assert_eq!(read(&ns, b"/", "/proc/kcore").unwrap_err(), Errno::ENOENT);
        assert_eq!(
            read(&ns, b"/", "/proc/self/root/sub/file").unwrap(),
            "inside"
        );
        assert!(read(&ns, b"/", "/proc/self/mem").is_err());
    }

    #[test]
    fn guest_view_maps_back() {
        let (d, ns) = tree();
        let host = std::fs::canonicalize(d.0.join("root/sub")).unwrap();
        assert_eq!(
            ns.guest_view(host.as_os_str().as_bytes()),
            Some(b"/sub".to_vec())
        );
        let data = std::fs::canonicalize(d.0.join("data/x")).unwrap();
        assert_eq!(
            ns.guest_view(data.as_os_str().as_bytes()),
            Some(b"/mnt/data/x".to_vec())
        );
        assert_eq!(ns.guest_view(b"pipe:[1]"), Some(b"pipe:[1]".to_vec()));
    }
}
