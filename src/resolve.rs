//! Finding the program to run, as a shell's `execvp` would.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::report::FailKind;

/// Resolves `program` against `path` (a PATH value) when it has no slash.
/// Returns `None` if no candidate exists.
pub fn resolve(program: &OsStr, path: Option<&OsStr>) -> Option<PathBuf> {
    if program.as_bytes().contains(&b'/') {
        return Some(PathBuf::from(program));
    }
    if program.is_empty() {
        return None;
    }
    let path: OsString = path
        .map(OsStr::to_os_string)
        .unwrap_or_else(|| "/usr/local/bin:/usr/bin:/bin".into());
    let mut fallback = None;
    for dir in std::env::split_paths(&path) {
        let dir = if dir.as_os_str().is_empty() {
            PathBuf::from(".")
        } else {
            dir
        };
        let candidate = dir.join(program);
        let Ok(meta) = std::fs::metadata(&candidate) else {
            continue;
        };
        if meta.is_file() && meta.permissions().mode() & 0o111 != 0 {
            return Some(candidate);
        }
        // Like execvp: remember a non-executable match for the error.
        fallback.get_or_insert(candidate);
    }
    fallback
}

/// Resolves `program` as the guest would under `--root`: a path with a
/// slash as the guest names it, else looked up in `path` (a PATH value)
/// inside `root`, as the guest's execvp would. The error says why, with
/// the errno execve would give and a message.
pub(crate) fn in_root(
    program: &OsStr,
    root: &Path,
    binds: &[pico_driver::rootfs::Bind],
    path: Option<&OsStr>,
) -> Result<PathBuf, (FailKind, i32, String)> {
    let ns =
        pico_driver::rootfs::Namespace::new(root, binds).map_err(|e| (FailKind::Picorun, 0, e))?;
    let check = |p: &Path| pico_driver::rootfs::check_executable(&ns, p);
    let not_found =
        |p: &dyn std::fmt::Display| (FailKind::NotFound, libc::ENOENT, format!("{p}: not found"));
    let candidate = if program.as_bytes().contains(&b'/') {
        PathBuf::from(program)
    } else {
        let path = path
            .map(OsStr::to_os_string)
            .unwrap_or_else(|| "/usr/local/bin:/usr/bin:/bin".into());
        std::env::split_paths(&path)
            .filter(|d| !d.as_os_str().is_empty())
            .map(|d| d.join(program))
            .find(|c| check(c).is_ok())
            .ok_or_else(|| not_found(&program.to_string_lossy()))?
    };
    match check(&candidate) {
        Ok(()) => Ok(candidate),
        Err(pico_abi::Errno::ENOENT) => Err(not_found(&candidate.display())),
        Err(e) => Err((
            FailKind::NotExecutable,
            i32::from(e.raw()),
            format!("{}: {}", candidate.display(), e.description()),
        )),
    }
}

/// Whether the file may be executed by this user.
pub fn executable(path: &Path) -> bool {
    pico_driver::host::check_executable(path).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slash_means_no_lookup() {
        assert_eq!(
            resolve(OsStr::new("./x"), Some(OsStr::new("/bin"))),
            Some(PathBuf::from("./x"))
        );
    }

    #[test]
    fn finds_in_path_and_misses_cleanly() {
        let sh = resolve(OsStr::new("sh"), Some(OsStr::new("/nonexistent:/bin"))).unwrap();
        assert_eq!(sh, PathBuf::from("/bin/sh"));
        assert_eq!(
            resolve(
                OsStr::new("no-such-program-xyz"),
                Some(OsStr::new("/bin:/usr/bin"))
            ),
            None
        );
        assert_eq!(resolve(OsStr::new(""), None), None);
    }
}
