//! Processes, signals and threads: the `fork_wait`, `exec`, `signals`,
//! `sigfault`, `threads` and `futex_timeout` fixtures, each built three ways
//! (glibc static, musl static, glibc dynamic) and run natively and under
//! picorun; stdout, stderr and exit status must agree.
//!
//! Every test first checks the native run against a few lines the fixture
//! is meant to print, so a fixture broken on this machine cannot make a
//! broken picorun look right. Fixtures that take a scratch directory get one
//! per run (twin directories that start empty), so neither run sees what the
//! other left behind.

mod common;

use common::{picorun, TempDir};
use pico_testkit::{assert_same, fixture, fixtures_dir, run_native, run_picorun, Outcome, Variant};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex, OnceLock};

const SIGSEGV: i32 = 11;

/// How a fixture is built: the testkit's static variants, or glibc dynamic.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Build {
    Static(Variant),
    /// `gcc -O1 -pthread`, no `-static`: ld.so, libc.so.6 and lazy binding.
    GlibcDynamic,
}

/// One `#[test]` per build: `NAME::glibc_static`, `NAME::musl_static` and
/// `NAME::glibc_dynamic` call `NAME(build)`.
macro_rules! per_build {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            use super::Build;
            use pico_testkit::Variant;
            #[test]
            fn glibc_static() {
                super::$name(Build::Static(Variant::GlibcStatic))
            }
            #[test]
            fn musl_static() {
                super::$name(Build::Static(Variant::MuslStatic))
            }
            #[test]
            fn glibc_dynamic() {
                super::$name(Build::GlibcDynamic)
            }
        }
    )*};
}

per_build!(fork_wait, exec, signals, sigfault, threads, futex_timeout);

/// The compiled fixture `name` for `build`.
fn program(name: &str, build: Build) -> PathBuf {
    match build {
        Build::Static(variant) => fixture(name, variant),
        Build::GlibcDynamic => dynamic_fixture(name),
    }
}

/// `tests/fixtures/NAME.c` linked dynamically against glibc, compiled once per
/// test process (the testkit only builds static variants).
fn dynamic_fixture(name: &str) -> PathBuf {
    type Slot = Arc<OnceLock<PathBuf>>;
    static BUILT: OnceLock<Mutex<HashMap<String, Slot>>> = OnceLock::new();
    let slot = {
        let mut map = BUILT
            .get_or_init(Default::default)
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        Arc::clone(map.entry(name.to_owned()).or_default())
    };
    slot.get_or_init(|| compile_dynamic(name)).clone()
}

fn compile_dynamic(name: &str) -> PathBuf {
    let src = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(format!("{name}.c"));
    assert!(src.is_file(), "fixture source {} is missing", src.display());
    let dir = fixtures_dir();
    std::fs::create_dir_all(&dir)
        .unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
    let out = dir.join(format!("{name}.glibc-dyn"));
    // Build under a unique name and rename: another test process may be
    // running the previous binary at `out`.
    let tmp = dir.join(format!(".{name}.glibc-dyn.{}.tmp", std::process::id()));
    let result = Command::new("gcc")
        .args(["-O1", "-pthread", "-o"])
        .arg(&tmp)
        .arg(&src)
        .output();
    let output = match result {
        Ok(output) => output,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            panic!("`gcc` not found: install the Debian package `gcc` (apt-get install -y gcc)")
        }
        Err(e) => panic!("cannot run gcc: {e}"),
    };
    if !output.status.success() {
        let _ = std::fs::remove_file(&tmp);
        panic!(
            "compiling fixture {name} (glibc dynamic) failed: gcc -O1 -pthread -o {} {}\n{}{}",
            tmp.display(),
            src.display(),
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    std::fs::rename(&tmp, &out)
        .unwrap_or_else(|e| panic!("cannot rename {} to {}: {e}", tmp.display(), out.display()));
    out
}

/// Output lines whose difference is a known, documented gap of picorun
/// (README "What does not work yet"), left out of the comparison so the
/// rest of each fixture still guards everything else. Each entry: the
/// fixture, the start of the line, and why it differs.
const KNOWN_GAPS: &[(&str, &str, &str)] = &[
    (
        "sigfault",
        "call into a non-executable page:",
        "PROT_EXEC is not enforced: guest page tables are static; protection lives in the host mapping",
    ),
    ("sigfault", "  rip is the page", "the same call into a non-executable page"),
];

/// `out` without the lines [`KNOWN_GAPS`] names for fixture `name`.
fn without_known_gaps(name: &str, out: &Outcome) -> Outcome {
    let text = String::from_utf8_lossy(&out.stdout);
    let kept: String = text
        .split_inclusive('\n')
        .filter(|line| {
            !KNOWN_GAPS
                .iter()
                .any(|(fixture, start, _)| *fixture == name && line.starts_with(start))
        })
        .collect();
    Outcome {
        stdout: kept.into_bytes(),
        stderr: out.stderr.clone(),
        status: out.status,
    }
}

/// Runs fixture `name` natively and under picorun, each in its own empty
/// directory (its cwd, and its argument when `dir_arg`). Checks the native
/// run with `check_native` before comparing.
fn run_both(name: &str, build: Build, dir_arg: bool, check_native: impl FnOnce(&Outcome)) {
    let prog = program(name, build);
    let scratch = TempDir::new(name);
    let (native_dir, pico_dir) = (scratch.subdir("native"), scratch.subdir("picorun"));
    let native = run_native(
        &prog,
        &dir_args(&native_dir, dir_arg),
        b"",
        Some(&native_dir),
    );
    check_native(&native);
    let pico = run_picorun(
        picorun(),
        &prog,
        &dir_args(&pico_dir, dir_arg),
        b"",
        Some(&pico_dir),
    );
    let (native, pico) = (
        without_known_gaps(name, &native),
        without_known_gaps(name, &pico),
    );
    assert_same(&native, &pico, &format!("{name} ({build:?})"));
}

/// `[dir]` when the fixture takes its scratch directory as argument, else `[]`.
fn dir_args(dir: &Path, dir_arg: bool) -> Vec<&str> {
    let dir = dir.to_str().expect("target paths are UTF-8");
    if dir_arg {
        vec![dir]
    } else {
        vec![]
    }
}

/// The native run exited 0, reported no failure of its own, and printed
/// every line of `expected`.
fn clean_with(out: &Outcome, expected: &[&str]) {
    assert_eq!(out.code(), Some(0), "the fixture fails natively:\n{out}");
    assert_lines(out, expected);
}

fn assert_lines(out: &Outcome, expected: &[&str]) {
    let text = out.stdout_str();
    assert!(
        !text.contains("FAIL"),
        "the fixture reports a failure natively:\n{text}"
    );
    for line in expected {
        assert!(
            text.lines().any(|l| l == *line),
            "native output lacks {line:?}:\n{text}"
        );
    }
    assert_eq!(out.stderr_str(), "", "native stderr is not empty");
}

fn fork_wait(build: Build) {
    run_both("fork_wait", build, false, |out| {
        clean_with(
            out,
            &[
                "_exit(255): exited 255",
                "exit(4) after printf: exited 4",
                "kill while paused: killed by signal 9",
                "abort(): killed by signal 6",
                "kill while spinning: killed by signal 9",
                "wait4: rusage written 1",
                "WNOHANG while running: 0",
                "no children left: -1 ECHILD 1",
                "pipe writer: exited 0",
                "child: getppid is parent 1, own pid differs 1, fork returned its pid 1",
                "vfork: child exit 9, parent sees child's store 1",
                "spawned: [one] [two words]",
                "posix_spawn self: exited 5",
                "posix_spawn with dup2: rc 0, read back: spawned: [piped]",
                "posix_spawn missing: ENOENT 1",
                "wait() for three children: all seen 1, status sum 63",
                "waitid P_ALL: rc 0 code CLD_KILLED 1 status 9",
                "orphaned grandchild re-parented 1 (read 1)",
                "done",
            ],
        )
    });
}

fn exec(build: Build) {
    run_both("exec", build, true, |out| {
        clean_with(
            out,
            &[
                "  [reexec] argv[6] \"ünï\"",
                "  [reexec] env \"WITH_EQ=a=b\"",
                "  [reexec] same pid 1",
                "  [reexec] cwd is DIR 1, umask 027",
                "  [reexec] env \"HOW=proc-self-exe\"",
                "execve /proc/self/exe: exited 0",
                "execve nonexistent path: rc -1 ENOENT",
                "execve directory: rc -1 EACCES",
                "execve non-executable file: rc -1 EACCES",
                "execve text without #!: rc -1 ENOEXEC",
                "execve file as a directory: rc -1 ENOTDIR",
                "execve symlink loop: rc -1 ELOOP",
                "script: $0 is set: yes, args: 2: x|y z",
                "#!/bin/sh script: exited 4",
                "  [reexec] argc 5, script interp-self",
                "  [reexec] fd 10: open",
                "  [reexec] fd 12: closed (EBADF)",
                "  [reexec] fd 14: closed (EBADF)",
                "  [reexec] SIGHUP still pending 1",
                "fexecve: exited 0",
                "execveat(fd, \"\", AT_EMPTY_PATH): exited 0",
                "execveat(dirfd, \"self-link\"): exited 0",
                "execveat AT_SYMLINK_NOFOLLOW on a symlink: rc -1 ELOOP",
                "done",
            ],
        );
        assert!(
            !out.stdout_str().contains("unexpectedly ran"),
            "an exec that must fail ran natively:\n{out}"
        );
    });
}

fn signals(build: Build) {
    run_both("signals", build, false, |out| {
        clean_with(
            out,
            &[
                "kill(getpid(), SIGUSR1): delivered 1 signo 10 code SI_USER pid is self 1 uid ok 1",
                "raise(SIGUSR1): delivered 1 signo 10 code SI_TKILL pid is self 1 uid ok 1",
                "sigqueue value 42",
                "blocked: delivered 0, pending 1",
                "unblocked: delivered 1, still pending 0",
                "SIGRTMIN unblocked: 3 delivered: 1 2 3",
                "mixed, handlers block all: 4 delivered: -1 108 207 209",
                "SA_RESETHAND: second raise: killed by signal 10",
                "SA_NODEFER: calls 3 max depth 3",
                "SA_ONSTACK: on alt stack 1, SS_ONSTACK inside 1",
                "read without SA_RESTART: -1 EINTR 1 alarms 1",
                "read with SA_RESTART: 4 \"late\" alarms 1",
                "sigsuspend: -1 EINTR 1 delivered 1 code SI_USER from child 1, mask restored 1",
                "sigtimedwait, nothing pending: -1 EAGAIN 1",
                "sigwaitinfo: SIGUSR2 1 code SI_QUEUE value 1234",
                "SIGCHLD: signo 17 code CLD_EXITED 1 status 6 pid matches 1",
                "write to a pipe without readers: killed by signal 13",
                "SIGPIPE ignored: write -1 EPIPE 1",
                "SIGCONT: continued 1",
                "FPU state across a raised handler: equal 1 rounding restored 1",
                "FPU and registers across timer signals: equal 1 interrupted 1 rounding restored 1",
                "blocked during a busy loop, then signalfd: read 1 signo 10 from child 1",
                "siglongjmp(savemask=1): returned signal 10 passes 2 SIGUSR1 blocked 0",
                "done",
            ],
        )
    });
}

fn sigfault(build: Build) {
    run_both("sigfault", build, true, |out| {
        assert_eq!(
            out.signal(),
            Some(SIGSEGV),
            "the last fault must kill the fixture natively:\n{out}"
        );
        assert_lines(
            out,
            &[
                "NULL store: SIGSEGV SEGV_MAPERR si_addr exact 1 (faults 1)",
                "store to a PROT_READ page: SIGSEGV SEGV_ACCERR si_addr exact 1 (faults 1)",
                "load from an unmapped page: SIGSEGV SEGV_MAPERR si_addr exact 1 (faults 1)",
                "load from a non-canonical address: SIGSEGV SI_KERNEL si_addr exact 1 (faults 1)",
                "call into a non-executable page: SIGSEGV SEGV_ACCERR si_addr exact 1 (faults 1)",
                "call after mprotect(PROT_EXEC): no fault",
                "load from a page wholly past the end of the file: SIGBUS BUS_ADRERR si_addr exact 1 (faults 1)",
                "integer division by zero: SIGFPE FPE_INTDIV (faults 1)",
                "ud2: SIGILL ILL_ILLOPN (faults 1)",
                "int3: traps 1 code SI_KERNEL resumed after the int3 1",
                "fault fixed by the handler: faults 1 value 42",
                "stack overflow caught on the alternate stack: SIGSEGV 1",
                "fault with SIGSEGV blocked: killed by signal 11",
                "fault inside the SIGSEGV handler: killed by signal 11",
                "division by zero with SIGFPE ignored: killed by signal 8",
            ],
        );
        assert!(
            out.stdout_str().ends_with("now an unhandled fault\n"),
            "{out}"
        );
    });
}

fn threads(build: Build) {
    run_both("threads", build, false, |out| {
        clean_with(
            out,
            &[
                "mutex counter 400000 (expected 400000), atomic counter 400000",
                "condvar ping-pong: pings 1000 pongs 1000 strictly alternating 1",
                "TLS: threads start with the initial image 1, keep their own values 1, main's value intact 1",
                "gettid differs from getpid in threads 1, equals it in main 1",
                "join values: sum of squares 0..9 = 285",
                "pthread_exit value 7",
                "detached threads past the barrier: 4",
                "thread blocked in read got \"ping\"",
                "pthread_kill: handled 1 on the target thread 1",
                "sigwait in a thread got SIGUSR2 1",
                "cancelled thread blocked in read: PTHREAD_CANCELED 1",
                "fork from a thread while another runs: exited 42",
                "main called pthread_exit, last thread returned: exited 0",
                "a thread called exit(3): exited 3",
                "robust mutex of an ended owner: EOWNERDEAD, made consistent 1",
                "set_tid_address: returned the tid 1, word cleared at exit 1",
                "brk moved by another thread: moved 1 page or more 1, seen at once 1, seen after join 1",
                "done",
            ],
        )
    });
}

fn futex_timeout(build: Build) {
    run_both("futex_timeout", build, false, |out| {
        clean_with(
            out,
            &[
                "FUTEX_WAIT 20 ms: rc -1 ETIMEDOUT, waited >= 20 ms 1",
                "FUTEX_WAIT with a stale value: rc -1 EAGAIN",
                "FUTEX_WAIT_BITSET absolute CLOCK_MONOTONIC +20 ms: rc -1 ETIMEDOUT, waited >= 20 ms 1",
                "FUTEX_WAKE one waiter: returned 1, waiter rc 0 0",
                "FUTEX_CMP_REQUEUE moved 3; wake on the old word 0; wake 2 on the new word 2, then the rest 1; waiters returned 0 1",
                "FUTEX_WAKE_BITSET: disjoint bitset woke 0, matching bitset woke 1, waiter rc 0",
                "FUTEX_WAIT interrupted by SIGALRM: rc -1 EINTR alarms 1 returned early 1",
                "shared futex across fork: wake returned 1, child exit 0",
                "unknown futex op: rc -1 ENOSYS",
                "done",
            ],
        )
    });
}
