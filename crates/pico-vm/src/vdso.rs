//! The guest's vDSO and its vvar page: clock_gettime and friends answered
//! in guest ring 3, without a VM exit.
//!
//! The vDSO (`guest-stubs/vdso.c`, built by `build.rs`) is one read +
//! execute segment at offset 0, so its file bytes are its memory image. The
//! vvar page one page below it is a `memfd` mapped read-only into the guest
//! and read-write into the host, which publishes clock data into it under a
//! seqlock ([`Vvar::publish`]). This module knows the page's layout, not
//! what the clocks should say: the driver computes that.

use std::io;
use std::os::fd::{AsFd, FromRawFd, OwnedFd};
use std::sync::atomic::{compiler_fence, Ordering};

use crate::layout::PAGE_SIZE;

include!("vvar_layout.rs");

/// The vDSO image, as built from `guest-stubs/vdso.c`.
pub static VDSO: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/vdso.so"));

/// Bytes of guest address space the vvar page and the vDSO take together.
pub fn mapping_len() -> u64 {
    PAGE_SIZE + (VDSO.len() as u64).next_multiple_of(PAGE_SIZE)
}

/// One clock in the page: nanoseconds at `tsc_base` and ns per tick << 32.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ClockBase {
    pub base_ns: u64,
    pub mult: u64,
}

/// Which vvar clock is which.
pub mod clock {
    pub const REALTIME: usize = 0;
    pub const MONOTONIC: usize = 1;
    pub const BOOTTIME: usize = 2;
    pub const MONOTONIC_RAW: usize = 3;
}

/// What the vvar page says.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VvarData {
    /// Whether the guest may use the rest (else the vDSO makes syscalls).
    pub ready: bool,
    /// The guest TSC value the clock bases are at.
    pub tsc_base: u64,
    pub clocks: [ClockBase; VVAR_CLOCKS as usize],
    /// `clock_getres` in nanoseconds by clock id; 0 sends the guest to the syscall.
    pub res_ns: [u64; VVAR_RES_IDS as usize],
}

/// The host's read-write view of one guest's vvar page.
pub struct Vvar {
    host: *mut u8,
    fd: OwnedFd,
}

// SAFETY: `host` is a shared mapping this value owns; writes go through
// `publish`, which takes `&self` but has a single caller per page (the
// driver's updater), and reads are volatile.
unsafe impl Send for Vvar {}
// SAFETY: as above.
unsafe impl Sync for Vvar {}

/// Sets the size of memfd `fd`, whatever RLIMIT_FSIZE the guest chose: it
/// binds the guest's files, not picorun's own page (a forked child rebuilds
/// its vvar page under the limit its guest set, and failed with EFBIG).
/// The limit is lifted for the call and put back; the callers run before
/// the guest has other threads (start-up, exec, a forked child).
fn size_memfd(fd: libc::c_int, len: u64) -> io::Result<()> {
    let mut old = libc::rlimit {
        rlim_cur: libc::RLIM_INFINITY,
        rlim_max: libc::RLIM_INFINITY,
    };
    // SAFETY: getrlimit writes the local struct only.
    unsafe { libc::getrlimit(libc::RLIMIT_FSIZE, &mut old) };
    let lifted = old.rlim_cur < len;
    if lifted {
        // Without CAP_SYS_RESOURCE only the soft limit can go up (to the
        // hard one); either way exceeding the limit is never attempted,
        // since that would send picorun (so the guest) SIGXFSZ.
        let up = libc::rlimit {
            rlim_cur: libc::RLIM_INFINITY,
            rlim_max: libc::RLIM_INFINITY,
        };
        let soft = libc::rlimit {
            rlim_cur: old.rlim_max,
            rlim_max: old.rlim_max,
        };
        // SAFETY: setrlimit reads the local structs only.
        let raised = unsafe {
            libc::setrlimit(libc::RLIMIT_FSIZE, &up) == 0
                || (old.rlim_max >= len && libc::setrlimit(libc::RLIMIT_FSIZE, &soft) == 0)
        };
        if !raised {
            return Err(io::Error::from_raw_os_error(libc::EFBIG));
        }
    }
    // SAFETY: `fd` is a valid memfd owned by the caller.
    let ret = unsafe { libc::ftruncate(fd, len as libc::off_t) };
    let err = io::Error::last_os_error();
    if lifted {
        // SAFETY: as above; lowering back is always allowed.
        unsafe { libc::setrlimit(libc::RLIMIT_FSIZE, &old) };
    }
    if ret != 0 {
        return Err(err);
    }
    Ok(())
}

impl Vvar {
    /// A zeroed page (not ready: the guest makes syscalls until published).
    pub fn new() -> io::Result<Vvar> {
        // SAFETY: the name is a NUL-terminated literal; the result is checked.
        let raw = unsafe { libc::memfd_create(c"pico-vvar".as_ptr(), libc::MFD_CLOEXEC) };
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `raw` is a descriptor memfd_create just returned to us.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        size_memfd(raw, PAGE_SIZE)?;
        // SAFETY: a fresh shared mapping of the memfd; nothing else is affected.
        let host = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                PAGE_SIZE as usize,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                raw,
                0,
            )
        };
        if host == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        Ok(Vvar {
            host: host.cast(),
            fd,
        })
    }

    /// The memfd, for mapping the page into the guest.
    pub fn fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.fd.as_fd()
    }

    fn write_u32(&self, offset: u64, value: u32) {
        // SAFETY: every offset used is a constant inside VVAR_SIZE (< one
        // page), aligned for its type, in the mapping this value owns.
        unsafe { std::ptr::write_volatile(self.host.add(offset as usize).cast::<u32>(), value) }
    }

    fn write_u64(&self, offset: u64, value: u64) {
        // SAFETY: as in `write_u32`.
        unsafe { std::ptr::write_volatile(self.host.add(offset as usize).cast::<u64>(), value) }
    }

    fn read_u32(&self, offset: u64) -> u32 {
        // SAFETY: as in `write_u32`.
        unsafe { std::ptr::read_volatile(self.host.add(offset as usize).cast::<u32>()) }
    }

    fn read_u64(&self, offset: u64) -> u64 {
        // SAFETY: as in `write_u32`.
        unsafe { std::ptr::read_volatile(self.host.add(offset as usize).cast::<u64>()) }
    }

    /// Writes `data` under the seqlock: the sequence is odd while the
    /// fields change, and x86 keeps stores in order, so a guest that saw
    /// the same even sequence before and after its reads read one version.
    /// One writer per page.
    pub fn publish(&self, data: &VvarData) {
        let seq = self.read_u32(VVAR_OFF_SEQ);
        self.write_u32(VVAR_OFF_SEQ, seq.wrapping_add(1) | 1);
        compiler_fence(Ordering::SeqCst);
        self.write_u32(VVAR_OFF_READY, u32::from(data.ready));
        self.write_u64(VVAR_OFF_TSC_BASE, data.tsc_base);
        for (i, c) in data.clocks.iter().enumerate() {
            let at = VVAR_OFF_CLOCKS + i as u64 * VVAR_CLOCK_SIZE;
            self.write_u64(at, c.base_ns);
            self.write_u64(at + 8, c.mult);
        }
        for (i, &res) in data.res_ns.iter().enumerate() {
            self.write_u64(VVAR_OFF_RES + 8 * i as u64, res);
        }
        compiler_fence(Ordering::SeqCst);
        self.write_u32(VVAR_OFF_SEQ, (seq | 1).wrapping_add(1));
    }

    /// What the page says now (tests, and a fork child's copy).
    pub fn read(&self) -> VvarData {
        let mut data = VvarData {
            ready: self.read_u32(VVAR_OFF_READY) != 0,
            tsc_base: self.read_u64(VVAR_OFF_TSC_BASE),
            ..Default::default()
        };
        for (i, c) in data.clocks.iter_mut().enumerate() {
            let at = VVAR_OFF_CLOCKS + i as u64 * VVAR_CLOCK_SIZE;
            c.base_ns = self.read_u64(at);
            c.mult = self.read_u64(at + 8);
        }
        for (i, res) in data.res_ns.iter_mut().enumerate() {
            *res = self.read_u64(VVAR_OFF_RES + 8 * i as u64);
        }
        data
    }

    /// The sequence count (odd while a publish is under way).
    pub fn sequence(&self) -> u32 {
        self.read_u32(VVAR_OFF_SEQ)
    }
}

impl Drop for Vvar {
    fn drop(&mut self) {
        // SAFETY: the mapping was made in `new` and is only used through self.
        unsafe {
            libc::munmap(self.host.cast(), PAGE_SIZE as usize);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_vdso_is_one_segment_at_zero_so_its_bytes_are_its_image() {
        assert_eq!(&VDSO[..4], b"\x7fELF");
        let word = |at: usize, n: usize| {
            let mut b = [0u8; 8];
            b[..n].copy_from_slice(&VDSO[at..at + n]);
            u64::from_le_bytes(b)
        };
        let (phoff, phentsize, phnum) = (word(0x20, 8) as usize, word(0x36, 2), word(0x38, 2));
        let loads: Vec<usize> = (0..phnum as usize)
            .map(|i| phoff + i * phentsize as usize)
            .filter(|&ph| word(ph, 4) == 1)
            .collect();
        assert_eq!(loads.len(), 1, "one PT_LOAD");
        let ph = loads[0];
        assert_eq!(word(ph + 8, 8), 0, "p_offset");
        assert_eq!(word(ph + 16, 8), 0, "p_vaddr");
        assert_eq!(word(ph + 32, 8), word(ph + 40, 8), "filesz == memsz");
        assert!(word(ph + 32, 8) <= VDSO.len() as u64);
    }

    #[test]
    fn publish_round_trips_and_leaves_an_even_sequence() {
        let page = Vvar::new().unwrap();
        assert!(!page.read().ready);
        let mut data = VvarData {
            ready: true,
            tsc_base: 12345,
            ..Default::default()
        };
        data.clocks[clock::MONOTONIC_RAW] = ClockBase {
            base_ns: 7,
            mult: 1 << 32,
        };
        data.res_ns[11] = 1;
        page.publish(&data);
        page.publish(&data);
        assert_eq!(page.read(), data);
        assert_eq!(page.sequence(), 4);
    }
}
