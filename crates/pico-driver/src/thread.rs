//! Guest threads: `clone(CLONE_THREAD)` starts a host thread that runs a
//! new vCPU in the process's VM, sharing its address space, descriptor
//! table and signal dispositions; thread exit clears and wakes the
//! `CLONE_CHILD_CLEARTID` word (pthread_join waits on it).

use std::sync::mpsc;

use pico_abi::flags::{
    CLONE_CHILD_CLEARTID, CLONE_CHILD_SETTID, CLONE_FILES, CLONE_FS, CLONE_PARENT_SETTID,
    CLONE_SETTLS, CLONE_SIGHAND, CLONE_VM,
};
use pico_abi::Errno;

use crate::host::{self, GuestBuf, HostArg};
use crate::hostsig;
use crate::process::Process;
use crate::sys::SysResult;
use crate::task::{Outcome, Task};

const FUTEX_WAKE: u64 = 1;

/// clone(CLONE_THREAD): returns the new thread's id.
pub fn spawn(
    t: &mut Task,
    flags: u64,
    stack: u64,
    parent_tid: u64,
    child_tid: u64,
    tls: u64,
) -> SysResult {
    if flags & CLONE_VM == 0 || flags & CLONE_SIGHAND == 0 {
        return Err(Errno::EINVAL);
    }
    if flags & (CLONE_FS | CLONE_FILES) != CLONE_FS | CLONE_FILES {
        crate::warn::once(
            "clone-thread-unshared",
            "threads with their own descriptor table or cwd are not supported: EINVAL",
        );
        return Err(Errno::EINVAL);
    }
    let mut state = t.vcpu.capture().map_err(|e| {
        log::error!("clone: {e}");
        Errno::EAGAIN
    })?;
    if stack != 0 {
        state.regs.rsp = stack;
    }
    if flags & CLONE_SETTLS != 0 {
        state.fs_base = tls;
    }
    let reuse = t.threads.start();
    let (vm, fds, signals, threads) = (
        t.vm.clone(),
        t.fds.clone(),
        t.signals.for_new_thread(),
        t.threads.clone(),
    );
    let (exe, pid, trace) = (t.exe.clone(), t.pid, t.tracer.trace);
    // A new thread is named like its creator.
    let comm = host::thread_name().unwrap_or_default();
    let image = t.image.clone();
    let clear_child_tid = if flags & CLONE_CHILD_CLEARTID != 0 {
        child_tid
    } else {
        0
    };
    let (started, result) = mpsc::sync_channel::<Result<u32, Errno>>(1);
    let spawned = std::thread::Builder::new()
        .name("pico-thread".into())
        .spawn(move || {
            let tid = host::gettid();
            let _ = host::set_thread_name(&comm);
            let vcpu = match reuse {
                Ok(mut vcpu) => vm.read().vm.reset_vcpu(&mut vcpu, &state).map(|_| vcpu),
                Err(id) => vm.read().vm.create_vcpu_from(id, &state),
            };
            let Ok(vcpu) = vcpu.map_err(|e| log::error!("new thread's vCPU: {e}")) else {
                let _ = started.send(Err(Errno::EAGAIN));
                return;
            };
            let mut task = Task {
                vm,
                vcpu,
                fds,
                signals,
                threads,
                tid,
                forced: None,
                exe,
                pid,
                clear_child_tid,
                robust_list: 0,
                image,
                procfs: crate::procfs::State::new(),
                warned: Default::default(),
                tracer: crate::trace::Tracer {
                    trace,
                    pid: Some(tid),
                    stats: None,
                },
                vfork_done: None,
                server: None,
            };
            hostsig::set_kick(task.vcpu.kick_handle());
            if task.vcpu.finish_syscall(0).is_err() {
                let _ = started.send(Err(Errno::EAGAIN));
                return;
            }
            // Both ids are written before the thread runs, as Linux does: the
            // thread may exit (and clear its CLEARTID word) before the creator
            // returns from clone.
            if flags & CLONE_PARENT_SETTID != 0 {
                let _ = task.write_bytes(parent_tid, &tid.to_le_bytes());
            }
            if flags & CLONE_CHILD_SETTID != 0 {
                let _ = task.write_bytes(child_tid, &tid.to_le_bytes());
            }
            let _ = started.send(Ok(tid));
            let mut process = Process::from_task(task);
            if let Some(outcome) = process.run_thread() {
                crate::retire::at_exit(&process.into_task().vm);
                host::finish(outcome);
            }
            let task = process.into_task();
            task.threads.park(task.vcpu);
        });
    let tid = match spawned {
        Ok(_) => result.recv().unwrap_or(Err(Errno::EAGAIN)),
        Err(_) => Err(Errno::EAGAIN),
    };
    let tid = tid.inspect_err(|_| t.threads.abandon())?;
    Ok(u64::from(tid))
}

const FUTEX_WAITERS: u32 = 0x8000_0000;
const FUTEX_OWNER_DIED: u32 = 0x4000_0000;
const FUTEX_TID_MASK: u32 = 0x3fff_ffff;
/// Longest robust list walked, as the kernel's ROBUST_LIST_LIMIT.
const ROBUST_LIST_LIMIT: usize = 2048;

/// Marks one robust futex owned by the dying thread as OWNER_DIED and
/// wakes a waiter, as the kernel's handle_futex_death does.
fn futex_death(t: &Task, word_addr: u64) {
    let mut b = [0u8; 4];
    if t.read_bytes(word_addr, &mut b).is_err() {
        return;
    }
    let word = u32::from_le_bytes(b);
    if word & FUTEX_TID_MASK != t.tid {
        return;
    }
    let new = (word & FUTEX_WAITERS) | FUTEX_OWNER_DIED;
    if t.write_bytes(word_addr, &new.to_le_bytes()).is_err() {
        return;
    }
    if word & FUTEX_WAITERS != 0 {
        wake(t, word_addr);
    }
}

fn wake(t: &Task, addr: u64) {
    if let Ok(word) = GuestBuf::new(&t.vm.memory(), addr, 4, pico_vm::Access::Read) {
        let _ = host::call(
            libc::SYS_futex,
            &[word.into(), FUTEX_WAKE.into(), 1u64.into(), HostArg::Int(0)],
        );
    }
}

/// Walks the thread's robust mutex list (set_robust_list): every lock it
/// still holds is marked OWNER_DIED so the next locker learns of it.
fn release_robust_list(t: &Task) {
    if t.robust_list == 0 {
        return;
    }
    // The head is any address the guest gave set_robust_list.
    let (Ok(first), Ok(offset), Ok(pending)) = (
        t.read_u64(t.robust_list),
        t.read_u64(t.robust_list.wrapping_add(8)),
        t.read_u64(t.robust_list.wrapping_add(16)),
    ) else {
        return;
    };
    // Entries may carry a PI flag in bit 0.
    let mut entry = first;
    for _ in 0..ROBUST_LIST_LIMIT {
        if entry == t.robust_list {
            break;
        }
        let Ok(next) = t.read_u64(entry & !1) else {
            break;
        };
        if entry != pending {
            futex_death(t, (entry & !1).wrapping_add(offset));
        }
        entry = next;
    }
    if pending != 0 {
        futex_death(t, (pending & !1).wrapping_add(offset));
    }
}

/// A thread ends (exit(2)): releases its robust mutexes, clears and wakes
/// its CLEARTID word; the process ends with it if it was the last thread.
pub fn exit(t: &mut Task, code: i32) -> Option<Outcome> {
    release_robust_list(t);
    if t.clear_child_tid != 0
        && t.write_bytes(t.clear_child_tid, &0u32.to_le_bytes())
            .is_ok()
    {
        wake(t, t.clear_child_tid);
    }
    t.threads.exit().then_some(Outcome::Exited(code & 0xff))
}
