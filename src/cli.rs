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
    pub exitless: bool,
    pub exit_every_syscall: bool,
    /// Confine the host process once the guest is set up (see
    /// `pico_driver::confine`).
    pub confine: bool,
    /// `--root`: the guest's `/` (see `pico_driver::rootfs`).
    pub root: Option<std::path::PathBuf>,
    /// `--ro` and `--rw` binds.
    pub binds: Vec<pico_driver::rootfs::Bind>,
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
    let program = match &options.root {
        Some(root) => match resolve_in_root(program_arg, root, options) {
            Ok(p) => Some(p),
            Err(code) => return code,
        },
        None => resolve(program_arg, std::env::var_os("PATH").as_deref()),
    };
    let Some(program) = program else {
        return fail(
            EXIT_NOT_FOUND,
            format_args!("{}: not found", program_arg.to_string_lossy()),
        );
    };
    if options.root.is_none() && program.exists() && !program.is_dir() && !executable(&program) {
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
        exitless: options.exitless,
        root: options.root.clone(),
        binds: options.binds.clone(),
    };
    pico_vm::set_fast_syscalls(!options.exit_every_syscall);
    let mut process = match Process::new(&config) {
        Ok(p) => p,
        Err(ExecError::NotFound(p)) => {
            return fail(EXIT_NOT_FOUND, format_args!("{}: not found", p.display()))
        }
        Err(e @ ExecError::NotExecutable(..)) => return fail(EXIT_CANNOT_EXECUTE, e),
        Err(e @ (ExecError::Vm(_) | ExecError::Policy(_))) => return fail(EXIT_PICORUN_FAILED, e),
    };
    if options.confine {
        if let Err(e) = confine(options) {
            return fail(
                EXIT_PICORUN_FAILED,
                format_args!("{e}; --no-confine runs without"),
            );
        }
    }
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

/// The program under `--root`: a path with a slash as the guest names it,
/// else looked up in PATH inside the root, as the guest's execvp would.
/// Errors are the exit status: 127 not found, 126 not executable, 125 a
/// root that cannot be set up.
fn resolve_in_root(
    program: &std::ffi::OsStr,
    root: &std::path::Path,
    options: &Options,
) -> Result<std::path::PathBuf, ExitCode> {
    use std::os::unix::ffi::OsStrExt;
    use std::path::PathBuf;
    let ns = pico_driver::rootfs::Namespace::new(root, &options.binds)
        .map_err(|e| fail(EXIT_PICORUN_FAILED, e))?;
    let check = |p: &std::path::Path| pico_driver::rootfs::check_executable(&ns, p);
    let candidate = if program.as_bytes().contains(&b'/') {
        PathBuf::from(program)
    } else {
        let path =
            std::env::var_os("PATH").unwrap_or_else(|| "/usr/local/bin:/usr/bin:/bin".into());
        let found = std::env::split_paths(&path)
            .filter(|d| !d.as_os_str().is_empty())
            .map(|d| d.join(program))
            .find(|c| check(c).is_ok());
        match found {
            Some(c) => c,
            None => {
                return Err(fail(
                    EXIT_NOT_FOUND,
                    format_args!("{}: not found", program.to_string_lossy()),
                ))
            }
        }
    };
    match check(&candidate) {
        Ok(()) => Ok(candidate),
        Err(pico_abi::Errno::ENOENT) => Err(fail(
            EXIT_NOT_FOUND,
            format_args!("{}: not found", candidate.display()),
        )),
        Err(e) => Err(fail(
            EXIT_CANNOT_EXECUTE,
            format_args!("{}: {}", candidate.display(), e.description()),
        )),
    }
}

/// Confines the host process: Landlock to the guest's files under
/// `--root` (where the kernel has it), then the seccomp allow-list.
fn confine(options: &Options) -> Result<(), String> {
    if let Some(root) = &options.root {
        let status = pico_driver::confine::confine_filesystem(root, &options.binds)
            .map_err(|e| format!("cannot confine the host process (Landlock): {e}"))?;
        log::debug!("Landlock: {status}");
    }
    pico_driver::confine::confine()
        .map_err(|e| format!("cannot confine the host process (seccomp): {e}"))
}

/// `picorun --check-confinement [--root DIR]`: confines this process as for
/// a run, then tries each dangerous host syscall (and, with `--root`, to
/// open a host file outside DIR) and prints whether it was refused.
pub fn check_confinement(options: &Options) -> ExitCode {
    if let Err(e) = confine(options) {
        return fail(EXIT_PICORUN_FAILED, e);
    }
    let mut all_refused = true;
    if options.root.is_some() {
        let outside = std::path::Path::new("/etc/passwd");
        let refused = pico_driver::confine::can_open(outside) == Err(libc::EACCES);
        all_refused &= refused;
        let verdict = if refused {
            "refused (EACCES)"
        } else {
            "NOT refused"
        };
        println!("{:<18} {verdict}", "open /etc/passwd");
    }
    for (name, errno) in pico_driver::confine::probe_denied() {
        let refused = errno == libc::EPERM;
        all_refused &= refused;
        let verdict = if refused {
            "refused (EPERM)"
        } else {
            "NOT refused"
        };
        println!("{name:<18} {verdict} (errno {errno})");
    }
    ExitCode::from(u8::from(!all_refused))
}
