//! The syscall storm (`tests/fixtures/storm.c`): over a million random
//! syscalls with random arguments — every number of the table and past it,
//! wild pointers, huge lengths, bad descriptors, self-signals, forks — must
//! leave picorun standing: no panic, no crash, no hang, no leaked host
//! process, thread or descriptor; only errnos and signals for the program.
//! And the regressions it found, each checked against a native run.

mod common;

use common::{picorun, TempDir};
use pico_testkit::{command, diff, fixture, run, run_native, Outcome, Variant};
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Storm processes run side by side: seed, iterations, picorun options,
/// storm options. Over 1,000,000 syscalls in all (each iteration is one
/// random syscall; set-up, clean-up and the forks add their own on top).
/// One runs with `--exitless`; one with a second thread that keeps
/// remapping the arena under the syscalls ("churn").
const RUNS: &[(u64, u64, &[&str], &[&str])] = &[
    (1, 125_000, &[], &[]),
    (2, 125_000, &[], &[]),
    (3, 125_000, &[], &[]),
    (4, 125_000, &[], &[]),
    (5, 125_000, &[], &[]),
    (6, 125_000, &[], &[]),
    (7, 125_000, &[], &["churn"]),
    (8, 125_000, &["--exitless"], &[]),
];

/// Seeds for the native sanity runs (and their checksum twins under picorun).
const NATIVE_SEEDS: &[u64] = &[11, 12];
const NATIVE_ITERATIONS: u64 = 40_000;

/// How long one storm process may take under picorun before it counts as hung.
const STORM_TIMEOUT: Duration = Duration::from_secs(300);

fn storm() -> PathBuf {
    fixture("storm", Variant::GlibcStatic)
}

/// The summary line starting with `key ` (e.g. "checksum 0123…").
fn summary<'a>(out: &'a str, key: &str) -> Option<&'a str> {
    out.lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(' '))
}

/// Number after `name ` in the storm's "calls … ok … errors …" line.
fn count(out: &str, name: &str) -> u64 {
    let line = out
        .lines()
        .find(|l| l.starts_with("calls "))
        .unwrap_or_else(|| panic!("no counts line in:\n{out}"));
    let words: Vec<&str> = line.split_whitespace().collect();
    words
        .windows(2)
        .find(|w| w[0] == name)
        .and_then(|w| w[1].parse().ok())
        .unwrap_or_else(|| panic!("no {name} in {line:?}"))
}

/// What the storm's run must not have printed on stderr: picorun's own
/// failures, a Rust panic, or the storm's reports of impossible results.
fn assert_clean_stderr(what: &str, stderr: &str) {
    for bad in [
        "panicked",
        "RUST_BACKTRACE",
        "picorun:",
        "[ERROR",
        "storm: bad",
        "storm: FATAL",
        "storm: fork variant",
    ] {
        assert!(
            !stderr.contains(bad),
            "{what}: stderr has {bad:?}:\n{stderr}"
        );
    }
}

/// The storm fixture itself is sane: natively it survives its own storm and
/// finds nothing impossible, and under picorun the same seed makes the same
/// calls (the checksum is over the calls made, not their results).
#[test]
fn storm_is_sane_natively() {
    let prog = storm();
    for &seed in NATIVE_SEEDS {
        let args = [seed.to_string(), NATIVE_ITERATIONS.to_string()];
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let native_dir = TempDir::new("storm-native");
        let native = run_native(&prog, &args, b"", Some(native_dir.path()));
        let text = native.stdout_str();
        assert_eq!(native.code(), Some(0), "native storm {seed}:\n{native}");
        assert_eq!(summary(&text, "bad"), Some("0"), "{native}");
        assert_eq!(count(&text, "calls"), NATIVE_ITERATIONS, "{native}");
        assert_clean_stderr("native storm", &native.stderr_str());
        // The native run really exercised things: successes, failures,
        // signals delivered to handlers, and children.
        for name in ["ok", "errors", "signals", "forks"] {
            assert!(
                count(&text, name) > 0,
                "native storm {seed}: no {name}:\n{text}"
            );
        }

        let pico_dir = TempDir::new("storm-twin");
        let mut cmd = command(picorun());
        cmd.arg("--")
            .arg(&prog)
            .args(&args)
            .current_dir(pico_dir.path());
        let pico = run(&mut cmd, b"", STORM_TIMEOUT).expect("picorun storm runs");
        assert_eq!(pico.code(), Some(0), "picorun storm {seed}:\n{pico}");
        assert_clean_stderr("picorun storm", &pico.stderr_str());
        assert_eq!(
            summary(&text, "checksum"),
            summary(&pico.stdout_str(), "checksum"),
            "the same seed must make the same calls natively and under picorun"
        );
    }
}

/// picorun's host threads, and its host descriptors beyond the ones its
/// guest holds (the guest's count is the storm's own), from /proc.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Footprint {
    threads: usize,
    own_fds: isize,
}

fn footprint(pid: u32, guest_fds: isize) -> Footprint {
    let entries = |dir: String| {
        std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("cannot list {dir}: {e}"))
            .count()
    };
    Footprint {
        threads: entries(format!("/proc/{pid}/task")),
        own_fds: entries(format!("/proc/{pid}/fd")) as isize - guest_fds,
    }
}

/// The "storm: open descriptors N" line that follows a handshake marker.
fn guest_fds(rx: &mpsc::Receiver<String>, stdout: &mut String, label: &str) -> isize {
    let line = rx
        .recv_timeout(STORM_TIMEOUT)
        .unwrap_or_else(|e| panic!("{label}: no descriptor count ({e:?})"));
    stdout.push_str(&line);
    stdout.push('\n');
    line.strip_prefix("storm: open descriptors ")
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{label}: not a descriptor count: {line:?}"))
}

/// Processes whose process group is `pgid` (the storm's picorun leads its own).
/// Members of process group `pgid` that are still there once picorun's
/// teardown processes (`pico-teardown`, see pico_driver::retire) have had
/// up to five seconds to finish: a teardown process that has exited and
/// waits only for init to reap it does not count; one still running then
/// does, as does any other member.
fn left_in_group(pgid: u32) -> Vec<u32> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let left: Vec<u32> = group_members(pgid)
            .into_iter()
            .filter(|&pid| !finished_teardown(pid))
            .collect();
        if left.is_empty() || Instant::now() > deadline {
            return left;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Whether `pid` is a teardown process that has exited (a zombie).
fn finished_teardown(pid: u32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return true;
    };
    let Some((head, rest)) = stat.rsplit_once(')') else {
        return false;
    };
    head.ends_with("(pico-teardown") && rest.split_whitespace().next() == Some("Z")
}

fn group_members(pgid: u32) -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| {
            std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .ok()
                .and_then(|stat| {
                    // pid (comm) state ppid pgrp …; comm may hold spaces.
                    let rest = stat.rsplit_once(')')?.1;
                    rest.split_whitespace().nth(2)?.parse::<u32>().ok()
                })
                == Some(pgid)
        })
        .collect()
}

struct StormRun {
    label: String,
    stdout: String,
    stderr: String,
    outcome: std::process::ExitStatus,
    baseline: Footprint,
    finale: Footprint,
    pid: u32,
}

/// Kills the process group of a child still running when the test fails.
struct Reaper(Option<Child>);

impl Drop for Reaper {
    fn drop(&mut self) {
        if let Some(child) = &mut self.0 {
            let _ = std::process::Command::new("kill")
                .arg("-KILL")
                .arg(format!("-{}", child.id()))
                .status();
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Runs one storm under picorun with the handshake: the storm stops after
/// setting up and after its final clean-up, and picorun's footprint is
/// taken at both points.
fn storm_under_picorun(
    seed: u64,
    iterations: u64,
    options: &[&str],
    storm_options: &[&str],
    dir: &Path,
) -> StormRun {
    use std::os::unix::process::CommandExt;
    let label = format!("storm {seed} {iterations} {options:?} {storm_options:?}");
    let mut cmd = command(picorun());
    cmd.args(options)
        .arg("--")
        .arg(storm())
        .arg(seed.to_string())
        .arg(iterations.to_string())
        .arg("handshake")
        .args(storm_options)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("{label}: cannot start: {e}"));
    let pid = child.id();
    let mut stderr_pipe = child.stderr.take().expect("stderr is piped");
    let stderr_thread = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr_pipe.read_to_string(&mut s);
        s
    });
    let stdout_pipe = child.stdout.take().expect("stdout is piped");
    let mut reaper = Reaper(Some(child));
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout_pipe).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + STORM_TIMEOUT;
    let mut stdout = String::new();
    let wait_for = |marker: &str, stdout: &mut String| loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) => {
                stdout.push_str(&line);
                stdout.push('\n');
                if line == marker {
                    return;
                }
            }
            Err(e) => panic!("{label}: no {marker:?} ({e:?}); stdout so far:\n{stdout}"),
        }
    };
    wait_for("storm: baseline", &mut stdout);
    let baseline = footprint(pid, guest_fds(&rx, &mut stdout, &label));
    std::fs::write(dir.join("go1"), b"").expect("write go1");
    wait_for("storm: final", &mut stdout);
    let finale = footprint(pid, guest_fds(&rx, &mut stdout, &label));
    std::fs::write(dir.join("go2"), b"").expect("write go2");
    while let Ok(line) = rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
        stdout.push_str(&line);
        stdout.push('\n');
    }
    let mut child = reaper.0.take().expect("the child");
    let outcome = loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            break status;
        }
        if Instant::now() > deadline {
            reaper.0 = Some(child);
            panic!("{label}: still running after {STORM_TIMEOUT:?}\n{stdout}");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let stderr = stderr_thread.join().unwrap_or_default();
    StormRun {
        label,
        stdout,
        stderr,
        outcome,
        baseline,
        finale,
        pid,
    }
}

/// Over a million random syscalls under picorun, in parallel processes.
#[test]
fn picorun_survives_the_storm() {
    let started = Instant::now();
    let dirs: Vec<TempDir> = RUNS.iter().map(|_| TempDir::new("storm")).collect();
    let runs: Vec<StormRun> = std::thread::scope(|scope| {
        let handles: Vec<_> = RUNS
            .iter()
            .zip(&dirs)
            .map(|(&(seed, iterations, options, storm_options), dir)| {
                scope.spawn(move || {
                    storm_under_picorun(seed, iterations, options, storm_options, dir.path())
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    });
    let mut total = 0;
    for r in &runs {
        let what = &r.label;
        assert!(
            r.outcome.success(),
            "{what}: {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            r.outcome,
            r.stdout,
            r.stderr
        );
        assert_clean_stderr(what, &r.stderr);
        assert_eq!(
            summary(&r.stdout, "bad"),
            Some("0"),
            "{what}:\n{}",
            r.stdout
        );
        total += count(&r.stdout, "calls");
        assert!(
            count(&r.stdout, "signals") > 0,
            "{what}: no signal delivered"
        );
        assert!(count(&r.stdout, "forks") > 0, "{what}: no fork");
        // After the final clean-up the program holds what it held after
        // set-up: picorun must too — no host thread of an exited guest
        // thread or child left running, no descriptor left behind.
        // Allowed on top, made once on first need: the thread that
        // retires forked children's VMs and its socket pair, and the main
        // thread's copy pipe (see pico-vm's memory.rs). A leak per call,
        // fork or thread would exceed this by far.
        const LAZY_THREADS: usize = 1;
        const LAZY_FDS: isize = 6;
        assert!(
            r.finale.threads <= r.baseline.threads + LAZY_THREADS
                && r.finale.own_fds <= r.baseline.own_fds + LAZY_FDS,
            "{what}: picorun's footprint grew from {:?} to {:?}",
            r.baseline,
            r.finale
        );
        let left = left_in_group(r.pid);
        assert!(
            left.is_empty(),
            "{what}: processes left in its group: {left:?}"
        );
        eprintln!(
            "{what}: {} calls; picorun {:?} after set-up, {:?} at the end",
            count(&r.stdout, "calls"),
            r.baseline,
            r.finale
        );
    }
    assert!(total >= 1_000_000, "only {total} syscalls");
    eprintln!(
        "storm: {total} random syscalls in {} picorun processes in {:.1?}",
        runs.len(),
        started.elapsed()
    );
}

/// `--trace` formats every argument of every call, reading guest memory
/// behind wild pointers: it must survive the storm too.
#[test]
fn trace_survives_the_storm() {
    let dir = TempDir::new("storm-trace");
    let mut cmd = command(picorun());
    cmd.arg("--trace")
        .arg("--")
        .arg(storm())
        .arg("31")
        .arg("20000")
        .current_dir(dir.path());
    let out: Outcome = run(&mut cmd, b"", STORM_TIMEOUT).expect("picorun --trace storm runs");
    let err = out.stderr_str();
    assert_eq!(out.code(), Some(0), "{}", out.stdout_str());
    assert_eq!(summary(&out.stdout_str(), "bad"), Some("0"));
    for bad in [
        "panicked",
        "RUST_BACKTRACE",
        "picorun:",
        "storm: bad",
        "storm: FATAL",
    ] {
        assert!(!err.contains(bad), "--trace stderr has {bad:?}");
    }
    assert!(err.lines().count() > 20_000, "too few trace lines");
}

/// What the storm found, each checked against Linux (see the fixture).
#[test]
fn storm_regressions() {
    let dir = TempDir::new("storm-regress");
    let out = diff(
        picorun(),
        &fixture("storm_regress", Variant::GlibcStatic),
        &[],
        b"",
        Some(dir.path()),
    );
    let text = out.stdout_str();
    assert_eq!(out.code(), Some(0), "{out}");
    for expected in [
        "stat(path past EOF) = -14",
        "stat(path in a shrunk memfd) = -14",
        "uname(into grown shared anon) = -14",
        "kill(0, Segmentation fault): handler ran 1 time(s), si_code 0",
        "kill(0, Floating point exception): handler ran 1 time(s), si_code 0",
        "child sent SIGSEGV: exited 0",
        "kill(0 and -pgrp, SIGPIPE): handler ran 2 time(s)",
        "RLIMIT_AS: fork ok, child status 0",
        "getrlimit(RLIMIT_STACK) = as set",
        "RLIMIT_NOFILE 12: last descriptor 11, then Too many open files",
        "RLIMIT_NOFILE: fork ok, child status 0",
        "setrlimit(RLIMIT_FSIZE, 100) = 0; fork ok, child status 0",
        "exit with a robust list at the top: status 3",
        "child using MADV_DONTFORK memory: status 0",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
    assert!(
        text.contains("after dropping root: fork ok, status 7") || text.contains("(not root)"),
        "{text}"
    );
}
