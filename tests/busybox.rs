//! Real-world binaries: busybox applets (Debian's busybox-static), each run
//! natively and under picorun on the same inputs. Read-only applets share one
//! input directory; applets that change files run in twin directories that
//! start identical, and the resulting trees are compared too.

mod common;

use common::{picorun, write_file, TempDir};
use pico_testkit::{assert_same, diff, run_native, run_picorun, Outcome};
use std::path::Path;
use std::time::{Duration, SystemTime};

const BUSYBOX: &str = "/bin/busybox";

/// `/bin/busybox`, checked to exist and to be statically linked.
fn busybox() -> &'static Path {
    let path = Path::new(BUSYBOX);
    let bytes = std::fs::read(path)
        .unwrap_or_else(|e| panic!("{BUSYBOX}: {e}: install the Debian package `busybox-static`"));
    assert!(
        !has_interpreter(&bytes),
        "{BUSYBOX} is dynamically linked: install the Debian package `busybox-static`"
    );
    path
}

/// Whether an ELF64 little-endian file has a PT_INTERP program header.
fn has_interpreter(elf: &[u8]) -> bool {
    let num = |at: usize, len: usize| -> usize {
        elf.get(at..at + len).map_or(0, |b| {
            b.iter().rev().fold(0, |acc, &x| acc << 8 | usize::from(x))
        })
    };
    let (phoff, phentsize, phnum) = (num(32, 8), num(54, 2), num(56, 2));
    (0..phnum).any(|i| num(phoff + i * phentsize, 4) == 3)
}

/// Lines for sort/uniq/head/tail: duplicates, unsorted, a few hundred KiB.
fn big_text() -> Vec<u8> {
    let mut out = Vec::new();
    let mut x: u32 = 7;
    for i in 0..20_000 {
        x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        out.extend(
            format!(
                "line {:05} value {} word{}\n",
                (x >> 16) % 5000,
                i % 97,
                x % 13
            )
            .bytes(),
        );
    }
    out
}

/// The shared read-only inputs.
fn inputs(dir: &Path) {
    write_file(
        &dir.join("lines.txt"),
        b"pear\napple\nbanana\napple\ncherry\nbanana\napple\n",
        0o644,
    );
    write_file(&dir.join("nums.txt"), b"10\n2\n33\n-4\n2\n", 0o644);
    write_file(
        &dir.join("table.csv"),
        b"name,qty,price\nbolt,10,0.25\nnut,25,0.10\nwasher,7,0.05\n",
        0o644,
    );
    let data: Vec<u8> = (0..10_000u32).map(|i| (i * 31 % 256) as u8).collect();
    write_file(&dir.join("data.bin"), &data, 0o644);
    write_file(&dir.join("big.txt"), &big_text(), 0o644);
    std::fs::create_dir_all(dir.join("sub/dir")).unwrap();
    write_file(&dir.join("sub/dir/deep.txt"), b"deep\n", 0o600);
    write_file(&dir.join("sub/run.sh"), b"#!/bin/sh\necho hi\n", 0o755);
    std::os::unix::fs::symlink("dir/deep.txt", dir.join("sub/link")).unwrap();
    // Fixed times, so listings and `cp -p` agree across the twin directories.
    let when = SystemTime::UNIX_EPOCH + Duration::from_secs(1_600_000_000);
    for file in ["lines.txt", "sub/dir/deep.txt", "sub/run.sh"] {
        let f = std::fs::File::options()
            .write(true)
            .open(dir.join(file))
            .unwrap();
        f.set_modified(when).unwrap();
    }
}

/// A scratch directory holding [`inputs`].
fn input_dir(label: &str) -> TempDir {
    let dir = TempDir::new(label);
    inputs(dir.path());
    dir
}

/// `busybox ARGS…` natively and under picorun in `dir`; asserts they agree.
fn bb_any(dir: &Path, args: &[&str], stdin: &[u8]) -> Outcome {
    diff(picorun(), busybox(), args, stdin, Some(dir))
}

/// [`bb_any`] for commands that must succeed, so that two identical error
/// messages (an applet missing from this build, a typo) cannot pass as a test.
fn bb(dir: &Path, args: &[&str], stdin: &[u8]) -> Outcome {
    let out = bb_any(dir, args, stdin);
    assert_eq!(out.code(), Some(0), "busybox {}: {out}", args.join(" "));
    out
}

#[test]
fn echo() {
    let dir = TempDir::new("bb-echo");
    assert_eq!(
        bb(dir.path(), &["echo", "hello", "world"], b"").stdout,
        b"hello world\n"
    );
    bb(dir.path(), &["echo", "-n", "no newline"], b"");
    bb(dir.path(), &["echo", "-e", "tab\\there\\nnext"], b"");
}

#[test]
fn cat() {
    let dir = input_dir("bb-cat");
    let d = dir.path();
    bb(d, &["cat", "lines.txt", "data.bin"], b"");
    bb(d, &["cat", "-n", "lines.txt"], b"");
    let big = big_text();
    assert_eq!(bb(d, &["cat"], &big).stdout, big);
    bb(d, &["cat", "lines.txt", "-", "nums.txt"], b"from stdin\n");
}

#[test]
fn wc() {
    let dir = input_dir("bb-wc");
    bb(dir.path(), &["wc", "lines.txt", "big.txt", "data.bin"], b"");
    assert_eq!(
        bb(dir.path(), &["wc", "-l"], b"a\nb\nc\n")
            .stdout_str()
            .trim(),
        "3"
    );
}

#[test]
fn sort_and_uniq() {
    let dir = input_dir("bb-sort");
    let d = dir.path();
    let sorted = bb(d, &["sort", "lines.txt"], b"");
    assert_eq!(
        sorted.stdout,
        b"apple\napple\napple\nbanana\nbanana\ncherry\npear\n"
    );
    bb(d, &["sort", "-n", "-r", "nums.txt"], b"");
    bb(d, &["sort", "-u", "lines.txt"], b"");
    bb(d, &["sort", "-t", ",", "-k", "3", "-n", "table.csv"], b"");
    bb(d, &["sort", "-k", "4", "-k", "2n"], &big_text());
    let counts = bb(d, &["uniq", "-c"], &sorted.stdout);
    assert!(counts.stdout_str().contains("3 apple"), "{counts}");
    bb(d, &["uniq", "-d", "-"], &sorted.stdout);
}

#[test]
fn head_and_tail() {
    let dir = input_dir("bb-headtail");
    let d = dir.path();
    bb(d, &["head", "-n", "3", "lines.txt"], b"");
    bb(d, &["head", "-c", "100", "data.bin"], b"");
    bb(d, &["tail", "-n", "2", "lines.txt"], b"");
    bb(d, &["tail", "-c", "50", "big.txt"], b"");
    bb(d, &["tail", "-n", "+19990"], &big_text());
}

#[test]
fn tr_and_cut() {
    let dir = input_dir("bb-trcut");
    let d = dir.path();
    assert_eq!(bb(d, &["tr", "a-z", "A-Z"], b"shout\n").stdout, b"SHOUT\n");
    bb(d, &["tr", "-d", "aeiou"], &big_text());
    bb(d, &["cut", "-d", ",", "-f", "1,3", "table.csv"], b"");
    bb(d, &["cut", "-c", "2-4", "lines.txt"], b"");
}

#[test]
fn od_and_checksums() {
    let dir = input_dir("bb-sums");
    let d = dir.path();
    bb(d, &["od", "-A", "x", "-t", "x1", "-v", "data.bin"], b"");
    bb(d, &["sha256sum", "lines.txt", "data.bin", "big.txt"], b"");
    bb(d, &["md5sum", "lines.txt", "data.bin"], b"");
    bb(d, &["sha256sum"], &big_text());
    bb(d, &["md5sum", "-"], b"abc");
}

/// gzip through stdin/stdout: same compressed bytes, and picorun's gunzip restores the input.
#[test]
fn gzip_round_trip() {
    let dir = TempDir::new("bb-gzip");
    let input = big_text();
    let packed = bb(dir.path(), &["gzip", "-c"], &input);
    assert_eq!(packed.code(), Some(0), "{packed}");
    assert_eq!(
        packed.stdout.get(..2),
        Some(&[0x1f, 0x8b][..]),
        "not gzip output"
    );
    let unpacked = bb(dir.path(), &["gunzip", "-c"], &packed.stdout);
    assert_eq!(unpacked.stdout, input);
    bb_any(dir.path(), &["gunzip", "-c"], b"this is not gzip data");
}

#[test]
fn sed_and_awk() {
    let dir = input_dir("bb-sedawk");
    let d = dir.path();
    bb(d, &["sed", "-e", "s/a/A/g", "-e", "2d", "lines.txt"], b"");
    bb(d, &["sed", "-n", "/an/p"], b"banana\nplan\nkiwi\n");
    let sum = bb(
        d,
        &[
            "awk",
            "-F",
            ",",
            "NR > 1 { s += $2 * $3 } END { printf \"%.2f %d\\n\", s, NR }",
            "table.csv",
        ],
        b"",
    );
    assert_eq!(sum.stdout, b"5.35 4\n");
    bb(
        d,
        &["awk", "BEGIN { printf \"%.6f %d\\n\", 22 / 7, 2 * 2 * 2 }"],
        b"",
    );
    bb(
        d,
        &["awk", "{ n[$5]++ } END { for (k in n) print k, n[k] }"],
        &big_text(),
    );
}

#[test]
fn find_and_ls() {
    let dir = input_dir("bb-findls");
    let d = dir.path();
    bb(d, &["find", "."], b"");
    bb(d, &["find", ".", "-name", "*.txt", "-type", "f"], b"");
    bb(d, &["find", "sub", "-type", "l"], b"");
    // `ls -la .` would list `..`, the shared scratch dir, which other tests change.
    bb(d, &["ls", "-la", "--color=never", "sub"], b"");
    bb(d, &["ls", "-lAR", "sub"], b"");
    bb(d, &["ls", "-1"], b"");
}

/// One line per entry below `root`: path, type, permissions, size, contents.
fn tree(root: &Path) -> Vec<String> {
    use std::os::unix::fs::PermissionsExt;
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let meta = std::fs::symlink_metadata(&path).unwrap();
            let rel = path.strip_prefix(root).unwrap().display().to_string();
            let mode = meta.permissions().mode() & 0o7777;
            if meta.is_dir() {
                out.push(format!("{rel} dir {mode:o}"));
                stack.push(path);
            } else if meta.is_symlink() {
                out.push(format!(
                    "{rel} -> {}",
                    std::fs::read_link(&path).unwrap().display()
                ));
            } else {
                let body = String::from_utf8_lossy(&std::fs::read(&path).unwrap()).into_owned();
                out.push(format!("{rel} file {mode:o} {} {body:?}", meta.len()));
            }
        }
    }
    out.sort();
    out
}

/// Applets that change the filesystem: the same commands in twin directories.
#[test]
fn cp_mv_rm_mkdir() {
    let dir = TempDir::new("bb-mutate");
    let (native, pico) = (dir.subdir("native"), dir.subdir("picorun"));
    inputs(&native);
    inputs(&pico);
    let steps: &[&[&str]] = &[
        &["cp", "lines.txt", "copy.txt"],
        &["cp", "-p", "lines.txt", "kept.txt"],
        &["cp", "-r", "sub", "subcopy"],
        &["mv", "copy.txt", "moved.txt"],
        &["mv", "subcopy/dir", "moved-dir"],
        &["mkdir", "-p", "new/a/b"],
        &["mkdir", "-m", "700", "private"],
        &["mkdir", "new"],
        &["rm", "-r", "subcopy"],
        &["rm", "lines.txt", "nums.txt"],
        &["rm", "does-not-exist"],
        &["rm", "-f", "does-not-exist"],
        &["cp", "missing", "x"],
        &["mv", "missing", "x"],
    ];
    for args in steps {
        let a = run_native(busybox(), args, b"", Some(&native));
        let b = run_picorun(picorun(), busybox(), args, b"", Some(&pico));
        assert_same(&a, &b, &format!("busybox {}", args.join(" ")));
    }
    assert_eq!(
        tree(&native),
        tree(&pico),
        "trees differ after the same commands"
    );
    let kept = |root: &Path| {
        std::fs::metadata(root.join("kept.txt"))
            .unwrap()
            .modified()
            .unwrap()
    };
    assert_eq!(kept(&native), kept(&pico), "cp -p must preserve the mtime");
}

#[test]
fn exit_statuses() {
    let dir = TempDir::new("bb-status");
    let d = dir.path();
    assert_eq!(bb(d, &["true"], b"").code(), Some(0));
    assert_eq!(bb_any(d, &["false"], b"").code(), Some(1));
    let cat = bb_any(d, &["cat", "/nonexistent"], b"");
    assert_eq!(cat.code(), Some(1));
    assert!(
        cat.stderr_str().contains("No such file or directory"),
        "{cat}"
    );
    assert_eq!(bb_any(d, &["test", "1", "-eq", "2"], b"").code(), Some(1));
    assert_eq!(bb_any(d, &["ls", "/nonexistent"], b"").code(), Some(1));
    bb_any(d, &["no-such-applet"], b"");
}

/// The shell itself, on a script that needs no fork.
#[test]
fn sh_builtins() {
    let dir = TempDir::new("bb-sh");
    let out = bb_any(
        dir.path(),
        &[
            "sh",
            "-c",
            "x=6; echo $((x * 7)); printf '%s|' a b; echo; exit 3",
        ],
        b"",
    );
    assert_eq!(out.stdout, b"42\na|b|\n");
    assert_eq!(out.code(), Some(3));
    bb(
        dir.path(),
        &["sh", "-c", "read a b; echo \"[$b] [$a]\"; cd /; pwd"],
        b"first second\n",
    );
}

/// /proc/self and /dev/fd through real applets: the guest's descriptors,
/// arguments and program, never picorun's.
#[test]
fn proc_self_and_dev_fd() {
    common::inherit_only_stdio();
    let dir = input_dir("bb-proc");
    let d = dir.path();
    assert_eq!(bb(d, &["ls", "/proc/self/fd"], b"").stdout, b"0\n1\n2\n3\n");
    assert_eq!(bb(d, &["ls", "/dev/fd/"], b"").stdout, b"0\n1\n2\n3\n");
    assert_eq!(
        bb(d, &["cat", "/proc/self/cmdline"], b"").stdout,
        format!("{BUSYBOX}\0cat\0/proc/self/cmdline\0").as_bytes()
    );
    bb(d, &["readlink", "/proc/self/exe"], b"");
    assert_eq!(bb(d, &["cat", "/proc/self/comm"], b"").stdout, b"busybox\n");
    assert_eq!(
        bb(d, &["grep", "-c", "stack", "/proc/self/maps"], b"").stdout,
        b"1\n"
    );
    assert_eq!(
        bb(d, &["cat", "/dev/stdin"], b"through /dev/stdin\n").stdout,
        b"through /dev/stdin\n"
    );
    bb(
        d,
        &[
            "sh",
            "-c",
            "echo to stderr > /dev/stderr; echo to stdout >/dev/fd/1",
        ],
        b"",
    );
    bb(d, &["wc", "-l", "/proc/self/fd/0"], b"a\nb\n");
    bb_any(d, &["cat", "/proc/self/fd/7"], b"");
}
