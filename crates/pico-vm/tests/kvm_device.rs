//! picorun keeps /dev/kvm open for the life of the host process (see
//! `open_kvm`); a library guest process closes the descriptors it inherits,
//! and the number may then be another file's. A new VM must still work,
//! and the file now at that number must be left alone.

use std::os::fd::{AsRawFd, OwnedFd};

/// The descriptors of this process that are /dev/kvm itself.
fn kvm_device_fds() -> Vec<i32> {
    std::fs::read_dir("/proc/self/fd")
        .expect("/proc/self/fd")
        .filter_map(|e| {
            let e = e.ok()?;
            let target = std::fs::read_link(e.path()).ok()?;
            (target == std::path::Path::new("/dev/kvm"))
                .then(|| e.file_name().to_str()?.parse().ok())?
        })
        .collect()
}

#[test]
fn a_kept_kvm_descriptor_closed_behind_its_back_is_opened_again() {
    drop(pico_vm::Vm::new().expect("a VM (needs /dev/kvm)"));
    // The VM's set-up thread lets go of its copy when it ends.
    let mut kept = kvm_device_fds();
    for _ in 0..100 {
        if kept.len() == 1 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
        kept = kvm_device_fds();
    }
    assert_eq!(kept.len(), 1, "one kept /dev/kvm descriptor: {kept:?}");
    // What a library guest process does to what it inherited...
    // SAFETY: closes a descriptor this test owns nothing else of.
    assert_eq!(unsafe { libc::close(kept[0]) }, 0);
    // ...and the number taken by something else (the lowest free one).
    let (read, write) = std::io::pipe().expect("pipe");
    let reused = OwnedFd::from(read);
    assert_eq!(reused.as_raw_fd(), kept[0], "the pipe took the old number");
    drop(pico_vm::Vm::new().expect("a VM after the descriptor was closed"));
    // The pipe is still the pipe.
    let target = std::fs::read_link(format!("/proc/self/fd/{}", kept[0])).expect("readlink");
    assert!(target.to_string_lossy().starts_with("pipe:"), "{target:?}");
    drop(write);
}
