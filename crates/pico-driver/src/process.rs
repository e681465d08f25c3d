//! A pico process from start to end: create the VM, load the program, then
//! the run loop — each exit is a syscall to dispatch, a fault to turn into
//! a signal, or the end — and signal delivery between exits.

use std::ffi::OsString;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::time::Instant;

use pico_abi::signal::{self as sig, KernelSigaction};
use pico_abi::{sysno, Errno};
use pico_vm::layout::selector;
use pico_vm::{ExceptionInfo, Exit, Vm, VmError};

use crate::exec::{self, ExecError};
use crate::fd::FdTable;
use crate::hostsig;
use crate::shared::SharedVm;
use crate::sigframe::{self, FrameInput, RED_ZONE};
use crate::signal::{Action, Pending, Signals};
use crate::sys::table::{self, Entry};
use crate::sys::{Args, Flow};
use crate::task::{Outcome, Task};
use crate::trace::{self, Tracer};

/// What to run and how.
#[derive(Clone, Debug, Default)]
pub struct Config {
    /// The program file (already resolved against PATH).
    pub program: PathBuf,
    /// argv, including argv[0].
    pub args: Vec<OsString>,
    /// The environment, as `KEY=value` strings.
    pub env: Vec<OsString>,
    /// Print one line per syscall on stderr.
    pub trace: bool,
    /// Collect per-syscall counts and times (see [`Process::stats_table`]).
    pub stats: bool,
    /// The guest takes over this host process's descriptors (the CLI: the
    /// program *is* the process): every inherited descriptor becomes the
    /// guest's, and the host lets go of its own copies, so a guest that
    /// closes its stdout really closes it. Off (a library embedding
    /// picorun), the guest gets duplicates of 0, 1 and 2 and the host keeps
    /// its own descriptors.
    pub take_over_descriptors: bool,
    /// Exitless mode: plain syscalls that cannot block are posted by the
    /// guest and served by a host thread, without a VM exit (see
    /// `exitless.rs`). Costs a spinning host thread per busy guest thread.
    pub exitless: bool,
    /// `--root`: this host directory is the guest's `/` (see
    /// [`crate::rootfs`]); `None` shows the guest the host's filesystem.
    pub root: Option<PathBuf>,
    /// `--ro`/`--rw`: host directories bound into the root (only with `root`).
    pub binds: Vec<crate::rootfs::Bind>,
}

/// Why the run loop stopped.
enum Stop {
    /// The process ends.
    Process(Outcome),
    /// Only this thread ended.
    Thread,
}

/// A loaded pico process, ready to run.
pub struct Process {
    task: Task,
}

impl Process {
    /// Creates the VM and loads the program.
    pub fn new(config: &Config) -> Result<Process, ExecError> {
        // The guest's descriptors are the ones picorun inherited, taken
        // before picorun opens its own (kvm, vm, vcpu).
        let fds = if config.take_over_descriptors {
            FdTable::inherited()
        } else {
            FdTable::with_stdio()
        };
        if let Some(root) = &config.root {
            crate::rootfs::install(root, &config.binds).map_err(ExecError::Policy)?;
            // An inherited descriptor could be a directory outside the
            // root: under --root the guest keeps only 0, 1 and 2.
            if config.take_over_descriptors {
                fds.close_range(3, usize::MAX, false);
            }
        } else if !config.binds.is_empty() {
            return Err(ExecError::Policy("--ro and --rw need --root".into()));
        }
        // The guest inherits picorun's dispositions (ignored signals stay
        // ignored, as across exec) before picorun changes any.
        let signals = Signals::inherit();
        // EPIPE comes back as an errno and the driver raises the guest's SIGPIPE.
        crate::host::set_host_disposition(libc::SIGPIPE, true);
        crate::exitless::set_enabled(config.exitless);
        // A trace shows every syscall: none is answered in the guest.
        if config.trace {
            pico_vm::set_fast_syscalls(false);
        }
        let mut vm = Vm::new().map_err(ExecError::Vm)?;
        let loaded = exec::load(&mut vm, &config.program, &config.args, &config.env)?;
        let mut vcpu = vm
            .create_vcpu(0, loaded.entry, loaded.stack_pointer)
            .map_err(ExecError::Vm)?;
        crate::clock::attach(&vm, &vcpu);
        hostsig::set_kick(vcpu.kick_handle());
        let exe = std::fs::canonicalize(&loaded.exe).unwrap_or_else(|_| loaded.exe.clone());
        let pid = std::process::id();
        // The host thread's name is the guest's comm from now on.
        if let Err(e) = crate::host::set_thread_name(&comm_of(&config.program)) {
            log::debug!("cannot name the host thread: {e}");
        }
        let task = Task {
            vm: SharedVm::new(vm, loaded.layout),
            vcpu,
            fds,
            threads: Default::default(),
            tid: pid,
            signals,
            forced: None,
            exe,
            image: loaded.image,
            procfs: crate::procfs::State::new(),
            pid,
            clear_child_tid: 0,
            robust_list: 0,
            warned: Default::default(),
            vfork_done: None,
            server: None,
            tracer: Tracer {
                trace: config.trace,
                pid: None,
                stats: config.stats.then(Default::default),
            },
        };
        Ok(Process { task })
    }

    pub(crate) fn from_task(task: Task) -> Process {
        Process { task }
    }

    pub(crate) fn into_task(self) -> Task {
        self.task
    }

    /// Ends the process's use of its vCPU: call before dropping it, so a
    /// host signal caught meanwhile does not kick a vCPU that is gone.
    pub fn release(self) {
        hostsig::clear_kick();
        drop(self);
    }

    /// Like [`Process::release`], in a host process that exits right after
    /// (the CLI, a library-spawned guest, a forked child). Nothing is torn
    /// down here: the host's exit closes and unmaps everything anyway, and
    /// does it faster (dropping the VM first and then unmapping the guest's
    /// memory took ~0.1 ms more of a static hello-world's exit, measured).
    /// Where allowed, a process of its own does the teardown once this one
    /// is gone; otherwise, in a forked child, the parent takes the VM, to
    /// destroy once this process is gone (see `crate::retire`).
    pub fn release_for_exit(self) {
        hostsig::clear_kick();
        crate::retire::at_exit(&self.task.vm);
        std::mem::forget(self);
    }

    /// Runs the guest to its end. If the main thread exits while other
    /// threads run, this thread waits: the last thread ends the process.
    pub fn run(&mut self) -> Result<Outcome, VmError> {
        loop {
            match self.steps(u64::MAX)? {
                Some(Stop::Process(outcome)) => return Ok(outcome),
                Some(Stop::Thread) => loop {
                    std::thread::park();
                },
                None => {}
            }
        }
    }

    /// A spawned thread's life: `Some` if the process must end.
    pub(crate) fn run_thread(&mut self) -> Option<Outcome> {
        loop {
            match self.steps(u64::MAX) {
                Ok(Some(Stop::Process(outcome))) => return Some(outcome),
                Ok(Some(Stop::Thread)) => return None,
                Ok(None) => {}
                Err(e) => {
                    eprintln!("picorun: the VM failed: {e}");
                    return Some(Outcome::Exited(125));
                }
            }
        }
    }

    /// Runs the guest until it has made `syscalls` syscalls or ended
    /// (`Some`). Benchmarks use it to time the syscall path alone.
    pub fn run_for(&mut self, syscalls: u64) -> Result<Option<Outcome>, VmError> {
        match self.steps(syscalls)? {
            Some(Stop::Process(outcome)) => Ok(Some(outcome)),
            Some(Stop::Thread) => loop {
                std::thread::park();
            },
            None => Ok(None),
        }
    }

    fn steps(&mut self, syscalls: u64) -> Result<Option<Stop>, VmError> {
        let mut served = 0;
        while served < syscalls {
            self.publish_fast_state();
            let exit = self.task.vcpu.run()?;
            self.adopt_fast_mask();
            self.adopt_deferred();
            served += u64::from(exit == Exit::Syscall);
            let outcome = match exit {
                Exit::Syscall => match self.syscall()? {
                    Some(Stop::Thread) => return Ok(Some(Stop::Thread)),
                    Some(Stop::Process(outcome)) => Some(outcome),
                    None => None,
                },
                Exit::Exception(info) => {
                    log::debug!("guest exception {info:?}");
                    // The user context is the one the CPU pushed.
                    self.task
                        .vcpu
                        .resume_user(info.rip, info.rsp, info.rflags)?;
                    let (signo, code, addr) = fault_signal(&info);
                    self.task.force(signo, code, addr);
                    None
                }
                Exit::MemoryFault { addr } => {
                    let (signo, code, addr) = self.fault_address(addr);
                    log::debug!(
                        "guest memory fault at {addr:#x}, rip {:#x}",
                        self.task.vcpu.regs().rip
                    );
                    self.task.force(signo, code, addr);
                    None
                }
                Exit::Shutdown => {
                    log::warn!("guest triple fault at rip {:#x}", self.task.vcpu.regs().rip);
                    Some(Outcome::Signaled(sig::SIGSEGV as i32))
                }
                Exit::Interrupted => None,
            };
            if let Some(outcome) = outcome.map_or_else(|| self.deliver(), |o| Ok(Some(o)))? {
                // A vfork child ending: its parent gets its stores first.
                if let Some(done) = self.task.vfork_done.take() {
                    crate::vfork::child_done(&self.task, done);
                }
                return Ok(Some(Stop::Process(outcome)));
            }
        }
        Ok(None)
    }

    /// What the vCPU's fast syscall page answers from until the next exit.
    fn publish_fast_state(&self) {
        let t = &self.task;
        t.vcpu.publish(pico_vm::FastState {
            pid: t.pid,
            tid: t.tid,
            blocked: t.signals.blocked,
            pending: t.signals.pending_mask() != 0,
            // Only a lone thread can be sure nobody moved the break since.
            brk: if t.threads.live() == 1 { t.vm.brk() } else { 0 },
        });
    }

    /// In exitless mode, after a call that exited although a server could
    /// have served it: makes sure a server runs and is awake, starting one
    /// for a new thread, a forked child or a new program. Not under
    /// `--trace`, which shows every call; `--stats` counts the calls that
    /// exited and, apart, those served.
    fn ensure_server(&mut self, nr: u64, args: &Args) {
        let t = &mut self.task;
        if !crate::exitless::enabled()
            || t.tracer.trace
            || !crate::exitless::servable(&t.fds, nr, &args.0)
        {
            return;
        }
        let Some(postbox) = t.vcpu.postbox() else {
            return;
        };
        if let Some(server) = t.server.as_ref().filter(|s| s.serves(&postbox, &t.fds)) {
            server.wake();
            return;
        }
        t.server = None;
        match crate::exitless::Server::start(postbox, t.fds.clone(), t.vm.clone()) {
            Ok(server) => {
                t.vcpu.enable_exitless(crate::exitless::POSTED);
                t.server = Some(server);
            }
            Err(e) => log::warn!("exitless mode off: no server thread: {e}"),
        }
    }

    /// Takes over the pointers the guest set with a fast set_robust_list
    /// or set_tid_address, before anything (a thread's exit, a signal
    /// that kills it, a restarted call) can need them.
    fn adopt_deferred(&mut self) {
        let Some(d) = self.task.vcpu.take_deferred() else {
            return;
        };
        let t = &mut self.task;
        t.robust_list = d.robust_list.unwrap_or(t.robust_list);
        t.clear_child_tid = d.clear_child_tid.unwrap_or(t.clear_child_tid);
    }

    /// Takes over a mask the guest set with a fast rt_sigprocmask, and has
    /// the host thread block the same (see [`Signals::set_blocked`]).
    fn adopt_fast_mask(&mut self) {
        let Some(mask) = self.task.vcpu.fast_blocked() else {
            return;
        };
        let t = &mut self.task;
        let newly_blocked = mask & !t.signals.blocked;
        t.signals.set_blocked(mask);
        if newly_blocked != 0 {
            // A routed signal caught while only the guest blocked it waits
            // in the driver's queue; put it back in the host kernel, where
            // blocked signals wait (signalfd reads them there).
            for (signo, info) in hostsig::take() {
                t.signals.enqueue(signo, info);
            }
            let routed = (1..=64u32)
                .filter(|&s| hostsig::routed(s))
                .fold(0u64, |m, s| m | crate::signal::bit(s));
            while let Some(p) = t.signals.take_from(newly_blocked & routed) {
                crate::sys::signal::requeue_on_host(t, &p);
            }
        }
    }

    /// Signal, si_code and si_addr of a memory fault: the address KVM
    /// gave, or the one the instruction at rip was denied (decoded); SIGBUS
    /// for a file mapping's pages past the end of the file, else SIGSEGV
    /// with SEGV_ACCERR (something is mapped there) or SEGV_MAPERR.
    fn fault_address(&mut self, known: Option<u64>) -> (u32, i32, u64) {
        let t = &mut self.task;
        let accesses = match known {
            Some(addr) => vec![(addr, 1, false)],
            None => {
                let regs = *t.vcpu.regs();
                let mut code = vec![
                    0u8;
                    t.vm.memory()
                        .accessible_len(regs.rip, 15, pico_vm::Access::Read)
                        as usize
                ];
                let _ = t.vm.memory().read(regs.rip, &mut code);
                let (fs, gs) = (t.vcpu.fs_base().unwrap_or(0), t.vcpu.gs_base().unwrap_or(0));
                crate::faultaddr::accesses(&code, regs.rip, &regs, fs, gs)
            }
        };
        let mem = t.vm.memory();
        for &(addr, size, write) in &accesses {
            let size = size.max(1);
            let access = if write {
                pico_vm::Access::Write
            } else {
                pico_vm::Access::Read
            };
            // The first byte the guest may not access, as the CPU reports it
            // (a store straddling into an unmapped page faults at that page).
            let ok = mem.accessible_len(addr, size, access);
            if ok < size {
                let at = addr + ok;
                return match mem.regions().get(at) {
                    Some(_) => (sig::SIGSEGV, sig::SEGV_ACCERR, at),
                    None => (sig::SIGSEGV, sig::SEGV_MAPERR, at),
                };
            }
            if let Some(at) = (addr..addr + size)
                .step_by(PAGE as usize)
                .chain([addr + size - 1])
                .find(|&a| past_end_of_file(&mem, a))
            {
                return (sig::SIGBUS, sig::BUS_ADRERR, at);
            }
        }
        (sig::SIGSEGV, sig::SI_KERNEL, 0)
    }

    /// The `--stats` table, if stats were collected.
    pub fn stats_table(&self) -> Option<String> {
        let mut table = self.task.tracer.stats_table()?;
        if let Some(server) = &self.task.server {
            table.push_str(&format!(
                "exitless: {} calls served without a VM exit (not counted above)\n",
                server.served()
            ));
        }
        Some(table)
    }

    /// Dispatches one syscall and sets its result.
    fn syscall(&mut self) -> Result<Option<Stop>, VmError> {
        let t = &mut self.task;
        let r = t.vcpu.regs();
        // Linux takes the number from eax (`movslq %eax`): the upper half of
        // rax is ignored, and a negative int is no syscall.
        let raw_nr = r.rax;
        let nr = u64::from(raw_nr as u32);
        let args = Args([r.rdi, r.rsi, r.rdx, r.r10, r.r8, r.r9]);
        let entry = table::lookup(nr);
        if t.tracer.trace && is_exit(nr) {
            trace::emit_for(&t.tracer, &trace::line(t, nr, entry, &args, None));
        }
        let started = t.tracer.stats.is_some().then(Instant::now);
        let result = match (crate::policy::filter(nr, &args.0), entry) {
            (Some(errno), _) => Err(errno),
            (None, Some(e)) => e.handler.call(t, &args),
            (None, None) => {
                unimplemented(t, nr);
                Err(Errno::ENOSYS)
            }
        };
        if let Some(started) = started {
            t.tracer.record(nr, result.is_err(), started.elapsed());
        }
        self.ensure_server(nr, &args);
        let t = &mut self.task;
        let value = match result {
            Ok(Flow::Exit(outcome)) => return Ok(Some(Stop::Process(outcome))),
            Ok(Flow::ThreadExit(code)) => {
                return Ok(Some(match crate::thread::exit(t, code) {
                    Some(outcome) => Stop::Process(outcome),
                    None => Stop::Thread,
                }));
            }
            Ok(Flow::FrameReplaced) => return Ok(None),
            Ok(Flow::Return(v)) => Ok(v),
            Err(e) => Err(e),
        };
        if value == Err(Errno::EINTR) && restarts(t, nr, &args) {
            // Re-execute the `syscall` instruction once the signal is dealt
            // with (no handler ran, or it has SA_RESTART).
            t.vcpu.finish_syscall(raw_nr)?;
            let r = t.vcpu.regs_mut();
            r.rip = r.rip.wrapping_sub(2);
            return Ok(None);
        }
        if t.tracer.trace {
            trace_line(t, nr, entry, &args, value);
        }
        t.vcpu.finish_syscall(value.unwrap_or_else(Errno::to_rax))?;
        Ok(None)
    }

    /// Delivers what is deliverable: a forced signal first, then host
    /// signals and queued ones, in Linux's order.
    fn deliver(&mut self) -> Result<Option<Outcome>, VmError> {
        let t = &mut self.task;
        for (signo, info) in hostsig::take() {
            t.signals.enqueue(signo, info);
        }
        if let Some(p) = t.forced.take() {
            let action = t.signals.fault(p);
            if let Some(outcome) = self.act(action)? {
                return Ok(Some(outcome));
            }
        }
        while let Some(action) = self.task.signals.next_action() {
            if let Some(outcome) = self.act(action)? {
                return Ok(Some(outcome));
            }
        }
        Ok(None)
    }

    fn act(&mut self, action: Action) -> Result<Option<Outcome>, VmError> {
        match action {
            Action::Kill(signo) => Ok(Some(Outcome::Signaled(signo as i32))),
            Action::Stop(signo) => {
                crate::host::stop_self(signo as i32);
                Ok(None)
            }
            Action::Handler(p, act) => {
                if self.setup_frame(&p, &act)? {
                    Ok(None)
                } else {
                    // No room for the frame: Linux forces SIGSEGV.
                    Ok(Some(Outcome::Signaled(sig::SIGSEGV as i32)))
                }
            }
        }
    }

    /// Builds the signal frame and points the vCPU at the handler. `false`
    /// if the frame cannot be written.
    fn setup_frame(&mut self, p: &Pending, act: &KernelSigaction) -> Result<bool, VmError> {
        let t = &mut self.task;
        let regs = *t.vcpu.regs();
        let use_alt = act.flags & sig::SA_ONSTACK != 0
            && t.signals.altstack.flags & crate::signal::SS_DISABLE == 0
            && !t.signals.on_altstack(regs.rsp);
        let top = if use_alt {
            t.signals.altstack.sp + t.signals.altstack.size
        } else {
            regs.rsp.wrapping_sub(RED_ZONE)
        };
        let mut xsave = t.vcpu.xsave()?;
        xsave.truncate(t.vm.xsave_size());
        let blocked = t.signals.saved_mask.take().unwrap_or(t.signals.blocked);
        let mut altstack = t.signals.altstack;
        if t.signals.on_altstack(regs.rsp) {
            altstack.flags |= crate::signal::SS_ONSTACK;
        }
        let input = FrameInput {
            regs: &regs,
            cs: selector::USER_CODE,
            ss: selector::USER_DATA,
            top,
            restorer: act.restorer,
            info: &p.info,
            blocked,
            altstack,
            xsave: &xsave,
            xfeatures: t.vm.xcr0(),
            err: 0,
            trapno: 0,
            cr2: 0,
        };
        let Some(frame) = sigframe::build(&input) else {
            return Ok(false);
        };
        if t.write_bytes(frame.addr, &frame.bytes).is_err() {
            return Ok(false);
        }
        t.signals.enter_handler(p.signo, act);
        let r = t.vcpu.regs_mut();
        r.rdi = u64::from(p.signo);
        r.rsi = frame.info;
        r.rdx = frame.ucontext;
        r.rax = 0;
        let (rip, rsp, rflags) = (
            act.handler,
            frame.addr,
            regs.rflags & !(0x400 | 0x100 | 0x10000),
        );
        t.vcpu.resume_user(rip, rsp, rflags)?;
        Ok(true)
    }
}

const PAGE: u64 = pico_vm::layout::PAGE_SIZE;

/// Whether `addr` is in a file mapping's pages past the end of its file
/// (where Linux raises SIGBUS).
fn past_end_of_file(mem: &pico_vm::Memory, addr: u64) -> bool {
    let Some((_, _, region)) = mem.regions().get(addr) else {
        return false;
    };
    let Some(mapping) = &region.file else {
        return false;
    };
    let file = &mapping.file;
    std::fs::metadata(&file.path)
        .ok()
        .filter(|m| (m.dev(), m.ino()) == (file.dev, file.ino))
        .is_some_and(|m| mapping.offset_at(addr) >= m.size().next_multiple_of(PAGE))
}

/// Whether a syscall that the host interrupted with EINTR is restarted: when
/// no handler will run, always (Linux restarts transparently); when one
/// will, only with SA_RESTART and for syscalls Linux restarts.
fn restarts(t: &mut Task, nr: u64, args: &Args) -> bool {
    for (signo, info) in hostsig::take() {
        t.signals.enqueue(signo, info);
    }
    const NEVER_RESTARTED: &[u64] = &[
        sysno::POLL,
        sysno::PPOLL,
        sysno::SELECT,
        sysno::PSELECT6,
        sysno::EPOLL_WAIT,
        sysno::EPOLL_PWAIT,
        sysno::EPOLL_PWAIT2,
        sysno::NANOSLEEP,
        sysno::CLOCK_NANOSLEEP,
        sysno::RT_SIGSUSPEND,
        sysno::PAUSE,
        sysno::RT_SIGTIMEDWAIT,
    ];
    // A futex wait with a timeout is never restarted after a handler
    // (Linux's ERESTART_RESTARTBLOCK).
    let timed_futex_wait = nr == sysno::FUTEX && matches!(args[1] & 0x7f, 0 | 9) && args[3] != 0;
    match t.signals.next_handler() {
        None => !matches!(
            nr,
            sysno::RT_SIGSUSPEND | sysno::PAUSE | sysno::RT_SIGTIMEDWAIT
        ),
        Some(act) => {
            act.flags & sig::SA_RESTART != 0 && !NEVER_RESTARTED.contains(&nr) && !timed_futex_wait
        }
    }
}

fn trace_line(
    t: &Task,
    nr: u64,
    entry: Option<&'static Entry>,
    args: &Args,
    value: Result<u64, Errno>,
) {
    trace::emit_for(&t.tracer, &trace::line(t, nr, entry, args, Some(value)));
}

fn is_exit(nr: u64) -> bool {
    nr == sysno::EXIT || nr == sysno::EXIT_GROUP
}

/// Warns once per syscall number that it is not implemented.
fn unimplemented(t: &mut Task, nr: u64) {
    if t.warned.insert(nr) {
        let name = sysno::name(nr).unwrap_or("unknown");
        log::warn!("syscall {name} ({nr}) is not implemented: ENOSYS");
    }
}

/// The signal, si_code and si_addr Linux sends for a CPU exception.
fn fault_signal(info: &ExceptionInfo) -> (u32, i32, u64) {
    match info.vector {
        0 => (sig::SIGFPE, sig::FPE_INTDIV, info.rip),
        16 | 19 => (sig::SIGFPE, 0, info.rip),
        // int3 and single-step: Linux reports SI_KERNEL for int3.
        3 => (sig::SIGTRAP, sig::SI_KERNEL, 0),
        1 => (sig::SIGTRAP, sig::TRAP_TRACE, 0),
        6 => (sig::SIGILL, sig::ILL_ILLOPN, info.rip),
        17 => (sig::SIGBUS, sig::BUS_ADRALN, info.cr2),
        14 => {
            let code = if info.error_code.unwrap_or(0) & 1 != 0 {
                sig::SEGV_ACCERR
            } else {
                sig::SEGV_MAPERR
            };
            (sig::SIGSEGV, code, info.cr2)
        }
        _ => (sig::SIGSEGV, sig::SI_KERNEL, 0),
    }
}

/// The initial thread name: the program's file name, truncated like Linux.
pub(crate) fn comm_of(program: &std::path::Path) -> [u8; 16] {
    let mut comm = [0u8; 16];
    let name = program
        .file_name()
        .map(|n| n.as_encoded_bytes())
        .unwrap_or_default();
    let n = name.len().min(15);
    comm[..n].copy_from_slice(&name[..n]);
    comm
}
