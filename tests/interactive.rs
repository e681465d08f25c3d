//! `picorun bash` under a terminal: a pty (from `script`, util-linux)
//! gives bash a controlling terminal, so job control, line editing and
//! Ctrl-C behave as they do for a user. Input is typed with pauses, like a
//! person would, and the screen output is checked.

mod common;

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::picorun;

/// Types `keys` into `picorun bash -i` on a fresh pty, pausing between
/// chunks, and returns everything the terminal showed.
fn session(keys: &[(&[u8], u64)]) -> String {
    session_with("", keys)
}

/// [`session`] with picorun options `flags`.
fn session_with(flags: &str, keys: &[(&[u8], u64)]) -> String {
    let inner = format!(
        "{} {flags} /bin/bash --norc --noprofile -i",
        picorun().display()
    );
    let mut child = Command::new("script")
        .args(["-q", "-e", "-c", &inner, "/dev/null"])
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("TERM", "dumb")
        .env("PS1", "PROMPT> ")
        .env("HOME", "/root")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("`script` from util-linux (bsdutils) is needed: apt-get install bsdutils");
    let mut stdin = child.stdin.take().expect("piped");
    let mut stdout = child.stdout.take().expect("piped");
    let reader = std::thread::spawn(move || {
        let mut out = Vec::new();
        let _ = stdout.read_to_end(&mut out);
        out
    });
    std::thread::sleep(Duration::from_millis(1500));
    for (bytes, pause_ms) in keys {
        stdin.write_all(bytes).expect("typing");
        stdin.flush().expect("typing");
        std::thread::sleep(Duration::from_millis(*pause_ms));
    }
    drop(stdin);
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().expect("wait").is_none() {
        assert!(Instant::now() < deadline, "bash did not exit");
        std::thread::sleep(Duration::from_millis(50));
    }
    String::from_utf8_lossy(&reader.join().expect("reader")).replace('\r', "")
}

#[test]
fn interactive_bash_pipeline_ctrl_c_and_exit() {
    pipeline_ctrl_c_and_exit("");
}

/// The same under a sandbox policy: bash runs supervised in a process
/// group of its own, which gets the terminal.
#[test]
fn sandboxed_interactive_bash_pipeline_ctrl_c_and_exit() {
    pipeline_ctrl_c_and_exit("--no-network --wall-time 120");
}

fn pipeline_ctrl_c_and_exit(flags: &str) {
    let screen = session_with(
        flags,
        &[
            (b"echo one two | tr a-z A-Z\n", 800),
            (b"sleep 30\n", 3000),
            (b"\x03", 800),
            (b"echo status=$?\n", 800),
            (b"exit\n", 800),
        ],
    );
    assert!(
        screen.contains("ONE TWO\n"),
        "pipeline output missing:\n{screen}"
    );
    assert!(
        screen.contains("status=130"),
        "Ctrl-C did not interrupt sleep (130):\n{screen}"
    );
    assert!(screen.contains("PROMPT> "), "no prompt:\n{screen}");
    assert!(!screen.contains("Stopped"), "a job stopped:\n{screen}");
}

#[test]
fn interactive_bash_line_editing() {
    // Type "echo abX", erase X with backspace, then complete the word.
    let screen = session(&[(b"echo abX\x7fc-edited\n", 800), (b"exit\n", 800)]);
    assert!(
        screen.contains("\nabc-edited\n"),
        "line editing failed:\n{screen}"
    );
}
