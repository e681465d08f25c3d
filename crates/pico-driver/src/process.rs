//! A pico process from start to end: create the VM, load the program, then
//! the run loop — each exit is a syscall to dispatch, a fault to turn into
//! a signal, or the end.

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Instant;

use pico_abi::{signal as sig, Errno};
use pico_vm::{ExceptionInfo, Exit, Vm, VmError};

use crate::exec::{self, ExecError};
use crate::fd::FdTable;
use crate::signal::{Disposition, Signals};
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
}

/// A loaded pico process, ready to run.
pub struct Process {
    task: Task,
}

impl Process {
    /// Creates the VM and loads the program.
    pub fn new(config: &Config) -> Result<Process, ExecError> {
        // EPIPE comes back as an errno and the driver raises the guest's SIGPIPE.
        crate::host::set_host_disposition(libc::SIGPIPE, true);
        let mut vm = Vm::new().map_err(ExecError::Vm)?;
        let loaded = exec::load(&mut vm, &config.program, &config.args, &config.env)?;
        let vcpu = vm
            .create_vcpu(0, loaded.entry, loaded.stack_pointer)
            .map_err(ExecError::Vm)?;
        let exe = std::fs::canonicalize(&loaded.exe).unwrap_or_else(|_| loaded.exe.clone());
        // The host thread's name is the guest's comm from now on.
        if let Err(e) = crate::host::set_thread_name(&comm_of(&config.program)) {
            log::debug!("cannot name the host thread: {e}");
        }
        let task = Task {
            vm,
            vcpu,
            fds: FdTable::with_stdio(),
            layout: loaded.layout,
            signals: Signals::default(),
            signal_effect: Disposition::None,
            exe,
            image: loaded.image,
            procfs: crate::procfs::State::new(),
            pid: std::process::id(),
            clear_child_tid: 0,
            robust_list: 0,
            warned: Default::default(),
            tracer: Tracer {
                trace: config.trace,
                stats: config.stats.then(Default::default),
            },
        };
        Ok(Process { task })
    }

    /// Runs the guest to its end.
    pub fn run(&mut self) -> Result<Outcome, VmError> {
        loop {
            if let Some(outcome) = self.run_for(u64::MAX)? {
                return Ok(outcome);
            }
        }
    }

    /// Runs the guest until it has made `syscalls` syscalls or ended
    /// (`Some`). Benchmarks use it to time the syscall path alone.
    pub fn run_for(&mut self, syscalls: u64) -> Result<Option<Outcome>, VmError> {
        let mut served = 0;
        while served < syscalls {
            let exit = self.task.vcpu.run()?;
            served += u64::from(exit == Exit::Syscall);
            let outcome = match exit {
                Exit::Syscall => self.syscall()?,
                Exit::Exception(info) => {
                    log::debug!("guest exception {info:?}");
                    self.task.raise(fault_signal(&info), true);
                    None
                }
                Exit::MemoryFault { addr } => {
                    log::debug!(
                        "guest memory fault at {addr:?}, rip {:#x}",
                        self.task.vcpu.regs().rip
                    );
                    self.task.raise(sig::SIGSEGV, true);
                    None
                }
                Exit::Shutdown => {
                    log::warn!("guest triple fault at rip {:#x}", self.task.vcpu.regs().rip);
                    self.task.raise(sig::SIGSEGV, true);
                    None
                }
                Exit::Interrupted => None,
            };
            if let Some(outcome) = outcome.or_else(|| self.act_on_signal()) {
                return Ok(Some(outcome));
            }
        }
        Ok(None)
    }

    /// The `--stats` table, if stats were collected.
    pub fn stats_table(&self) -> Option<String> {
        self.task.tracer.stats_table()
    }

    /// Dispatches one syscall and sets its result.
    fn syscall(&mut self) -> Result<Option<Outcome>, VmError> {
        let t = &mut self.task;
        let r = t.vcpu.regs();
        let nr = r.rax;
        let args = Args([r.rdi, r.rsi, r.rdx, r.r10, r.r8, r.r9]);
        let entry = table::lookup(nr);
        if t.tracer.trace && is_exit(nr) {
            trace::emit(&trace::line(t, nr, entry, &args, None));
        }
        let started = t.tracer.stats.is_some().then(Instant::now);
        let result = match entry {
            Some(e) => e.handler.call(t, &args),
            None => {
                unimplemented(t, nr);
                Err(Errno::ENOSYS)
            }
        };
        if let Some(started) = started {
            t.tracer.record(nr, result.is_err(), started.elapsed());
        }
        let value = match result {
            Ok(Flow::Exit(outcome)) => return Ok(Some(outcome)),
            Ok(Flow::Return(v)) => Ok(v),
            Err(e) => Err(e),
        };
        if t.tracer.trace {
            trace_line(t, nr, entry, &args, value);
        }
        t.vcpu.finish_syscall(value.unwrap_or_else(Errno::to_rax))?;
        Ok(None)
    }

    /// Carries out what a signal raised during the last exit requires.
    fn act_on_signal(&mut self) -> Option<Outcome> {
        match std::mem::replace(&mut self.task.signal_effect, Disposition::None) {
            Disposition::None => None,
            Disposition::Kill(signo) => Some(Outcome::Signaled(signo as i32)),
            Disposition::Stop(signo) => {
                crate::host::stop_self(signo as i32);
                None
            }
            Disposition::Handler(signo) => {
                eprintln!(
                    "picorun: the program installed a handler for {}, and running signal handlers is not supported yet",
                    pico_abi::flags::signal_name(u64::from(signo))
                );
                Some(Outcome::Signaled(signo as i32))
            }
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
    trace::emit(&trace::line(t, nr, entry, args, Some(value)));
}

fn is_exit(nr: u64) -> bool {
    nr == pico_abi::sysno::EXIT || nr == pico_abi::sysno::EXIT_GROUP
}

/// Warns once per syscall number that it is not implemented.
fn unimplemented(t: &mut Task, nr: u64) {
    if t.warned.insert(nr) {
        let name = pico_abi::sysno::name(nr).unwrap_or("unknown");
        log::warn!("syscall {name} ({nr}) is not implemented: ENOSYS");
    }
}

/// The signal Linux sends for a CPU exception in user mode.
fn fault_signal(info: &ExceptionInfo) -> u32 {
    match info.vector {
        0 | 7 | 16 | 19 => sig::SIGFPE,
        1 | 3 => sig::SIGTRAP,
        6 => sig::SIGILL,
        17 => sig::SIGBUS,
        _ => sig::SIGSEGV,
    }
}

/// The initial thread name: the program's file name, truncated like Linux.
fn comm_of(program: &std::path::Path) -> [u8; 16] {
    let mut comm = [0u8; 16];
    let name = program
        .file_name()
        .map(|n| n.as_encoded_bytes())
        .unwrap_or_default();
    let n = name.len().min(15);
    comm[..n].copy_from_slice(&name[..n]);
    comm
}
