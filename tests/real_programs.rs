//! Real, dynamically linked programs from Debian packages — bash, dash,
//! coreutils, python3, perl, gcc, make, git, tar, busybox — run natively and
//! under picorun with the same arguments, stdin, environment and (a copy of
//! the same) working directory. stdout, stderr and exit status must agree.
//!
//! Every command is made deterministic (fixed mtimes, dates, names, no pids)
//! so that any difference is picorun's. Commands that write files run in twin
//! directories prepared identically, and what they produced is compared too.
//! A missing program fails its test with the Debian package to install.

mod common;

use common::{picorun, write_file, TempDir};
use pico_testkit::{assert_same, command, run, Outcome, RunError, TIMEOUT};
use std::path::{Path, PathBuf};

/// `path`, which the Debian package `package` provides; panics if missing.
fn require(path: &'static str, package: &str) -> &'static Path {
    let p = Path::new(path);
    assert!(
        p.is_file(),
        "{path} is missing: install the Debian package `{package}` (apt-get install -y {package})"
    );
    p
}

fn bash() -> &'static Path {
    require("/bin/bash", "bash")
}

fn dash() -> &'static Path {
    require("/bin/sh", "dash")
}

fn coreutil(name: &str) -> PathBuf {
    let path = Path::new("/usr/bin").join(name);
    assert!(
        path.is_file(),
        "{} is missing: install the Debian package `coreutils` (apt-get install -y coreutils)",
        path.display()
    );
    path
}

/// One run of `prog args…`, natively or under picorun, in `cwd`, with the
/// testkit's fixed environment plus `env`.
fn run_one(
    under_picorun: bool,
    prog: &Path,
    args: &[&str],
    stdin: &[u8],
    cwd: &Path,
    env: &[(&str, &str)],
) -> Outcome {
    let mut cmd = if under_picorun {
        let mut cmd = command(picorun());
        cmd.arg("--").arg(prog);
        cmd
    } else {
        command(prog)
    };
    cmd.args(args).envs(env.iter().copied()).current_dir(cwd);
    let side = if under_picorun { "picorun" } else { "native" };
    match run(&mut cmd, stdin, TIMEOUT) {
        Ok(out) => out,
        Err(RunError::Spawn(e)) => panic!("{side} {}: cannot start: {e}", prog.display()),
        Err(RunError::TimedOut { stdout, stderr }) => panic!(
            "{side} {} {args:?}: still running after {TIMEOUT:?}, killed\n--- stdout ---\n{}\n--- stderr ---\n{}",
            prog.display(),
            String::from_utf8_lossy(&stdout),
            String::from_utf8_lossy(&stderr)
        ),
    }
}

/// Runs `prog args…` natively, then under picorun, both in `cwd` (which the
/// command must not change); asserts they agree and returns the native outcome.
fn same(prog: &Path, args: &[&str], stdin: &[u8], cwd: &Path, env: &[(&str, &str)]) -> Outcome {
    let native = run_one(false, prog, args, stdin, cwd, env);
    let pico = run_one(true, prog, args, stdin, cwd, env);
    assert_same(&native, &pico, &describe(prog, args));
    native
}

/// Like [`same`], but the native run happens in `twins.0` and the picorun run
/// in `twins.1`, two directories prepared identically.
fn same_in(
    twins: &(PathBuf, PathBuf),
    prog: &Path,
    args: &[&str],
    stdin: &[u8],
    env: &[(&str, &str)],
) -> Outcome {
    let native = run_one(false, prog, args, stdin, &twins.0, env);
    let pico = run_one(true, prog, args, stdin, &twins.1, env);
    assert_same(&native, &pico, &describe(prog, args));
    native
}

fn describe(prog: &Path, args: &[&str]) -> String {
    let mut text = prog.display().to_string();
    for arg in args {
        text.push(' ');
        if arg.contains(char::is_whitespace) || arg.is_empty() {
            text.push_str(&format!("{arg:?}"));
        } else {
            text.push_str(arg);
        }
    }
    text
}

/// Twin directories `native/` and `picorun/` under `scratch`, each prepared by `setup`.
fn twins(scratch: &TempDir, setup: impl Fn(&Path)) -> (PathBuf, PathBuf) {
    let pair = (scratch.subdir("native"), scratch.subdir("picorun"));
    setup(&pair.0);
    setup(&pair.1);
    pair
}

/// The native run succeeded with exactly this stdout (guards the command itself).
fn expect_stdout(out: &Outcome, stdout: &str) {
    assert_eq!(out.stdout_str(), stdout, "native run:\n{out}");
}

/// Both twins hold the same bytes at `name`; returns them.
fn same_file(twins: &(PathBuf, PathBuf), name: &str) -> Vec<u8> {
    let read = |dir: &Path| {
        std::fs::read(dir.join(name))
            .unwrap_or_else(|e| panic!("{}: {e}", dir.join(name).display()))
    };
    let (native, pico) = (read(&twins.0), read(&twins.1));
    assert!(
        native == pico,
        "{name} differs: native {} bytes, picorun {} bytes\n--- native ---\n{}\n--- picorun ---\n{}",
        native.len(),
        pico.len(),
        String::from_utf8_lossy(&native),
        String::from_utf8_lossy(&pico)
    );
    native
}

/// Sets the mtime (and atime) of each path to 2023-11-14 22:13:20 UTC.
fn fix_mtimes(paths: &[&Path]) {
    let touch = coreutil("touch");
    let mut cmd = command(&touch);
    cmd.arg("-h").arg("-d").arg("@1700000000").args(paths);
    let out = run(&mut cmd, b"", TIMEOUT).expect("touch runs");
    assert_eq!(out.code(), Some(0), "touch: {out}");
}

/// A small tree with fixed names, sizes, modes and mtimes under `dir/data`.
fn make_tree(dir: &Path) -> PathBuf {
    let data = dir.join("data");
    std::fs::create_dir_all(data.join("sub/deeper")).unwrap();
    write_file(&data.join("empty"), b"", 0o644);
    write_file(&data.join("ten-bytes"), b"0123456789", 0o600);
    write_file(&data.join("script.sh"), b"#!/bin/sh\necho hi\n", 0o755);
    write_file(&data.join("sub/lines.txt"), b"one\ntwo\nthree\n", 0o644);
    write_file(&data.join("sub/deeper/big"), &vec![b'z'; 70_000], 0o640);
    std::os::unix::fs::symlink("ten-bytes", data.join("link")).unwrap();
    let paths = [
        data.join("empty"),
        data.join("ten-bytes"),
        data.join("script.sh"),
        data.join("link"),
        data.join("sub/lines.txt"),
        data.join("sub/deeper/big"),
        data.join("sub/deeper"),
        data.join("sub"),
        data.clone(),
        dir.to_path_buf(),
    ];
    fix_mtimes(&paths.iter().map(PathBuf::as_path).collect::<Vec<_>>());
    data
}

// ---- bash ------------------------------------------------------------------

fn bash_c(script: &str, stdin: &[u8]) -> Outcome {
    let dir = TempDir::new("bash");
    same(bash(), &["-c", script], stdin, dir.path(), &[])
}

#[test]
fn bash_pipeline() {
    let out = bash_c("for i in 1 2 3; do echo $i; done | sort -r | tr 3 x", b"");
    expect_stdout(&out, "x\n2\n1\n");
}

#[test]
fn bash_subshells_substitution_arithmetic_functions() {
    let script = r#"
        (cd / && pwd)
        pwd_is_kept=$( [ "$PWD" = "$(pwd)" ] && echo yes )
        echo "subshell left cwd alone: $pwd_is_kept"
        echo "nested: $(echo outer $(echo inner))"
        status=$( (exit 3); echo $? )
        echo "subshell status $status"
        echo "arith $(( 2 ** 10 + 7 % 3 )) $(( (5 > 3) && (2 < 1) )) $(( 0x1f ^ 5 ))"
        greet() { local who=$1; echo "hello $who ($# args)"; return 4; }
        greet world extra
        echo "function returned $?"
        arr=(zero one two three)
        echo "array ${#arr[@]} ${arr[2]} ${arr[@]:1:2}"
        declare -A map=([b]=2 [a]=1)
        echo "assoc a=${map[a]} b=${map[b]}"
        s="Hello, World"
        echo "${s,,} ${s^^} ${s/World/pico} ${#s}"
        { echo to-stderr >&2; } 2>&1
        echo "$BASH_SUBSHELL $( echo $BASH_SUBSHELL )"
    "#;
    let out = bash_c(script, b"");
    let text = out.stdout_str();
    for line in [
        "/",
        "subshell left cwd alone: yes",
        "nested: outer inner",
        "subshell status 3",
        "arith 1025 0 26",
        "hello world (2 args)",
        "function returned 4",
        "array 4 two one two",
        "assoc a=1 b=2",
        "hello, world HELLO, WORLD Hello, pico 12",
        "to-stderr",
        "0 1",
    ] {
        assert!(text.lines().any(|l| l == line), "missing {line:?}:\n{out}");
    }
}

#[test]
fn bash_traps() {
    let script = r#"
        trap 'echo trapped on exit' EXIT
        trap 'echo got USR1' USR1
        kill -USR1 $$
        echo after kill
        ( trap 'echo got TERM in subshell; exit 9' TERM; kill -TERM $BASHPID; echo not reached )
        echo "subshell status $?"
        ( kill -TERM $BASHPID; echo not reached ) 2>/dev/null
        echo "untrapped subshell status $?"
        trap - USR1
        echo done
    "#;
    let out = bash_c(script, b"");
    expect_stdout(
        &out,
        "got USR1\nafter kill\ngot TERM in subshell\nsubshell status 9\n\
         untrapped subshell status 143\ndone\ntrapped on exit\n",
    );
}

#[test]
fn bash_background_jobs_and_wait() {
    let script = r#"
        (sleep 0.1; exit 5) &
        pid=$!
        wait $pid
        echo "waited: $?"
        for n in 1 2 3; do (exit $n) & done
        wait
        echo "all waited: $?"
        sleep 10 &
        victim=$!
        kill -TERM $victim
        wait $victim
        echo "killed job: $?"
        # bash reports the killed job with its pid on stderr: keep that out.
        { ( kill -KILL $BASHPID ); echo "self-killed subshell: $?"; } 2>/dev/null
        coproc cat
        echo "via coproc" >&"${COPROC[1]}"
        read -r line <&"${COPROC[0]}"
        echo "coproc said: $line"
    "#;
    let out = bash_c(script, b"");
    expect_stdout(
        &out,
        "waited: 5\nall waited: 0\nkilled job: 143\nself-killed subshell: 137\ncoproc said: via coproc\n",
    );
}

#[test]
fn bash_exit_status_propagation() {
    let dir = TempDir::new("bash-exit");
    let out = same(bash(), &["-c", "echo before; exit 7"], b"", dir.path(), &[]);
    assert_eq!(out.code(), Some(7), "{out}");

    let out = same(
        bash(),
        &["-c", "set -e; echo start; false; echo unreachable"],
        b"",
        dir.path(),
        &[],
    );
    assert_eq!(
        (out.code(), out.stdout_str().as_str()),
        (Some(1), "start\n")
    );

    let out = same(
        bash(),
        &["-c", "set -o pipefail; true | false | true; echo \"pipefail $?\"; ! true; echo \"negated $?\""],
        b"",
        dir.path(),
        &[],
    );
    expect_stdout(&out, "pipefail 1\nnegated 1\n");

    let out = same(bash(), &["-c", "kill -SEGV $$"], b"", dir.path(), &[]);
    assert_eq!(out.signal(), Some(11), "{out}");

    let out = same(bash(), &["-c", "no-such-command-xyz"], b"", dir.path(), &[]);
    assert_eq!(out.code(), Some(127), "{out}");
}

#[test]
fn bash_heredoc_and_read() {
    let script = r#"
        read -r first second
        echo "[$second][$first]"
        n=0
        while IFS= read -r line; do n=$((n + 1)); echo "line $n: $line"; done
        cat <<EOF
here-doc with expansion: $((6 * 7)) $n
EOF
        cat <<'EOF'
quoted: $not_expanded
EOF
        tr a-z A-Z <<< "here-string"
        mapfile -t lines < <(printf 'p\nq\n')
        echo "mapfile ${#lines[@]} ${lines[1]}"
    "#;
    let out = bash_c(script, b"alpha beta\ngamma\n  spaced  \nlast-no-newline");
    expect_stdout(
        &out,
        "[beta][alpha]\nline 1: gamma\nline 2:   spaced  \nhere-doc with expansion: 42 2\n\
         quoted: $not_expanded\nHERE-STRING\nmapfile 2 q\n",
    );
}

// ---- ls and coreutils ------------------------------------------------------

#[test]
fn ls_la() {
    let scratch = TempDir::new("ls");
    let root = scratch.subdir("root");
    make_tree(&root);
    let out = same(
        &coreutil("ls"),
        &["-la", "data"],
        b"",
        &root,
        &[("TZ", "UTC")],
    );
    let text = out.stdout_str();
    assert!(
        text.contains(" 10 Nov 14  2023 ten-bytes\n") && text.contains("link -> ten-bytes"),
        "{out}"
    );
    same(
        &coreutil("ls"),
        &["-lR", "--full-time", "-i", "data"],
        b"",
        &root,
        &[("TZ", "UTC")],
    );
    same(
        &coreutil("ls"),
        &["-1", "--color=always", "-F", "data"],
        b"",
        &root,
        &[],
    );
}

fn text_files(dir: &Path) {
    write_file(
        &dir.join("people.csv"),
        b"name,age,city\nzoe,31,Oslo\nadam,7,Paris\nmia,120,Lima\nbob,31,Rome\n",
        0o644,
    );
    write_file(&dir.join("numbers"), b"10\n9\n100\n-3\n2.5\n9\n", 0o644);
    let big: Vec<u8> = (0..20_000u32)
        .flat_map(|i| format!("row {} {}\n", i * 7919 % 10007, i % 13).into_bytes())
        .collect();
    write_file(&dir.join("big.txt"), &big, 0o644);
}

#[test]
fn coreutils_cat_sort_wc() {
    let dir = TempDir::new("coreutils");
    text_files(dir.path());
    let out = same(
        &coreutil("cat"),
        &["-n", "people.csv", "-", "numbers"],
        b"from stdin\n",
        dir.path(),
        &[],
    );
    assert!(out.stdout_str().contains("     6\tfrom stdin\n"), "{out}");
    let out = same(&coreutil("sort"), &["-n", "numbers"], b"", dir.path(), &[]);
    expect_stdout(&out, "-3\n2.5\n9\n9\n10\n100\n");
    same(
        &coreutil("sort"),
        &["-t,", "-k2,2n", "-k1,1r", "people.csv"],
        b"",
        dir.path(),
        &[],
    );
    same(
        &coreutil("sort"),
        &["-u", "-k3n", "big.txt"],
        b"",
        dir.path(),
        &[],
    );
    let out = same(
        &coreutil("wc"),
        &["people.csv", "numbers", "big.txt"],
        b"",
        dir.path(),
        &[],
    );
    assert!(out.stdout_str().contains(" total\n"), "{out}");
    same(&coreutil("wc"), &["-l"], b"a\nb\nc", dir.path(), &[]);
    let out = same(&coreutil("cat"), &["missing-file"], b"", dir.path(), &[]);
    assert_eq!(out.code(), Some(1), "{out}");
}

#[test]
fn coreutils_sha256sum_head_cut_tr() {
    let dir = TempDir::new("coreutils2");
    text_files(dir.path());
    let out = same(
        &coreutil("sha256sum"),
        &["people.csv", "big.txt"],
        b"",
        dir.path(),
        &[],
    );
    assert!(out.stdout_str().ends_with("  big.txt\n"), "{out}");
    let out = same(&coreutil("sha256sum"), &[], b"abc", dir.path(), &[]);
    expect_stdout(
        &out,
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad  -\n",
    );
    same(
        &coreutil("head"),
        &["-n", "3", "big.txt"],
        b"",
        dir.path(),
        &[],
    );
    same(
        &coreutil("head"),
        &["-c", "100"],
        &[b'q'; 5000],
        dir.path(),
        &[],
    );
    let out = same(
        &coreutil("cut"),
        &["-d,", "-f1,3", "people.csv"],
        b"",
        dir.path(),
        &[],
    );
    expect_stdout(
        &out,
        "name,city\nzoe,Oslo\nadam,Paris\nmia,Lima\nbob,Rome\n",
    );
    let out = same(
        &coreutil("tr"),
        &["a-z", "A-Z"],
        b"shout this\n",
        dir.path(),
        &[],
    );
    expect_stdout(&out, "SHOUT THIS\n");
    same(
        &coreutil("tr"),
        &["-s", "0-9", "#"],
        &std::fs::read(dir.path().join("big.txt")).unwrap(),
        dir.path(),
        &[],
    );
}

#[test]
fn seq_paste_bc_through_sh() {
    require("/usr/bin/bc", "bc");
    let dir = TempDir::new("bc");
    let out = same(
        dash(),
        &[
            "-c",
            "seq 1 100 | paste -sd+ | bc; echo 'scale=20; 4*a(1)' | bc -l",
        ],
        b"",
        dir.path(),
        &[],
    );
    expect_stdout(&out, "5050\n3.14159265358979323844\n");
}

// ---- python3 ---------------------------------------------------------------

fn python3() -> &'static Path {
    require("/usr/bin/python3", "python3")
}

/// No bytecode files, no user site: nothing depends on what ran before.
const PY_ENV: &[(&str, &str)] = &[("PYTHONDONTWRITEBYTECODE", "1"), ("PYTHONNOUSERSITE", "1")];

#[test]
fn python3_threads_subprocess_json_hashlib_fork() {
    let script = r#"
import hashlib, json, os, subprocess, sys, threading

results = [0] * 4
def work(i):
    results[i] = sum(j * j for j in range(i * 20000, (i + 1) * 20000))
threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
for t in threads: t.start()
for t in threads: t.join()
print("threads", results, sum(results))

lock = threading.Lock()
counter = [0]
def bump():
    for _ in range(10000):
        with lock:
            counter[0] += 1
ts = [threading.Thread(target=bump) for _ in range(4)]
for t in ts: t.start()
for t in ts: t.join()
print("locked counter", counter[0])

r = subprocess.run(["echo", "x"], capture_output=True)
print("subprocess", r.returncode, r.stdout)
r = subprocess.run("printf 'a\\nb\\n' | wc -l; exit 3", shell=True, capture_output=True, text=True)
print("shell", r.returncode, r.stdout.strip())
print("json", json.dumps({"b": [1, 2.5, None, True], "a": "\u00e9"}, sort_keys=True))
print("json round trip", json.loads('{"k": [1, {"n": null}]}'))
print("sha256", hashlib.sha256(b"picorun").hexdigest())

pid = os.fork()
if pid == 0:
    os._exit(7)
_, status = os.waitpid(pid, 0)
print("fork", os.WIFEXITED(status), os.WEXITSTATUS(status))
print("stdin", sys.stdin.read().split())
print("to stderr", file=sys.stderr)
sys.exit(4)
"#;
    let dir = TempDir::new("python");
    let out = same(
        python3(),
        &["-c", script],
        b"one two\nthree\n",
        dir.path(),
        PY_ENV,
    );
    assert_eq!(out.code(), Some(4), "{out}");
    let text = out.stdout_str();
    for line in [
        "locked counter 40000",
        "subprocess 0 b'x\\n'",
        "shell 3 2",
        "json {\"a\": \"\\u00e9\", \"b\": [1, 2.5, null, true]}",
        "fork True 7",
        "stdin ['one', 'two', 'three']",
    ] {
        assert!(text.lines().any(|l| l == line), "missing {line:?}:\n{out}");
    }
}

#[test]
fn python3_script_file() {
    let dir = TempDir::new("python-script");
    write_file(
        &dir.path().join("script.py"),
        br#"import sys, os, collections
words = "the quick brown fox jumps over the lazy dog the end".split()
counts = collections.Counter(words)
print(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:3])
print("argv", sys.argv[1:])
print("cwd listing", sorted(os.listdir(".")))
with open("script.py") as f:
    print("own lines", len(f.read().splitlines()))
try:
    1 / 0
except ZeroDivisionError as e:
    print("caught", e)
raise SystemExit("fatal: " + "done")
"#,
        0o644,
    );
    let out = same(
        python3(),
        &["script.py", "a", "b c"],
        b"",
        dir.path(),
        PY_ENV,
    );
    assert_eq!(out.code(), Some(1), "{out}");
    assert_eq!(out.stderr_str(), "fatal: done\n", "{out}");
    // An uncaught exception: traceback on stderr, status 1.
    same(
        python3(),
        &["-c", "import json; json.loads('{')"],
        b"",
        dir.path(),
        PY_ENV,
    );
}

// ---- perl ------------------------------------------------------------------

#[test]
fn perl_regex_sprintf_sort_fork() {
    let perl = require("/usr/bin/perl", "perl");
    let script = r#"
        my @n = sort { $a <=> $b } (5, 3, 11, 1, 8);
        print join(",", @n), "\n";
        my @w = sort { length($a) <=> length($b) or $a cmp $b } qw(pear fig apple kiwi banana);
        print "@w\n";
        my %h = ("key=value; other=thing; x=42" =~ /(\w+)=(\w+)/g);
        print join(" ", map { "$_:$h{$_}" } sort keys %h), "\n";
        (my $s = "Hello World") =~ s/(\w+)/\u\L$1/g;
        print "$s ", scalar(() = "a1b22c333" =~ /\d+/g), "\n";
        printf("%05.2f|%-5s|%x|%e\n", 3.14159, "ab", 255, 12345.678);
        my $pid = fork();
        if ($pid == 0) { exit 9 }
        waitpid($pid, 0);
        print "child status ", $? >> 8, "\n";
        my $out = `echo backticks`;
        print "sub: $out";
        while (my $line = <STDIN>) { chomp $line; print scalar reverse($line), "\n" }
        warn "a warning\n";
        exit 2;
    "#;
    let dir = TempDir::new("perl");
    let out = same(perl, &["-e", script], b"abc\nxyz\n", dir.path(), &[]);
    assert_eq!(out.code(), Some(2), "{out}");
    expect_stdout(
        &out,
        "1,3,5,8,11\nfig kiwi pear apple banana\nkey:value other:thing x:42\nHello World 3\n\
         03.14|ab   |ff|1.234568e+04\nchild status 9\nsub: backticks\ncba\nzyx\n",
    );
}

// ---- gcc -------------------------------------------------------------------

fn c_sources(dir: &Path) {
    write_file(
        &dir.join("main.c"),
        b"#include <stdio.h>\n#include \"square.h\"\n\
          int main(int argc, char **argv)\n{\n    printf(\"hello from gcc %d %s\\n\", square(argc + 6), argc > 1 ? argv[1] : \"-\");\n    return 3;\n}\n",
        0o644,
    );
    write_file(&dir.join("square.h"), b"int square(int x);\n", 0o644);
    write_file(
        &dir.join("square.c"),
        b"#include \"square.h\"\nint square(int x)\n{\n    return x * x;\n}\n",
        0o644,
    );
    write_file(
        &dir.join("warn.c"),
        b"int f(void)\n{\n    int unused;\n    return 1;\n}\n",
        0o644,
    );
    write_file(
        &dir.join("bad.c"),
        b"int f(void) { return undefined_name; }\n",
        0o644,
    );
}

fn gcc() -> &'static Path {
    require("/usr/bin/gcc", "gcc");
    require("/usr/bin/as", "binutils");
    require("/usr/bin/ld", "binutils");
    require("/usr/include/stdio.h", "libc6-dev");
    Path::new("/usr/bin/gcc")
}

#[test]
fn gcc_compiles_and_links() {
    let scratch = TempDir::new("gcc");
    let dirs = twins(&scratch, c_sources);
    let out = same_in(
        &dirs,
        gcc(),
        &["-O2", "-Wall", "-o", "prog", "main.c", "square.c"],
        b"",
        &[],
    );
    assert_eq!(out.code(), Some(0), "{out}");
    // Both binaries exist and behave the same when run natively.
    let runs: Vec<Outcome> = [&dirs.0, &dirs.1]
        .iter()
        .map(|dir| run_one(false, &dir.join("prog"), &["arg"], b"", dir, &[]))
        .collect();
    expect_stdout(&runs[0], "hello from gcc 64 arg\n");
    assert_eq!(runs[0].code(), Some(3));
    assert_same(&runs[0], &runs[1], "the program gcc built under picorun");
    same_file(&dirs, "prog");
}

#[test]
fn gcc_compile_only() {
    let scratch = TempDir::new("gcc-c");
    let dirs = twins(&scratch, c_sources);
    let out = same_in(&dirs, gcc(), &["-O2", "-c", "square.c"], b"", &[]);
    assert_eq!(out.code(), Some(0), "{out}");
    let object = same_file(&dirs, "square.o");
    assert!(
        object.starts_with(b"\x7fELF"),
        "square.o is not an ELF object"
    );

    let out = same_in(&dirs, gcc(), &["-Wall", "-c", "warn.c"], b"", &[]);
    assert!(
        out.stderr_str().contains("unused variable 'unused'"),
        "{out}"
    );
    let out = same_in(&dirs, gcc(), &["-c", "bad.c"], b"", &[]);
    assert_eq!(out.code(), Some(1), "{out}");
    same_in(
        &dirs,
        gcc(),
        &["-E", "-dM", "-x", "c", "/dev/null"],
        b"",
        &[],
    );
}

// ---- make ------------------------------------------------------------------

const MAKEFILE: &str = "\
all: upper.txt count.txt
\t@echo all done

upper.txt: words.txt
\ttr a-z A-Z < words.txt > upper.txt

count.txt: upper.txt
\twc -l < upper.txt > count.txt
\t@echo counted $$(cat count.txt) lines

words.txt:
\tprintf 'alpha\\nbeta\\ngamma\\n' > words.txt

clean:
\trm -f upper.txt count.txt words.txt

.PHONY: all clean
";

#[test]
fn make_builds_targets_in_order() {
    let make = require("/usr/bin/make", "make");
    let scratch = TempDir::new("make");
    let dirs = twins(&scratch, |dir| {
        write_file(&dir.join("Makefile"), MAKEFILE.as_bytes(), 0o644)
    });
    let out = same_in(&dirs, make, &[], b"", &[]);
    expect_stdout(
        &out,
        "printf 'alpha\\nbeta\\ngamma\\n' > words.txt\ntr a-z A-Z < words.txt > upper.txt\n\
         wc -l < upper.txt > count.txt\ncounted 3 lines\nall done\n",
    );
    assert_eq!(same_file(&dirs, "upper.txt"), b"ALPHA\nBETA\nGAMMA\n");
    assert_eq!(same_file(&dirs, "count.txt"), b"3\n");
    // Up to date: nothing is rebuilt.
    let out = same_in(&dirs, make, &[], b"", &[]);
    expect_stdout(&out, "all done\n");
    let out = same_in(&dirs, make, &["no-such-target"], b"", &[]);
    assert_eq!(out.code(), Some(2), "{out}");
    same_in(&dirs, make, &["clean"], b"", &[]);
    assert!(
        !dirs.1.join("upper.txt").exists(),
        "make clean under picorun left upper.txt"
    );
}

// ---- git -------------------------------------------------------------------

const GIT_ENV: &[(&str, &str)] = &[
    ("GIT_AUTHOR_NAME", "Pico Tester"),
    ("GIT_AUTHOR_EMAIL", "pico@example.com"),
    ("GIT_AUTHOR_DATE", "1700000000 +0000"),
    ("GIT_COMMITTER_NAME", "Pico Tester"),
    ("GIT_COMMITTER_EMAIL", "pico@example.com"),
    ("GIT_COMMITTER_DATE", "1700000000 +0000"),
    ("GIT_CONFIG_NOSYSTEM", "1"),
    ("GIT_CONFIG_GLOBAL", "/dev/null"),
];

#[test]
fn git_init_add_commit_log_status() {
    let git = require("/usr/bin/git", "git");
    let scratch = TempDir::new("git");
    let dirs = twins(&scratch, |dir| {
        write_file(&dir.join("a.txt"), b"first file\n", 0o644);
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        write_file(&dir.join("sub/b.txt"), b"second file\n", 0o755);
    });
    let git_do = |args: &[&str]| same_in(&dirs, git, args, b"", GIT_ENV);

    let out = git_do(&["-c", "init.defaultBranch=main", "init", "-q"]);
    assert_eq!(out.code(), Some(0), "{out}");
    git_do(&["add", "."]);
    let out = git_do(&["commit", "-m", "first commit"]);
    assert!(
        out.stdout_str().starts_with("[main (root-commit) "),
        "{out}"
    );
    let out = git_do(&["log", "--format=%H %s"]);
    assert!(out.stdout_str().ends_with(" first commit\n"), "{out}");

    for dir in [&dirs.0, &dirs.1] {
        write_file(&dir.join("a.txt"), b"first file, changed\n", 0o644);
        write_file(&dir.join("c.txt"), b"untracked\n", 0o644);
    }
    let out = git_do(&["status", "--porcelain"]);
    expect_stdout(&out, " M a.txt\n?? c.txt\n");
    git_do(&["diff"]);
    git_do(&["commit", "-q", "-a", "-m", "second"]);
    let out = git_do(&["log", "--format=%H %s", "--stat"]);
    assert!(out.stdout_str().contains(" second\n"), "{out}");
    git_do(&["cat-file", "-p", "HEAD^{tree}"]);
    let out = git_do(&["rev-parse", "--verify", "no-such-ref"]);
    assert_eq!(out.code(), Some(128), "{out}");
}

// ---- tar, sh, busybox ------------------------------------------------------

#[test]
fn tar_through_sh() {
    require("/bin/tar", "tar");
    require("/bin/gzip", "gzip");
    let scratch = TempDir::new("tar");
    let root = scratch.subdir("root");
    make_tree(&root);
    let out = same(
        dash(),
        &["-c", "tar cz -C data . | tar tz | sort"],
        b"",
        &root,
        &[],
    );
    expect_stdout(
        &out,
        "./\n./empty\n./link\n./script.sh\n./sub/\n./sub/deeper/\n./sub/deeper/big\n./sub/lines.txt\n./ten-bytes\n",
    );
    same(
        dash(),
        &[
            "-c",
            "tar c --sort=name --owner=0 --group=0 --numeric-owner -C data . | sha256sum; \
             tar cf - -C data sub | tar xOf - sub/lines.txt; tar tvf /dev/null; echo status $?",
        ],
        b"",
        &root,
        &[("TZ", "UTC")],
    );
}

#[test]
fn sh_dash_pipelines() {
    let dir = TempDir::new("dash");
    let script = r#"
        i=0; while [ $i -lt 5 ]; do i=$((i + 1)); echo "n$i"; done | sed -n '2,4p' | tac
        x=$(echo sub | tr s S); echo "$x"
        set -- "a b" c; echo "$# $1"
        case "hello.c" in *.c) echo c-file;; *) echo other;; esac
        f() { return 6; }; f; echo "f $?"
        exec 3>out.txt; echo via-fd3 >&3; exec 3>&-; cat out.txt; rm out.txt
        (trap 'echo sub exit' EXIT; exit 2); echo "sub status $?"
        exit 5
    "#;
    let out = same(dash(), &["-c", script], b"", dir.path(), &[]);
    assert_eq!(out.code(), Some(5), "{out}");
    expect_stdout(
        &out,
        "n4\nn3\nn2\nSub\n2 a b\nc-file\nf 6\nvia-fd3\nsub exit\nsub status 2\n",
    );
}

#[test]
fn busybox_sh_pipelines() {
    let busybox = require("/bin/busybox", "busybox-static");
    let dir = TempDir::new("busybox-sh");
    let script = r#"
        seq 1 6 | while read x; do echo $((x * x)); done | sort -rn | head -3
        echo "a:b:c" | awk -F: '{ print $3 $2 $1 }'
        printf 'x\ny\n' | wc -l
        v=$(busybox basename /a/b/c.txt .txt); echo "$v"
        false || echo "or-branch"
        sh -c 'exit 4'; echo "nested sh $?"
    "#;
    let out = same(busybox, &["sh", "-c", script], b"", dir.path(), &[]);
    expect_stdout(&out, "36\n25\n16\ncba\n2\nc\nor-branch\nnested sh 4\n");
}

#[test]
fn shebang_script_run_directly() {
    let dir = TempDir::new("shebang");
    let script = dir.path().join("script.sh");
    write_file(
        &script,
        b"#!/bin/sh\necho \"args: $# [$1] [$2]\"\nread line\necho \"stdin: $line\"\n\
          echo \"$line\" | tr a-z A-Z\nexit 6\n",
        0o755,
    );
    let out = same(
        &script,
        &["one", "two words"],
        b"input line\n",
        dir.path(),
        &[],
    );
    assert_eq!(out.code(), Some(6), "{out}");
    expect_stdout(
        &out,
        "args: 2 [one] [two words]\nstdin: input line\nINPUT LINE\n",
    );
}

/// A Go program (Debian's golang-go, built at test time with CGO off: a
/// static binary that makes raw syscalls): goroutines on several threads,
/// timers, a channel, os/exec (clone with CLONE_VM|CLONE_VFORK), files.
#[test]
fn go_runtime() {
    let go = require("/usr/bin/go", "golang-go");
    let scratch = TempDir::new("go");
    let src = scratch.subdir("src");
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/programs/goroutines.go"),
        src.join("main.go"),
    )
    .unwrap();
    write_file(
        &src.join("go.mod"),
        b"module goroutines\n\ngo 1.19\n",
        0o644,
    );
    let bin = scratch.path().join("goroutines");
    let cache = scratch.subdir("cache");
    let built = std::process::Command::new(go)
        .args(["build", "-o"])
        .arg(&bin)
        .arg(".")
        .current_dir(&src)
        .env("CGO_ENABLED", "0")
        .env("GOCACHE", &cache)
        .env("GOPATH", scratch.subdir("gopath"))
        .env("HOME", scratch.path())
        .env("GOFLAGS", "-mod=mod")
        .output()
        .expect("go runs");
    assert!(
        built.status.success(),
        "go build failed: {}",
        String::from_utf8_lossy(&built.stderr)
    );
    let out = same(
        &bin,
        &[],
        b"",
        scratch.path(),
        &[("TMPDIR", scratch.path().to_str().unwrap())],
    );
    expect_stdout(
        &out,
        "goroutines [0 500000 999999 1500000 2000000 2499996 2999997 3500000]\nchannel 42\nexec \"from child\\n\" <nil>\nfile hello\n",
    );
}
