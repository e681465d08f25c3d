//! What the `picorun` command does, separate from argument parsing so it
//! can be tested: resolve the program, run it, report like a shell would.

use std::ffi::OsString;
use std::process::ExitCode;

use pico_driver::{Config, ExecError, Outcome, Process};

use crate::resolve::{executable, resolve};

/// Exit status when picorun itself cannot work (no KVM, VM failure).
pub const EXIT_PICORUN_FAILED: u8 = 125;
/// Exit status when the program exists but cannot be executed.
pub const EXIT_CANNOT_EXECUTE: u8 = 126;
/// Exit status when the program does not exist.
pub const EXIT_NOT_FOUND: u8 = 127;

#[derive(Clone, Debug, Default)]
pub struct Options {
    pub trace: bool,
    pub stats: bool,
}

fn fail(code: u8, message: impl std::fmt::Display) -> ExitCode {
    eprintln!("picorun: {message}");
    ExitCode::from(code)
}

/// Runs `command` (program and arguments) and returns its exit status; if
/// the program is killed by a signal, picorun dies by the same signal.
pub fn run(command: &[OsString], options: &Options) -> ExitCode {
    let Some(program_arg) = command.first() else {
        return fail(EXIT_NOT_FOUND, "no program given");
    };
    let Some(program) = resolve(program_arg, std::env::var_os("PATH").as_deref()) else {
        return fail(
            EXIT_NOT_FOUND,
            format_args!("{}: not found", program_arg.to_string_lossy()),
        );
    };
    if program.exists() && !program.is_dir() && !executable(&program) {
        return fail(
            EXIT_CANNOT_EXECUTE,
            format_args!("{}: Permission denied", program.display()),
        );
    }
    let config = Config {
        program,
        args: command.to_vec(),
        env: std::env::vars_os()
            .map(|(k, v)| {
                let mut kv = k;
                kv.push("=");
                kv.push(v);
                kv
            })
            .collect(),
        trace: options.trace,
        stats: options.stats,
        take_over_descriptors: true,
    };
    let mut process = match Process::new(&config) {
        Ok(p) => p,
        Err(ExecError::NotFound(p)) => {
            return fail(EXIT_NOT_FOUND, format_args!("{}: not found", p.display()))
        }
        Err(e @ ExecError::NotExecutable(..)) => return fail(EXIT_CANNOT_EXECUTE, e),
        Err(e @ ExecError::Vm(_)) => return fail(EXIT_PICORUN_FAILED, e),
    };
    let outcome = match process.run() {
        Ok(outcome) => outcome,
        Err(e) => return fail(EXIT_PICORUN_FAILED, format_args!("the VM failed: {e}")),
    };
    if let Some(table) = process.stats_table() {
        eprint!("{table}");
    }
    process.release_for_exit();
    match outcome {
        Outcome::Exited(code) => ExitCode::from(code as u8),
        Outcome::Signaled(signo) => pico_driver::host::die_by_signal(signo),
    }
}
