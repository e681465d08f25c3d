//! Libc-free fixtures (`raw_*.c`, built with -nostdlib): they see exactly the
//! initial stack picorun builds and issue bare system calls, so these tests
//! pin down the ABI edges that libc start-up code would hide or paper over.

mod common;

use common::{picorun, TempDir};
use pico_testkit::{diff, fixture, Outcome, Variant};

fn run(name: &str, args: &[&str]) -> Outcome {
    let dir = TempDir::new(name);
    diff(
        picorun(),
        &fixture(name, Variant::NoLibc),
        args,
        b"",
        Some(dir.path()),
    )
}

/// Every step of a `report()`-style fixture passed.
fn assert_all_ok(out: &Outcome) {
    let text = out.stdout_str();
    assert_eq!(out.code(), Some(0), "{out}");
    assert!(
        !text.is_empty() && text.lines().all(|l| l.starts_with("ok ")),
        "{text}"
    );
}

#[test]
fn raw_hello() {
    let out = run("raw_hello", &[]);
    assert_eq!(out.stdout, b"hello raw\n");
    assert_eq!(out.stderr, b"");
    assert_eq!(out.code(), Some(0));
}

#[test]
fn raw_exit() {
    let out = run("raw_exit", &[]);
    assert_eq!(out.stdout, b"");
    assert_eq!(out.code(), Some(7));
}

#[test]
fn raw_args() {
    let out = run("raw_args", &["one", "two words", "", "--", "-v"]);
    let text = out.stdout_str();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "stack aligned 1", "{text}");
    assert_eq!(lines[1], "argc 6");
    assert_eq!(lines[3..8], ["one", "two words", "", "--", "-v"]);
    for expected in [
        "argv NULL-terminated 1",
        "PICORUN_TEST=1 present 1",
        "pagesz ok",
        "AT_ENTRY is _start 1",
        "AT_EXECFN is argv[0] 1",
        "AT_RANDOM present 1",
    ] {
        assert!(
            lines.contains(&expected),
            "missing {expected:?} in:\n{text}"
        );
    }
}

#[test]
fn raw_brk() {
    assert_all_ok(&run("raw_brk", &[]));
}

#[test]
fn raw_mmap() {
    assert_all_ok(&run("raw_mmap", &[]));
}

#[test]
fn raw_enosys() {
    let out = run("raw_enosys", &[]);
    let text = out.stdout_str();
    assert!(text.ends_with("still running\n"), "{text}");
    assert_eq!(text.matches(" -> ENOSYS\n").count(), 8, "{text}");
    assert!(
        text.contains("getpid with high bits: getpid\nwrite with high bits\n"),
        "{text}"
    );
}

#[test]
fn raw_efault() {
    let out = run("raw_efault", &[]);
    let text = out.stdout_str();
    assert_eq!(text.matches(" = -14\n").count(), 7, "{text}");
    assert!(text.ends_with("after the faults = 5\nhello\n"), "{text}");
}
