//! picorun's own command-line options: `--trace` and `--stats` report on
//! stderr and leave the program's stdout and exit status alone.

mod common;

use common::{picorun, TempDir};
use pico_testkit::{command, fixture, run, Outcome, Variant, TIMEOUT};

/// `picorun OPTION -- hello` (glibc: one write(2) of 12 bytes at exit).
fn hello_with(option: &str) -> Outcome {
    let dir = TempDir::new("cli");
    let mut cmd = command(picorun());
    cmd.arg(option)
        .arg("--")
        .arg(fixture("hello", Variant::GlibcStatic));
    cmd.current_dir(dir.path());
    let out = run(&mut cmd, b"", TIMEOUT).expect("picorun runs");
    assert_eq!(
        out.stdout, b"hello world\n",
        "{option} must not touch stdout: {out}"
    );
    assert_eq!(out.code(), Some(0), "{out}");
    out
}

#[test]
fn trace_prints_syscalls() {
    let out = hello_with("--trace");
    let err = out.stderr_str();
    assert!(
        err.lines()
            .any(|l| l.starts_with("write(1, ") && l.ends_with(" = 12")),
        "no `write(1, …) = 12` line:\n{err}"
    );
    assert!(
        err.lines().any(|l| l.starts_with("exit_group(0)")),
        "no exit_group(0) line:\n{err}"
    );
}

#[test]
fn stats_prints_a_table() {
    let out = hello_with("--stats");
    let err = out.stderr_str();
    assert!(err.contains("write"), "{err}");
    assert!(err.to_lowercase().contains("total"), "{err}");
}

/// Descriptors picorun inherits above 2 are the program's, under the same
/// numbers (`prog 3<file`), as across a native exec.
#[test]
fn inherited_descriptors_reach_the_program() {
    let dir = TempDir::new("cli-fd3");
    let file = dir.path().join("three");
    std::fs::write(&file, "via fd 3\n").unwrap();
    let script = |runner: &str| {
        format!(
            "exec 3<'{}'; exec {runner} /bin/busybox sh -c 'cat <&3; echo status $?'",
            file.display()
        )
    };
    let native = run(command("/bin/sh").args(["-c", &script("")]), b"", TIMEOUT).expect("sh runs");
    let pico = run(
        command("/bin/sh").args(["-c", &script(&format!("'{}' --", picorun().display()))]),
        b"",
        TIMEOUT,
    )
    .expect("sh runs");
    assert_eq!(native.stdout_str(), "via fd 3\nstatus 0\n", "{native}");
    assert_eq!(pico.stdout_str(), native.stdout_str(), "{pico}");
}

/// clock_gettime is served by the vDSO in the guest: 100000 calls under
/// `--stats` reach the host as (almost) no clock_gettime syscalls.
#[test]
fn clock_gettime_makes_no_exits() {
    for variant in [
        Variant::GlibcStatic,
        Variant::MuslStatic,
        Variant::GlibcDynamic,
    ] {
        let dir = TempDir::new("cli-vdso");
        let mut cmd = command(picorun());
        cmd.arg("--stats")
            .arg("--")
            .arg(fixture("vdso", variant))
            .arg("loop");
        cmd.current_dir(dir.path());
        let out = run(&mut cmd, b"", TIMEOUT).expect("picorun runs");
        assert_eq!(out.stdout_str(), "looped, monotonic 1\n", "{out}");
        let err = out.stderr_str();
        let calls = err
            .lines()
            .find(|l| l.split_whitespace().last() == Some("clock_gettime"))
            .and_then(|l| l.split_whitespace().nth(3))
            .map_or(0, |n| n.parse::<u64>().expect("a call count"));
        assert!(
            calls < 100,
            "{variant:?}: {calls} clock_gettime syscalls reached the host:\n{err}"
        );
        assert!(err.to_lowercase().contains("total"), "{err}");
    }
}

/// The ELF shapes a user may hand picorun beyond the fixtures' defaults: a
/// static PIE (self-relocating, loaded at a bias) and a non-PIE dynamic
/// executable (fixed addresses plus ld.so).
#[test]
fn static_pie_and_non_pie_dynamic_run_like_native() {
    let dir = TempDir::new("cli-elf-shapes");
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/args_env.c");
    for (name, flag) in [("static-pie", "-static-pie"), ("no-pie", "-no-pie")] {
        let out = dir.path().join(name);
        let built = std::process::Command::new("gcc")
            .args(["-O1", flag, "-o"])
            .arg(&out)
            .arg(&src)
            .status()
            .expect("gcc is needed (apt-get install gcc)");
        assert!(built.success(), "gcc {flag}");
        let native = pico_testkit::run_native(&out, &["one", "two"], b"", Some(dir.path()));
        let pico =
            pico_testkit::run_picorun(picorun(), &out, &["one", "two"], b"", Some(dir.path()));
        assert!(native.stdout_str().contains("argv[1] \"one\""), "{native}");
        pico_testkit::assert_same(&native, &pico, name);
    }
}

/// The host process confines itself: dangerous host syscalls are refused
/// (the unit tests in confine.rs show the same probe fails differently
/// unconfined), and every other test here runs under that confinement.
#[test]
fn check_confinement_refuses_dangerous_host_syscalls() {
    let mut cmd = command(picorun());
    cmd.arg("--check-confinement");
    let out = run(&mut cmd, b"", TIMEOUT).expect("picorun runs");
    assert_eq!(out.code(), Some(0), "{out}");
    let text = out.stdout_str();
    for name in ["ptrace", "mount", "bpf", "kexec_load", "socket", "execve"] {
        let line = text
            .lines()
            .find(|l| l.split_whitespace().next() == Some(name))
            .unwrap_or_else(|| panic!("no line for {name}:\n{text}"));
        assert!(line.contains("refused (EPERM)"), "{line}");
    }
}

/// A running guest's host process is confined, every thread of it (the
/// seccomp filter is installed by the set-up helper thread for all), and
/// not with `--no-confine`.
#[test]
fn a_running_guest_is_confined_in_every_thread() {
    use std::process::Stdio;
    for (option, expected) in [(None, "2"), (Some("--no-confine"), "0")] {
        let mut child = std::process::Command::new(picorun())
            .args(option)
            .args(["/bin/sh", "-c", "echo up; read x; true"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        common::expect_first_line(child.stdout.take(), "up\n");
        let tasks = std::fs::read_dir(format!("/proc/{}/task", child.id())).unwrap();
        let mut threads = 0;
        for task in tasks {
            let status = std::fs::read_to_string(task.unwrap().path().join("status")).unwrap();
            let field = |name: &str| {
                status
                    .lines()
                    .find_map(|l| l.strip_prefix(name))
                    .map(|v| v.trim().to_string())
            };
            assert_eq!(
                field("Seccomp:").as_deref(),
                Some(expected),
                "{option:?}: {status}"
            );
            if option.is_none() {
                assert_eq!(field("NoNewPrivs:").as_deref(), Some("1"), "{status}");
            }
            threads += 1;
        }
        // The guest's thread and the clock's at least.
        assert!(threads >= 2, "{threads} threads");
        drop(child.stdin.take());
        assert!(child.wait().unwrap().success());
    }
}

/// With `--root`, Landlock also keeps picorun's own file access inside the
/// guest's files: a host file outside the root cannot be opened even by the
/// driver (the same open works unconfined: it is /etc/passwd).
#[test]
fn check_confinement_with_a_root_refuses_host_files() {
    assert!(std::fs::File::open("/etc/passwd").is_ok());
    let root = TempDir::new("cli-landlock");
    let mut cmd = command(picorun());
    cmd.arg("--check-confinement")
        .arg("--root")
        .arg(root.path());
    let out = run(&mut cmd, b"", TIMEOUT).expect("picorun runs");
    assert_eq!(out.code(), Some(0), "{out}");
    assert!(
        out.stdout_str()
            .lines()
            .any(|l| l.starts_with("open /etc/passwd") && l.contains("refused (EACCES)")),
        "{out}"
    );
}

/// Once picorun has exited, the program's descriptors are closed, as a
/// native process's are when `wait` returns, although the VM's teardown
/// may still be going on in a process of its own: a lock the program's
/// child took on a shared open file is free at once, and its stdout pipe
/// is at end-of-file (not "would block").
#[test]
fn an_ended_guest_holds_no_descriptor() {
    use std::io::Read;
    use std::os::fd::AsRawFd;
    use std::process::Stdio;
    let dir = TempDir::new("cli-flock");
    let lock = dir.path().join("lock");
    for variant in [Variant::GlibcStatic, Variant::MuslStatic] {
        let mut child = std::process::Command::new(picorun())
            .arg(fixture("flock_exit", variant))
            .arg(&lock)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdout = child.stdout.take().unwrap();
        assert!(child.wait().unwrap().success(), "{variant:?}");
        // SAFETY: fcntl on a descriptor this test owns; no memory involved.
        let nonblocking = unsafe {
            let flags = libc::fcntl(stdout.as_raw_fd(), libc::F_GETFL);
            libc::fcntl(stdout.as_raw_fd(), libc::F_SETFL, flags | libc::O_NONBLOCK)
        };
        assert_eq!(nonblocking, 0);
        let mut output = String::new();
        stdout
            .read_to_string(&mut output)
            .unwrap_or_else(|e| panic!("{variant:?}: stdout not at end-of-file: {e}"));
        assert_eq!(output, "locked\n", "{variant:?}");
        let file = std::fs::File::open(&lock).unwrap();
        // SAFETY: flock on a descriptor this test owns.
        let locked = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        assert_eq!(
            locked,
            0,
            "{variant:?}: the lock is still held: {}",
            std::io::Error::last_os_error()
        );
    }
}
