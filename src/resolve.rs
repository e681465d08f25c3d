//! Finding the program to run, as a shell's `execvp` would.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

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
