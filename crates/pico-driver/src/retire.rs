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
//!
//! Everything here is best effort: if a thread, socket or pidfd cannot be
//! had, the VM is destroyed where it always was.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicI32, Ordering};

use crate::host;
use crate::shared::SharedVm;

/// This process's retirement socket: the end its children send to, and
/// the end its thread receives on (-1: none yet).
static CHILDREN_SEND: AtomicI32 = AtomicI32::new(-1);
static CHILDREN_RECV: AtomicI32 = AtomicI32::new(-1);
/// The parent's retirement socket, in a forked child (-1: none).
static PARENT_SEND: AtomicI32 = AtomicI32::new(-1);

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
pub fn hand_over(vm: &SharedVm) -> bool {
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
