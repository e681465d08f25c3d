//! A vCPU and its run loop: `KVM_RUN` until the guest needs the host, then
//! a typed [`Exit`]. The syscall hot path is one `KVM_RUN` and two copies of
//! the register block; no register ioctl when `KVM_CAP_SYNC_REGS` exists.

use std::sync::Arc;

use kvm_bindings::{kvm_regs, kvm_sregs, kvm_xcrs, CpuId, Msrs};
use kvm_ioctls::{SyncReg, VcpuExit, VcpuFd};

use crate::cpu;
use crate::descriptors::has_error_code;
use crate::error::VmError;
use crate::fastpath::{self, Position};
use crate::kernel::KernelArea;
use crate::layout::{
    fastdata, kernel_addr, kpage, EXCEPTION_PORT_BASE, EXCEPTION_VECTORS, SYSCALL_PORT,
    VCPU_SLOT_COUNT,
};
use crate::postbox::{PostBox, Settled};
use crate::trampoline::{fast_code, trampoline, FastCode, OUT_LEN};
use crate::vm::Features;

/// Why the guest stopped running.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// A `syscall`: number in rax, arguments in rdi rsi rdx r10 r8 r9.
    /// Finish it with [`Vcpu::finish_syscall`].
    Syscall,
    /// A CPU exception in user mode. `rip`/`rsp` are the user's at the fault.
    Exception(ExceptionInfo),
    /// A guest access the host mapping forbids. KVM gives no address on
    /// some hosts (PVM: `KVM_RUN` fails with `EFAULT`), hence the option.
    MemoryFault { addr: Option<u64> },
    /// A host signal interrupted `KVM_RUN`.
    Interrupted,
    /// The guest triple-faulted.
    Shutdown,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExceptionInfo {
    pub vector: u8,
    pub error_code: Option<u64>,
    /// Faulting address for #PF.
    pub cr2: u64,
    pub rip: u64,
    pub rsp: u64,
    pub rflags: u64,
}

/// Makes a vCPU's `KVM_RUN` return (see [`Vcpu::kick_handle`]). Valid while
/// the vCPU exists; `kick` is async-signal-safe (one volatile byte store).
#[derive(Clone, Copy, Debug)]
pub struct KickHandle(*mut u8);

// SAFETY: the pointer is only written with a volatile byte store, which any
// thread (or signal handler) may do while the vCPU's kvm_run page is mapped.
unsafe impl Send for KickHandle {}
// SAFETY: as above.
unsafe impl Sync for KickHandle {}

impl KickHandle {
    /// The `immediate_exit` byte, for a signal handler's volatile store.
    pub fn as_ptr(self) -> *mut u8 {
        self.0
    }

    pub fn kick(self) {
        // SAFETY: points at `immediate_exit` in the vCPU's kvm_run mapping,
        // which lives as long as the vCPU; callers drop handles with it.
        unsafe { std::ptr::write_volatile(self.0, 1) }
    }
}

/// Where a ring-3 `syscall` arrives: decided at the first syscall, because
/// the two kinds of KVM differ (DESIGN.md §4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EntryMode {
    /// Not yet known.
    Unknown,
    /// Still at CPL 3 (PVM): the return only needs rip/rflags/rax.
    User,
    /// At CPL 0 (hardware KVM): the return must also load user cs/ss.
    Kernel,
}

/// What the fast syscall page answers from, published by the host before
/// each run (see [`Vcpu::publish`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FastState {
    pub pid: u32,
    pub tid: u32,
    /// The thread's blocked signals (the host thread blocks the same).
    pub blocked: u64,
    /// Whether any signal is pending for the thread.
    pub pending: bool,
    /// What brk(0) answers; 0 sends it to the host.
    pub brk: u64,
}

/// Per-thread pointers the guest set in its fast page (see
/// [`Vcpu::take_deferred`]); `None` where it set nothing since.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Deferred {
    /// set_robust_list's head.
    pub robust_list: Option<u64>,
    /// set_tid_address's pointer.
    pub clear_child_tid: Option<u64>,
}

/// A vCPU's own fast syscall page.
struct FastPage {
    code: FastCode,
    /// Guest address of the code (this vCPU's LSTAR).
    base: u64,
    /// Kernel-area offset of its data page.
    data: u64,
}

pub struct Vcpu {
    fd: VcpuFd,
    kernel: Arc<KernelArea>,
    /// The guest's registers as of the last exit; written back before the
    /// next run when `regs_dirty`.
    regs: kvm_regs,
    regs_dirty: bool,
    sync: bool,
    entry: EntryMode,
    lstar: u64,
    exception_stubs: u64,
    stub_size: u64,
    /// This vCPU's slot in the kernel area (GDT, TSS, exception stack).
    slot: u64,
    /// The fast syscall page, unless this vCPU shares its slot.
    fast: Option<FastPage>,
}

impl Vcpu {
    pub(crate) fn new(
        fd: VcpuFd,
        id: u64,
        cpuid: &CpuId,
        kernel: Arc<KernelArea>,
        features: Features,
        regs: kvm_regs,
        [fs_base, gs_base]: [u64; 2],
    ) -> Result<Vcpu, VmError> {
        let slot = crate::layout::vcpu_slot(id);
        kernel.prepare_vcpu_slot(id);
        fd.set_cpuid2(cpuid)
            .map_err(VmError::kvm("KVM_SET_CPUID2"))?;
        let sregs = fd.get_sregs().map_err(VmError::kvm("KVM_GET_SREGS"))?;
        let mut sregs = cpu::initial_sregs(sregs, cpu::has_fsgsbase(cpuid), slot);
        if features.apic_in_kernel {
            sregs.apic_base = crate::apic::DISABLED_BASE;
            if id != 0 {
                crate::apic::make_runnable(&fd).map_err(VmError::kvm("KVM_SET_MP_STATE"))?;
            }
        }
        sregs.fs.base = fs_base;
        sregs.gs.base = gs_base;
        fd.set_sregs(&sregs)
            .map_err(VmError::kvm("KVM_SET_SREGS"))?;
        let t = trampoline();
        let fast = (id < VCPU_SLOT_COUNT && features.fast_syscalls).then(|| FastPage {
            code: fast_code(),
            base: kernel_addr(slot + kpage::SLOT_FAST_CODE),
            data: slot + kpage::SLOT_FAST_DATA,
        });
        if fast.is_some() {
            let mut flags = fastdata::FLAG_FAST;
            if cpu::has_fsgsbase(cpuid) {
                flags |= fastdata::FLAG_FSGSBASE;
            }
            kernel.write_u64(slot + kpage::SLOT_FAST_DATA + fastdata::FLAGS, flags);
        }
        let lstar = match &fast {
            Some(page) => page.base,
            None => kernel_addr(kpage::TRAMPOLINE) + t.syscall_entry,
        };
        let entries = cpu::initial_msrs(lstar);
        let msrs =
            Msrs::from_entries(&entries).map_err(|_| VmError::Unsupported("MSR list".into()))?;
        let set = fd.set_msrs(&msrs).map_err(VmError::kvm("KVM_SET_MSRS"))?;
        if set != entries.len() {
            return Err(VmError::Unsupported(format!(
                "MSR {:#x}",
                entries[set].index
            )));
        }
        let mut xcrs = kvm_xcrs {
            nr_xcrs: 1,
            ..Default::default()
        };
        xcrs.xcrs[0].xcr = 0;
        xcrs.xcrs[0].value = cpu::xcr0(cpuid);
        fd.set_xcrs(&xcrs).map_err(VmError::kvm("KVM_SET_XCRS"))?;
        let mut vcpu = Vcpu {
            fd,
            kernel,
            regs,
            regs_dirty: true,
            sync: features.sync_regs,
            entry: EntryMode::Unknown,
            lstar,
            exception_stubs: kernel_addr(kpage::TRAMPOLINE) + t.exceptions,
            stub_size: t.stub_size,
            slot,
            fast,
        };
        if vcpu.sync {
            vcpu.fd.set_sync_valid_reg(SyncReg::Register);
            // Until the first syscall tells us the entry mode.
            vcpu.fd.set_sync_valid_reg(SyncReg::SystemRegister);
        }
        Ok(vcpu)
    }

    /// The guest's TSC frequency in kHz (`KVM_GET_TSC_KHZ`).
    pub fn tsc_khz(&self) -> Result<u32, VmError> {
        self.fd
            .get_tsc_khz()
            .map_err(VmError::kvm("KVM_GET_TSC_KHZ"))
    }

    /// How far the guest's TSC is ahead of the host's (wrapping): the guest
    /// reads `host_tsc + offset`. Measured by reading the guest's IA32_TSC
    /// between two host `rdtsc`s; the host TSC is taken at the midpoint.
    pub fn tsc_offset(&self) -> Result<u64, VmError> {
        let mut best: Option<(u64, u64)> = None;
        // The narrowest of a few brackets: an ioctl preempted half-way
        // would otherwise skew the midpoint.
        for _ in 0..5 {
            let mut msrs = Msrs::from_entries(&[kvm_bindings::kvm_msr_entry {
                index: cpu::MSR_IA32_TSC,
                ..Default::default()
            }])
            .map_err(|_| VmError::Unsupported("MSR list".into()))?;
            let before = cpu::host_tsc();
            let read = self
                .fd
                .get_msrs(&mut msrs)
                .map_err(VmError::kvm("KVM_GET_MSRS"))?;
            let after = cpu::host_tsc();
            if read != 1 {
                return Err(VmError::Unsupported("reading IA32_TSC".into()));
            }
            let width = after.wrapping_sub(before);
            let offset = msrs.as_slice()[0]
                .data
                .wrapping_sub(before.wrapping_add(width / 2));
            if best.is_none_or(|(w, _)| width < w) {
                best = Some((width, offset));
            }
        }
        Ok(best.map_or(0, |(_, offset)| offset))
    }

    /// Sets the guest's TSC so that it reads `host_tsc + offset` (a new
    /// vCPU whose TSC KVM did not line up with its siblings').
    pub fn set_tsc_offset(&self, offset: u64) -> Result<(), VmError> {
        let msrs = Msrs::from_entries(&[kvm_bindings::kvm_msr_entry {
            index: cpu::MSR_IA32_TSC,
            data: cpu::host_tsc().wrapping_add(offset),
            ..Default::default()
        }])
        .map_err(|_| VmError::Unsupported("MSR list".into()))?;
        match self.fd.set_msrs(&msrs) {
            Ok(1) => Ok(()),
            Ok(_) => Err(VmError::Unsupported("writing IA32_TSC".into())),
            Err(e) => Err(VmError::Kvm {
                op: "KVM_SET_MSRS",
                source: e,
            }),
        }
    }

    /// The guest registers as of the last exit.
    pub fn regs(&self) -> &kvm_regs {
        &self.regs
    }

    /// Mutable guest registers; written back before the guest runs again.
    pub fn regs_mut(&mut self) -> &mut kvm_regs {
        self.regs_dirty = true;
        &mut self.regs
    }

    pub fn entry_mode(&self) -> EntryMode {
        self.entry
    }

    /// Tells the fast syscall page what to answer from until the next
    /// exit. The host thread must block exactly `state.blocked` (a fast
    /// rt_sigprocmask may only block more, never unblock what it blocks).
    pub fn publish(&self, state: FastState) {
        let Some(page) = &self.fast else { return };
        let field = |f: u64, v: u64| self.kernel.write_u64(page.data + f, v);
        field(fastdata::PID, u64::from(state.pid));
        field(fastdata::TID, u64::from(state.tid));
        field(fastdata::MASK, state.blocked);
        field(fastdata::HOST_MASK, state.blocked);
        field(fastdata::PENDING, u64::from(state.pending));
        field(fastdata::BRK, state.brk);
    }

    /// Turns on exitless mode for the syscalls in `allow`: the guest posts
    /// them in its fast page for a thread serving the returned [`PostBox`].
    /// `None` where this vCPU has no fast page of its own.
    pub fn enable_exitless(&self, allow: &[u64]) -> Option<PostBox> {
        let page = self.fast.as_ref()?;
        let postbox = PostBox::new(self.kernel.clone(), page.data);
        postbox.enable(allow);
        Some(postbox)
    }

    /// The request slot of this vCPU, to tell whether a serving thread
    /// still serves it (`PostBox::same_as`).
    pub fn postbox(&self) -> Option<PostBox> {
        let page = self.fast.as_ref()?;
        Some(PostBox::new(self.kernel.clone(), page.data))
    }

    /// The blocked mask as the fast page left it (the guest may have
    /// changed it with rt_sigprocmask since [`Vcpu::publish`]).
    pub fn fast_blocked(&self) -> Option<u64> {
        let page = self.fast.as_ref()?;
        Some(self.kernel.read_u64(page.data + fastdata::MASK))
    }

    /// Takes over what the guest recorded in the fast page since the last
    /// exit (set_robust_list, set_tid_address answered there) and clears
    /// it; `None` if nothing (one load per exit).
    pub fn take_deferred(&self) -> Option<Deferred> {
        let page = self.fast.as_ref()?;
        let bits = self.kernel.read_u64(page.data + fastdata::DEFERRED);
        if bits == 0 {
            return None;
        }
        self.kernel.write_u64(page.data + fastdata::DEFERRED, 0);
        let field = |bit: u64, offset: u64| {
            (bits & bit != 0).then(|| self.kernel.read_u64(page.data + offset))
        };
        Some(Deferred {
            robust_list: field(fastdata::DEFER_ROBUST_LIST, fastdata::ROBUST_LIST),
            clear_child_tid: field(fastdata::DEFER_CLEAR_CHILD_TID, fastdata::CLEAR_CHILD_TID),
        })
    }

    /// Completes a syscall the way `sysret` would: rax = `result`,
    /// rip = rcx, rflags = r11 (user-settable bits only), user cs/ss.
    pub fn finish_syscall(&mut self, result: u64) -> Result<(), VmError> {
        let r = &mut self.regs;
        r.rax = result;
        r.rip = r.rcx;
        r.rflags = cpu::user_rflags(r.r11);
        self.regs_dirty = true;
        if self.entry == EntryMode::Kernel {
            self.update_sregs(|s| {
                s.cs = cpu::user_code_segment();
                s.ss = cpu::user_data_segment();
            })?;
        }
        Ok(())
    }

    /// Returns to user mode at `rip` with stack `rsp` (after an exception).
    pub fn resume_user(&mut self, rip: u64, rsp: u64, rflags: u64) -> Result<(), VmError> {
        let r = &mut self.regs;
        r.rip = rip;
        r.rsp = rsp;
        r.rflags = cpu::user_rflags(rflags);
        self.regs_dirty = true;
        self.update_sregs(|s| {
            s.cs = cpu::user_code_segment();
            s.ss = cpu::user_data_segment();
        })
    }

    /// The guest's FPU/SSE/AVX state in XSAVE (standard) format, as much as
    /// KVM returns (4 KiB).
    pub fn xsave(&self) -> Result<Vec<u8>, VmError> {
        let x = self.fd.get_xsave().map_err(VmError::kvm("KVM_GET_XSAVE"))?;
        Ok(x.region.iter().flat_map(|w| w.to_le_bytes()).collect())
    }

    /// Restores FPU state saved by [`Vcpu::xsave`] (possibly edited by the
    /// guest: the bytes come from guest memory; KVM validates them).
    pub fn set_xsave(&mut self, bytes: &[u8]) -> Result<(), VmError> {
        let mut x = kvm_bindings::kvm_xsave::default();
        // Whatever `bytes` leaves out stays as it is (one ioctl fewer
        // when they cover it all, as a captured state does).
        if bytes.len() < std::mem::size_of_val(&x.region) {
            x = self.fd.get_xsave().map_err(VmError::kvm("KVM_GET_XSAVE"))?;
        }
        for (word, chunk) in x.region.iter_mut().zip(bytes.chunks(4)) {
            let mut b = [0u8; 4];
            b[..chunk.len()].copy_from_slice(chunk);
            *word = u32::from_le_bytes(b);
        }
        // SAFETY: `x` is a complete kvm_xsave buffer of the size KVM expects;
        // KVM checks the header and returns EINVAL for invalid state.
        unsafe { self.fd.set_xsave(&x) }.map_err(VmError::kvm("KVM_SET_XSAVE"))
    }

    /// The user state, to start another vCPU from (fork, threads).
    pub fn capture(&mut self) -> Result<crate::vm::CpuState, VmError> {
        let sregs = self.sregs()?;
        Ok(crate::vm::CpuState {
            regs: self.regs,
            fs_base: sregs.fs.base,
            gs_base: sregs.gs.base,
            xsave: self.xsave()?,
        })
    }

    /// A handle a host signal handler may use to make the current or next
    /// `KVM_RUN` of this vCPU return at once (`immediate_exit`).
    pub fn kick_handle(&mut self) -> KickHandle {
        KickHandle(&mut self.fd.get_kvm_run().immediate_exit as *mut u8)
    }

    pub fn fs_base(&mut self) -> Result<u64, VmError> {
        Ok(self.sregs()?.fs.base)
    }

    pub fn gs_base(&mut self) -> Result<u64, VmError> {
        Ok(self.sregs()?.gs.base)
    }

    /// Sets both segment bases with one system-register update.
    pub fn set_segment_bases(&mut self, fs: u64, gs: u64) -> Result<(), VmError> {
        self.update_sregs(|s| {
            s.fs.base = fs;
            s.gs.base = gs;
        })
    }

    pub fn set_fs_base(&mut self, base: u64) -> Result<(), VmError> {
        self.update_sregs(|s| s.fs.base = base)
    }

    pub fn set_gs_base(&mut self, base: u64) -> Result<(), VmError> {
        self.update_sregs(|s| s.gs.base = base)
    }

    /// Current system registers: from the sync area when KVM keeps it
    /// current (kernel entry mode), else by ioctl (rare paths only).
    fn sregs(&mut self) -> Result<kvm_sregs, VmError> {
        if self.sync && self.entry == EntryMode::Kernel {
            return Ok(self.fd.sync_regs_mut().sregs);
        }
        self.fd.get_sregs().map_err(VmError::kvm("KVM_GET_SREGS"))
    }

    fn update_sregs(&mut self, change: impl FnOnce(&mut kvm_sregs)) -> Result<(), VmError> {
        if self.sync && self.entry == EntryMode::Kernel {
            change(&mut self.fd.sync_regs_mut().sregs);
            self.fd.set_sync_dirty_reg(SyncReg::SystemRegister);
            return Ok(());
        }
        let mut s = self.fd.get_sregs().map_err(VmError::kvm("KVM_GET_SREGS"))?;
        change(&mut s);
        self.fd.set_sregs(&s).map_err(VmError::kvm("KVM_SET_SREGS"))
    }

    /// Runs the guest until it needs the host.
    pub fn run(&mut self) -> Result<Exit, VmError> {
        if self.regs_dirty {
            if self.sync {
                self.fd.sync_regs_mut().regs = self.regs;
                self.fd.set_sync_dirty_reg(SyncReg::Register);
            } else {
                self.fd
                    .set_regs(&self.regs)
                    .map_err(VmError::kvm("KVM_SET_REGS"))?;
            }
            self.regs_dirty = false;
        }
        let port = match self.fd.run() {
            Ok(VcpuExit::IoOut(port, _)) | Ok(VcpuExit::IoIn(port, _)) => Ok(port),
            Ok(VcpuExit::MmioRead(addr, _)) | Ok(VcpuExit::MmioWrite(addr, _)) => {
                Err(Exit::MemoryFault { addr: Some(addr) })
            }
            Ok(VcpuExit::MemoryFault { gpa, .. }) => Err(Exit::MemoryFault { addr: Some(gpa) }),
            Ok(VcpuExit::Shutdown) => Err(Exit::Shutdown),
            // KVM could not emulate a guest access (e.g. an instruction fetch
            // from an address with no memory slot on hardware KVM): a fault
            // of the guest's, not picorun's.
            Ok(VcpuExit::InternalError) => {
                log::debug!("KVM internal error (emulation failure) at a guest access");
                Err(Exit::MemoryFault { addr: None })
            }
            Ok(VcpuExit::Intr) => Err(Exit::Interrupted),
            Ok(other) => return Err(VmError::Unsupported(format!("VM exit {other:?}"))),
            Err(e) if e.errno() == libc::EFAULT => Err(Exit::MemoryFault { addr: None }),
            Err(e) if e.errno() == libc::EINTR || e.errno() == libc::EAGAIN => {
                Err(Exit::Interrupted)
            }
            Err(e) => {
                return Err(VmError::Kvm {
                    op: "KVM_RUN",
                    source: e,
                })
            }
        };
        // A kick (immediate_exit) is one-shot.
        self.fd.set_kvm_immediate_exit(0);
        self.load_regs()?;
        let exit = match port {
            Ok(port) => self.port_exit(port)?,
            Err(exit) => exit,
        };
        match exit {
            Exit::Syscall | Exit::Shutdown => Ok(exit),
            Exit::Exception(info) => self.left_fast_page(info.rip, Some(info.rsp), exit),
            _ => self.left_fast_page(self.regs.rip, None, exit),
        }
    }

    /// The user's state when the vCPU stopped inside its fast syscall page
    /// (see `fastpath.rs`): the syscall, restarted as an ordinary one, or
    /// finished. `rsp` is the stack pointer at the stop when the registers
    /// do not have it (an exception).
    fn left_fast_page(&mut self, rip: u64, rsp: Option<u64>, exit: Exit) -> Result<Exit, VmError> {
        let Some(page) = &self.fast else {
            return Ok(exit);
        };
        let position = fastpath::position(&page.code, page.base, rip);
        if position == Position::Outside {
            return Ok(exit);
        }
        let data = page.data;
        let saved = |f: u64| self.kernel.read_u64(data + f);
        let (rcx, r11, user_rsp, nr) = (
            saved(fastdata::RCX),
            saved(fastdata::R11),
            saved(fastdata::RSP),
            saved(fastdata::RAX),
        );
        log::trace!("stopped in the fast page at {position:?}: {exit:?}");
        match position {
            // (Outside returned above.)
            Position::Outside | Position::Entry => {
                if let Some(rsp) = rsp {
                    self.regs.rsp = rsp;
                }
            }
            Position::Restart => {
                let r = &mut self.regs;
                (r.rax, r.rcx, r.r11, r.rsp) = (nr, rcx, r11, user_rsp);
            }
            Position::Posted => {
                let postbox = PostBox::new(self.kernel.clone(), data);
                match postbox.settle() {
                    Settled::Done(result) => {
                        let r = &mut self.regs;
                        (r.rax, r.rcx, r.r11, r.rsp) = (result, rcx, r11, user_rsp);
                        if self.entry == EntryMode::Unknown {
                            self.learn_entry_mode()?;
                        }
                        self.finish_syscall(result)?;
                        return Ok(Exit::Interrupted);
                    }
                    Settled::NotDone => {
                        let r = &mut self.regs;
                        (r.rax, r.rcx, r.r11, r.rsp) = (nr, rcx, r11, user_rsp);
                    }
                }
            }
            Position::Commit | Position::Finish => {
                if position == Position::Commit {
                    self.kernel.write_u64(data + fastdata::MASK, self.regs.r11);
                }
                let r = &mut self.regs;
                (r.rcx, r.r11, r.rsp) = (rcx, r11, user_rsp);
                if self.entry == EntryMode::Unknown {
                    self.learn_entry_mode()?;
                }
                self.finish_syscall(self.regs.rax)?;
                return Ok(Exit::Interrupted);
            }
        }
        self.regs_dirty = true;
        if self.entry == EntryMode::Unknown {
            self.learn_entry_mode()?;
        }
        Ok(Exit::Syscall)
    }

    fn load_regs(&mut self) -> Result<(), VmError> {
        self.regs = if self.sync {
            self.fd.sync_regs_mut().regs
        } else {
            self.fd.get_regs().map_err(VmError::kvm("KVM_GET_REGS"))?
        };
        Ok(())
    }

    /// Classifies an exit through an I/O port.
    fn port_exit(&mut self, port: u16) -> Result<Exit, VmError> {
        let rip = self.regs.rip;
        let fast_out = self.fast.as_ref().map(|p| p.base + p.code.out + OUT_LEN);
        let wait_out = self
            .fast
            .as_ref()
            .map(|p| p.base + p.code.wait_out + OUT_LEN);
        if port == SYSCALL_PORT && Some(rip) == wait_out {
            return self.left_fast_page(rip, None, Exit::Syscall);
        }
        if port == SYSCALL_PORT && (rip == self.lstar + OUT_LEN || Some(rip) == fast_out) {
            if self.entry == EntryMode::Unknown {
                self.learn_entry_mode()?;
            }
            return Ok(Exit::Syscall);
        }
        let vector = port.wrapping_sub(EXCEPTION_PORT_BASE);
        if vector < EXCEPTION_VECTORS
            && rip == self.exception_stubs + u64::from(vector) * self.stub_size + OUT_LEN
        {
            return self.exception(vector as u8);
        }
        // A port access from user code: on hardware this is #GP (IOPL 0, no
        // I/O bitmap); some hosts let it exit instead. Report it the same way.
        Ok(Exit::Exception(ExceptionInfo {
            vector: 13,
            error_code: Some(0),
            cr2: 0,
            rip: rip.wrapping_sub(OUT_LEN),
            rsp: self.regs.rsp,
            rflags: self.regs.rflags,
        }))
    }

    fn learn_entry_mode(&mut self) -> Result<(), VmError> {
        let cs = if self.sync {
            self.fd.sync_regs_mut().sregs.cs
        } else {
            self.fd
                .get_sregs()
                .map_err(VmError::kvm("KVM_GET_SREGS"))?
                .cs
        };
        self.entry = if cs.dpl == 3 {
            EntryMode::User
        } else {
            EntryMode::Kernel
        };
        if self.sync && self.entry == EntryMode::User {
            // Nothing on the return path needs system registers any more.
            self.fd.clear_sync_valid_reg(SyncReg::SystemRegister);
        }
        log::debug!("syscall entry mode: {:?}", self.entry);
        Ok(())
    }

    /// Reads the frame the CPU pushed on the exception stack.
    fn exception(&mut self, vector: u8) -> Result<Exit, VmError> {
        let top = self.slot + kpage::SLOT_EXCEPTION_STACK_TOP;
        let words = if has_error_code(vector) { 6 } else { 5 };
        let word = |i: u64| self.kernel.read_u64(top - 8 * words + 8 * i);
        let (error_code, frame) = if words == 6 {
            (Some(word(0)), 1)
        } else {
            (None, 0)
        };
        let rip = word(frame);
        let rflags = word(frame + 2);
        let rsp = word(frame + 3);
        let cr2 = if vector == 14 {
            self.fd
                .get_sregs()
                .map_err(VmError::kvm("KVM_GET_SREGS"))?
                .cr2
        } else {
            0
        };
        Ok(Exit::Exception(ExceptionInfo {
            vector,
            error_code,
            cr2,
            rip,
            rsp,
            rflags,
        }))
    }
}
