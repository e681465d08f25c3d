//! A pico process's state, as the syscall handlers see it.

use std::collections::HashSet;
use std::path::PathBuf;

use pico_abi::Errno;
use std::sync::Arc;

use pico_vm::{Access, CstrError, Vcpu};

use crate::exec::Image;
use crate::fd::FdTable;
use crate::host::GuestBuf;
use crate::shared::SharedVm;
use crate::signal::Signals;
use crate::threads::Threads;
use crate::trace::Tracer;

/// Longest path the guest may pass (PATH_MAX, including the NUL).
pub const PATH_MAX: usize = 4096;

/// How a pico process ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// `exit`/`exit_group` with this status (0-255).
    Exited(i32),
    /// Killed by this signal.
    Signaled(i32),
}

/// One guest thread, as the syscall handlers see it. The address space and
/// descriptor table are the process's, shared with its other threads;
/// the vCPU, mask and queue of signals are the thread's own.
pub struct Task {
    pub vm: SharedVm,
    pub vcpu: Vcpu,
    pub fds: FdTable,
    pub signals: Signals,
    pub threads: Arc<Threads>,
    /// This thread's id (the host thread's: the main thread's is the pid).
    pub tid: u32,
    /// A synchronous signal raised by the current exit (a fault, SIGPIPE).
    pub forced: Option<crate::signal::Pending>,
    /// The program as the guest knows it (`/proc/self/exe`).
    pub exe: PathBuf,
    /// What the loader set up (`/proc/self/{cmdline,environ,auxv,maps}`).
    pub image: Image,
    /// The guest's cwd as `/proc` paths relative to it need it.
    pub procfs: crate::procfs::State,
    pub pid: u32,
    pub clear_child_tid: u64,
    pub robust_list: u64,
    /// Syscall numbers already warned about as unimplemented.
    pub warned: HashSet<u64>,
    pub tracer: Tracer,
    /// In a vfork child: the pipe end whose closing (at exec or exit)
    /// lets the parent continue.
    pub vfork_done: Option<crate::vfork::VforkDone>,
    /// The thread serving this thread's posted syscalls (`--exitless`).
    pub server: Option<crate::exitless::Server>,
}

impl Task {
    /// A checked guest buffer the host may read (an input to the call).
    pub fn in_buf(&self, addr: u64, len: u64) -> Result<GuestBuf, Errno> {
        GuestBuf::new(&self.vm.memory(), addr, len, Access::Read)
    }

    /// A checked guest buffer the host may write (an output of the call).
    pub fn out_buf(&self, addr: u64, len: u64) -> Result<GuestBuf, Errno> {
        GuestBuf::new(&self.vm.memory(), addr, len, Access::Write)
    }

    /// An output buffer, or none when the guest passed NULL.
    pub fn opt_out_buf(&self, addr: u64, len: u64) -> Result<GuestBuf, Errno> {
        if addr == 0 {
            Ok(GuestBuf::null())
        } else {
            self.out_buf(addr, len)
        }
    }

    /// An input buffer, or none when the guest passed NULL.
    pub fn opt_in_buf(&self, addr: u64, len: u64) -> Result<GuestBuf, Errno> {
        if addr == 0 {
            Ok(GuestBuf::null())
        } else {
            self.in_buf(addr, len)
        }
    }

    /// A path argument: `EFAULT`, or `ENAMETOOLONG` past PATH_MAX.
    pub fn path(&self, addr: u64) -> Result<std::ffi::CString, Errno> {
        let bytes = self
            .vm
            .memory()
            .read_cstr(addr, PATH_MAX - 1)
            .map_err(|e| match e {
                CstrError::Fault(_) => Errno::EFAULT,
                CstrError::TooLong => Errno::ENAMETOOLONG,
            })?;
        // read_cstr stops at the first NUL, so there is none inside.
        std::ffi::CString::new(bytes).map_err(|_| Errno::EINVAL)
    }

    pub fn read_u64(&self, addr: u64) -> Result<u64, Errno> {
        self.vm.memory().read_u64(addr).map_err(|_| Errno::EFAULT)
    }

    pub fn write_u64(&self, addr: u64, value: u64) -> Result<(), Errno> {
        self.vm
            .memory()
            .write_u64(addr, value)
            .map_err(|_| Errno::EFAULT)
    }

    pub fn read_bytes(&self, addr: u64, buf: &mut [u8]) -> Result<(), Errno> {
        self.vm.memory().read(addr, buf).map_err(|_| Errno::EFAULT)
    }

    pub fn write_bytes(&self, addr: u64, buf: &[u8]) -> Result<(), Errno> {
        self.vm.memory().write(addr, buf).map_err(|_| Errno::EFAULT)
    }

    /// Queues `signo`, sent by this process to itself (kill, tgkill,
    /// raise) with si_code `code`; delivered once the syscall's result is set.
    pub fn raise(&mut self, signo: u32, code: i32) {
        let info = crate::sigframe::user_info(signo, code, self.pid, crate::host::uid());
        self.signals.enqueue(signo, info);
    }

    /// A signal the current exit forces on the process (a fault, or
    /// SIGPIPE from a write): delivered before anything else.
    pub fn force(&mut self, signo: u32, code: i32, addr: u64) {
        let info = crate::sigframe::fault_info(signo, code, addr);
        self.forced = Some(crate::signal::Pending { signo, info });
    }
}
