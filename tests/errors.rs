//! picorun's own failures: programs that cannot be run must give the shell's
//! conventional status (127 not found, 126 found but not runnable) and one
//! `picorun: ` line on stderr, and no input, however malformed, may make
//! picorun panic.

mod common;

use common::{picorun, write_file, TempDir};
use pico_testkit::{
    assert_same, command, fixture, run, run_native, run_picorun, Outcome, RunError, Variant,
    TIMEOUT,
};
use std::path::Path;
use std::time::Duration;

/// `picorun ARGS…` (no implicit `--`) with the test environment.
fn picorun_with(args: &[&str], cwd: &Path) -> Outcome {
    let mut cmd = command(picorun());
    cmd.args(args).current_dir(cwd);
    match run(&mut cmd, b"", TIMEOUT) {
        Ok(out) => out,
        Err(e) => panic!("picorun {args:?}: {e:?}"),
    }
}

/// Exit status `code` and exactly one stderr line, starting `picorun: `.
fn assert_refused(out: &Outcome, code: i32, what: &str) {
    let err = out.stderr_str();
    assert_eq!(out.code(), Some(code), "{what}: {out}");
    assert!(
        err.starts_with("picorun: ") && err.ends_with('\n'),
        "{what}: stderr {err:?}"
    );
    assert_eq!(err.lines().count(), 1, "{what}: stderr {err:?}");
    assert_eq!(out.stdout, b"", "{what}");
}

fn hello_bytes() -> Vec<u8> {
    std::fs::read(fixture("hello", Variant::GlibcStatic)).unwrap()
}

/// A copy of the hello fixture with `edit` applied, executable, in `dir`.
fn doctored(dir: &Path, name: &str, edit: impl FnOnce(&mut Vec<u8>)) -> String {
    let mut bytes = hello_bytes();
    edit(&mut bytes);
    let path = dir.join(name);
    write_file(&path, &bytes, 0o755);
    path.to_str().unwrap().to_owned()
}

#[test]
fn missing_path_is_127() {
    let dir = TempDir::new("err-missing");
    let out = picorun_with(&["/nonexistent/prog"], dir.path());
    assert_eq!(out.code(), Some(127), "{out}");
    assert_eq!(out.stderr_str(), "picorun: /nonexistent/prog: not found\n");
}

#[test]
fn missing_in_path_is_127() {
    let dir = TempDir::new("err-pathlookup");
    let out = picorun_with(&["no-such-program-xyz"], dir.path());
    assert_refused(&out, 127, "PATH lookup");
    assert!(
        out.stderr_str()
            .starts_with("picorun: no-such-program-xyz: "),
        "{out}"
    );
}

/// A bare name is looked up in PATH, like execvp.
#[test]
fn path_lookup_finds_programs() {
    let dir = TempDir::new("err-pathfound");
    let prog = fixture("hello", Variant::GlibcStatic);
    let mut cmd = command(picorun());
    let path = format!(
        "/nonexistent:{}:/usr/bin:/bin",
        prog.parent().unwrap().display()
    );
    cmd.env("PATH", path).current_dir(dir.path());
    cmd.arg(prog.file_name().unwrap());
    let out = run(&mut cmd, b"", TIMEOUT).expect("picorun runs");
    assert_eq!(out.stdout, b"hello world\n", "{out}");
    assert_eq!(out.code(), Some(0));
}

#[test]
fn text_file_is_126() {
    let dir = TempDir::new("err-text");
    let path = dir.path().join("notes.txt");
    write_file(&path, b"just some text\nno interpreter line\n", 0o755);
    let out = picorun_with(&["--", path.to_str().unwrap()], dir.path());
    assert_refused(&out, 126, "text file");
}

#[test]
fn not_executable_is_126() {
    let dir = TempDir::new("err-noexec");
    let path = dir.path().join("hello");
    write_file(&path, &hello_bytes(), 0o644);
    assert_refused(
        &picorun_with(&[path.to_str().unwrap()], dir.path()),
        126,
        "mode 644",
    );
    assert_refused(
        &picorun_with(&[dir.path().to_str().unwrap()], dir.path()),
        126,
        "a directory",
    );
}

/// `#!` scripts are run like the kernel's binfmt_script does.
#[test]
fn shebang_script_runs_like_native() {
    let dir = TempDir::new("err-shebang");
    let path = dir.path().join("script");
    write_file(
        &path,
        b"#!/bin/busybox sh\necho \"script $# $1\"\nexit 5\n",
        0o755,
    );
    let native = run_native(&path, &["arg"], b"", Some(dir.path()));
    let pico = run_picorun(picorun(), &path, &["arg"], b"", Some(dir.path()));
    assert_eq!(native.stdout, b"script 1 arg\n", "{native}");
    assert_same(&native, &pico, "#! script");
}

#[test]
fn elf32_is_126() {
    let dir = TempDir::new("err-elf32");
    let path = doctored(dir.path(), "elf32", |b| b[4] = 1); // EI_CLASS = ELFCLASS32
    assert_refused(&picorun_with(&[&path], dir.path()), 126, "32-bit ELF");
}

#[test]
fn wrong_machine_is_126() {
    let dir = TempDir::new("err-machine");
    let path = doctored(dir.path(), "aarch64", |b| {
        b[18..20].copy_from_slice(&183u16.to_le_bytes())
    });
    assert_refused(
        &picorun_with(&[&path], dir.path()),
        126,
        "e_machine = EM_AARCH64",
    );
}

#[test]
fn truncated_elf_is_126() {
    let dir = TempDir::new("err-truncated");
    for len in [100, 1000] {
        let path = doctored(dir.path(), &format!("first{len}"), |b| b.truncate(len));
        assert_refused(
            &picorun_with(&[&path], dir.path()),
            126,
            &format!("first {len} bytes"),
        );
    }
    let path = doctored(dir.path(), "empty", Vec::clear);
    assert_refused(&picorun_with(&[&path], dir.path()), 126, "empty file");
}

/// Deterministic xorshift64, so a failing mutant can be reproduced by its index.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// Header fields both the kernel and picorun must reject: magic, class,
/// data encoding, e_type not EXEC/DYN, e_machine, e_phentsize.
fn header_broken(b: &[u8]) -> bool {
    let u16_at = |at: usize| u16::from_le_bytes([b[at], b[at + 1]]);
    &b[..4] != b"\x7fELF"
        || b[4] != 2
        || b[5] != 1
        || !matches!(u16_at(16), 2 | 3)
        || u16_at(18) != 62
        || u16_at(54) != 56
}

/// 200 copies of hello with 1–8 random bytes changed in the first 4 KiB
/// (headers, program headers, notes, IRELATIVE relocations). Whatever each
/// does, picorun must not panic, and must refuse broken headers with 126.
#[test]
fn mutated_elves_never_panic() {
    let dir = TempDir::new("err-mutants");
    let original = hello_bytes();
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    let mut broken = 0;
    for i in 0..200 {
        let mut bytes = original.clone();
        for _ in 0..1 + rng.next() % 8 {
            let at = (rng.next() % 4096) as usize;
            bytes[at] = rng.next() as u8;
        }
        let path = dir.path().join(format!("mutant-{i:03}"));
        write_file(&path, &bytes, 0o755);
        let what = format!("mutant {i} ({})", path.display());

        let mut cmd = command(picorun());
        cmd.arg("--").arg(&path).current_dir(dir.path());
        let out = match run(&mut cmd, b"", Duration::from_secs(20)) {
            Ok(out) => out,
            Err(RunError::TimedOut { .. }) => {
                assert_hangs_natively(&path, dir.path(), &what);
                continue;
            }
            Err(e) => panic!("{what}: {e:?}"),
        };
        let err = out.stderr_str();
        assert!(
            !err.contains("panicked") && !err.contains("RUST_BACKTRACE"),
            "{what}: {out}"
        );
        assert!(
            out.code().is_some() || out.signal().is_some(),
            "{what}: {out}"
        );
        assert_ne!(
            out.code(),
            Some(101),
            "{what}: exit 101 is a Rust panic: {out}"
        );
        if header_broken(&bytes) {
            broken += 1;
            assert_refused(&out, 126, &what);
        }
    }
    assert!(broken > 0, "the corpus should include broken headers");
}

/// A mutant that hangs under picorun is only acceptable if it hangs natively too.
fn assert_hangs_natively(path: &Path, cwd: &Path, what: &str) {
    let mut cmd = command(path);
    cmd.current_dir(cwd);
    match run(&mut cmd, b"", Duration::from_secs(20)) {
        Err(RunError::TimedOut { .. }) => {}
        other => panic!("{what}: hangs under picorun but not natively: {other:?}"),
    }
}

/// Dynamically linked programs: until picorun loads interpreters, a clear
/// one-line refusal (126, naming the interpreter or dynamic linking); once it
/// does, the same result as native.
#[test]
fn dynamic_program_is_refused_clearly_or_runs() {
    let dir = TempDir::new("err-dynamic");
    let prog = Path::new("/bin/true");
    let native = run_native(prog, &[], b"", Some(dir.path()));
    let pico = run_picorun(picorun(), prog, &[], b"", Some(dir.path()));
    if pico.code() == Some(126) {
        assert_refused(&pico, 126, "dynamic /bin/true");
        let err = pico.stderr_str().to_lowercase();
        assert!(
            err.contains("interpreter") || err.contains("dynamic"),
            "{err:?}"
        );
    } else {
        assert_same(&native, &pico, "dynamic /bin/true");
    }
}
