//! `--root`, `--ro`, `--rw` (GitHub issue 4): a guest confined to a
//! directory cannot read outside it by any route, and binds behave like
//! bind mounts. Where a native comparison exists, the same static program
//! runs under `chroot` (the tests run as root) and must print the same.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{picorun, TempDir};
use pico_testkit::{fixture, Variant};

/// A root with `/etc/passwd`, `/etc/movable`, `/sub`, symlinks to
/// `/etc/passwd` and `../../..`, the fixture as `/prog`; next to the root
/// (outside it) a `secret` file. Returns (scratch dir, root).
fn layout(label: &str) -> (TempDir, PathBuf) {
    let t = TempDir::new(label);
    let root = t.subdir("a/b/root");
    std::fs::write(t.path().join("a/b/secret"), "SECRET outside\n").unwrap();
    std::fs::write(t.path().join("a/secret"), "SECRET outside\n").unwrap();
    std::fs::write(t.path().join("secret"), "SECRET outside\n").unwrap();
    std::fs::create_dir_all(root.join("etc")).unwrap();
    std::fs::create_dir_all(root.join("sub")).unwrap();
    std::fs::write(root.join("etc/passwd"), "guest passwd\n").unwrap();
    std::fs::write(root.join("etc/movable"), "movable\n").unwrap();
    std::os::unix::fs::symlink("/etc/passwd", root.join("pw")).unwrap();
    std::os::unix::fs::symlink("../../..", root.join("up")).unwrap();
    std::os::unix::fs::symlink("../up/../pw", root.join("sub/chain")).unwrap();
    let prog = fixture("rootfs", Variant::GlibcStatic);
    std::fs::copy(&prog, root.join("prog")).unwrap();
    (t, root)
}

fn run(cmd: &mut Command) -> (i32, String, String) {
    let out = cmd.output().expect("cannot run");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn picorun_root(root: &Path) -> Command {
    let mut cmd = Command::new(picorun());
    cmd.arg("--root").arg(root);
    cmd
}

fn busybox() -> PathBuf {
    ["/usr/bin/busybox", "/bin/busybox"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .expect("busybox-static is needed")
}

/// Runs `sh -c script` with a static busybox installed as the root's
/// `/bin/busybox` and `/bin/sh`.
fn sh(root: &Path, extra: &[&str], script: &str) -> (i32, String, String) {
    std::fs::create_dir_all(root.join("bin")).unwrap();
    if !root.join("bin/busybox").exists() {
        std::fs::copy(busybox(), root.join("bin/busybox")).unwrap();
    }
    let mut cmd = picorun_root(root);
    cmd.args(extra).args(["/bin/busybox", "sh", "-c", script]);
    run(&mut cmd)
}

fn lines_with(out: &str, key: &str) -> String {
    out.lines()
        .find(|l| l.starts_with(&format!("{key}: ")))
        .unwrap_or_else(|| panic!("no {key} in:\n{out}"))
        .to_string()
}

#[test]
fn escapes_fail_and_match_native_chroot() {
    let (t, root) = layout("rootfs-fs");
    let (code, pico, err) = run(picorun_root(&root).arg("/prog"));
    assert_eq!(code, 0, "{err}");
    assert!(!pico.contains("SECRET"), "read outside the root:\n{pico}");
    for expected in [
        "absolute: ENOENT",
        "dotdot-many: ENOENT",
        "symlink-abs: guest passwd",
        "symlink-up: guest passwd",
        "symlink-up-secret: ENOENT",
        "openat-dirfd-dotdot-own: guest passwd",
        "openat-sub-dotdot: guest passwd",
        "getcwd-sub: /sub",
        "getcwd-loop: /",
        "after-loop-relative: guest passwd",
        "getcwd-etc: /etc",
        "relative-in-etc: guest passwd",
        "rename-out: ok",
        "rename-landed: movable",
        "link-landed: guest passwd",
        "symlink-read: ENOENT",
        "symlinkat-read: ENOENT",
        "link-secret: ENOENT",
        "mkdir-dotdot: ok",
        "stat-made: ok",
    ] {
        assert!(pico.contains(expected), "missing {expected:?} in:\n{pico}");
    }
    // Nothing landed outside the root.
    for name in [
        "moved-out",
        "linked-out",
        "sym-out",
        "sym-abs",
        "made",
        "hard",
    ] {
        for dir in [
            t.path().to_path_buf(),
            t.path().join("a"),
            t.path().join("a/b"),
        ] {
            assert!(
                !dir.join(name).exists(),
                "{} escaped",
                dir.join(name).display()
            );
        }
        assert!(
            name == "hard" || root.join(name).symlink_metadata().is_ok(),
            "{name} not in the root"
        );
    }

    // The same program natively, chrooted into a fresh copy of the layout.
    let (_t2, native_root) = layout("rootfs-fs-native");
    let (code, native, err) = run(Command::new("chroot").arg(&native_root).arg("/prog"));
    if code != 0 && err.contains("Operation not permitted") {
        eprintln!("skipping the chroot comparison: not root");
        return;
    }
    assert_eq!(code, 0, "{err}");
    assert_eq!(pico, native, "picorun --root and chroot differ");
}

#[test]
fn proc_and_dev_stay_inside() {
    let (_t, root) = layout("rootfs-proc");
    let me = std::process::id().to_string();
    let (code, out, err) = run(picorun_root(&root).args(["/prog", "proc", &me]));
    assert_eq!(code, 0, "{err}");
    assert!(!out.contains("SECRET"), "{out}");
    for expected in [
        "proc-self-root: guest passwd",
        "proc-self-root-secret: ENOENT",
        "readlink-root: /",
        "proc-1-root: ENOENT",
        "proc-1-environ: ENOENT",
        "proc-parent-root: ENOENT",
        "proc-parent-cwd: ENOENT",
        "proc-own-pid-root: guest passwd",
        "readlink-cwd: /etc",
        "proc-self-cwd-file: guest passwd",
        "proc-sysrq: ENOENT",
        "dev-null: ",
        "dev-kvm: ENOENT",
        "dev-sda: ENOENT",
        "dev-write: ok",
    ] {
        assert!(
            out.lines()
                .any(|l| l == expected || (expected.ends_with(": ") && l == expected.trim_end())),
            "missing {expected:?} in:\n{out}"
        );
    }
    let mem = lines_with(&out, "proc-mem");
    assert!(mem.ends_with("EACCES") || mem.ends_with("ENOENT"), "{mem}");
}

#[test]
fn inherited_descriptors_are_closed() {
    // picorun started with fd 3 open on a file outside the root: the guest
    // does not get it (only 0, 1 and 2 pass under --root).
    let (t, root) = layout("rootfs-fd");
    let script = format!(
        "exec 3<{}; exec {} --root {} /prog proc 1",
        t.path().join("secret").display(),
        picorun().display(),
        root.display()
    );
    let (code, out, err) = run(Command::new("bash").args(["-c", &script]));
    assert_eq!(code, 0, "{err}");
    assert!(!out.contains("SECRET"), "{out}");
    assert_eq!(lines_with(&out, "inherited-3"), "inherited-3: ENOENT");
    assert_eq!(lines_with(&out, "fd-3"), "fd-3: EBADF");
    // A standard descriptor that is a directory outside the root does not
    // lead there either.
    let (_, out, _) = sh(
        &root,
        &[],
        "cat <&0 2>&1; cat /proc/self/fd/0/secret 2>&1; echo done",
    );
    assert!(!out.contains("SECRET"), "{out}");
}

#[test]
fn stdin_directory_outside_is_no_way_out() {
    let (t, root) = layout("rootfs-stdin");
    let mut cmd = picorun_root(&root);
    cmd.args([
        "/bin/busybox",
        "sh",
        "-c",
        "cat /dev/stdin/secret /proc/self/fd/0/secret; cd /dev/fd/0 && cat secret; pwd",
    ]);
    std::fs::create_dir_all(root.join("bin")).unwrap();
    std::fs::copy(busybox(), root.join("bin/busybox")).unwrap();
    cmd.stdin(std::fs::File::open(t.path()).unwrap());
    let (_, out, err) = run(&mut cmd);
    assert!(
        !out.contains("SECRET") && !err.contains("SECRET"),
        "{out}{err}"
    );
}

#[test]
fn static_program_alone_in_its_root() {
    let t = TempDir::new("rootfs-alone");
    let root = t.subdir("root");
    std::fs::copy(fixture("hello", Variant::MuslStatic), root.join("hello")).unwrap();
    let (code, out, err) = run(picorun_root(&root).arg("/hello"));
    assert_eq!(code, 0, "{err}");
    assert!(!out.is_empty());
    // Looked up in the root, not on the host.
    let (code, _, err) = run(picorun_root(&root).arg("/bin/true"));
    assert_eq!(code, 127, "{err}");
    let (code, _, _) = run(picorun_root(&root).arg("true"));
    assert_eq!(code, 127);
}

#[test]
fn dynamic_program_with_read_only_system_binds() {
    let t = TempDir::new("rootfs-dyn");
    let root = t.subdir("root");
    std::fs::copy(fixture("hello", Variant::GlibcDynamic), root.join("hello")).unwrap();
    let mut binds = Vec::new();
    for dir in ["/usr", "/lib", "/lib64", "/bin"] {
        if Path::new(dir).exists() {
            binds.extend(["--ro", dir]);
        }
    }
    let native = run(&mut Command::new(fixture("hello", Variant::GlibcDynamic)));
    let (code, out, err) = run(picorun_root(&root).args(&binds).arg("/hello"));
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, native.1);
    // Without the binds the interpreter is missing.
    let (code, _, _) = run(picorun_root(&root).arg("/hello"));
    assert_ne!(code, 0);
    // A dynamic shell from the bound /bin, PATH looked up inside the root.
    let (code, out, err) = run(picorun_root(&root).args(&binds).args([
        "sh",
        "-c",
        "cd /usr/../usr/lib && pwd && cat /proc/self/root/hello > /dev/null && echo ok",
    ]));
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "/usr/lib\nok\n");
}

#[test]
fn read_only_and_writable_binds() {
    let t = TempDir::new("rootfs-binds");
    let root = t.subdir("root");
    let ro = t.subdir("ro");
    let rw = t.subdir("rw");
    std::fs::write(ro.join("f"), "ro file\n").unwrap();
    std::fs::create_dir(ro.join("d")).unwrap();
    let ro_spec = format!("{}:/mnt/ro", ro.display());
    let rw_spec = format!("{}:/mnt/rw", rw.display());
    let script = "cat /mnt/ro/f; \
        echo x > /mnt/ro/new; echo x >> /mnt/ro/f; rm /mnt/ro/f; mkdir /mnt/ro/e; rmdir /mnt/ro/d; \
        chmod 600 /mnt/ro/f; touch /mnt/ro/f; mv /mnt/ro/f /mnt/ro/g; ln -s x /mnt/ro/s; \
        truncate -s 0 /mnt/ro/f; \
        echo w > /mnt/rw/w && cat /mnt/rw/w; mkdir /mnt/rw/dir && echo mkdir-ok; \
        mv /mnt/rw/w /w-moved; ln /mnt/ro/f /mnt/rw/hl; \
        cd /mnt/ro/d && pwd && cd ../.. && pwd && cd ../.. && pwd; ls -d /mnt/ro /mnt/rw";
    let (_, out, err) = sh(&root, &["--ro", &ro_spec, "--rw", &rw_spec], script);
    assert!(out.starts_with("ro file\n"), "{out}\n{err}");
    let erofs = err.matches("Read-only file system").count();
    assert!(erofs >= 10, "only {erofs} EROFS:\n{err}");
    assert!(out.contains("w\nmkdir-ok\n"), "{out}\n{err}");
    assert!(err.contains("Invalid cross-device link"), "{err}");
    assert!(out.contains("/mnt/ro/d\n/mnt\n/\n"), "{out}");
    assert!(out.contains("/mnt/ro\n/mnt/rw\n"), "{out}");
    // The host sees exactly what the writable bind allowed.
    assert_eq!(std::fs::read_to_string(ro.join("f")).unwrap(), "ro file\n");
    assert!(!ro.join("new").exists() && ro.join("d").exists());
    // mv across mounts got EXDEV and copied, as it does across mounts.
    assert!(!rw.join("w").exists());
    assert_eq!(
        std::fs::read_to_string(root.join("w-moved")).unwrap(),
        "w\n"
    );
    assert!(rw.join("dir").is_dir());
}

#[test]
fn getcwd_is_relative_to_the_root() {
    let (_t, root) = layout("rootfs-cwd");
    let (code, out, err) = sh(&root, &[], "pwd; cd /sub && pwd && /bin/busybox pwd; cd /up && pwd; cd /pw 2>&1; readlink /proc/self/exe");
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("/\n/sub\n/sub\n/up\n"), "{out}");
    assert!(out.ends_with("/bin/busybox\n"), "{out}");
}

#[test]
fn children_inherit_the_root() {
    let (_t, root) = layout("rootfs-child");
    let (code, out, err) = sh(
        &root,
        &[],
        "/bin/busybox cat /etc/passwd; (cd /sub; /bin/busybox sh -c 'pwd; cat ../../../secret 2>&1; /prog | /bin/busybox grep -c SECRET')",
    );
    assert!(out.starts_with("guest passwd\n/sub\n"), "{out}\n{err}");
    assert!(!out.contains("SECRET"), "{out}");
    assert!(out.ends_with("0\n"), "{out} {code}");
}

#[test]
fn root_must_exist_and_binds_need_it() {
    let (code, _, err) = run(Command::new(picorun()).args(["--root", "/nonexistent-root", "/x"]));
    assert_eq!(code, 125, "{err}");
    let (code, _, _) = run(Command::new(picorun()).args(["--ro", "/usr", "/bin/true"]));
    assert_ne!(code, 0);
}
