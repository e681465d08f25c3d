//! The `picorun` command: run a Linux program as a pico process.

use std::ffi::OsString;
use std::process::ExitCode;

use clap::Parser;

/// Run an unmodified Linux x86-64 program in a hardware-isolated pico
/// process (a minimal KVM guest per process). Output and exit status are the
/// program's own.
#[derive(Parser, Debug, Default)]
#[command(name = "picorun", version, about)]
struct Cli {
    /// Print one strace-style line per syscall to stderr (every syscall
    /// then exits to the host, even those the guest could answer itself).
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
    /// syscall page answers itself (getpid, gettid, rt_sigprocmask,
    /// set_robust_list, set_tid_address, rseq, brk(0)): for measuring.
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
    #[command(flatten)]
    policy: PolicyArgs,
}

/// The sandbox policy: with any of these, picorun supervises the program
/// from a separate host process and kills the whole tree at the end.
#[derive(clap::Args, Debug, Default)]
#[command(next_help_heading = "Sandbox policy (inherited by every child process)")]
struct PolicyArgs {
    /// No network: socket() of any family but AF_UNIX fails with EACCES.
    #[arg(long)]
    no_network: bool,
    /// Mapped guest memory per process at most, counted like RLIMIT_AS (a
    /// K, M or G suffix multiplies by 1024s): past it mmap and mremap fail
    /// with ENOMEM and brk stays put.
    #[arg(long, value_name = "BYTES", value_parser = picorun::cli::parse_bytes)]
    mem_limit: Option<u64>,
    /// Live processes in the tree at most, the program included: fork,
    /// vfork and clone past it fail with EAGAIN.
    #[arg(long, value_name = "N")]
    max_procs: Option<u32>,
    /// CPU seconds per process (RLIMIT_CPU): SIGXCPU at the limit, SIGKILL
    /// a second later. When it kills the program, picorun ends with 123.
    #[arg(long, value_name = "SECS")]
    cpu_time: Option<u64>,
    /// Seconds (decimals allowed) until the whole tree is killed with
    /// SIGKILL; picorun then ends with 124.
    #[arg(long, value_name = "SECS", value_parser = picorun::cli::parse_seconds)]
    wall_time: Option<std::time::Duration>,
    /// This syscall fails with EPERM (repeatable; names as strace prints them).
    #[arg(long, value_name = "NAME", value_parser = picorun::cli::parse_syscall)]
    deny_syscall: Vec<String>,
    /// Pass only this variable of picorun's environment (repeatable).
    #[arg(long, value_name = "VAR")]
    env_allow: Vec<OsString>,
}

impl Cli {
    /// The command line. `picorun PROGRAM [ARGS]...`, with no option
    /// before the program, is by far the commonest and is taken as it is:
    /// building clap's parser took ~60-80 µs of a ~3.5 ms start here (a
    /// unit test checks that both read such a line alike). Clap reads
    /// everything else.
    fn from_args() -> Cli {
        let args: Vec<OsString> = std::env::args_os().skip(1).collect();
        match args.first() {
            Some(first) if !first.as_encoded_bytes().starts_with(b"-") => Cli::plain(args),
            _ => Cli::parse(),
        }
    }

    /// No options: run `command`.
    fn plain(command: Vec<OsString>) -> Cli {
        Cli {
            command,
            ..Cli::default()
        }
    }
}

impl PolicyArgs {
    fn policy(&self) -> picorun::Policy {
        let mut policy = picorun::Policy::new();
        if self.no_network {
            policy = policy.no_network();
        }
        if let Some(bytes) = self.mem_limit {
            policy = policy.mem_limit(bytes);
        }
        if let Some(n) = self.max_procs {
            policy = policy.max_procs(n);
        }
        if let Some(secs) = self.cpu_time {
            policy = policy.cpu_time(std::time::Duration::from_secs(secs));
        }
        if let Some(time) = self.wall_time {
            policy = policy.wall_time(time);
        }
        for name in &self.deny_syscall {
            // The parser checked the name.
            if let Ok(denied) = policy.clone().deny_syscall(name) {
                policy = denied;
            }
        }
        for var in &self.env_allow {
            policy = policy.env_allow(var);
        }
        policy
    }
}

fn main() -> ExitCode {
    let cli = Cli::from_args();
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
        policy: cli.policy.policy(),
    };
    if cli.check_confinement {
        return picorun::cli::check_confinement(&options);
    }
    picorun::cli::run(&cli.command, &options)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plain_command_line_reads_as_clap_reads_it() {
        let lines: [&[&str]; 5] = [
            &["ls"],
            &["/bin/ls", "-la", "/"],
            &["sh", "-c", "echo --trace"],
            &["prog", "--", "--stats", ""],
            &["./a b", "--root", "x"],
        ];
        for line in lines {
            let args: Vec<OsString> = line.iter().map(OsString::from).collect();
            let by_clap =
                Cli::parse_from(std::iter::once(OsString::from("picorun")).chain(args.clone()));
            assert_eq!(
                format!("{:?}", Cli::plain(args)),
                format!("{by_clap:?}"),
                "{line:?}"
            );
        }
    }
}
