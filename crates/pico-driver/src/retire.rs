//! Destroying a VM off the critical path.
//!
//! KVM destroys a VM when its last descriptor closes, and that costs about
//! half a millisecond of kernel work on a shadow-paging host (debugfs
//! entries, reverse maps, shadow pages, vCPUs), as much as a fork itself.
//! Where the process goes on, or another process waits for it, that work
//! is moved out of the way:
//!
//! - execve: the old VM, vCPU and parked thread vCPUs are dropped on a
//!   helper thread while the new program starts.
//! - a forked child that ends hands a copy of its VM descriptor, and a
//!   pidfd for itself, to its parent's retirement thread; the parent closes
//!   the VM once the child is gone. The child's exit (what the parent's
//!   `wait4` waits for) then only unmaps its memory.
//! - where the CLI allows it ([`allow_detached_teardown`]), a process that
//!   ends leaves all of it — the VM and the guest's memory — to a small
//!   process of its own that outlives it by that half millisecond (see
//!   `detach_teardown`): whoever waits for picorun, a shell or a guest
//!   parent, gets the exit status without waiting for KVM.
//!
//! Everything here is best effort: if a thread, socket or pidfd cannot be
//! had, the VM is destroyed where it always was.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};

use crate::host;
use crate::shared::SharedVm;

/// This process's retirement socket: the end its children send to, and
/// the end its thread receives on (-1: none yet).
static CHILDREN_SEND: AtomicI32 = AtomicI32::new(-1);
static CHILDREN_RECV: AtomicI32 = AtomicI32::new(-1);
/// The parent's retirement socket, in a forked child (-1: none).
static PARENT_SEND: AtomicI32 = AtomicI32::new(-1);

/// Whether a process that ends may leave its teardown to a process of its
/// own. Off unless the CLI turns it on; forked children inherit it.
static DETACH: AtomicBool = AtomicBool::new(false);

/// Lets this process, and the processes it forks, leave their teardown to
/// a process of their own (`detach_teardown`). The CLI calls it when
/// it runs a guest without a policy: not under a process limit, where
/// the teardown process would count against the guest, and not as a pid
/// namespace's init, which would adopt the teardown processes and could
/// hand them to a guest's `wait(-1)`.
pub fn allow_detached_teardown() {
    DETACH.store(std::process::id() != 1, Ordering::Release);
}

/// Drops `what` (an old VM and what belongs to it) on a helper thread.
/// (If no thread can be started, the closure and `what` with it are
/// dropped right away.)
pub fn drop_in_background<T: Send + 'static>(what: T) {
    let _ = host::spawn_quiet("pico-retire", move || drop(what));
}

/// In a process about to fork: makes sure it has a retirement socket and
/// thread for its children's VMs. Call with the address space locked, so
/// that two threads do not fork at once.
pub fn before_fork() {
    if CHILDREN_SEND.load(Ordering::Acquire) >= 0 {
        return;
    }
    let Ok((recv, send)) = host::datagram_pair() else {
        return;
    };
    let recv_raw = recv.as_raw_fd();
    if host::spawn_quiet("pico-retire", move || serve(recv)).is_err() {
        return;
    }
    CHILDREN_RECV.store(recv_raw, Ordering::Release);
    CHILDREN_SEND.store(into_raw(send), Ordering::Release);
}

/// In a forked child, right after the fork: its parent's socket is now the
/// one to hand the VM to; the rest it inherited is the parent's business.
/// (The retirement thread itself was not forked.)
pub fn after_fork_in_child() {
    close(PARENT_SEND.swap(-1, Ordering::AcqRel));
    close(CHILDREN_RECV.swap(-1, Ordering::AcqRel));
    PARENT_SEND.store(CHILDREN_SEND.swap(-1, Ordering::AcqRel), Ordering::Release);
}

/// In a process that is ending: hands a copy of its VM descriptor, with a
/// pidfd for itself, to its parent's retirement thread if it has one
/// (a forked child). Whether the parent took it.
fn hand_over(vm: &SharedVm) -> bool {
    let parent = PARENT_SEND.load(Ordering::Acquire);
    if parent < 0 {
        return false;
    }
    let Ok(me) = host::own_pidfd() else {
        return false;
    };
    // SAFETY: `parent` is the descriptor stored by `after_fork_in_child`,
    // which stays open (nothing else closes it) while this process runs.
    let parent = unsafe { BorrowedFd::borrow_raw(parent) };
    let mm = vm.read();
    host::send_fds(parent, &[mm.vm.vm_fd(), me.as_fd()]).is_ok()
}

/// In a process about to exit, from whichever thread ends it: leaves the
/// VM's teardown to a process of its own where allowed, else hands the VM
/// to the parent picorun process if there is one (a forked child); else
/// the exit itself tears it down.
pub fn at_exit(vm: &SharedVm) {
    if !detach_teardown(vm) {
        hand_over(vm);
    }
}

/// In a process about to exit: starts a process that shares this one's
/// memory (`CLONE_VM`: nothing is copied) and keeps only the VM descriptor
/// and a pidfd for this process, closing every other descriptor it got, so
/// that pipes still see end-of-file when this process exits. Once this
/// process is gone it exits too, and its exit, not this one's, unmaps the
/// guest's memory and destroys the VM (~0.5 ms of kernel work, more than
/// the rest of a short program's exit). Whether it started; if not, the
/// teardown happens where it always did.
fn detach_teardown(vm: &SharedVm) -> bool {
    if !DETACH.load(Ordering::Acquire) {
        return false;
    }
    let Ok(me) = host::own_pidfd() else {
        return false;
    };
    let vm_fd = vm.read().vm.vm_fd().as_raw_fd();
    // The new process has its own copy of `me`, which closes here.
    teardown::spawn(me.as_raw_fd(), vm_fd).is_ok()
}

/// The retirement thread: holds each child's VM until the child is gone,
/// then closes it.
fn serve(recv: OwnedFd) {
    // (pidfd, VM) of children that are still running or being torn down.
    let mut waiting: Vec<(OwnedFd, OwnedFd)> = Vec::new();
    loop {
        let ready = {
            let mut fds = vec![recv.as_fd()];
            fds.extend(waiting.iter().map(|(pidfd, _)| pidfd.as_fd()));
            match host::wait_readable(&fds) {
                Ok(ready) => ready,
                Err(pico_abi::Errno::EINTR) => continue,
                Err(_) => return,
            }
        };
        // A readable pidfd: that child has exited, its own descriptors are
        // closed, and this is the VM's last one.
        let mut gone = ready[1..].iter();
        waiting.retain(|_| !gone.next().copied().unwrap_or(false));
        if ready[0] {
            let mut fds = match host::recv_fds(recv.as_fd()) {
                Ok(fds) => fds,
                Err(pico_abi::Errno::EINTR | pico_abi::Errno::EAGAIN) => continue,
                // Not expected; the children's VMs are closed on the way out.
                Err(_) => return,
            };
            if fds.len() == 2 {
                let pidfd = fds.pop();
                let vm = fds.pop();
                if let (Some(pidfd), Some(vm)) = (pidfd, vm) {
                    waiting.push((pidfd, vm));
                }
            }
        }
    }
}

fn into_raw(fd: OwnedFd) -> RawFd {
    use std::os::fd::IntoRawFd;
    fd.into_raw_fd()
}

fn close(fd: RawFd) {
    if fd >= 0 {
        // SAFETY: `fd` came from `into_raw` or is the receiving end the
        // thread owned in the parent; in this process nothing else owns it.
        drop(unsafe { OwnedFd::from_raw_fd(fd) });
    }
}

/// The process `detach_teardown` starts.
mod teardown {
    use std::os::fd::RawFd;
    use std::sync::atomic::{AtomicU32, Ordering};

    use pico_abi::Errno;

    /// Its name (comm), for `ps` and for tests that look for leftovers.
    const NAME: &std::ffi::CStr = c"pico-teardown";

    /// Its stack: it needs a few hundred bytes.
    const STACK_SIZE: usize = 16 << 10;

    /// What it keeps: a pidfd for the process it waits for, and the VM;
    /// `closed` turns 1 once it has closed everything else.
    struct Keep {
        pidfd: RawFd,
        vm_fd: RawFd,
        closed: AtomicU32,
    }

    /// How long `spawn` waits for the new process to close what it does
    /// not keep (it takes tens of microseconds).
    const CLOSE_TIMEOUT: libc::timespec = libc::timespec {
        tv_sec: 1,
        tv_nsec: 0,
    };

    pub(super) fn spawn(pidfd: RawFd, vm_fd: RawFd) -> Result<(), Errno> {
        // Both are leaked on purpose: the new process uses them after this
        // one has gone, in the memory they share.
        let stack: &'static mut [u8] = Box::leak(vec![0u8; STACK_SIZE].into_boxed_slice());
        let keep: &'static Keep = Box::leak(Box::new(Keep {
            pidfd,
            vm_fd,
            closed: AtomicU32::new(0),
        }));
        let top = (stack.as_mut_ptr() as usize + STACK_SIZE) & !15;
        // Signals stay blocked in the new process for its whole life: it
        // has picorun's signal handlers (a copy) and shares picorun's
        // memory, and a handler run there would act on picorun's state.
        let all = sigset(true);
        let mut old = sigset(false);
        // SAFETY: `all` and `old` are initialised sigsets on this stack.
        unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &all, &mut old) };
        // SAFETY: the child runs `main` on its own leaked stack with a
        // pointer to the leaked `keep`, both valid for the rest of both
        // processes' lives; `main` makes raw system calls only (no
        // allocation, no lock, no errno), so sharing memory with picorun's
        // threads (CLONE_VM) is sound. Exit signal 0: picorun gets no
        // SIGCHLD for it; init reaps it once picorun is gone.
        let pid = unsafe {
            libc::clone(
                main,
                top as *mut libc::c_void,
                libc::CLONE_VM,
                keep as *const Keep as *mut libc::c_void,
            )
        };
        let spawned = if pid < 0 {
            Err(Errno::last_os_error())
        } else {
            Ok(())
        };
        // SAFETY: restores the mask read above.
        unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &old, std::ptr::null_mut()) };
        if spawned.is_ok() {
            // Until it has closed its copies, a pipe picorun writes to would
            // not see end-of-file at picorun's exit, nor a flock be let go.
            wait_closed(&keep.closed);
        }
        spawned
    }

    fn wait_closed(closed: &AtomicU32) {
        while closed.load(Ordering::Acquire) == 0 {
            // SAFETY: FUTEX_WAIT reads the u32 at `closed`, which is alive
            // (leaked), and the timeout on this stack; it returns at once
            // if the value is no longer 0.
            let ret = unsafe {
                libc::syscall(
                    libc::SYS_futex,
                    closed.as_ptr(),
                    libc::FUTEX_WAIT | libc::FUTEX_PRIVATE_FLAG,
                    0u32,
                    &CLOSE_TIMEOUT,
                )
            };
            if ret < 0 && Errno::last_os_error() == Errno::ETIMEDOUT {
                return;
            }
        }
    }

    fn sigset(full: bool) -> libc::sigset_t {
        // SAFETY: sigfillset/sigemptyset initialise the local set.
        unsafe {
            let mut set: libc::sigset_t = std::mem::zeroed();
            if full {
                libc::sigfillset(&mut set);
            } else {
                libc::sigemptyset(&mut set);
            }
            set
        }
    }

    /// The new process: closes all but what it keeps, waits for the
    /// process the pidfd names to be gone, and returns, which exits.
    extern "C" fn main(arg: *mut libc::c_void) -> libc::c_int {
        // SAFETY: `arg` is the leaked `Keep` passed by `spawn`.
        let keep = unsafe { &*(arg as *const Keep) };
        // Its own name in ps and /proc (it would show the guest's).
        // SAFETY: PR_SET_NAME reads the NUL-terminated static name.
        unsafe {
            raw_syscall3(
                libc::SYS_prctl,
                libc::PR_SET_NAME as u64,
                NAME.as_ptr() as u64,
                0,
            )
        };
        let (low, high) = (
            i64::from(keep.pidfd.min(keep.vm_fd)),
            i64::from(keep.pidfd.max(keep.vm_fd)),
        );
        close_range(0, low - 1);
        close_range(low + 1, high - 1);
        close_range(high + 1, i64::from(u32::MAX));
        keep.closed.store(1, Ordering::Release);
        // SAFETY: FUTEX_WAKE on the leaked `closed` word; touches no memory.
        unsafe {
            raw_syscall3(
                libc::SYS_futex,
                keep.closed.as_ptr() as u64,
                (libc::FUTEX_WAKE | libc::FUTEX_PRIVATE_FLAG) as u64,
                1,
            )
        };
        let mut poll = libc::pollfd {
            fd: keep.pidfd,
            events: libc::POLLIN,
            revents: 0,
        };
        loop {
            // SAFETY: poll reads and writes the one pollfd on this stack.
            let ret =
                unsafe { raw_syscall3(libc::SYS_poll, &mut poll as *mut _ as u64, 1, u64::MAX) };
            if ret != -i64::from(libc::EINTR) {
                return 0;
            }
        }
    }

    fn close_range(first: i64, last: i64) {
        if first <= last {
            // SAFETY: closes descriptors of this process's own table (a
            // copy: picorun's stay open); no memory is touched.
            unsafe { raw_syscall3(libc::SYS_close_range, first as u64, last as u64, 0) };
        }
    }

    /// A system call without libc: libc's wrapper writes errno, which is
    /// in the thread-local storage of the picorun thread that started this
    /// process (same memory, same FS base).
    ///
    /// # Safety
    /// The arguments must be valid for system call `nr`.
    unsafe fn raw_syscall3(nr: i64, a: u64, b: u64, c: u64) -> i64 {
        let ret: i64;
        // SAFETY: the caller vouches for the arguments; `syscall` clobbers
        // rcx and r11 only, and does not touch this stack.
        unsafe {
            std::arch::asm!(
                "syscall",
                inlateout("rax") nr => ret,
                in("rdi") a,
                in("rsi") b,
                in("rdx") c,
                lateout("rcx") _,
                lateout("r11") _,
                options(nostack),
            );
        }
        ret
    }
}
