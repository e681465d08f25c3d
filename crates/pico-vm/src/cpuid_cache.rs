//! KVM's supported CPUID table, kept on disk for as long as it cannot
//! change.
//!
//! `KVM_GET_SUPPORTED_CPUID` is asked once per host process, and every
//! `picorun` is a new process: under PVM it takes 0.3–0.45 ms of each start
//! (every host `cpuid` it executes traps), about a tenth of a static
//! hello-world's whole run. The answer depends only on the CPU, the kernel
//! and the KVM module, so it is kept in a file named after this boot
//! (`/proc/sys/kernel/random/boot_id`), the kernel release and the moment
//! `/dev/kvm` appeared (reloading the module makes a new node). The file
//! holds KVM's own answer; picorun's filter runs on it every time.
//!
//! The file is trusted only in a directory of this user's that nobody else
//! can write (`$XDG_RUNTIME_DIR/picorun`, else `/tmp/picorun-UID`, made
//! 0700), only when this user owns it and nobody else can write it, and
//! only when its size is a whole number of entries. Anything else means
//! asking KVM; failing to write the file is not an error.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use kvm_bindings::{kvm_cpuid_entry2, KVM_MAX_CPUID_ENTRIES};

/// Bytes per entry in the file: ten little-endian u32s (function, index,
/// flags, eax, ebx, ecx, edx, three padding words).
const ENTRY_BYTES: usize = 40;

/// The cached table, if there is a trustworthy one.
pub(crate) fn load() -> Option<Vec<kvm_cpuid_entry2>> {
    let path = dir()?.join(file_name()?);
    let mut file = File::open(&path).ok()?;
    if !private(&file.metadata().ok()?) {
        return None;
    }
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes).ok()?;
    decode(&bytes)
}

/// Keeps `entries` for the next process (best effort).
pub(crate) fn store(entries: &[kvm_cpuid_entry2]) {
    let (Some(dir), Some(name)) = (dir(), file_name()) else {
        return;
    };
    // Written aside and renamed: a reader sees all of it or nothing.
    let partial = dir.join(format!(".{name}.{}", std::process::id()));
    let written = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&partial)
        .and_then(|mut file| file.write_all(&encode(entries)));
    if written.is_err() || fs::rename(&partial, dir.join(name)).is_err() {
        let _ = fs::remove_file(&partial);
    }
}

fn encode(entries: &[kvm_cpuid_entry2]) -> Vec<u8> {
    entries
        .iter()
        .flat_map(|e| {
            [e.function, e.index, e.flags, e.eax, e.ebx, e.ecx, e.edx]
                .into_iter()
                .chain(e.padding)
        })
        .flat_map(u32::to_le_bytes)
        .collect()
}

fn decode(bytes: &[u8]) -> Option<Vec<kvm_cpuid_entry2>> {
    let count = bytes.len() / ENTRY_BYTES;
    if bytes.is_empty() || !bytes.len().is_multiple_of(ENTRY_BYTES) || count > KVM_MAX_CPUID_ENTRIES
    {
        return None;
    }
    let entries = bytes
        .chunks_exact(ENTRY_BYTES)
        .map(|chunk| {
            let mut words = chunk
                .chunks_exact(4)
                .map(|w| u32::from_le_bytes([w[0], w[1], w[2], w[3]]));
            let mut next = || words.next().unwrap_or(0);
            kvm_cpuid_entry2 {
                function: next(),
                index: next(),
                flags: next(),
                eax: next(),
                ebx: next(),
                ecx: next(),
                edx: next(),
                padding: [next(), next(), next()],
            }
        })
        .collect();
    Some(entries)
}

/// What the answer depends on, as a file name: this boot, the kernel
/// release, and when `/dev/kvm` was made.
fn file_name() -> Option<String> {
    let boot = fs::read_to_string("/proc/sys/kernel/random/boot_id").ok()?;
    let release = fs::read_to_string("/proc/sys/kernel/osrelease").ok()?;
    let kvm = fs::metadata("/dev/kvm").ok()?;
    let name = format!(
        "cpuid-{}-{}-{}.{}",
        boot.trim(),
        release.trim(),
        kvm.ctime(),
        kvm.ctime_nsec()
    );
    let safe = |c: char| c.is_ascii_alphanumeric() || "-._+".contains(c);
    name.chars().all(safe).then_some(name)
}

/// This user's cache directory, made if missing, if nobody else can
/// write it.
fn dir() -> Option<PathBuf> {
    let dir = match std::env::var_os("XDG_RUNTIME_DIR") {
        Some(runtime) if Path::new(&runtime).is_absolute() => Path::new(&runtime).join("picorun"),
        _ => PathBuf::from(format!("/tmp/picorun-{}", effective_uid())),
    };
    let _ = fs::DirBuilder::new().mode(0o700).create(&dir);
    let meta = fs::symlink_metadata(&dir).ok()?;
    (meta.is_dir() && private(&meta)).then_some(dir)
}

/// Owned by this user, writable by nobody else.
fn private(meta: &fs::Metadata) -> bool {
    meta.uid() == effective_uid() && meta.mode() & 0o022 == 0
}

fn effective_uid() -> u32 {
    // SAFETY: geteuid has no arguments and cannot fail.
    unsafe { libc::geteuid() }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(function: u32, seed: u32) -> kvm_cpuid_entry2 {
        kvm_cpuid_entry2 {
            function,
            index: seed,
            flags: seed ^ 1,
            eax: seed.wrapping_mul(3),
            ebx: u32::MAX - seed,
            ecx: seed << 7,
            edx: seed.rotate_left(13),
            padding: [seed, 0, u32::MAX],
        }
    }

    #[test]
    fn entries_come_back_as_they_went() {
        let entries: Vec<_> = (0..37).map(|i| entry(0x8000_0000 + i, i * 7919)).collect();
        let bytes = encode(&entries);
        assert_eq!(bytes.len(), entries.len() * ENTRY_BYTES);
        assert_eq!(decode(&bytes), Some(entries));
    }

    #[test]
    fn a_file_of_the_wrong_size_is_not_a_table() {
        let bytes = encode(&[entry(0, 1), entry(1, 2)]);
        assert_eq!(decode(&[]), None, "empty");
        assert_eq!(decode(&bytes[..bytes.len() - 1]), None, "cut short");
        let too_many = vec![0u8; (KVM_MAX_CPUID_ENTRIES + 1) * ENTRY_BYTES];
        assert_eq!(decode(&too_many), None, "more entries than KVM gives");
    }

    #[test]
    fn only_a_private_directory_and_file_count() {
        let base = std::env::temp_dir().join(format!("pico-cpuid-test-{}", std::process::id()));
        fs::DirBuilder::new()
            .mode(0o700)
            .create(&base)
            .expect("temp dir");
        let meta = |p: &Path| fs::symlink_metadata(p).expect("stat");
        assert!(private(&meta(&base)));
        let file = base.join("f");
        fs::write(&file, b"x").expect("write");
        for (mode, ok) in [(0o600, true), (0o644, true), (0o620, false), (0o602, false)] {
            fs::set_permissions(&file, std::os::unix::fs::PermissionsExt::from_mode(mode))
                .expect("chmod");
            assert_eq!(private(&meta(&file)), ok, "mode {mode:o}");
        }
        fs::set_permissions(&base, std::os::unix::fs::PermissionsExt::from_mode(0o777))
            .expect("chmod");
        assert!(!private(&meta(&base)), "a directory others can write");
        fs::remove_dir_all(&base).expect("clean up");
    }

    #[test]
    fn the_name_says_which_boot_kernel_and_kvm_node() {
        if !Path::new("/dev/kvm").exists() {
            assert_eq!(file_name(), None, "no /dev/kvm: nothing to cache");
            return;
        }
        let name = file_name().expect("a name");
        let boot = fs::read_to_string("/proc/sys/kernel/random/boot_id").expect("boot id");
        assert!(name.starts_with("cpuid-"), "{name}");
        assert!(name.contains(boot.trim()), "{name}");
    }
}
