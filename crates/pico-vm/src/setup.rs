//! A new VM's first vCPU, prepared on a helper thread while the host loads
//! the program into guest memory.
//!
//! `KVM_GET_SUPPORTED_CPUID`, `KVM_CREATE_VCPU` and the vCPU's fixed
//! state (CPUID, system registers, MSRs, XCR0, the TSC offset) depend on
//! nothing the program decides, and on some hosts they cost about as much
//! as all the rest of the set-up (under PVM, where every host `cpuid` and
//! `rdmsr` traps, ~0.35 ms for the table and ~0.25 ms to create vCPU 0). A
//! helper thread does them while the creating thread creates the VM and
//! loads the program. The CLI starts the helper before the VM exists
//! ([`start_early`], by `prewarm`), so the table is fetched while it parses
//! its arguments.
//!
//! Once done with vCPU 0, the helper can do one more piece of the
//! caller's work ([`AfterSetup`]; the CLI confines the process there).
//!
//! The helper only ever helps: each piece of work is done by whichever
//! thread gets to it first, so when the creating thread needs the vCPU
//! and the helper has not started (no idle CPU, a busy host), it does the
//! work itself rather than wait for a thread that is not running.

use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;

use kvm_bindings::CpuId;
use kvm_ioctls::{Kvm, VmFd};

use crate::error::VmError;
use crate::kernel::KernelArea;
use crate::vcpu::Vcpu;
use crate::vm::{supported_cpuid, Features};

/// vCPU 0, set up, with its TSC offset as [`Vcpu::tsc_offset`] measured it.
pub(crate) type ReadyVcpu = (Vcpu, Option<u64>);

/// What was prepared.
pub(crate) struct Prepared {
    pub cpuid: CpuId,
    /// `None` if the creating thread never gave a fd.
    pub vcpu: Option<ReadyVcpu>,
}

/// One piece of set-up work.
enum Stage<I, O> {
    /// Its input has not been given yet.
    Waiting,
    Todo(I),
    /// A thread is doing it.
    Doing,
    Done(O),
}

/// Work the helper thread does once vCPU 0 is set up (or taken over by the
/// creating thread), while the creating thread finishes loading the
/// program.
pub type AfterSetup = Box<dyn FnOnce() + Send>;

/// What creating and setting up vCPU 0 takes: the VM, its kernel area and
/// its features.
type VcpuJob = (Arc<VmFd>, Arc<KernelArea>, Features);

struct Jobs {
    /// `None` when KVM refused: the caller asks again and reports why.
    cpuid: Stage<(), Option<CpuId>>,
    /// Given the VM: vCPU 0 is created (KVM_CREATE_VCPU, ~0.1 ms or more
    /// under PVM) and set up.
    vcpu: Stage<VcpuJob, Result<ReadyVcpu, VmError>>,
    /// The creating thread has taken what there is, or dropped the set-up:
    /// the helper stops waiting for the VM.
    abandoned: bool,
}

struct Shared {
    jobs: Mutex<Jobs>,
    changed: Condvar,
    kvm: Arc<Kvm>,
}

/// The set-up of one VM's vCPU 0 (see the module documentation).
pub(crate) struct Setup(Option<Arc<Shared>>);

impl Setup {
    /// Starts preparing: the CPUID table at once, vCPU 0 once
    /// [`Setup::give_vm`] hands over the VM, then `after`. Without a helper
    /// thread, `after` comes back for the caller to do.
    pub fn start(kvm: Arc<Kvm>, after: Option<AfterSetup>) -> (Setup, Option<AfterSetup>) {
        let shared = Arc::new(Shared {
            jobs: Mutex::new(Jobs {
                cpuid: Stage::Todo(()),
                vcpu: Stage::Waiting,
                abandoned: false,
            }),
            changed: Condvar::new(),
            kvm,
        });
        let helper = shared.clone();
        // The job travels to the helper through this cell, and back if the
        // thread cannot be started.
        let job = Arc::new(Mutex::new(after));
        let job_for_helper = job.clone();
        let help = move || {
            helper.help();
            let after = job_for_helper
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .take();
            if let Some(after) = after {
                after();
            }
        };
        let returned = match spawn_quiet("pico-vcpu-setup", help) {
            Ok(thread) => {
                move_off_this_cpu(&thread);
                None
            }
            // The work is done on the caller's thread instead.
            Err(e) => {
                log::debug!("vCPU set-up thread: {e}");
                job.lock().unwrap_or_else(|p| p.into_inner()).take()
            }
        };
        (Setup(Some(shared)), returned)
    }

    /// Hands over the VM (with its kernel area and features), whose vCPU 0
    /// is to be created and set up.
    pub fn give_vm(&self, fd: Arc<VmFd>, kernel: Arc<KernelArea>, features: Features) {
        if let Some(shared) = &self.0 {
            shared.lock().vcpu = Stage::Todo((fd, kernel, features));
            shared.changed.notify_all();
        }
    }

    /// The CPUID table and vCPU 0: does what nobody has started, waits
    /// for what the helper is doing, and runs `meanwhile` once the CPUID
    /// table is there (while the helper may still be setting the vCPU up).
    /// `None` if there was nothing to prepare or it was taken already.
    pub fn take(
        &mut self,
        meanwhile: impl FnOnce() -> Result<(), VmError>,
    ) -> Option<Result<Prepared, VmError>> {
        let shared = self.0.take()?;
        shared.abandon();
        let cpuid = match shared.run_cpuid(true) {
            Some(cpuid) => cpuid,
            // Asked again for the error.
            None => match supported_cpuid(&shared.kvm) {
                Ok(cpuid) => cpuid,
                Err(e) => return Some(Err(e)),
            },
        };
        if let Err(e) = meanwhile() {
            return Some(Err(e));
        }
        let vcpu = match shared.run_vcpu(true, Some(&cpuid)) {
            Some(Ok(ready)) => Some(ready),
            Some(Err(e)) => return Some(Err(e)),
            None => None,
        };
        Some(Ok(Prepared { cpuid, vcpu }))
    }
}

impl Drop for Setup {
    fn drop(&mut self) {
        if let Some(shared) = &self.0 {
            shared.abandon();
        }
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Jobs> {
        self.jobs.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn abandon(&self) {
        self.lock().abandoned = true;
        self.changed.notify_all();
    }

    fn wait<'a>(&self, jobs: MutexGuard<'a, Jobs>) -> MutexGuard<'a, Jobs> {
        self.changed.wait(jobs).unwrap_or_else(|p| p.into_inner())
    }

    /// The helper thread's work: whatever the creating thread has not
    /// taken on itself.
    fn help(&self) {
        let _unblock = UnblockOnPanic(self);
        if let Some(cpuid) = self.run_cpuid(false) {
            self.run_vcpu(false, Some(&cpuid));
        }
    }

    /// Fetches the CPUID table unless it is fetched or being fetched; the
    /// owner (`owner`: the creating thread) waits for it and takes it.
    fn run_cpuid(&self, owner: bool) -> Option<CpuId> {
        let mut jobs = self.lock();
        loop {
            match std::mem::replace(&mut jobs.cpuid, Stage::Doing) {
                Stage::Todo(()) | Stage::Waiting => {
                    drop(jobs);
                    let cpuid = supported_cpuid(&self.kvm)
                        .map_err(|e| log::debug!("vCPU set-up: {e}"))
                        .ok();
                    jobs = self.lock();
                    jobs.cpuid = Stage::Done(cpuid.clone());
                    self.changed.notify_all();
                    return cpuid;
                }
                Stage::Doing if owner => jobs = self.wait(jobs),
                Stage::Doing => return None,
                Stage::Done(cpuid) => {
                    jobs.cpuid = Stage::Done(cpuid.clone());
                    return cpuid;
                }
            }
        }
    }

    /// Sets vCPU 0 up with `cpuid` unless that is done or being done; the
    /// helper waits for its fd first, the owner takes the result (`None`:
    /// no fd was given).
    fn run_vcpu(&self, owner: bool, cpuid: Option<&CpuId>) -> Option<Result<ReadyVcpu, VmError>> {
        let cpuid = cpuid?;
        let mut jobs = self.lock();
        loop {
            match std::mem::replace(&mut jobs.vcpu, Stage::Doing) {
                Stage::Todo((fd, kernel, features)) => {
                    drop(jobs);
                    let ready = prepare_vcpu(fd, cpuid, kernel, features);
                    if owner {
                        return Some(ready);
                    }
                    self.lock().vcpu = Stage::Done(ready);
                    self.changed.notify_all();
                    return None;
                }
                // The owner never gave a fd: there is nothing to wait for.
                Stage::Waiting if owner || jobs.abandoned => {
                    jobs.vcpu = Stage::Waiting;
                    return None;
                }
                Stage::Waiting => {
                    jobs.vcpu = Stage::Waiting;
                    jobs = self.wait(jobs);
                }
                Stage::Doing if owner => jobs = self.wait(jobs),
                Stage::Doing => return None,
                Stage::Done(ready) if owner => return Some(ready),
                Stage::Done(ready) => {
                    jobs.vcpu = Stage::Done(ready);
                    return None;
                }
            }
        }
    }
}

/// A set-up started before its VM existed (see [`start_early`]), with the
/// process that started it: a forked child has no helper thread.
static EARLY: Mutex<Option<(u32, Setup)>> = Mutex::new(None);

/// Starts the set-up of this process's first VM now, before the VM exists,
/// so that the CPUID table (the costliest question to KVM under PVM) is
/// fetched while the process is still busy with other things;
/// [`take_early`] hands the set-up to that VM.
pub(crate) fn start_early(kvm: Arc<Kvm>, after: Option<AfterSetup>) -> Option<AfterSetup> {
    let (setup, returned) = Setup::start(kvm, after);
    *EARLY.lock().unwrap_or_else(|p| p.into_inner()) = Some((std::process::id(), setup));
    returned
}

/// The set-up [`start_early`] started in this process, if not taken yet.
pub(crate) fn take_early() -> Option<Setup> {
    let mut early = EARLY.lock().unwrap_or_else(|p| p.into_inner());
    match early.take() {
        Some((pid, setup)) if pid == std::process::id() => Some(setup),
        // Started by the parent of this forked process: its helper thread
        // is not here (dropping the set-up only marks it abandoned).
        _ => None,
    }
}

/// Should the helper panic half-way, the creating thread must not wait
/// for it forever: what it was doing is reported as failed.
struct UnblockOnPanic<'a>(&'a Shared);

impl Drop for UnblockOnPanic<'_> {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            return;
        }
        let mut jobs = self.0.lock();
        if matches!(jobs.cpuid, Stage::Doing) {
            jobs.cpuid = Stage::Done(None);
        }
        if matches!(jobs.vcpu, Stage::Doing) {
            jobs.vcpu = Stage::Done(Err(VmError::Unsupported(
                "setting up a vCPU (the set-up thread failed)".into(),
            )));
        }
        self.0.changed.notify_all();
    }
}

fn prepare_vcpu(
    vm: Arc<VmFd>,
    cpuid: &CpuId,
    kernel: Arc<KernelArea>,
    features: Features,
) -> Result<ReadyVcpu, VmError> {
    let fd =
        crate::vm::retry_eintr(|| vm.create_vcpu(0)).map_err(VmError::kvm("KVM_CREATE_VCPU"))?;
    let regs = crate::cpu::start_regs(0, 0);
    let vcpu = Vcpu::new(fd, 0, cpuid, kernel, features, regs, [0, 0])?;
    let offset = vcpu.tsc_offset().ok();
    Ok((vcpu, offset))
}

/// Lets `thread` run on any allowed CPU but the caller's. A new thread
/// starts on its creator's CPU, and while the creator keeps it busy the
/// scheduler may take the better part of a millisecond to move it to an
/// idle one; the set-up thread is only worth having if it starts at once.
fn move_off_this_cpu<T>(thread: &JoinHandle<T>) {
    use std::os::unix::thread::JoinHandleExt;
    let size = std::mem::size_of::<libc::cpu_set_t>();
    // SAFETY: sched_getcpu and sched_getaffinity only fill in the local
    // set; pthread_setaffinity_np gets a live thread's handle (the
    // JoinHandle keeps it joinable) and that set.
    unsafe {
        let cpu = libc::sched_getcpu();
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        if cpu < 0 || libc::sched_getaffinity(0, size, &mut set) != 0 {
            return;
        }
        libc::CPU_CLR(cpu as usize, &mut set);
        if libc::CPU_COUNT(&set) > 0 {
            libc::pthread_setaffinity_np(thread.as_pthread_t(), size, &set);
        }
    }
}

/// Spawns a helper thread with every signal blocked, so that no signal
/// meant for the guest is caught on a thread without a vCPU to kick.
pub fn spawn_quiet<T: Send + 'static>(
    name: &str,
    body: impl FnOnce() -> T + Send + 'static,
) -> std::io::Result<JoinHandle<T>> {
    // SAFETY: local sigsets; the calling thread's mask is restored below.
    let old = unsafe {
        let mut all: libc::sigset_t = std::mem::zeroed();
        let mut old: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut all);
        libc::pthread_sigmask(libc::SIG_BLOCK, &all, &mut old);
        old
    };
    let spawned = std::thread::Builder::new().name(name.into()).spawn(body);
    // SAFETY: restores the mask saved above.
    unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &old, std::ptr::null_mut()) };
    spawned
}
