//! The sandbox policy through the `picorun` command line: each limit is
//! enforced with its errno or signal, every process of the tree inherits
//! it (fork and exec), and a limit that ends the run is reported on stderr
//! with its own exit status. Where Linux has the same limit (RLIMIT_AS for
//! `--mem-limit`, RLIMIT_CPU for `--cpu-time`) the fixture also runs
//! natively under it and both runs must agree.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::picorun;
use pico_testkit::{assert_same, command, fixture, run, run_native, Outcome, Variant, TIMEOUT};

const VARIANTS: [Variant; 3] = [
    Variant::GlibcStatic,
    Variant::MuslStatic,
    Variant::GlibcDynamic,
];

/// `picorun FLAGS -- PROGRAM ARGS`.
fn picorun_with(flags: &[&str], program: &Path, args: &[&str]) -> Outcome {
    let mut cmd = command(picorun());
    cmd.args(flags).arg("--").arg(program).args(args);
    run(&mut cmd, b"", TIMEOUT).expect("picorun runs")
}

/// `sh -c SCRIPT` natively (to apply a ulimit before exec).
fn native_sh(script: &str) -> Outcome {
    run(command("/bin/sh").args(["-c", script]), b"", TIMEOUT).expect("sh runs")
}

fn sh_quote(p: &Path) -> String {
    format!("'{}'", p.display())
}

#[test]
fn no_network_refuses_sockets_but_not_socketpair() {
    for v in VARIANTS {
        let prog = fixture("policy_net", v);
        let expected = "socket(AF_INET): EACCES\n\
                        socket(AF_INET6): EACCES\n\
                        socket(AF_NETLINK): EACCES\n\
                        socket(AF_PACKET): EACCES\n\
                        socketpair(AF_INET): EACCES\n\
                        socketpair(AF_UNIX): ping\n";
        let out = picorun_with(&["--no-network"], &prog, &[]);
        assert_eq!(out.stdout_str(), expected, "{v:?}: {out}");
        assert_eq!(out.code(), Some(0), "{out}");
        // Inherited across fork and exec: a shell runs the fixture.
        let out = picorun_with(
            &["--no-network"],
            Path::new("/bin/sh"),
            &["-c", &sh_quote(&prog)],
        );
        assert_eq!(out.stdout_str(), expected, "{v:?} under sh: {out}");
    }
}

/// `--mem-limit` against RLIMIT_AS natively: the same requests fail with
/// ENOMEM, and the program carries on.
#[test]
fn mem_limit_is_enomem_like_rlimit_as() {
    for v in VARIANTS {
        let prog = fixture("policy_mem", v);
        let native = native_sh(&format!(
            "ulimit -v {}; exec {} 64",
            64 << 10,
            sh_quote(&prog)
        ));
        assert!(
            native
                .stdout_str()
                .contains("mmap past the limit: ENOMEM\n")
                && native
                    .stdout_str()
                    .contains("within 24 MiB below the limit: yes\n"),
            "native {v:?}: {native}"
        );
        let pico = picorun_with(&["--mem-limit", "64M"], &prog, &["64"]);
        assert_same(&native, &pico, &format!("policy_mem {v:?}"));
        // Inherited by a forked child that execs.
        let script = format!("{} 64", sh_quote(&prog));
        let pico = picorun_with(
            &["--mem-limit", "64M"],
            Path::new("/bin/sh"),
            &["-c", &script],
        );
        assert_same(&native, &pico, &format!("policy_mem {v:?} under sh"));
    }
}

#[test]
fn max_procs_is_eagain_for_the_whole_tree() {
    for v in VARIANTS {
        let prog = fixture("policy_procs", v);
        let out = picorun_with(&["--max-procs", "4"], &prog, &[]);
        assert_eq!(
            out.stdout_str(),
            "forked 3, then EAGAIN\nafter reaping, fork: ok\nvfork: ok\n",
            "{v:?}: {out}"
        );
        // The shell that runs it counts too: one child fewer.
        let out = picorun_with(
            &["--max-procs", "4"],
            Path::new("/bin/sh"),
            &["-c", &sh_quote(&prog)],
        );
        assert!(
            out.stdout_str().starts_with("forked 2, then EAGAIN\n"),
            "{v:?}: {out}"
        );
    }
}

/// `--cpu-time` against RLIMIT_CPU natively (soft limit, then hard one
/// second later): death by SIGXCPU, or by SIGKILL if the program ignores
/// SIGXCPU; picorun says so and ends with 123.
#[test]
fn cpu_time_is_sigxcpu_then_sigkill() {
    let prog = fixture("policy_spin", Variant::GlibcStatic);
    for (mode, signal) in [("spin", libc::SIGXCPU), ("spin-ignore-xcpu", libc::SIGKILL)] {
        let native = native_sh(&format!(
            "ulimit -S -t 1; ulimit -H -t 2 2>/dev/null || ulimit -t 2; exec {} {mode}",
            sh_quote(&prog)
        ));
        let pico = picorun_with(&["--cpu-time", "1"], &prog, &[mode]);
        assert_eq!(pico.code(), Some(123), "{mode}: {pico}");
        let name = pico_abi::flags::signal_name(signal as u64);
        assert_eq!(
            pico.stderr_str(),
            format!("picorun: CPU-time limit (1 s) exceeded: the program was killed by {name}\n"),
            "{mode}"
        );
        // dash sets soft and hard limits together: the native death is
        // SIGXCPU or SIGKILL; picorun's soft/hard pair is checked above.
        assert!(
            matches!(native.signal(), Some(s) if s == libc::SIGXCPU || s == libc::SIGKILL),
            "native {mode}: {native}"
        );
    }
}

/// Reads the pids `policy_spin tree` printed.
fn pids(out: &Outcome) -> Vec<u32> {
    out.stdout_str()
        .lines()
        .filter_map(|l| l.strip_prefix("pid ")?.parse().ok())
        .collect()
}

/// Host processes whose name (a pico process's is its program's file
/// name) is `comm`.
fn named(comm: &str) -> Vec<u32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim_end() == comm)
        })
        .collect()
}

/// A guest that forks children (one in a new session, one orphaned) and
/// spins ends with the wall-time limit, in time, with nothing left: the
/// fixture runs under a name of its own, and no process has it after.
#[test]
fn wall_time_kills_the_tree_in_time() {
    let dir = common::TempDir::new("policy-wall");
    for (v, name) in [
        (Variant::GlibcStatic, "walltree-glibc"),
        (Variant::MuslStatic, "walltree-musl"),
    ] {
        let prog = dir.path().join(name);
        std::fs::copy(fixture("policy_spin", v), &prog).unwrap();
        let started = Instant::now();
        let out = picorun_with(&["--wall-time", "1.5"], &prog, &["tree", "4"]);
        assert!(started.elapsed() < Duration::from_secs(30), "{out}");
        assert_eq!(out.code(), Some(124), "{out}");
        assert_eq!(
            out.stderr_str(),
            "picorun: wall-time limit (1.5 s) exceeded: the program and its children were killed\n"
        );
        // Written before the kill, delivered.
        assert!(out.stdout_str().starts_with("started\n"), "{out}");
        let pids = pids(&out);
        assert!(!pids.is_empty(), "{out}");
        assert_eq!(
            named(name),
            Vec::<u32>::new(),
            "left behind ({pids:?} were printed)"
        );
    }
}

/// The host stays responsive while a sandboxed tree burns CPU: another
/// run starts and finishes meanwhile.
#[test]
fn the_host_stays_responsive() {
    let prog = fixture("policy_spin", Variant::MuslStatic);
    let spinner =
        std::thread::spawn(move || picorun_with(&["--wall-time", "3"], &prog, &["tree", "3"]));
    let hello = fixture("hello", Variant::MuslStatic);
    let out = picorun_with(&["--max-procs", "2"], &hello, &[]);
    assert_eq!(out.stdout_str(), "hello world\n", "{out}");
    let spun = spinner.join().unwrap();
    assert_eq!(spun.code(), Some(124), "{spun}");
}

#[test]
fn denied_syscalls_are_eperm() {
    let dir = common::TempDir::new("policy-deny");
    for v in VARIANTS {
        let prog = fixture("policy_deny", v);
        let target = dir.path().join("d");
        let target = target.to_str().unwrap();
        let out = picorun_with(&[], &prog, &[target]);
        assert_eq!(
            out.stdout_str(),
            "getpid: ok\nuname: ok\nmkdir: ok\n",
            "{out}"
        );
        // getpid is answered in the guest's fast page unless denied.
        let out = picorun_with(
            &["--deny-syscall", "getpid", "--deny-syscall", "mkdir"],
            &prog,
            &[target],
        );
        assert_eq!(
            out.stdout_str(),
            "getpid: EPERM\nuname: ok\nmkdir: EPERM\n",
            "{v:?}: {out}"
        );
        assert!(!Path::new(target).exists());
        // Inherited across exec.
        let out = picorun_with(
            &["--deny-syscall", "uname"],
            Path::new("/bin/sh"),
            &["-c", &format!("exec {} {target}", sh_quote(&prog))],
        );
        assert_eq!(
            out.stdout_str(),
            "getpid: ok\nuname: EPERM\nmkdir: ok\n",
            "{v:?}: {out}"
        );
    }
    let out = picorun_with(
        &["--deny-syscall", "no_such_call"],
        Path::new("/bin/true"),
        &[],
    );
    assert_eq!(out.code(), Some(2), "a usage error: {out}");
    assert!(out.stderr_str().contains("no_such_call"), "{out}");
}

#[test]
fn env_allow_passes_only_the_named_variables() {
    // The test kit's fixed environment has PATH, HOME, LANG, LC_ALL, TZ, ...
    let out = picorun_with(
        &["--env-allow", "LANG", "--env-allow", "HOME"],
        Path::new("/usr/bin/env"),
        &[],
    );
    assert_eq!(out.stdout_str(), "HOME=/root\nLANG=C\n", "{out}");
}

/// Programs that end by themselves end as without a policy: the status
/// (code or signal) is the program's, stderr has no picorun line.
#[test]
fn without_a_limit_hit_the_status_is_the_programs() {
    for v in VARIANTS {
        let prog = fixture("abort", v);
        let native = run_native(&prog, &[], b"", None);
        let pico = picorun_with(&["--no-network", "--wall-time", "30"], &prog, &[]);
        assert_same(&native, &pico, &format!("abort {v:?}"));
        let prog = fixture("exit_codes", v);
        for args in [&["0"][..], &["3"], &["255"]] {
            let native = run_native(&prog, args, b"", None);
            let pico = picorun_with(&["--max-procs", "8"], &prog, args);
            assert_same(&native, &pico, &format!("exit_codes {args:?} {v:?}"));
        }
    }
    let out = picorun_with(&["--no-network"], Path::new("/nonexistent/prog"), &[]);
    assert_eq!(out.code(), Some(127), "{out}");
}

/// A policy and `--root` together: the sandboxed run gets the root, its
/// binds and the program looked up inside it.
#[test]
fn policy_with_a_root() {
    let dir = common::TempDir::new("policy-root");
    let root = dir.subdir("root");
    let data = dir.subdir("data");
    std::fs::create_dir_all(root.join("bin")).unwrap();
    std::fs::copy(fixture("policy_net", Variant::MuslStatic), root.join("net")).unwrap();
    std::fs::copy("/bin/busybox", root.join("bin/busybox")).unwrap();
    std::fs::write(data.join("f"), "bound\n").unwrap();
    let root_arg = root.to_str().unwrap();
    let out = picorun_with(
        &["--root", root_arg, "--no-network"],
        Path::new("/net"),
        &[],
    );
    assert!(
        out.stdout_str().starts_with("socket(AF_INET): EACCES\n"),
        "{out}"
    );
    let bind = format!("{}:/data", data.display());
    let out = picorun_with(
        &["--root", root_arg, "--ro", &bind, "--max-procs", "8"],
        Path::new("busybox"),
        &[
            "sh",
            "-c",
            "cat /etc/passwd; echo $?; ls /; cat /data/f; echo x > /data/g",
        ],
    );
    assert_eq!(out.stdout_str(), "1\nbin\nnet\nbound\n", "{out}");
    assert!(out.stderr_str().contains("Read-only file system"), "{out}");
    assert!(!data.join("g").exists());
    let out = picorun_with(&["--root", root_arg, "--no-network"], Path::new("net"), &[]);
    assert_eq!(out.code(), Some(127), "not in the root's PATH: {out}");
}
