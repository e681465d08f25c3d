//! What the `picorun` command does, separate from argument parsing so it
//! can be tested: resolve the program, run it, report like a shell would.
//!
//! Without a policy the program *is* the picorun process (the fastest
//! start, and the terminal, process group and descriptors are simply
//! its own). With one, picorun runs it through the library's
//! [`Command`](crate::Command) — a supervised tree, killed whole at the
//! end — and says on stderr when a limit ended the run.

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
/// Exit status when the wall-time limit killed the program's tree (as
/// `timeout(1)`).
pub const EXIT_WALL_TIME: u8 = 124;
/// Exit status when the CPU-time limit killed the program.
pub const EXIT_CPU_TIME: u8 = 123;

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
    /// The sandbox policy flags.
    pub policy: crate::Policy,
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
    if !options.policy.is_unrestricted() {
        return run_sandboxed(command, options);
    }
    // No policy, so no process limit the teardown process could count
    // against (see pico_driver::retire).
    pico_driver::retire::allow_detached_teardown();
    // This process runs the guest: its first VM's set-up starts now, on a
    // helper thread. (Not before the fork above: the guest process closes
    // the descriptors it inherits, /dev/kvm's among them.)
    let confinement = Confinement::start(options);
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
    if let Err(e) = confinement.finish(options) {
        return fail(
            EXIT_PICORUN_FAILED,
            format_args!("{e}; --no-confine runs without"),
        );
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

/// The program under `--root` (see [`crate::resolve::in_root`]). Errors
/// are the exit status: 127 not found, 126 not executable, 125 a root that
/// cannot be set up.
fn resolve_in_root(
    program: &std::ffi::OsStr,
    root: &std::path::Path,
    options: &Options,
) -> Result<std::path::PathBuf, ExitCode> {
    use crate::report::FailKind;
    let path = std::env::var_os("PATH");
    crate::resolve::in_root(program, root, &options.binds, path.as_deref()).map_err(
        |(kind, _, message)| {
            let code = match kind {
                FailKind::NotFound => EXIT_NOT_FOUND,
                FailKind::NotExecutable => EXIT_CANNOT_EXECUTE,
                FailKind::Picorun => EXIT_PICORUN_FAILED,
            };
            fail(code, message)
        },
    )
}

/// Confines the host process: Landlock to the guest's files under
/// `--root` (where the kernel has it), then the seccomp allow-list.
fn confine(options: &Options) -> Result<(), String> {
    if let Some(root) = &options.root {
        let status = pico_driver::confine::confine_filesystem(root, &options.binds)
            .map_err(|e| format!("cannot confine the host process (Landlock): {e}"))?;
        log::debug!("Landlock: {status}");
    }
    seccomp()
}

fn seccomp() -> Result<(), String> {
    pico_driver::confine::confine()
        .map_err(|e| format!("cannot confine the host process (seccomp): {e}"))
}

/// The host process's confinement, which must be in place before the
/// guest's first instruction. Without `--root` it is only the seccomp
/// filter, which applies to every thread whichever thread installs it:
/// the VM set-up helper installs it once vCPU 0 is ready, while this
/// thread still loads the program (~0.08 ms off the start). Landlock
/// (`--root`) applies to the calling thread and its later threads only,
/// so it is done here, seccomp after it.
enum Confinement {
    Off,
    Here,
    /// Whichever of the helper and this thread claims it first confines;
    /// the helper sends its result.
    OnHelper {
        claimed: std::sync::Arc<std::sync::atomic::AtomicBool>,
        result: std::sync::mpsc::Receiver<Result<(), String>>,
    },
}

impl Confinement {
    /// Starts the VM set-up helper, with the confinement if it can take it.
    fn start(options: &Options) -> Confinement {
        if !options.confine || options.root.is_some() {
            let _ = pico_vm::prewarm(None);
            return if options.confine {
                Confinement::Here
            } else {
                Confinement::Off
            };
        }
        let (done, result) = std::sync::mpsc::sync_channel(1);
        let claimed = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let claimed_by_helper = claimed.clone();
        let job: pico_vm::AfterSetup = Box::new(move || {
            if !claimed_by_helper.swap(true, std::sync::atomic::Ordering::AcqRel) {
                let _ = done.send(seccomp());
            }
        });
        match pico_vm::prewarm(Some(job)) {
            Ok(()) => Confinement::OnHelper { claimed, result },
            Err(_) => Confinement::Here,
        }
    }

    /// Confines the process, or waits until the helper has (if it has
    /// started to: a helper that got no CPU yet does not delay the start).
    fn finish(self, options: &Options) -> Result<(), String> {
        match self {
            Confinement::Off => Ok(()),
            Confinement::Here => confine(options),
            Confinement::OnHelper { claimed, result } => {
                if !claimed.swap(true, std::sync::atomic::Ordering::AcqRel) {
                    return confine(options);
                }
                // The helper ended without sending (it panicked): done here.
                result.recv().unwrap_or_else(|_| confine(options))
            }
        }
    }
}

/// `picorun --check-confinement [--root DIR]`: confines this process as for
/// a run, then tries each dangerous host syscall (and, with `--root`, to
/// open a host file outside DIR) and prints whether it was refused.
pub fn check_confinement(options: &Options) -> ExitCode {
    use std::io::Write;
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
        let _ = writeln!(std::io::stdout(), "{:<18} {verdict}", "open /etc/passwd");
    }
    for (name, errno) in pico_driver::confine::probe_denied() {
        let refused = errno == libc::EPERM;
        all_refused &= refused;
        let verdict = if refused {
            "refused (EPERM)"
        } else {
            "NOT refused"
        };
        let _ = writeln!(std::io::stdout(), "{name:<18} {verdict} (errno {errno})");
    }
    ExitCode::from(u8::from(!all_refused))
}

/// Runs `command` under `options.policy` through the library: a
/// supervised tree. The status is the program's, or 124 / 123 with a
/// line on stderr when the wall-time / CPU-time limit ended it.
fn run_sandboxed(command: &[OsString], options: &Options) -> ExitCode {
    let Some((program, args)) = command.split_first() else {
        return fail(EXIT_NOT_FOUND, "no program given");
    };
    let mut cmd = crate::Command::new(program);
    if let Some(root) = &options.root {
        // Looked up in the root here, for the same messages as without a
        // policy; the path keeps argv[0] as typed.
        match resolve_in_root(program, root, options) {
            Ok(path) => cmd = crate::Command::new(path),
            Err(code) => return code,
        }
        cmd.arg0(program).root(root);
        for bind in &options.binds {
            cmd.bind(&bind.host, &bind.guest, bind.writable);
        }
    }
    let status = cmd
        .args(args)
        .policy(options.policy.clone())
        .confine(options.confine)
        .trace(options.trace)
        .stats(options.stats)
        .exitless(options.exitless)
        .fast_syscalls(!options.exit_every_syscall)
        .status();
    let status = match status {
        Ok(status) => status,
        Err(e) => {
            use crate::report::FailKind;
            let kind = e
                .get_ref()
                .and_then(|inner| inner.downcast_ref::<crate::command::SpawnFailure>())
                .map(|failure| failure.kind);
            let code = match kind {
                Some(FailKind::NotFound) => EXIT_NOT_FOUND,
                Some(FailKind::NotExecutable) => EXIT_CANNOT_EXECUTE,
                _ => EXIT_PICORUN_FAILED,
            };
            return fail(code, e);
        }
    };
    let policy = &options.policy;
    match status.limit() {
        Some(crate::Limit::WallTime) => {
            let secs = policy.wall_time.unwrap_or_default().as_secs_f64();
            return fail(
                EXIT_WALL_TIME,
                format_args!(
                    "wall-time limit ({secs} s) exceeded: the program and its children were killed"
                ),
            );
        }
        Some(crate::Limit::CpuTime) => {
            let secs = policy.driver.cpu_time.unwrap_or_default();
            let how = pico_abi::flags::signal_name(status.signal().unwrap_or(0) as u64);
            return fail(
                EXIT_CPU_TIME,
                format_args!("CPU-time limit ({secs} s) exceeded: the program was killed by {how}"),
            );
        }
        _ => {}
    }
    match (status.code(), status.signal()) {
        (Some(code), _) => ExitCode::from(code as u8),
        (None, Some(signo)) => pico_driver::host::die_by_signal(signo),
        (None, None) => ExitCode::from(EXIT_PICORUN_FAILED),
    }
}

/// `--mem-limit`: bytes, with an optional K, M or G (powers of 1024).
pub fn parse_bytes(s: &str) -> Result<u64, String> {
    let (digits, shift) = match s.as_bytes().last() {
        Some(b'k' | b'K') => (&s[..s.len() - 1], 10),
        Some(b'm' | b'M') => (&s[..s.len() - 1], 20),
        Some(b'g' | b'G') => (&s[..s.len() - 1], 30),
        _ => (s, 0),
    };
    digits
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(1 << shift))
        .ok_or_else(|| format!("`{s}` is not a byte count (like 67108864, 65536K, 64M, 1G)"))
}

/// `--wall-time`: seconds, decimals allowed.
pub fn parse_seconds(s: &str) -> Result<std::time::Duration, String> {
    s.parse::<f64>()
        .ok()
        .filter(|secs| secs.is_finite() && *secs > 0.0)
        .and_then(|secs| std::time::Duration::try_from_secs_f64(secs).ok())
        .ok_or_else(|| format!("`{s}` is not a positive number of seconds"))
}

/// `--deny-syscall`: a syscall name x86-64 Linux has.
pub fn parse_syscall(s: &str) -> Result<String, String> {
    match pico_abi::sysno::number(s) {
        Some(_) => Ok(s.to_owned()),
        None => Err(format!("no x86-64 syscall is called `{s}`")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_counts() {
        assert_eq!(parse_bytes("4096"), Ok(4096));
        assert_eq!(parse_bytes("64M"), Ok(64 << 20));
        assert_eq!(parse_bytes("2g"), Ok(2 << 30));
        assert_eq!(parse_bytes("8k"), Ok(8 << 10));
        assert!(
            parse_bytes("").is_err() && parse_bytes("M").is_err() && parse_bytes("-1").is_err()
        );
        assert!(parse_bytes("99999999999999999999G").is_err());
    }

    #[test]
    fn seconds_and_syscalls() {
        assert_eq!(
            parse_seconds("1.5"),
            Ok(std::time::Duration::from_millis(1500))
        );
        assert!(
            parse_seconds("0").is_err()
                && parse_seconds("inf").is_err()
                && parse_seconds("x").is_err()
        );
        assert_eq!(parse_syscall("mkdir"), Ok("mkdir".into()));
        assert!(parse_syscall("mkdri").is_err());
    }
}
