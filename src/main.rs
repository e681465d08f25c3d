//! The `picorun` command: run a Linux program as a pico process.

use std::ffi::OsString;
use std::process::ExitCode;

use clap::Parser;

/// Run an unmodified Linux x86-64 program in a hardware-isolated pico
/// process (a minimal KVM guest per process). Output and exit status are the
/// program's own.
#[derive(Parser, Debug)]
#[command(name = "picorun", version, about)]
struct Cli {
    /// Print one strace-style line per syscall to stderr.
    #[arg(long)]
    trace: bool,
    /// Print a per-syscall count and time table to stderr at exit.
    #[arg(long)]
    stats: bool,
    /// Serve plain non-blocking syscalls (file reads and writes, lseek,
    /// getppid) from a spinning host thread instead of a VM exit each:
    /// faster per call, at the cost of a busy host thread per busy guest
    /// thread.
    #[arg(long)]
    exitless: bool,
    /// Make every syscall exit to the host, even those the guest's fast
    /// syscall page answers itself (getpid, gettid, rt_sigprocmask): for
    /// measuring.
    #[arg(long)]
    exit_every_syscall: bool,
    /// Do not confine picorun itself (no seccomp allow-list on the host
    /// process): for debugging a host call the allow-list refuses.
    #[arg(long)]
    no_confine: bool,
    /// Confine this process as for a run, try a list of dangerous host
    /// syscalls (ptrace, mount, bpf, kexec_load, ...) and report each
    /// refusal; exit status 0 if all were refused.
    #[arg(long)]
    check_confinement: bool,
    /// Make DIR the program's `/`: every path it uses is resolved inside
    /// DIR (`..` and symlinks cannot leave it); `/proc` and `/dev` are
    /// picorun's. The program and its interpreters are looked up in DIR.
    /// Inherited descriptors other than 0, 1 and 2 are closed.
    #[arg(long, value_name = "DIR")]
    root: Option<std::path::PathBuf>,
    /// With --root: expose the host directory HOST at GUEST (or PATH at the
    /// same path), read-only (writes fail with EROFS). Repeatable.
    #[arg(long, value_name = "HOST:GUEST|PATH", requires = "root")]
    ro: Vec<OsString>,
    /// With --root: expose the host directory HOST at GUEST (or PATH at the
    /// same path), writable. Repeatable.
    #[arg(long, value_name = "HOST:GUEST|PATH", requires = "root")]
    rw: Vec<OsString>,
    /// The program (looked up in PATH when it has no slash) and its arguments.
    #[arg(
        required_unless_present = "check_confinement",
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "PROGRAM [ARGS]..."
    )]
    command: Vec<OsString>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let default_filter = if cli.trace { "warn" } else { "error" };
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or(default_filter))
        .format_timestamp(None)
        .init();
    let options = picorun::cli::Options {
        trace: cli.trace,
        stats: cli.stats,
        exitless: cli.exitless,
        exit_every_syscall: cli.exit_every_syscall,
        confine: !cli.no_confine,
        root: cli.root,
        binds: cli
            .ro
            .iter()
            .map(|s| pico_driver::rootfs::Bind::parse(s, false))
            .chain(
                cli.rw
                    .iter()
                    .map(|s| pico_driver::rootfs::Bind::parse(s, true)),
            )
            .collect(),
    };
    if cli.check_confinement {
        return picorun::cli::check_confinement(&options);
    }
    picorun::cli::run(&cli.command, &options)
}
