//! The library API, `picorun::Command`, against `std::process::Command`:
//! the same fixture run both ways must give the same output and status;
//! and what only a sandbox does: a `Child` owns its whole process tree,
//! killing or dropping it leaves no process behind, and the embedding
//! program is never hurt by its guest.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::time::{Duration, Instant};

use common::TempDir;
use pico_testkit::{fixture, Variant};
use picorun::{Limit, Policy, Stdio};

const VARIANTS: [Variant; 3] = [
    Variant::GlibcStatic,
    Variant::MuslStatic,
    Variant::GlibcDynamic,
];

/// The same environment for both runs, whatever the test runner has.
const ENV: &[(&str, &str)] = &[
    ("PATH", "/usr/bin:/bin"),
    ("LANG", "C"),
    ("PICORUN_TEST", "1"),
];

/// Builds a `std` and a `picorun` command with the same calls.
macro_rules! both {
    ($program:expr, |$c:ident| $body:block) => {{
        let mut native = std::process::Command::new(&$program);
        {
            let $c = &mut native;
            $c.env_clear().envs(ENV.iter().copied());
            $body
        }
        let mut pico = picorun::Command::new(&$program);
        {
            let $c = &mut pico;
            $c.env_clear().envs(ENV.iter().copied());
            $body
        }
        (native, pico)
    }};
}

fn assert_same_output(native: std::process::Output, pico: picorun::Output, what: &str) {
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    assert_eq!(text(&pico.stdout), text(&native.stdout), "{what}: stdout");
    assert_eq!(text(&pico.stderr), text(&native.stderr), "{what}: stderr");
    assert_eq!(
        pico.status.code(),
        native.status.code(),
        "{what}: exit code"
    );
    assert_eq!(
        pico.status.signal(),
        native.status.signal(),
        "{what}: signal"
    );
    assert_eq!(pico.status.limit(), None, "{what}");
}

/// Arguments, environment changes and the working directory reach the
/// program as `std` passes them.
#[test]
fn output_is_the_same_as_std() {
    let dir = TempDir::new("api-output");
    for v in VARIANTS {
        let prog = fixture("args_env", v);
        let (mut native, mut pico) = both!(prog, |c| {
            c.args(["PICORUN_TEST", "LANG", "ADDED", "GONE", "with space", ""])
                .env("ADDED", "yes")
                .env("GONE", "soon")
                .env_remove("GONE")
                .current_dir(dir.path());
        });
        let native = native.output().unwrap();
        assert!(String::from_utf8_lossy(&native.stdout).contains("env ADDED=yes\n"));
        assert_same_output(native, pico.output().unwrap(), &format!("args_env {v:?}"));
    }
}

/// Piped stdin and stdout, several pipe buffers' worth, and exit by signal.
#[test]
fn pipes_and_signals_are_the_same_as_std() {
    let input: Vec<u8> = (0..300_000u32)
        .map(|i| b"abc\n"[(i % 4) as usize])
        .collect();
    for v in VARIANTS {
        let prog = fixture("stdio_filter", v);
        let (mut native, mut pico) = both!(prog, |c| {});
        let mut native = native
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut child = pico
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut to_native = native.stdin.take().unwrap();
        let mut to_pico = child.stdin.take().unwrap();
        let data = input.clone();
        let feeder = std::thread::spawn(move || {
            to_native.write_all(&data).unwrap();
            drop(to_native);
            to_pico.write_all(&data).unwrap();
        });
        let native = native.wait_with_output().unwrap();
        let pico = child.wait_with_output().unwrap();
        feeder.join().unwrap();
        assert_eq!(pico.stdout, input.to_ascii_uppercase());
        assert_same_output(native, pico, &format!("stdio_filter {v:?}"));

        let prog = fixture("abort", v);
        let (mut native, mut pico) = both!(prog, |c| {});
        let native = native.output().unwrap();
        assert_eq!(native.status.signal(), Some(libc::SIGABRT));
        assert_same_output(native, pico.output().unwrap(), &format!("abort {v:?}"));
    }
}

/// `Stdio::from(File)`, `status()` and `Stdio::null()`.
#[test]
fn files_and_null() {
    let dir = TempDir::new("api-files");
    let out = dir.path().join("out");
    let status = picorun::Command::new(fixture("hello", Variant::MuslStatic))
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out).unwrap())
        .status()
        .unwrap();
    assert!(status.success(), "{status}");
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "hello world\n");
}

/// Spawn errors are `std`'s kinds, with picorun's reason in the message.
#[test]
fn spawn_errors() {
    let dir = TempDir::new("api-errors");
    let e = picorun::Command::new("/nonexistent/program")
        .spawn()
        .unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::NotFound, "{e}");
    let e = picorun::Command::new("no-such-program-in-path")
        .spawn()
        .unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::NotFound, "{e}");

    let text = dir.path().join("text");
    common::write_file(&text, b"just text\n", 0o755);
    let e = picorun::Command::new(&text).output().unwrap_err();
    assert!(e.to_string().contains("ELF"), "{e}");
    let private = dir.path().join("private");
    common::write_file(&private, b"\x7fELF", 0o644);
    let e = picorun::Command::new(&private).output().unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::PermissionDenied, "{e}");

    let e = picorun::Command::new("/bin/true")
        .current_dir(dir.path().join("missing"))
        .status()
        .unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::NotFound, "{e}");
}

/// Starts `policy_spin tree 3` and reads the pids it prints (the program
/// and three more processes, one in its own session, one orphaned).
fn spinning_tree(policy: Policy) -> (picorun::Child, Vec<u32>) {
    let mut child = picorun::Command::new(fixture("policy_spin", Variant::MuslStatic))
        .args(["tree", "3"])
        .stdout(Stdio::piped())
        .policy(policy)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut pids = Vec::new();
    while pids.len() < 4 {
        let line = lines.next().expect("4 pids").unwrap();
        if let Some(pid) = line.strip_prefix("pid ") {
            pids.push(pid.parse().unwrap());
        }
    }
    assert_eq!(pids[0], child.id(), "the program's pid is its own getpid()");
    (child, pids)
}

fn gone(pid: u32) -> bool {
    !Path::new(&format!("/proc/{pid}")).exists()
}

/// Waits (at most 30 s) until every pid is gone.
fn all_gone(pids: &[u32]) -> bool {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if pids.iter().all(|&p| gone(p)) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

#[test]
fn kill_ends_the_whole_tree() {
    let (mut child, pids) = spinning_tree(Policy::new());
    assert_eq!(child.try_wait().unwrap(), None);
    child.kill().unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.signal(), Some(libc::SIGKILL), "{status}");
    assert_eq!(status.limit(), None);
    // wait() returns once the tree is reaped: nothing is left.
    let left: Vec<_> = pids.iter().filter(|&&p| !gone(p)).collect();
    assert!(left.is_empty(), "still running: {left:?} of {pids:?}");
    assert_eq!(child.try_wait().unwrap(), Some(status));
    child.kill().unwrap();
}

#[test]
fn dropping_the_child_ends_the_tree() {
    let (child, pids) = spinning_tree(Policy::new());
    drop(child);
    assert!(all_gone(&pids), "processes left behind: {pids:?}");
}

/// The wall-time limit kills the tree, and what the program wrote before
/// is delivered.
#[test]
fn wall_time_ends_the_tree_and_keeps_its_output() {
    let started = Instant::now();
    let out = picorun::Command::new(fixture("policy_spin", Variant::GlibcStatic))
        .args(["tree", "2"])
        .policy(Policy::new().wall_time(Duration::from_secs(1)))
        .output()
        .unwrap();
    assert!(started.elapsed() < Duration::from_secs(30));
    assert_eq!(out.status.limit(), Some(Limit::WallTime), "{}", out.status);
    assert_eq!(out.status.signal(), Some(libc::SIGKILL));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("started\n"), "{text}");
    let pids: Vec<u32> = text
        .lines()
        .filter_map(|l| l.strip_prefix("pid ")?.parse().ok())
        .collect();
    assert!(!pids.is_empty(), "{text}");
    assert!(pids.iter().all(|&p| gone(p)), "{pids:?}");
}

#[test]
fn cpu_time_kills_with_sigxcpu() {
    let status = picorun::Command::new(fixture("policy_spin", Variant::GlibcStatic))
        .arg("spin")
        .policy(Policy::new().cpu_time(Duration::from_secs(1)))
        .status()
        .unwrap();
    assert_eq!(status.limit(), Some(Limit::CpuTime), "{status}");
    assert_eq!(status.signal(), Some(libc::SIGXCPU));
}

/// A guest signalling its process group (`kill 0`) reaches its own tree,
/// not the embedding program (this test would die), nor the supervisor:
/// after `kill -9 0` it still kills what escaped to a new session.
#[test]
fn the_guest_process_group_is_its_own() {
    let status = picorun::Command::new("/bin/sh")
        .args(["-c", "kill 0; sleep 5"])
        .status()
        .unwrap();
    assert_eq!(status.signal(), Some(libc::SIGTERM), "{status}");

    let out = picorun::Command::new("/bin/sh")
        .args(["-c", "setsid sleep 100 & echo $!; kill -9 0"])
        .output()
        .unwrap();
    assert_eq!(out.status.signal(), Some(libc::SIGKILL), "{}", out.status);
    let escaped: u32 = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
    assert!(
        gone(escaped),
        "the setsid'd sleep {escaped} was left behind"
    );
}

/// Spawning from several threads of a multi-threaded program at once.
#[test]
fn concurrent_spawns() {
    let threads: Vec<_> = (0..4)
        .map(|i| {
            std::thread::spawn(move || {
                let out = picorun::Command::new("/bin/sh")
                    .args(["-c", &format!("echo thread {i}")])
                    .output()
                    .unwrap();
                assert_eq!(out.stdout, format!("thread {i}\n").as_bytes());
                assert!(out.status.success());
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
}

/// The program inherits the descriptors `std` would pass: the standard
/// ones and any the embedding program left inheritable, not its
/// close-on-exec ones (all Rust opens).
#[test]
fn descriptors_are_inherited_as_with_std() {
    let _open = std::fs::File::open("/proc/self/stat").unwrap();
    let (mut native, mut pico) = both!("/bin/ls", |c| {
        c.arg("/proc/self/fd");
    });
    let native = native.output().unwrap();
    let pico = pico.output().unwrap();
    assert!(String::from_utf8_lossy(&native.stdout).starts_with("0\n1\n"));
    assert_same_output(native, pico, "ls /proc/self/fd");
}

/// `Command::root`, `bind` and `current_dir` inside the root, with a
/// policy: as `picorun --root DIR --ro HOST:GUEST`.
#[test]
fn root_binds_and_current_dir() {
    let dir = TempDir::new("api-root");
    let root = dir.subdir("root");
    let data = dir.subdir("data");
    std::fs::create_dir_all(root.join("bin")).unwrap();
    std::fs::create_dir_all(root.join("sub")).unwrap();
    std::fs::copy("/bin/busybox", root.join("bin/busybox")).unwrap();
    std::fs::write(data.join("f"), "bound\n").unwrap();
    let out = picorun::Command::new("busybox")
        .args(["sh", "-c", "pwd; cat /data/f; ls /; echo x > /data/g"])
        .env("PATH", "/bin")
        .root(&root)
        .bind(&data, "/data", false)
        .current_dir("/sub")
        .policy(Policy::new().no_network())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        text,
        "/sub\nbound\nbin\nsub\n",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!data.join("g").exists());
    let e = picorun::Command::new("/bin/busybox")
        .root(&root)
        .current_dir("/missing")
        .status()
        .unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::NotFound, "{e}");
}

/// The pico process confines its host process (seccomp, no_new_privs) as
/// the `picorun` command does, unless told not to.
#[test]
fn pico_processes_are_confined() {
    for (confine, expected) in [(true, "2"), (false, "0")] {
        let mut child = picorun::Command::new("/bin/sh")
            .args(["-c", "echo up; read x; true"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .confine(confine)
            .spawn()
            .unwrap();
        common::expect_first_line(child.stdout.take(), "up\n");
        let status = std::fs::read_to_string(format!("/proc/{}/status", child.id())).unwrap();
        let seccomp = status
            .lines()
            .find_map(|l| l.strip_prefix("Seccomp:"))
            .map(str::trim);
        assert_eq!(seccomp, Some(expected), "confine({confine})");
        drop(child.stdin.take());
        assert!(child.wait().unwrap().success());
    }
}
