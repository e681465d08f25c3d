//! Compares a native run with a picorun run and explains the difference.
//!
//! A bare `assert_eq!` on two byte vectors is unreadable for program output;
//! the panic here names the stream, the first differing line (lossy UTF-8)
//! and both exit statuses, which is usually enough to see the bug.

use crate::run::{describe, run_native, run_picorun, Outcome};
use std::path::Path;

/// The first line (1-based) where `a` and `b` differ, with both versions of it
/// (`None` where one side has ended). `None` if the bytes are equal.
pub fn first_difference(a: &[u8], b: &[u8]) -> Option<(usize, Option<String>, Option<String>)> {
    if a == b {
        return None;
    }
    let mut left = a.split_inclusive(|&c| c == b'\n');
    let mut right = b.split_inclusive(|&c| c == b'\n');
    let show = |line: &[u8]| format!("{:?}", String::from_utf8_lossy(line));
    for number in 1.. {
        match (left.next(), right.next()) {
            (Some(l), Some(r)) if l == r => continue,
            (l, r) => return Some((number, l.map(show), r.map(show))),
        }
    }
    unreachable!("unequal inputs have a differing line")
}

fn stream_report(name: &str, native: &[u8], pico: &[u8]) -> Option<String> {
    let (line, n, p) = first_difference(native, pico)?;
    let end = || "<end>".to_owned();
    Some(format!(
        "{name} differs at line {line} ({} vs {} bytes):\n  native:  {}\n  picorun: {}",
        native.len(),
        pico.len(),
        n.unwrap_or_else(end),
        p.unwrap_or_else(end)
    ))
}

/// Panics unless stdout, stderr and exit status (code or signal) are identical.
pub fn assert_same(native: &Outcome, pico: &Outcome, what: &str) {
    let mut problems = Vec::new();
    problems.extend(stream_report("stdout", &native.stdout, &pico.stdout));
    problems.extend(stream_report("stderr", &native.stderr, &pico.stderr));
    // Compare code/signal rather than the raw wait status: whether a core was
    // dumped depends on RLIMIT_CORE and core_pattern, not on picorun.
    if (native.code(), native.signal()) != (pico.code(), pico.signal()) {
        problems.push("exit status differs".to_owned());
    }
    if !problems.is_empty() {
        panic!(
            "{what}: picorun differs from native\n{}\n  native status:  {}\n  picorun status: {}\n\
             --- picorun stderr ---\n{}",
            problems.join("\n"),
            describe(native.status),
            describe(pico.status),
            pico.stderr_str()
        );
    }
}

/// Runs `prog` natively and under picorun with the same inputs and asserts
/// the two outcomes are the same. Returns the (shared) outcome.
pub fn diff(
    picorun: &Path,
    prog: &Path,
    args: &[&str],
    stdin: &[u8],
    cwd: Option<&Path>,
) -> Outcome {
    let native = run_native(prog, args, stdin, cwd);
    let pico = run_picorun(picorun, prog, args, stdin, cwd);
    let name = prog
        .file_name()
        .unwrap_or(prog.as_os_str())
        .to_string_lossy();
    assert_same(&native, &pico, &format!("{name} {}", args.join(" ")));
    pico
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::ExitStatusExt;
    use std::process::ExitStatus;

    fn outcome(stdout: &str, stderr: &str, raw_status: i32) -> Outcome {
        Outcome {
            stdout: stdout.into(),
            stderr: stderr.into(),
            status: ExitStatus::from_raw(raw_status),
        }
    }

    #[test]
    fn equal_outcomes_pass() {
        let a = outcome("x\ny\n", "e", 0);
        assert_same(&a, &a.clone(), "same");
    }

    #[test]
    fn core_dump_flag_is_not_a_difference() {
        assert_same(&outcome("", "", 11), &outcome("", "", 11 | 0x80), "segv");
    }

    #[test]
    #[should_panic(expected = "stdout differs at line 2")]
    fn differing_stdout_is_caught() {
        assert_same(&outcome("a\nb\n", "", 0), &outcome("a\nc\n", "", 0), "t");
    }

    #[test]
    #[should_panic(expected = "stderr differs at line 1")]
    fn differing_stderr_is_caught() {
        assert_same(&outcome("", "", 0), &outcome("", "picorun: oops\n", 0), "t");
    }

    #[test]
    #[should_panic(expected = "exit status differs")]
    fn differing_exit_code_is_caught() {
        assert_same(&outcome("", "", 1 << 8), &outcome("", "", 2 << 8), "t");
    }

    #[test]
    #[should_panic(expected = "killed by signal 11 (SIGSEGV)")]
    fn signal_versus_code_is_caught() {
        assert_same(&outcome("", "", 11), &outcome("", "", 139 << 8), "t");
    }

    #[test]
    fn first_difference_finds_the_line() {
        assert_eq!(first_difference(b"a\nb", b"a\nb"), None);
        assert_eq!(
            first_difference(b"a\nb\n", b"a\n"),
            Some((2, Some("\"b\\n\"".into()), None))
        );
        // A missing final newline is a difference on that line.
        assert_eq!(
            first_difference(b"a\n", b"a"),
            Some((1, Some("\"a\\n\"".into()), Some("\"a\"".into())))
        );
    }
}
