//! Builds `tests/fixtures/NAME.c` at test time, once per test process.
//!
//! Fixtures are compiled rather than checked in so that the suite tests the
//! libc start-up code of the machine it runs on, and so a fresh checkout
//! needs nothing but `gcc` and `musl-gcc`.
//!
//! Where the binaries go: `<profile dir>/pico-fixtures/`, where the profile
//! dir (`target/release`, `target/<triple>/debug`, …) is the parent of the
//! `deps/` directory holding the running test binary. Cargo always runs unit
//! and integration tests from `deps/`, so this works for any
//! `CARGO_TARGET_DIR`, profile or `--target` without configuration; when the
//! layout is unexpected it falls back to `$CARGO_TARGET_DIR`, then to the
//! system temp dir.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

/// How a fixture is compiled and linked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Variant {
    /// `gcc -static`: glibc's static start-up (IRELATIVE relocs, TLS, AVX2 string functions).
    GlibcStatic,
    /// `musl-gcc -static`: a different libc's view of the same syscalls.
    MuslStatic,
    /// `gcc` (dynamic, PIE): ld.so, shared libc, lazy binding.
    GlibcDynamic,
    /// `gcc -nostdlib`: `raw_*` fixtures that define `_start` and issue bare syscalls.
    NoLibc,
}

impl Variant {
    /// The variants a fixture is meant for: `raw_*` are libc-free, all others build with both libcs.
    pub fn applicable(name: &str) -> &'static [Variant] {
        if name.starts_with("raw_") {
            &[Variant::NoLibc]
        } else {
            &[
                Variant::GlibcStatic,
                Variant::MuslStatic,
                Variant::GlibcDynamic,
            ]
        }
    }

    fn suffix(self) -> &'static str {
        match self {
            Variant::GlibcStatic => "glibc",
            Variant::MuslStatic => "musl",
            Variant::GlibcDynamic => "glibc-dyn",
            Variant::NoLibc => "nolibc",
        }
    }

    /// Compiler, its flags, and the Debian package that provides it.
    fn compiler(self) -> (&'static str, &'static [&'static str], &'static str) {
        match self {
            Variant::GlibcStatic => ("gcc", &["-O1", "-static"], "gcc"),
            Variant::MuslStatic => ("musl-gcc", &["-O1", "-static"], "musl-tools"),
            Variant::GlibcDynamic => ("gcc", &["-O1", "-pthread"], "gcc"),
            Variant::NoLibc => (
                "gcc",
                &[
                    "-O1",
                    "-static",
                    "-nostdlib",
                    "-ffreestanding",
                    "-fno-stack-protector",
                    "-fno-builtin",
                ],
                "gcc",
            ),
        }
    }
}

type Slot = Arc<OnceLock<PathBuf>>;

/// Path of the compiled fixture `tests/fixtures/{name}.c` for `variant`.
///
/// Compiled at most once per test process; concurrent callers for the same
/// fixture wait for the one compilation. Panics with the compiler's output
/// on error, and with the apt package name when the compiler is missing.
pub fn fixture(name: &str, variant: Variant) -> PathBuf {
    static BUILT: OnceLock<Mutex<HashMap<(String, Variant), Slot>>> = OnceLock::new();
    let slot = {
        let mut map = BUILT
            .get_or_init(Default::default)
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        Arc::clone(map.entry((name.to_owned(), variant)).or_default())
    };
    // Compile outside the map lock so different fixtures build in parallel.
    slot.get_or_init(|| compile(name, variant)).clone()
}

/// Where the fixture sources live: the workspace's `tests/fixtures/`.
fn source_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures")
}

/// The directory compiled fixtures are written to (see the module docs).
pub fn fixtures_dir() -> PathBuf {
    let from_exe = std::env::current_exe().ok().and_then(|exe| {
        exe.ancestors()
            .find(|dir| dir.file_name().is_some_and(|n| n == "deps"))
            .and_then(Path::parent)
            .map(Path::to_path_buf)
    });
    let base = from_exe
        .or_else(|| std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from))
        .unwrap_or_else(std::env::temp_dir);
    base.join("pico-fixtures")
}

fn compile(name: &str, variant: Variant) -> PathBuf {
    let src = source_dir().join(format!("{name}.c"));
    assert!(
        src.is_file(),
        "fixture source {} does not exist",
        src.display()
    );
    let dir = fixtures_dir();
    std::fs::create_dir_all(&dir)
        .unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
    let out = dir.join(format!("{name}.{}", variant.suffix()));

    // A unique temporary name, then an atomic rename: other threads and other
    // test processes may be running the previous binary at this path.
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let tmp = dir.join(format!(
        ".{name}.{}.{}.{}.tmp",
        variant.suffix(),
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    ));
    let (cc, flags, package) = variant.compiler();
    let result = Command::new(cc)
        .args(flags)
        .arg("-o")
        .arg(&tmp)
        .arg(&src)
        .output();
    let output = match result {
        Ok(output) => output,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => panic!(
            "`{cc}` not found: install the Debian package `{package}` \
             (apt-get install -y {package}) to build the test fixtures"
        ),
        Err(e) => panic!("cannot run `{cc}`: {e}"),
    };
    if !output.status.success() {
        let _ = std::fs::remove_file(&tmp);
        panic!(
            "compiling fixture {name} ({variant:?}) failed: {cc} {} -o {} {}\n{}{}",
            flags.join(" "),
            tmp.display(),
            src.display(),
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr),
        );
    }
    std::fs::rename(&tmp, &out)
        .unwrap_or_else(|e| panic!("cannot rename {} to {}: {e}", tmp.display(), out.display()));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_fixtures_are_nolibc_only() {
        assert_eq!(Variant::applicable("raw_hello"), &[Variant::NoLibc]);
        assert_eq!(
            Variant::applicable("hello"),
            &[
                Variant::GlibcStatic,
                Variant::MuslStatic,
                Variant::GlibcDynamic
            ]
        );
    }

    #[test]
    fn fixtures_dir_is_under_the_profile_dir() {
        // Unit tests run from target/<profile>/deps/, like integration tests.
        let dir = fixtures_dir();
        assert!(dir.ends_with("pico-fixtures"));
        let exe = std::env::current_exe().unwrap();
        assert!(exe.starts_with(dir.parent().unwrap()), "{dir:?} vs {exe:?}");
    }
}
