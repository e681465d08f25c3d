//! Helpers shared by the integration test crates: where picorun is, and
//! fresh scratch directories.
// Each test crate includes this module and uses a different part of it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

/// The picorun binary Cargo built for these tests.
pub fn picorun() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_picorun"))
}

/// A fresh directory under Cargo's per-target scratch dir, removed on drop
/// (also when the test fails: failures print what was run and its output).
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(label: &str) -> TempDir {
        static SEQ: AtomicU32 = AtomicU32::new(0);
        let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!(
            "{label}-{}-{}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        ));
        // A leftover from an earlier run with the same pid: start clean.
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", path.display()));
        TempDir(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    /// Creates (if needed) and returns `self/name`.
    pub fn subdir(&self, name: &str) -> PathBuf {
        let dir = self.0.join(name);
        std::fs::create_dir_all(&dir)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
        dir
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Writes `bytes` to `path` with the given permission bits.
pub fn write_file(path: &Path, bytes: &[u8], mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, bytes).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .unwrap_or_else(|e| panic!("cannot chmod {}: {e}", path.display()));
}

/// Keeps this test process's children from inheriting descriptors beyond
/// stdio. The shell or runner that started the tests may have leaked some
/// into this process; a native child would list them in /proc/self/fd,
/// while picorun gives its guest only 0, 1 and 2.
pub fn inherit_only_stdio() {
    let Ok(dir) = std::fs::read_dir("/proc/self/fd") else {
        return;
    };
    let fds: Vec<i32> = dir
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .filter(|&fd| fd > 2)
        .collect();
    for fd in fds {
        // SAFETY: F_GETFD and F_SETFD read and set only the close-on-exec
        // flag of descriptor `fd`; a number that is not open fails with
        // EBADF and changes nothing.
        unsafe {
            let flags = libc::fcntl(fd, libc::F_GETFD);
            if flags >= 0 && flags & libc::FD_CLOEXEC == 0 {
                libc::fcntl(fd, libc::F_SETFD, flags | libc::FD_CLOEXEC);
            }
        }
    }
}

/// Reads the first line `child` writes to its piped stdout and checks it:
/// the child is then up and running.
#[allow(dead_code)]
pub fn expect_first_line(stdout: Option<std::process::ChildStdout>, expected: &str) {
    use std::io::{BufRead, BufReader};
    let mut line = String::new();
    BufReader::new(stdout.expect("a piped stdout"))
        .read_line(&mut line)
        .expect("read the child's first line");
    assert_eq!(line, expected);
}
