//! Differential tests: each C fixture, built with glibc and with musl, runs
//! natively and under picorun, and the two runs must agree on stdout, stderr
//! and exit status (including death by signal). Every test also checks the
//! native run against what the fixture is meant to print, so a broken fixture
//! cannot make a broken picorun look right.

mod common;

use common::{picorun, TempDir};
use pico_testkit::{assert_same, diff, fixture, run_native, run_picorun, Outcome, Variant};
use std::path::Path;

const SIGABRT: i32 = 6;
const SIGSEGV: i32 = 11;
const SIGPIPE: i32 = 13;
const SIGTERM: i32 = 15;

/// One `#[test]` per libc: `NAME::glibc` and `NAME::musl` call `NAME(variant)`.
macro_rules! per_libc {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[test]
            fn glibc() {
                super::$name(pico_testkit::Variant::GlibcStatic)
            }
            #[test]
            fn musl() {
                super::$name(pico_testkit::Variant::MuslStatic)
            }
            #[test]
            fn glibc_dynamic() {
                super::$name(pico_testkit::Variant::GlibcDynamic)
            }
        }
    )*};
}

per_libc!(
    hello,
    exit_codes,
    args_env,
    fileio,
    dirs,
    memory,
    segv_null,
    segv_ro,
    segv_unmapped,
    segv_apic,
    abort,
    raise_ign,
    time,
    vdso,
    ids,
    stdio_filter,
    tls,
    avx,
    procself,
    shell_sees_death_status,
    poll_select,
    epoll,
    eventfd_timerfd,
    socketpair,
    misc_syscalls,
);

/// Runs fixture `name` both ways in a scratch directory (the cwd of both runs).
fn run(name: &str, variant: Variant, args: &[&str], stdin: &[u8]) -> Outcome {
    let dir = TempDir::new(name);
    diff(
        picorun(),
        &fixture(name, variant),
        args,
        stdin,
        Some(dir.path()),
    )
}

/// Runs fixture `name` with `.` as its argument in twin empty directories, for
/// fixtures that create files: each run starts from the same empty state.
fn run_in_twins(name: &str, variant: Variant) -> Outcome {
    let dir = TempDir::new(name);
    let prog = fixture(name, variant);
    let native = run_native(&prog, &["."], b"", Some(&dir.subdir("native")));
    let pico = run_picorun(picorun(), &prog, &["."], b"", Some(&dir.subdir("picorun")));
    assert_same(&native, &pico, &format!("{name} ({variant:?})"));
    pico
}

/// The fixture's own failure markers must not appear natively.
fn assert_clean(out: &Outcome) {
    let text = out.stdout_str();
    assert!(out.code() == Some(0), "native run failed:\n{out}");
    assert!(
        !text.contains("FAIL") && !text.contains("unexpected"),
        "the fixture reports a failure natively:\n{text}"
    );
}

fn hello(v: Variant) {
    let out = run("hello", v, &[], b"");
    assert_eq!(out.stdout, b"hello world\n");
    assert_eq!(out.stderr, b"", "picorun must keep stderr clean by default");
    assert_eq!(out.code(), Some(0));
}

fn exit_codes(v: Variant) {
    for (arg, code) in [("0", 0), ("1", 1), ("42", 42), ("255", 255), ("256", 0)] {
        let out = run("exit_codes", v, &[arg], b"");
        assert_eq!(out.code(), Some(code), "exit({arg})");
    }
}

fn args_env(v: Variant) {
    let args = [
        "PICORUN_TEST",
        "LANG",
        "with space",
        "",
        "NOPE",
        "ünïcödé",
        "--",
        "-x",
        "--trace",
    ];
    let out = run("args_env", v, &args, b"");
    let text = out.stdout_str();
    for line in [
        "argc 10",
        "argv[7] \"--\"",
        "argv[9] \"--trace\"",
        "env PICORUN_TEST=1",
        "env NOPE=(unset)",
        "AT_PAGESZ is 4096 1",
        "AT_RANDOM set 1 nonzero 1",
        "AT_EXECFN equals argv[0] 1",
        "AT_PLATFORM x86_64",
        "AT_UID is getuid 1",
        "AT_SECURE 0",
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "missing {line:?} in:\n{text}"
        );
    }
}

fn fileio(v: Variant) {
    assert_clean(&run_in_twins("fileio", v));
}

fn dirs(v: Variant) {
    let out = run_in_twins("dirs", v);
    assert_clean(&out);
    assert!(out.stdout_str().contains("cwd after chdir a/b: /a/b\n"));
}

fn memory(v: Variant) {
    assert_clean(&run_in_twins("memory", v));
}

/// The program dies of `signal` after printing `line`, natively and under picorun.
fn dies_of(name: &str, v: Variant, signal: i32, line: &str) {
    let out = run(name, v, &[], b"");
    assert_eq!(out.signal(), Some(signal), "{name}: {out}");
    assert_eq!(out.stdout_str(), format!("{line}\n"));
}

fn segv_null(v: Variant) {
    dies_of("segv_null", v, SIGSEGV, "about to fault");
}

fn segv_ro(v: Variant) {
    dies_of("segv_ro", v, SIGSEGV, "read back x, now writing");
}

fn segv_unmapped(v: Variant) {
    dies_of("segv_unmapped", v, SIGSEGV, "unmapped, now reading");
}

fn segv_apic(v: Variant) {
    dies_of(
        "segv_apic",
        v,
        SIGSEGV,
        "mapped 0xf0000000, now reading 0xfee00000",
    );
}

fn abort(v: Variant) {
    dies_of("abort", v, SIGABRT, "aborting");
}

fn raise_ign(v: Variant) {
    dies_of("raise_ign", v, SIGTERM, "survived");
}

/// A parent shell sees the same wait status: `$?` is 128 + signal.
fn shell_sees_death_status(v: Variant) {
    let dir = TempDir::new("shell");
    let sh = Path::new("/bin/sh");
    let script = "\"$@\"; echo $?";
    for (name, status) in [("segv_null", "139"), ("abort", "134")] {
        let prog = fixture(name, v);
        let prog = prog.to_str().expect("fixture paths are UTF-8");
        let pico = picorun().to_str().expect("target paths are UTF-8");
        let native = run_native(sh, &["-c", script, "sh", prog], b"", Some(dir.path()));
        let under = run_native(
            sh,
            &["-c", script, "sh", pico, "--", prog],
            b"",
            Some(dir.path()),
        );
        assert_eq!(
            native.stdout_str().lines().last(),
            Some(status),
            "native {name}: {native}"
        );
        assert_same(&native, &under, &format!("sh -c '{name}; echo $?'"));
    }
}

fn time(v: Variant) {
    let out = run("time", v, &[], b"");
    assert!(
        !out.stdout_str().contains(" 0\n"),
        "a clock check fails natively:\n{out}"
    );
}

/// The vDSO: found through AT_SYSINFO_EHDR, its clocks agree with the
/// kernel's, and what it cannot serve still works (the syscall).
fn vdso(v: Variant) {
    let out = run("vdso", v, &[], b"");
    let text = out.stdout_str();
    assert!(
        text.starts_with("AT_SYSINFO_EHDR set 1\n"),
        "no vDSO natively:\n{out}"
    );
    assert!(!text.contains(" 0"), "a clock check fails natively:\n{out}");
    assert_eq!(text.lines().count(), 19, "{out}");
}

fn ids(v: Variant) {
    let out = run("ids", v, &[], b"stdin is a pipe\n");
    let text = out.stdout_str();
    assert!(text.contains("uname Linux x86_64\n"), "{text}");
    assert!(text.contains("FIONREAD ok 1 bytes 5\n"), "{text}");
    assert!(text.contains("prctl name \"pico-ids\"\n"), "{text}");
}

fn stdio_filter(v: Variant) {
    let out = run("stdio_filter", v, &[], b"");
    assert_eq!(out.stderr, b"bytes=0 lines=0 read_calls_ok=1\n");

    let out = run("stdio_filter", v, &[], b"Hello, pipe!\nsecond line\n");
    assert_eq!(out.stdout, b"HELLO, PIPE!\nSECOND LINE\n");

    // Several pipe buffers' worth, so reads and writes are split.
    let big: Vec<u8> = (0..3_000_000u32)
        .map(|i| b"abcdefghij\n"[(i % 11) as usize])
        .collect();
    let out = run("stdio_filter", v, &[], &big);
    assert_eq!(out.stdout, big.to_ascii_uppercase());
    assert_eq!(
        out.stderr_str(),
        format!(
            "bytes={} lines={} read_calls_ok=1\n",
            big.len(),
            big.len() / 11
        )
    );
}

fn tls(v: Variant) {
    let out = run("tls", v, &[], b"");
    assert!(out
        .stdout_str()
        .ends_with("arch_prctl_get 0 fs0_is_fsbase 1 self_is_pthread_self 1\n"));
}

fn avx(v: Variant) {
    let out = run("avx", v, &[], b"");
    let text = out.stdout_str();
    if text.contains("cpu has avx2 1") {
        assert!(text.contains("ymm8 survives syscall 1"), "{text}");
    }
}

/// A fixture that prints `name = value` lines (flagged "FAIL" when not what
/// Linux gives) and ends with "done": same output both ways, clean natively,
/// and containing each of `lines`.
fn io_fixture(name: &str, v: Variant, lines: &[&str]) {
    let out = run(name, v, &[], b"");
    assert_clean(&out);
    let text = out.stdout_str();
    assert!(text.ends_with("done\n"), "{name} stopped early:\n{text}");
    for line in lines {
        assert!(
            text.lines().any(|l| l == *line),
            "missing {line:?} in:\n{text}"
        );
    }
}

fn poll_select(v: Variant) {
    io_fixture(
        "poll_select",
        v,
        &[
            "  revents is POLLHUP = 16",
            "  closed fd revents is POLLNVAL = 32",
            "  bit past nfds cleared = 0",
            "  timeout left is in (0, 5 s] = 1",
            "select with a closed fd: Bad file descriptor",
            "raw pselect6 sigset size 4: Invalid argument",
        ],
    );
}

fn epoll(v: Variant) {
    io_fixture(
        "epoll",
        v,
        &[
            "wait after write: 1 [events 0x1 data 0x1122334455667788]",
            "et: again, no new data: 0",
            "oneshot: disarmed: 0",
            "oneshot: re-armed: 1 [events 0x1 data 0x5a5a]",
            "add twice: File exists",
            "mod unregistered: No such file or directory",
            "add closed fd: Bad file descriptor",
            "wait after closing q, p drained: 0",
        ],
    );
}

fn eventfd_timerfd(v: Variant) {
    io_fixture(
        "eventfd_timerfd",
        v,
        &[
            "read sums the writes = 12",
            "semaphore read 3 = 1",
            "  read blocks, then 1 expiration = 1",
            "  at least 5 expirations after 55 ms = 1",
        ],
    );
}

fn socketpair(v: Variant) {
    io_fixture(
        "socketpair",
        v,
        &[
            "  first \"abc\" second \"de\"",
            "recv MSG_PEEK: 4 \"peek\"",
            "recv after peer SHUT_WR gives 0 = 0",
            "  read through it: 21 \"through the passed fd\"",
            "  MSG_CTRUNC set = 8",
            "  type = 1",
            "  filtered datagram: 2 \"he\"",
            "send MSG_NOSIGNAL after SHUT_WR, SIGPIPE default: Broken pipe",
            "dgram send after SHUT_WR, no signal: Broken pipe",
        ],
    );
    // EPIPE on a stream socket kills with SIGPIPE; on a datagram socket not.
    for how in ["send", "sendmsg"] {
        let out = run("socketpair", v, &["sigpipe", how], b"");
        assert_eq!(out.signal(), Some(SIGPIPE), "{how}: {out}");
        assert_eq!(out.stdout_str(), "sending\n");
    }
    let out = run("socketpair", v, &["sigpipe", "dgram"], b"");
    assert_eq!(out.code(), Some(0), "{out}");
    assert_eq!(out.stdout_str(), "sending\nsurvived: Broken pipe\n");
}

/// /proc/self and /dev/fd describe the guest, not picorun.
fn procself(v: Variant) {
    common::inherit_only_stdio();
    let out = run("procself", v, &["a", "b c"], b"");
    assert_clean(&out);
    let expected = "\
exe is argv[0] 1
lstat exe is link 1
stat exe is the program 1
cmdline is argv 1
environ has PICORUN_TEST=1 1
access maps 1
maps program r-xp 1
maps stack 1
maps mmap 3 pages rw-p 1
maps after munmap 1
fd listing 0 1 2 3 4
file 3 dirfd 4
rewinddir lists again 1
fd link is the file 1
lstat fd link 1
stat fd is fstat 1
read /dev/fd/N 1
read /proc/self/fd/N 1
unused fd/N are ENOENT 1
/dev/stdin is fd 0 1
comm renamed
stat field 2 (renamed)
status has Name renamed 1
status Threads 1 1
auxv AT_PAGESZ 4096 1 AT_ENTRY 1 ends with AT_NULL 1
maps via /proc/self dirfd 1
task lists one thread 1
rewritten argv[0] shows 1
";
    assert_eq!(out.stdout_str(), expected);
}

/// Scheduling, memory locking, file odds and ends, close_range, memfd,
/// splice/tee/vmsplice, inotify and POSIX timers.
fn misc_syscalls(v: Variant) {
    let out = run_in_twins("misc_syscalls", v);
    assert_clean(&out);
    let text = out.stdout_str();
    assert!(text.ends_with("done\n"), "stopped early:\n{text}");
    for line in [
        "sched_setaffinity to the current mask = 0",
        "  cpu is in the affinity mask = 1",
        "mlock malloc'd buffer = 0",
        "  resident pages = 0",
        "  first page resident = 1",
        "  mtime ns = 250000000",
        "  size = 8192",
        "syncfs = 0",
        "  is a FIFO = 1",
        "  closed (F_GETFD EBADF) = 3",
        "  mapping shows the write = 1",
        "splice pipe to file = 11",
        "  original still there = 1",
        "vmsplice into a pipe = 8",
        "  name created.txt",
        "  at least 3 expirations = 1",
        "  si_code SI_TIMER and the value = 1",
        "timer_gettime deleted: Invalid argument",
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "missing {line:?} in:\n{text}"
        );
    }
}
