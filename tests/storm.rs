//! Regressions found by the syscall storm, each checked against Linux.

mod common;

use common::{picorun, TempDir};
use pico_testkit::{diff, fixture, Variant};

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
        "RLIMIT_AS: fork ok, child status 0",
        "getrlimit(RLIMIT_STACK) = as set",
        "setrlimit(RLIMIT_FSIZE, 100) = 0; fork ok, child status 0",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
    assert!(
        text.contains("after dropping root: fork ok, status 7") || text.contains("(not root)"),
        "{text}"
    );
}
