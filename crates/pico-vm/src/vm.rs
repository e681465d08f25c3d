//! A pico process's VM: KVM set-up, memory slots, and the guest memory
//! operations that must keep slots and host mappings in step.

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::os::fd::BorrowedFd;
use std::sync::{Arc, Mutex, OnceLock};

use kvm_bindings::{kvm_userspace_memory_region, CpuId, KVM_MAX_CPUID_ENTRIES};
use kvm_ioctls::{Cap, Kvm, VmFd};

use crate::error::{kvm_open_error, VmError};
use crate::kernel::KernelArea;
use crate::layout::PAGE_SIZE;
use crate::layout::{KERNEL_BASE, KERNEL_SIZE, SLOT_CHUNK, WINDOW_SIZE};
use crate::memory::Memory;
use crate::memory::{PROT_EXEC, PROT_READ, PROT_WRITE};
use crate::paging::DIRECTORY_SPAN;
pub use crate::setup::AfterSetup;
use crate::setup::{ReadyVcpu, Setup};
use crate::vcpu::Vcpu;
use crate::vdso::{self, Vvar, VDSO};

/// Retries a set-up ioctl a host signal interrupted (picorun's signal
/// catchers do not use SA_RESTART, so blocking guest syscalls can be
/// interrupted; set-up must not fail for it).
pub(crate) fn retry_eintr<T>(
    mut op: impl FnMut() -> Result<T, kvm_ioctls::Error>,
) -> Result<T, kvm_ioctls::Error> {
    loop {
        match op() {
            Err(e) if e.errno() == libc::EINTR => continue,
            other => return other,
        }
    }
}

/// KVM_GET_SUPPORTED_CPUID, filtered, asked once per host process (and
/// then kept on disk for the boot, see `cpuid_cache.rs`): it is constant
/// and costs 0.3 ms to milliseconds, which every exec and fork, and every
/// start, would otherwise pay.
pub(crate) fn supported_cpuid(kvm: &Kvm) -> Result<CpuId, VmError> {
    static CACHE: std::sync::OnceLock<CpuId> = std::sync::OnceLock::new();
    if let Some(cpuid) = CACHE.get() {
        return Ok(cpuid.clone());
    }
    let cached = crate::cpuid_cache::load().and_then(|e| CpuId::from_entries(&e).ok());
    let mut cpuid = match cached {
        Some(cpuid) => cpuid,
        None => {
            let cpuid = kvm
                .get_supported_cpuid(KVM_MAX_CPUID_ENTRIES)
                .map_err(VmError::kvm("KVM_GET_SUPPORTED_CPUID"))?;
            crate::cpuid_cache::store(cpuid.as_slice());
            cpuid
        }
    };
    crate::cpu::filter_cpuid(&mut cpuid);
    Ok(CACHE.get_or_init(|| cpuid).clone())
}

/// What this host's KVM offers that picorun chooses between.
#[derive(Clone, Copy, Debug)]
pub struct Features {
    /// `KVM_CAP_SYNC_REGS`: registers travel in `kvm_run`, no ioctl per exit.
    pub sync_regs: bool,
    /// vCPUs answer some syscalls in their fast page (see
    /// [`set_fast_syscalls`]).
    pub fast_syscalls: bool,
    /// The VM has an in-kernel APIC, kept disabled (see `apic.rs`).
    pub apic_in_kernel: bool,
}

static FAST_SYSCALLS_OFF: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Starts, on a helper thread, the set-up of the first VM this process
/// will create (see `setup.rs`): the CPUID table is then fetched while the
/// process parses its arguments and prepares. Call it as soon as the
/// process knows it will run a guest; any error is left for the VM's
/// creation to report.
///
/// `after` is work for the helper once vCPU 0 is set up; it comes back
/// (`Err`) if there is no helper to do it.
pub fn prewarm(after: Option<AfterSetup>) -> Result<(), AfterSetup> {
    let returned = match open_kvm() {
        Ok(kvm) => crate::setup::start_early(Arc::new(kvm), after),
        Err(_) => after,
    };
    returned.map_or(Ok(()), Err)
}

/// Whether VMs created from now on in this host process (and its forked
/// children) answer the syscalls in [`crate::FAST_SYSCALLS`] in the guest. On by default; off makes every syscall exit to the host,
/// which is what the benchmarks compare against.
pub fn set_fast_syscalls(on: bool) {
    FAST_SYSCALLS_OFF.store(!on, std::sync::atomic::Ordering::Relaxed);
}

/// A vCPU's user-visible state, to start another vCPU from it.
#[derive(Clone)]
pub struct CpuState {
    pub regs: kvm_bindings::kvm_regs,
    pub fs_base: u64,
    pub gs_base: u64,
    pub xsave: Vec<u8>,
}

/// One pico process's virtual machine.
pub struct Vm {
    // Field order is drop order: the VM goes before the memory behind it.
    fd: Arc<VmFd>,
    kvm: Arc<Kvm>,
    /// vCPU 0 and the CPUID table, being prepared on a helper thread.
    setup: Mutex<Setup>,
    /// vCPU 0 as prepared, until [`Vm::create_vcpu`] takes it.
    prepared_vcpu: Mutex<Option<ReadyVcpu>>,
    kernel: Arc<KernelArea>,
    memory: Memory,
    /// Window chunks that have a memory slot, and their slot numbers
    /// (given out in order of first use: a program touches few chunks).
    chunks: BTreeMap<u64, u32>,
    /// Chunks (and their slot numbers) whose slots wait until the set-up
    /// thread has the CPUID table: while it is in KVM_GET_SUPPORTED_CPUID
    /// (~0.3 ms of host `cpuid`s on PVM, not preemptible) a slot
    /// registration, which waits out an SRCU grace period, takes that long.
    /// `None` once they are registered, as all later ones are at once.
    deferred_slots: Mutex<Option<Vec<(u64, u32)>>>,
    /// Window GiBs that have a page directory.
    gibs: BTreeSet<u64>,
    /// KVM's CPUID table, filtered: from the set-up thread, or asked for
    /// when first needed if it had none.
    cpuid: OnceLock<CpuId>,
    features: Features,
    /// Where the vvar page is (the vDSO follows it) and its host view.
    vdso: Option<(u64, Arc<Vvar>)>,
    /// How far the guest's TSC is ahead of the host's, as measured on the
    /// first vCPU; later vCPUs are made to agree (the vDSO's clocks rely
    /// on one TSC for all threads).
    tsc_offset: OnceLock<u64>,
}

/// A later vCPU's TSC further than this (in ticks) from the first's is set.
const TSC_SKEW_LIMIT: i64 = 1_000_000;

/// The slot of the window's top chunk, which also covers the kernel area
/// right above it (the stack and the vDSO are in that chunk: every program
/// needs it, and one slot costs less than two).
const KERNEL_SLOT: u32 = 0;
const TOP_CHUNK: u64 = WINDOW_SIZE / SLOT_CHUNK - 1;

/// /dev/kvm, opened once per host process (see [`open_kvm`]).
static KVM_DEVICE: Mutex<Option<std::os::fd::OwnedFd>> = Mutex::new(None);

/// `/dev/kvm`, opened once per picorun and kept: a forked child (a host
/// fork, with the descriptor) or an exec makes its VM from it whatever its
/// credentials have become. A guest that dropped root and then forked
/// could not open the root-only device again, so its fork failed.
///
/// Something else may have closed the kept descriptor meanwhile (a library
/// guest process closes what it inherited), and its number may now be
/// another file's: it is used only while it still answers
/// KVM_GET_API_VERSION, else /dev/kvm is opened again (and the old number
/// left alone).
fn open_kvm() -> Result<Kvm, VmError> {
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    let mut device = KVM_DEVICE.lock().unwrap_or_else(|p| p.into_inner());
    let still_kvm = |fd: &OwnedFd| {
        // SAFETY: KVM_GET_API_VERSION (_IO(KVMIO, 0)) takes no argument; on
        // a descriptor that is not /dev/kvm it fails without effect.
        let version = unsafe { libc::ioctl(fd.as_raw_fd(), u64::from(kvm_bindings::KVMIO << 8)) };
        version == kvm_bindings::KVM_API_VERSION as i32
    };
    if let Some(stale) = device.take_if(|fd| !still_kvm(fd)) {
        std::mem::forget(stale);
    }
    if device.is_none() {
        let raw = Kvm::open_with_cloexec(true).map_err(kvm_open_error)?;
        // SAFETY: `raw` was just opened and is owned by nobody else.
        *device = Some(unsafe { OwnedFd::from_raw_fd(raw) });
    }
    let Some(device) = device.as_ref() else {
        return Err(VmError::Unsupported("/dev/kvm".into()));
    };
    // SAFETY: F_DUPFD_CLOEXEC of a descriptor this process owns; the result
    // is checked and then owned by the returned Kvm alone.
    let dup = unsafe { libc::fcntl(device.as_raw_fd(), libc::F_DUPFD_CLOEXEC, 3) };
    if dup < 0 {
        return Err(VmError::kvm("F_DUPFD_CLOEXEC of /dev/kvm")(
            kvm_ioctls::Error::last(),
        ));
    }
    // SAFETY: `dup` is a fresh descriptor of /dev/kvm owned by nobody else.
    Ok(unsafe { Kvm::from_raw_fd(dup) })
}

/// A new VM, with an in-kernel APIC if `features` asks for one and KVM
/// gives it (`features` then says whether it did).
fn create_vm_fd(kvm: &Kvm, features: &mut Features) -> Result<Arc<VmFd>, VmError> {
    let fd = retry_eintr(|| kvm.create_vm()).map_err(VmError::kvm("KVM_CREATE_VM"))?;
    features.apic_in_kernel = features.apic_in_kernel && crate::apic::enable(&fd);
    Ok(Arc::new(fd))
}

impl Vm {
    /// A new VM with no user memory. Its vCPU 0 is prepared on a helper
    /// thread meanwhile (see `setup.rs`): [`Vm::create_vcpu`] takes it.
    pub fn new() -> Result<Vm, VmError> {
        let kvm = Arc::new(open_kvm()?);
        if !kvm.check_extension(Cap::UserMemory) {
            return Err(VmError::Unsupported("user memory slots".into()));
        }
        let sync_regs =
            kvm.check_extension_int(Cap::SyncRegs) & kvm_bindings::KVM_SYNC_X86_REGS as i32 != 0;
        let mut features = Features {
            sync_regs,
            fast_syscalls: !FAST_SYSCALLS_OFF.load(std::sync::atomic::Ordering::Relaxed),
            apic_in_kernel: crate::apic::wanted(&kvm),
        };
        let memory = Memory::new().map_err(|source| VmError::Memory {
            op: "reserve window",
            source,
        })?;
        let kernel = KernelArea::new(&memory).map_err(|source| VmError::Memory {
            op: "kernel area",
            source,
        })?;
        let setup = crate::setup::take_early().unwrap_or_else(|| Setup::start(kvm.clone(), None).0);
        let fd = create_vm_fd(&kvm, &mut features)?;
        setup.give_vm(fd.clone(), kernel.clone(), features);
        let mut vm = Vm {
            fd,
            kvm,
            setup: Mutex::new(setup),
            prepared_vcpu: Mutex::new(None),
            kernel,
            memory,
            chunks: BTreeMap::new(),
            deferred_slots: Mutex::new(Some(Vec::new())),
            gibs: BTreeSet::new(),
            cpuid: OnceLock::new(),
            features,
            vdso: None,
            tsc_offset: OnceLock::new(),
        };
        vm.chunks.insert(TOP_CHUNK, KERNEL_SLOT);
        vm.add_chunk_slot(TOP_CHUNK, KERNEL_SLOT)?;
        Ok(vm)
    }

    /// The CPUID table vCPUs get. Finishes the set-up, if any.
    fn cpuid(&self) -> Result<&CpuId, VmError> {
        self.finish_setup()?;
        if let Some(cpuid) = self.cpuid.get() {
            return Ok(cpuid);
        }
        let cpuid = supported_cpuid(&self.kvm)?;
        Ok(self.cpuid.get_or_init(|| cpuid))
    }

    /// Finishes the set-up (see `setup.rs`), if not done yet, and registers
    /// the slots that waited for it.
    fn finish_setup(&self) -> Result<(), VmError> {
        // The slots are registered once the helper is past
        // KVM_GET_SUPPORTED_CPUID (alongside it they wait the longest),
        // while it may still be setting vCPU 0 up.
        let prepared = self
            .setup
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take(|| self.register_deferred_slots());
        if let Some(prepared) = prepared {
            let prepared = prepared?;
            let _ = self.cpuid.set(prepared.cpuid);
            *self.prepared_vcpu() = prepared.vcpu;
        }
        self.register_deferred_slots()
    }

    fn prepared_vcpu(&self) -> std::sync::MutexGuard<'_, Option<ReadyVcpu>> {
        self.prepared_vcpu.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Bytes of XSAVE state the guest's enabled features need (CPUID 0xD).
    pub fn xsave_size(&self) -> usize {
        let Ok(cpuid) = self.cpuid() else {
            return 512 + 64;
        };
        cpuid
            .as_slice()
            .iter()
            .find(|e| e.function == 0xd && e.index == 0)
            .map(|e| e.ecx as usize)
            .filter(|&n| (512 + 64..=4096).contains(&n))
            .unwrap_or(512 + 64)
    }

    /// The XCR0 value vCPUs run with.
    pub fn xcr0(&self) -> u64 {
        self.cpuid().map_or(0x3, crate::cpu::xcr0)
    }

    pub fn features(&self) -> Features {
        self.features
    }

    /// The VM's descriptor, to hand the VM to another process: KVM
    /// destroys a VM (~0.5 ms of kernel work on some hosts) when its last
    /// descriptor closes, in whichever process that is.
    pub fn vm_fd(&self) -> BorrowedFd<'_> {
        use std::os::fd::AsRawFd;
        // SAFETY: the descriptor is the VM fd this Vm owns, open for as
        // long as the borrow of `self`.
        unsafe { BorrowedFd::borrow_raw(self.fd.as_raw_fd()) }
    }

    /// The guest's user memory, for reads, writes and checks.
    pub fn memory(&self) -> &Memory {
        &self.memory
    }

    /// Creates vCPU `id`, ready to run ring-3 code at `rip` with stack `rsp`.
    pub fn create_vcpu(&self, id: u64, rip: u64, rsp: u64) -> Result<Vcpu, VmError> {
        let start = CpuState {
            regs: crate::cpu::start_regs(rip, rsp),
            fs_base: 0,
            gs_base: 0,
            xsave: Vec::new(),
        };
        self.new_vcpu(id, &start)
    }

    /// vCPU `id` with `state`'s registers and segment bases (not its FPU
    /// state): vCPU 0 as the set-up thread prepared it, if it did.
    fn new_vcpu(&self, id: u64, state: &CpuState) -> Result<Vcpu, VmError> {
        self.finish_setup()?;
        if id == 0 {
            let prepared = self.prepared_vcpu().take();
            if let Some((mut vcpu, offset)) = prepared {
                *vcpu.regs_mut() = state.regs;
                if state.fs_base != 0 || state.gs_base != 0 {
                    vcpu.set_segment_bases(state.fs_base, state.gs_base)?;
                }
                self.line_up_tsc(&vcpu, offset);
                return Ok(vcpu);
            }
        }
        let fd =
            retry_eintr(|| self.fd.create_vcpu(id)).map_err(VmError::kvm("KVM_CREATE_VCPU"))?;
        let vcpu = Vcpu::new(
            fd,
            id,
            self.cpuid()?,
            self.kernel.clone(),
            self.features,
            state.regs,
            [state.fs_base, state.gs_base],
        )?;
        self.line_up_tsc(&vcpu, vcpu.tsc_offset().ok());
        Ok(vcpu)
    }

    /// Records the first vCPU's TSC offset (`mine`, as measured); sets a
    /// later one's to match if KVM did not (older kernels start a late
    /// vCPU's TSC at 0).
    fn line_up_tsc(&self, vcpu: &Vcpu, mine: Option<u64>) {
        let Some(mine) = mine else {
            return;
        };
        let first = *self.tsc_offset.get_or_init(|| mine);
        if (mine.wrapping_sub(first) as i64).abs() > TSC_SKEW_LIMIT {
            if let Err(e) = vcpu.set_tsc_offset(first) {
                log::debug!("cannot line up a vCPU's TSC: {e}");
            }
        }
    }

    /// How far the guest's TSC is ahead of the host's (wrapping), once a
    /// vCPU exists and KVM could tell.
    pub fn tsc_offset(&self) -> Option<u64> {
        self.tsc_offset.get().copied()
    }

    /// In a child made by host `fork()`: the inherited VM belongs to the
    /// parent (KVM refuses a VM from another mm). Builds a new VM over this
    /// process's copy-on-write copy of the guest memory and kernel area.
    pub fn renew_after_fork(&mut self) -> Result<(), VmError> {
        self.fd = create_vm_fd(&self.kvm, &mut self.features)?;
        self.tsc_offset = OnceLock::new();
        // A vCPU of the parent's VM, had it not been taken, is of no use.
        *self.prepared_vcpu() = None;
        for (&chunk, &slot) in &self.chunks {
            self.add_chunk_slot(chunk, slot)?;
        }
        // The vvar page is shared with the parent's host process: the
        // child gets its own (its TSC offset and its updater are its own).
        if let Some((addr, _)) = self.vdso {
            self.map_vvar(addr).map_err(|source| VmError::Memory {
                op: "vvar page",
                source,
            })?;
        }
        Ok(())
    }

    /// Maps a vvar page at `addr` and the vDSO right above it
    /// ([`vdso::mapping_len`] bytes in all), both read-only, the vDSO
    /// executable. Returns the vDSO's address (`AT_SYSINFO_EHDR`).
    pub fn map_vdso(&mut self, addr: u64) -> io::Result<u64> {
        self.map_vvar(addr)?;
        let (text, len) = (addr + PAGE_SIZE, vdso::mapping_len() - PAGE_SIZE);
        self.map_anon(text, len, PROT_READ | PROT_WRITE, false)?;
        self.memory
            .write(text, VDSO)
            .map_err(|_| io::Error::from_raw_os_error(libc::EFAULT))?;
        self.protect(text, len, PROT_READ | PROT_EXEC)?;
        Ok(text)
    }

    fn map_vvar(&mut self, addr: u64) -> io::Result<()> {
        let vvar = Vvar::new()?;
        if let Some((_, old)) = &self.vdso {
            vvar.publish(&old.read());
        }
        self.map_file(addr, PAGE_SIZE, PROT_READ, true, vvar.fd(), 0)?;
        self.vdso = Some((addr, Arc::new(vvar)));
        Ok(())
    }

    /// The vvar page's host view, if the guest has a vDSO.
    pub fn vvar(&self) -> Option<Arc<Vvar>> {
        self.vdso.as_ref().map(|(_, v)| v.clone())
    }

    /// `[start, end)` of the vvar page and of the vDSO, if mapped.
    pub fn vdso_ranges(&self) -> Option<((u64, u64), (u64, u64))> {
        self.vdso.as_ref().map(|&(addr, _)| {
            let text = addr + PAGE_SIZE;
            ((addr, text), (text, addr + vdso::mapping_len()))
        })
    }

    /// Creates vCPU `id` resuming the user state `state` (fork, threads).
    pub fn create_vcpu_from(&self, id: u64, state: &CpuState) -> Result<Vcpu, VmError> {
        let mut vcpu = self.new_vcpu(id, state)?;
        vcpu.set_xsave(&state.xsave)?;
        Ok(vcpu)
    }

    /// Points an existing vCPU of this VM at the user state `state` (a
    /// parked vCPU reused for a new thread).
    pub fn reset_vcpu(&self, vcpu: &mut Vcpu, state: &CpuState) -> Result<(), VmError> {
        *vcpu.regs_mut() = state.regs;
        vcpu.set_segment_bases(state.fs_base, state.gs_base)?;
        vcpu.set_xsave(&state.xsave)
    }

    /// Registers `slot` for window chunk `chunk`, or defers it while vCPU 0
    /// is being set up.
    fn add_chunk_slot(&self, chunk: u64, slot: u32) -> Result<(), VmError> {
        let mut deferred = self
            .deferred_slots
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if let Some(list) = deferred.as_mut() {
            list.push((chunk, slot));
            return Ok(());
        }
        drop(deferred);
        self.register_chunk_slot(chunk, slot)
    }

    /// Registers the slots that waited for vCPU 0's set-up; from now on
    /// slots are registered when needed.
    fn register_deferred_slots(&self) -> Result<(), VmError> {
        let deferred = self
            .deferred_slots
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        for (chunk, slot) in deferred.unwrap_or_default() {
            self.register_chunk_slot(chunk, slot)?;
        }
        Ok(())
    }

    /// The slot of window chunk `chunk`: the top chunk's reaches on over
    /// the kernel area.
    fn register_chunk_slot(&self, chunk: u64, slot: u32) -> Result<(), VmError> {
        let guest = chunk * SLOT_CHUNK;
        let size = if chunk == TOP_CHUNK {
            debug_assert_eq!(
                self.kernel.host_addr(),
                self.memory.host_base() + KERNEL_BASE
            );
            SLOT_CHUNK + KERNEL_SIZE
        } else {
            SLOT_CHUNK
        };
        self.register_slot(slot, guest, size, self.memory.host_base() + guest)
    }

    fn register_slot(&self, slot: u32, guest: u64, size: u64, host: u64) -> Result<(), VmError> {
        let region = kvm_userspace_memory_region {
            slot,
            flags: 0,
            guest_phys_addr: guest,
            memory_size: size,
            userspace_addr: host,
        };
        // SAFETY: `host` is `size` bytes of this Vm's window reservation (a
        // chunk of the window, the top one with the kernel area right above
        // it), which outlives the VM fd (field order); it is never unmapped
        // while the slot exists, only replaced by other mappings at the same
        // addresses.
        unsafe { self.fd.set_user_memory_region(region) }
            .map_err(VmError::kvm("KVM_SET_USER_MEMORY_REGION"))
    }

    /// Registers memory slots and page directories for every window chunk
    /// `[addr, addr+len)` touches.
    fn ensure_slots(&mut self, addr: u64, len: u64) -> io::Result<()> {
        let end = addr.saturating_add(len).min(WINDOW_SIZE);
        let mut gib = addr / DIRECTORY_SPAN;
        while gib * DIRECTORY_SPAN < end {
            if !self.gibs.contains(&gib) {
                self.kernel.map_window_gib(gib, self.gibs.len() as u64)?;
                self.gibs.insert(gib);
            }
            gib += 1;
        }
        let mut chunk = addr / SLOT_CHUNK;
        while chunk * SLOT_CHUNK < end {
            if !self.chunks.contains_key(&chunk) {
                // Slot numbers: the kernel slot's is taken, and so is one
                // per chunk in the map.
                let slot = KERNEL_SLOT + self.chunks.len() as u32;
                self.add_chunk_slot(chunk, slot)
                    .map_err(|e| io::Error::other(e.to_string()))?;
                self.chunks.insert(chunk, slot);
            }
            chunk += 1;
        }
        Ok(())
    }

    pub fn map_anon(&mut self, addr: u64, len: u64, prot: u32, shared: bool) -> io::Result<()> {
        self.ensure_slots(addr, len)?;
        self.memory.map_anon(addr, len, prot, shared)
    }

    pub fn map_file(
        &mut self,
        addr: u64,
        len: u64,
        prot: u32,
        shared: bool,
        fd: BorrowedFd<'_>,
        offset: u64,
    ) -> io::Result<()> {
        self.ensure_slots(addr, len)?;
        self.memory.map_file(addr, len, prot, shared, fd, offset)
    }

    pub fn unmap(&mut self, addr: u64, len: u64) -> io::Result<()> {
        self.memory.unmap(addr, len)
    }

    pub fn protect(&mut self, addr: u64, len: u64, prot: u32) -> io::Result<()> {
        self.memory.protect(addr, len, prot)
    }

    pub fn remap(&mut self, old: u64, old_len: u64, new: u64, new_len: u64) -> io::Result<()> {
        self.ensure_slots(new, new_len)?;
        self.memory.remap(old, old_len, new, new_len)
    }

    pub fn advise(&mut self, addr: u64, len: u64, advice: i32) -> io::Result<()> {
        self.memory.advise(addr, len, advice)
    }
}
