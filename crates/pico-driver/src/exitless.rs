//! Exitless mode (`--exitless`): a host thread per guest thread serves the
//! syscalls the guest posts in its fast page (see `pico_vm::postbox`), so
//! they cost no VM exit. It serves only calls that cannot block: reads and
//! writes of regular files and memory devices, lseek, getppid. Anything
//! else, or a descriptor of another kind, it declines, and the guest makes
//! the call with an ordinary exit, where signals, restarts and tracing
//! work as always.
//!
//! The server starts at the first call it could have served (so short-lived
//! processes never start one), spins while the guest keeps posting calls it
//! serves, and parks when it has served nothing for a while, saying so in
//! the fast page: a guest then exits at once rather than post. The vCPU's
//! thread wakes it again at the next servable call that exited.

use std::os::fd::RawFd;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use pico_abi::{sysno, Errno};
use pico_vm::{PostBox, Request};

use crate::fd::FdTable;
use crate::shared::SharedVm;
use crate::sys::{rw, Args};

/// The syscalls a guest posts. Each is served only when it cannot block.
pub const POSTED: &[u64] = &[
    sysno::READ,
    sysno::WRITE,
    sysno::PREAD64,
    sysno::PWRITE64,
    sysno::LSEEK,
    sysno::GETPPID,
];

/// How long the server keeps spinning after the last call it served
/// before it parks.
const IDLE_SPIN: Duration = Duration::from_micros(200);

static ENABLED: AtomicBool = AtomicBool::new(false);

/// Turns exitless mode on or off for pico processes run from now on by
/// this host process and its children.
pub fn set_enabled(on: bool) {
    ENABLED.store(on, Ordering::Relaxed);
}

pub fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// The serving thread of one guest thread's vCPU.
pub struct Server {
    postbox: PostBox,
    fds: FdTable,
    /// The host process that started the thread (a forked child has the
    /// struct but not the thread).
    pid: u32,
    stop: Arc<AtomicBool>,
    /// Requests served so far.
    served: Arc<AtomicU64>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    pub fn start(postbox: PostBox, fds: FdTable, vm: SharedVm) -> std::io::Result<Server> {
        let stop = Arc::new(AtomicBool::new(false));
        let served = Arc::new(AtomicU64::new(0));
        let thread = crate::host::spawn_quiet("picorun-exitless", {
            let (postbox, fds, stop, served) =
                (postbox.clone(), fds.clone(), stop.clone(), served.clone());
            move || serve_loop(&postbox, &fds, &vm, &stop, &served)
        })?;
        Ok(Server {
            postbox,
            fds,
            pid: std::process::id(),
            stop,
            served,
            thread: Some(thread),
        })
    }

    /// Whether this server serves `postbox` with descriptor table `fds`.
    pub fn serves(&self, postbox: &PostBox, fds: &FdTable) -> bool {
        self.pid == std::process::id() && self.postbox.same_as(postbox) && self.fds.same_as(fds)
    }

    /// How many calls it has served (answered without an exit).
    pub fn served(&self) -> u64 {
        self.served.load(Ordering::Relaxed)
    }

    /// Makes a parked server look for requests now.
    pub fn wake(&self) {
        if self.postbox.awake() {
            return;
        }
        self.postbox.set_awake(true);
        if let Some(t) = &self.thread {
            t.thread().unpark();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let Some(thread) = self.thread.take() else {
            return;
        };
        if self.pid != std::process::id() {
            // A forked child: the thread was never copied; its handle
            // names a thread of the parent.
            std::mem::forget(thread);
            return;
        }
        self.stop.store(true, Ordering::Relaxed);
        thread.thread().unpark();
        let _ = thread.join();
    }
}

fn serve_loop(
    postbox: &PostBox,
    fds: &FdTable,
    vm: &SharedVm,
    stop: &AtomicBool,
    served: &AtomicU64,
) {
    postbox.set_awake(true);
    let mut last_served = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        if let Some(request) = postbox.take() {
            match serve(fds, vm, &request) {
                Some(result) => {
                    postbox.complete(result.unwrap_or_else(Errno::to_rax));
                    served.fetch_add(1, Ordering::Relaxed);
                    last_served = Instant::now();
                }
                None => postbox.decline(),
            }
        } else if last_served.elapsed() > IDLE_SPIN {
            // Park until woken (`Server::wake` sets awake first); a request
            // posted just before this is cancelled by the guest's bounded wait.
            postbox.set_awake(false);
            while !postbox.awake() && !stop.load(Ordering::Relaxed) {
                std::thread::park();
            }
            last_served = Instant::now();
        } else {
            std::hint::spin_loop();
        }
    }
    // The vCPU may serve another thread next (vCPUs are reused): its guest
    // must not post to nobody.
    postbox.set_awake(false);
}

/// Whether the call `nr` with `args`, which just exited, is one a server
/// would have served: then it is worth starting or waking one.
pub fn servable(fds: &FdTable, nr: u64, args: &[u64; 6]) -> bool {
    if crate::policy::filter(nr, args).is_some() {
        return false;
    }
    match nr {
        sysno::GETPPID | sysno::LSEEK => true,
        sysno::READ | sysno::WRITE | sysno::PREAD64 | sysno::PWRITE64 => {
            fds.host(args[0]).is_ok_and(never_blocks)
        }
        _ => false,
    }
}

/// The result of `request`, or `None` to decline it.
fn serve(fds: &FdTable, vm: &SharedVm, request: &Request) -> Option<Result<u64, Errno>> {
    let a = Args(request.args);
    // What the policy refuses goes the ordinary way, where it is refused.
    if crate::policy::filter(request.nr, &request.args).is_some() {
        return None;
    }
    match request.nr {
        sysno::GETPPID => Some(Ok(std::os::unix::process::parent_id().into())),
        sysno::LSEEK => Some(rw::lseek_in(fds, &a)),
        nr @ (sysno::READ | sysno::WRITE | sysno::PREAD64 | sysno::PWRITE64) => {
            let fd = match fds.host(a[0]) {
                Ok(fd) => fd,
                Err(e) => return Some(Err(e)),
            };
            if !never_blocks(fd) {
                return None;
            }
            Some(match nr {
                sysno::READ => rw::read_in(fd, vm, &a),
                sysno::WRITE => rw::write_in(fd, vm, &a),
                sysno::PREAD64 => rw::pread64_in(fd, vm, &a),
                _ => rw::pwrite64_in(fd, vm, &a),
            })
        }
        _ => None,
    }
}

/// Whether reads and writes on host descriptor `fd` finish without
/// waiting for anyone: regular files and the memory devices (major 1:
/// /dev/null, zero, full, random, urandom). Pipes, sockets and terminals
/// can block, and so belong to the vCPU's thread, where signals reach them.
fn never_blocks(fd: RawFd) -> bool {
    crate::host::file_kind(fd).is_some_and(|(mode, rdev)| {
        let kind = mode & libc::S_IFMT;
        kind == libc::S_IFREG || (kind == libc::S_IFCHR && libc::major(rdev) == 1)
    })
}
