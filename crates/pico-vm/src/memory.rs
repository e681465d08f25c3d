//! The guest's user memory: one host reservation (the window) behind the
//! whole guest address space, and the record of what the guest mapped.
//!
//! This is the only module that touches guest user memory from the host.
//! Every guest mapping is a host mapping at `base + guest address` with the
//! same protection and sharing, so file mappings are zero-copy and KVM sees
//! every change through its MMU notifiers. Unmapped parts of the window are
//! `PROT_NONE` reservations: a guest access there fails `KVM_RUN` with
//! `EFAULT`, and the window never has holes another host mapping could
//! fall into.
//!
//! Host copies to and from guest memory go through vm-memory's
//! bounds-checked volatile accessors, after a check against the guest's
//! mappings so that a bad guest pointer is a `Fault`, never a host crash.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use vm_memory::{Bytes, GuestAddress, GuestMemoryMmap, GuestRegionMmap, MmapRegion};

use crate::layout::{KERNEL_SIZE, PAGE_SIZE, WINDOW_SIZE};
use crate::rangemap::RangeMap;

/// Linux protection bits, as in `mmap(2)`.
pub const PROT_READ: u32 = 1;
pub const PROT_WRITE: u32 = 2;
pub const PROT_EXEC: u32 = 4;

/// What the guest has at a mapped range.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Region {
    pub prot: u32,
    pub shared: bool,
    /// File mappings: the file and where it lies. `None` for anonymous memory.
    pub file: Option<FileMapping>,
}

/// A file mapping's file and its placement.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileMapping {
    pub file: Arc<MappedFile>,
    /// Guest address of the file's offset 0 (wrapping). Unlike the offset of
    /// a range's start, it stays right when the range is split.
    origin: u64,
}

impl FileMapping {
    /// The file offset that guest address `addr` shows.
    pub fn offset_at(&self, addr: u64) -> u64 {
        addr.wrapping_sub(self.origin)
    }
}

/// Which file was mapped, as it was named when mapped (what Linux shows in
/// `/proc/self/maps`). Zero and empty where the host could not tell.
#[derive(Debug, PartialEq, Eq)]
pub struct MappedFile {
    pub dev: u64,
    pub ino: u64,
    pub path: PathBuf,
}

impl MappedFile {
    /// What `fd` is. `last`, the file of the previous file mapping, is
    /// reused if `fd` is the same file: a program's or a library's segments
    /// are mapped one after another, and resolving the name each time costs
    /// a /proc lookup (a second name of the same file, a hard link mapped
    /// right after the first, shows the first name).
    fn of(fd: BorrowedFd<'_>, last: Option<&Arc<MappedFile>>) -> Arc<MappedFile> {
        // SAFETY: fstat fills in the local stat buffer for a descriptor the
        // caller keeps open.
        let (dev, ino) = unsafe {
            let mut st: libc::stat = std::mem::zeroed();
            if libc::fstat(fd.as_raw_fd(), &mut st) == 0 {
                (st.st_dev, st.st_ino)
            } else {
                (0, 0)
            }
        };
        if let Some(last) = last.filter(|l| ino != 0 && (l.dev, l.ino) == (dev, ino)) {
            return last.clone();
        }
        let link = format!("/proc/self/fd/{}", fd.as_raw_fd());
        let path = std::fs::read_link(&link).unwrap_or_default();
        Arc::new(MappedFile { dev, ino, path })
    }
}

/// How the host is about to use a guest range.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    Read,
    Write,
}

/// A guest address the guest may not access this way.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fault {
    pub addr: u64,
}

/// Host memory behind the guest's user address space.
pub struct Memory {
    base: *mut u8,
    /// Host bytes reserved (window, room for the kernel area, alignment
    /// slack).
    reserved: usize,
    reserved_at: *mut u8,
    /// Whether the kernel room was handed out (its taker unmaps it).
    kernel_room_taken: AtomicBool,
    /// The file of the latest file mapping (see [`MappedFile::of`]).
    last_file: Option<Arc<MappedFile>>,
    guest: GuestMemoryMmap,
    regions: RangeMap<Region>,
}

// SAFETY: `Memory` owns its reservation; the raw pointers are only
// addresses of that reservation, valid from any thread.
unsafe impl Send for Memory {}
// SAFETY: shared access only reads the region record and copies through
// vm-memory's volatile accessors; every change takes `&mut self`.
unsafe impl Sync for Memory {}

fn page_aligned(addr: u64, len: u64) -> bool {
    addr.is_multiple_of(PAGE_SIZE) && len.is_multiple_of(PAGE_SIZE) && len > 0
}

fn in_window(addr: u64, len: u64) -> bool {
    addr.checked_add(len).is_some_and(|end| end <= WINDOW_SIZE)
}

fn check_mmap(ret: *mut libc::c_void, want: *mut u8) -> io::Result<()> {
    if ret == libc::MAP_FAILED {
        return Err(io::Error::last_os_error());
    }
    if ret as *mut u8 != want {
        return Err(io::Error::other("mmap did not honour MAP_FIXED"));
    }
    Ok(())
}

impl Memory {
    /// Reserves the window, aligned to 1 GiB so KVM can back the guest with
    /// huge pages where the host has them, and room right after it for the
    /// kernel area (see [`Memory::take_kernel_room`]).
    pub fn new() -> io::Result<Memory> {
        const ALIGN: usize = 1 << 30;
        let reserved = WINDOW_SIZE as usize + KERNEL_SIZE as usize + ALIGN;
        // SAFETY: a fresh anonymous PROT_NONE reservation; no existing memory
        // is affected.
        let at = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                reserved,
                libc::PROT_NONE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        if at == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let base = ((at as usize).next_multiple_of(ALIGN)) as *mut u8;
        // SAFETY: [base, base + WINDOW_SIZE) lies inside the reservation made
        // above, which lives as long as `Memory`; the region does not own it.
        let region = unsafe {
            MmapRegion::build_raw(
                base,
                WINDOW_SIZE as usize,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            )
        }
        .map_err(|e| io::Error::other(format!("guest memory region: {e}")))?;
        let region = GuestRegionMmap::new(region, GuestAddress(0))
            .ok_or_else(|| io::Error::other("guest memory region overflows"))?;
        let guest = GuestMemoryMmap::from_regions(vec![region])
            .map_err(|e| io::Error::other(format!("guest memory: {e}")))?;
        Ok(Memory {
            base,
            reserved,
            reserved_at: at as *mut u8,
            kernel_room_taken: AtomicBool::new(false),
            last_file: None,
            guest,
            regions: RangeMap::new(),
        })
    }

    /// Host address of guest address 0.
    pub fn host_base(&self) -> u64 {
        self.base as u64
    }

    /// The reserved `KERNEL_SIZE` bytes right after the window, where the
    /// kernel area goes so that one memory slot can cover it and the top of
    /// the window; once only. From then on the taker owns (and unmaps) it.
    pub(crate) fn take_kernel_room(&self) -> Option<*mut u8> {
        let taken = self.kernel_room_taken.swap(true, Ordering::AcqRel);
        (!taken).then(|| self.kernel_room())
    }

    fn kernel_room(&self) -> *mut u8 {
        self.base.wrapping_add(WINDOW_SIZE as usize)
    }

    /// The guest's mappings.
    pub fn regions(&self) -> &RangeMap<Region> {
        &self.regions
    }

    fn host(&self, addr: u64) -> *mut u8 {
        self.base.wrapping_add(addr as usize)
    }

    /// Maps anonymous zeroed memory at `[addr, addr+len)`, replacing what was there.
    pub fn map_anon(&mut self, addr: u64, len: u64, prot: u32, shared: bool) -> io::Result<()> {
        self.map(addr, len, prot, shared, None)
    }

    /// Maps `len` bytes of `fd` from `offset` at `addr`, replacing what was there.
    pub fn map_file(
        &mut self,
        addr: u64,
        len: u64,
        prot: u32,
        shared: bool,
        fd: BorrowedFd<'_>,
        offset: u64,
    ) -> io::Result<()> {
        self.map(addr, len, prot, shared, Some((fd, offset)))
    }

    fn map(
        &mut self,
        addr: u64,
        len: u64,
        prot: u32,
        shared: bool,
        file: Option<(BorrowedFd<'_>, u64)>,
    ) -> io::Result<()> {
        if !page_aligned(addr, len) || !in_window(addr, len) {
            return Err(io::Error::from_raw_os_error(libc::EINVAL));
        }
        let sharing = if shared {
            libc::MAP_SHARED
        } else {
            libc::MAP_PRIVATE
        };
        let (flags, fd, offset) = match file {
            Some((fd, offset)) => (sharing, fd.as_raw_fd(), offset),
            None => (sharing | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE, -1, 0),
        };
        let want = self.host(addr);
        // SAFETY: [want, want+len) is inside the window (checked above),
        // which this `Memory` owns; replacing it affects only guest memory.
        let ret = unsafe {
            libc::mmap(
                want.cast(),
                len as usize,
                prot as i32,
                flags | libc::MAP_FIXED,
                fd,
                offset as libc::off_t,
            )
        };
        check_mmap(ret, want)?;
        let file = file.map(|(fd, offset)| {
            let file = MappedFile::of(fd, self.last_file.as_ref());
            self.last_file = Some(file.clone());
            FileMapping {
                file,
                origin: addr.wrapping_sub(offset),
            }
        });
        self.regions
            .insert(addr, addr + len, Region { prot, shared, file });
        Ok(())
    }

    /// Unmaps `[addr, addr+len)`: back to a `PROT_NONE` reservation.
    pub fn unmap(&mut self, addr: u64, len: u64) -> io::Result<()> {
        if !page_aligned(addr, len) || !in_window(addr, len) {
            return Err(io::Error::from_raw_os_error(libc::EINVAL));
        }
        self.reserve(addr, len)?;
        self.regions.remove(addr, addr + len);
        Ok(())
    }

    fn reserve(&mut self, addr: u64, len: u64) -> io::Result<()> {
        let want = self.host(addr);
        // SAFETY: inside the window (checked by callers); turns guest memory
        // back into an inaccessible reservation.
        let ret = unsafe {
            libc::mmap(
                want.cast(),
                len as usize,
                libc::PROT_NONE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE | libc::MAP_FIXED,
                -1,
                0,
            )
        };
        check_mmap(ret, want)
    }

    /// Changes the protection of `[addr, addr+len)`, which must be mapped.
    pub fn protect(&mut self, addr: u64, len: u64, prot: u32) -> io::Result<()> {
        if !page_aligned(addr, len) || !in_window(addr, len) {
            return Err(io::Error::from_raw_os_error(libc::EINVAL));
        }
        if !self.regions.covered(addr, addr + len, |_| true) {
            return Err(io::Error::from_raw_os_error(libc::ENOMEM));
        }
        // SAFETY: the range is inside the window and mapped (checked above).
        let ret = unsafe { libc::mprotect(self.host(addr).cast(), len as usize, prot as i32) };
        if ret != 0 {
            return Err(io::Error::last_os_error());
        }
        self.regions.update(addr, addr + len, |r| r.prot = prot);
        Ok(())
    }

    /// Moves `[old, old+old_len)` to `[new, new+new_len)` (host `mremap`),
    /// leaving a reservation behind. Both ranges must be in the window.
    pub fn remap(&mut self, old: u64, old_len: u64, new: u64, new_len: u64) -> io::Result<()> {
        if !page_aligned(old, old_len)
            || !page_aligned(new, new_len)
            || !in_window(old, old_len)
            || !in_window(new, new_len)
        {
            return Err(io::Error::from_raw_os_error(libc::EINVAL));
        }
        let pieces = self.regions.overlapping(old, old + old_len);
        if self.regions.get(old).is_none() {
            return Err(io::Error::from_raw_os_error(libc::EFAULT));
        }
        let want = self.host(new);
        // SAFETY: both ranges are inside the window; the old one is a guest
        // mapping, the new one guest address space the caller chose.
        let ret = unsafe {
            libc::mremap(
                self.host(old).cast(),
                old_len as usize,
                new_len as usize,
                libc::MREMAP_MAYMOVE | libc::MREMAP_FIXED,
                want,
            )
        };
        check_mmap(ret, want)?;
        self.regions.remove(old, old + old_len);
        // mremap left a hole in the window where the old range was.
        let (hole, hole_len) = if new == old {
            (old + new_len, old_len.saturating_sub(new_len))
        } else {
            (old, old_len)
        };
        if hole_len > 0 {
            self.reserve(hole, hole_len)?;
        }
        // Each piece moves with its own record; the last one covers any growth.
        let (new_end, last) = (new + new_len, pieces.len().saturating_sub(1));
        for (i, (start, end, mut region)) in pieces.into_iter().enumerate() {
            let to = new + (start - old);
            let to_end = if i == last {
                new_end
            } else {
                new + (end - old)
            };
            if let Some(f) = &mut region.file {
                f.origin = f.origin.wrapping_add(new).wrapping_sub(old);
            }
            self.regions.insert(to, to_end.min(new_end), region);
        }
        Ok(())
    }

    /// Host `madvise` on a mapped guest range (e.g. `MADV_DONTNEED`).
    pub fn advise(&mut self, addr: u64, len: u64, advice: i32) -> io::Result<()> {
        if !page_aligned(addr, len) || !in_window(addr, len) {
            return Err(io::Error::from_raw_os_error(libc::EINVAL));
        }
        // SAFETY: inside the window; madvise never makes host memory invalid.
        let ret = unsafe { libc::madvise(self.host(addr).cast(), len as usize, advice) };
        if ret != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Host `msync` on a mapped guest range: the guest's shared file
    /// mappings are host mappings, so this is the real write-back.
    pub fn sync(&self, addr: u64, len: u64, flags: i32) -> io::Result<()> {
        if !page_aligned(addr, len) || !in_window(addr, len) {
            return Err(io::Error::from_raw_os_error(libc::EINVAL));
        }
        // SAFETY: inside the window; msync does not change any mapping.
        let ret = unsafe { libc::msync(self.host(addr).cast(), len as usize, flags) };
        if ret != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Checks that the guest may access `[addr, addr+len)` as `access`.
    pub fn check(&self, addr: u64, len: u64, access: Access) -> Result<(), Fault> {
        if len == 0 {
            return Ok(());
        }
        let end = addr
            .checked_add(len)
            .filter(|&e| e <= WINDOW_SIZE)
            .ok_or(Fault { addr })?;
        let want = match access {
            Access::Read => PROT_READ | PROT_WRITE | PROT_EXEC,
            Access::Write => PROT_WRITE,
        };
        if self.regions.covered(addr, end, |r| r.prot & want != 0) {
            Ok(())
        } else {
            Err(Fault { addr })
        }
    }

    /// How many bytes from `addr` (at most `len`) the guest may access as
    /// `access`, without a gap.
    pub fn accessible_len(&self, addr: u64, len: u64, access: Access) -> u64 {
        let end = addr.saturating_add(len).min(WINDOW_SIZE);
        let want = match access {
            Access::Read => PROT_READ | PROT_WRITE | PROT_EXEC,
            Access::Write => PROT_WRITE,
        };
        let mut at = addr;
        for (s, e, r) in self.regions.pieces(addr, end) {
            if s != at || r.prot & want == 0 {
                break;
            }
            at = e;
        }
        at.saturating_sub(addr)
    }

    /// Host pointer to a checked guest range, for host syscalls that read or
    /// write guest memory themselves (zero-copy I/O). The kernel, not
    /// picorun, dereferences it, so a race with an unmap is an `EFAULT`.
    pub fn host_range(&self, addr: u64, len: u64, access: Access) -> Result<*mut u8, Fault> {
        self.check(addr, len, access)?;
        Ok(self.host(addr))
    }

    /// Copies guest memory at `addr` into `buf`.
    pub fn read(&self, addr: u64, buf: &mut [u8]) -> Result<(), Fault> {
        self.check(addr, buf.len() as u64, Access::Read)?;
        if self.may_bus_error(addr, buf.len() as u64) {
            return self.copy_by_kernel(addr, buf.as_mut_ptr(), buf.len(), false);
        }
        self.guest
            .read_slice(buf, GuestAddress(addr))
            .map_err(|_| Fault { addr })
    }

    /// Copies `buf` into guest memory at `addr`.
    pub fn write(&self, addr: u64, buf: &[u8]) -> Result<(), Fault> {
        self.check(addr, buf.len() as u64, Access::Write)?;
        if self.may_bus_error(addr, buf.len() as u64) {
            return self.copy_by_kernel(addr, buf.as_ptr().cast_mut(), buf.len(), true);
        }
        self.guest
            .write_slice(buf, GuestAddress(addr))
            .map_err(|_| Fault { addr })
    }

    /// Whether touching `[addr, addr+len)` from the host could raise SIGBUS
    /// in picorun: file mappings (pages past the end of the file, also after
    /// the file shrinks) and shared anonymous memory (pages past its size
    /// after an mremap that grew it). The guest gets SIGBUS there; a copy
    /// by the kernel gets EFAULT, as Linux's copy_from_user does.
    fn may_bus_error(&self, addr: u64, len: u64) -> bool {
        !self.regions.covered(addr, addr.saturating_add(len), |r| {
            r.file.is_none() && !r.shared
        })
    }

    /// Copies between `local` and the (checked) guest range at `addr`
    /// through a pipe of this thread's: the kernel does both copies, so a
    /// guest page that cannot be faulted in makes a short copy or EFAULT,
    /// never a signal. (A pipe rather than process_vm_readv/writev on
    /// picorun itself: those stay outside the host's seccomp allow-list.)
    fn copy_by_kernel(
        &self,
        addr: u64,
        local: *mut u8,
        len: usize,
        to_guest: bool,
    ) -> Result<(), Fault> {
        let fault = |done: usize| Fault {
            addr: addr + done as u64,
        };
        let (read_end, write_end) = copy_pipe().ok_or(Fault { addr })?;
        let mut done = 0;
        while done < len {
            let chunk = (len - done).min(COPY_PIPE_CHUNK);
            let guest = self.host(addr + done as u64);
            let here = local.wrapping_add(done);
            let (from, to) = if to_guest {
                (here, guest)
            } else {
                (guest, here)
            };
            // SAFETY: `local` is valid for `len` bytes (the caller's slice);
            // the guest range is inside the window and checked against the
            // guest's mappings. Both are touched only by the kernel, which
            // fails a copy it cannot complete instead of faulting.
            let put = unsafe { libc::write(write_end, from.cast(), chunk) };
            if put <= 0 {
                return Err(fault(done));
            }
            // SAFETY: as above; `put` bytes are waiting in the pipe.
            let got = unsafe { libc::read(read_end, to.cast(), put as usize) };
            if got != put {
                drain(read_end);
                return Err(fault(done + got.max(0) as usize));
            }
            done += put as usize;
        }
        Ok(())
    }

    /// Writes `buf` even where the guest may not write (the loader filling
    /// read-only segments, the initial stack): the host mapping must allow it.
    pub fn write_initial(&self, addr: u64, buf: &[u8]) -> Result<(), Fault> {
        self.check(addr, buf.len() as u64, Access::Read)?;
        if !self
            .regions
            .covered(addr, addr + buf.len() as u64, |r| r.prot & PROT_WRITE != 0)
        {
            return Err(Fault { addr });
        }
        if self.may_bus_error(addr, buf.len() as u64) {
            return self.copy_by_kernel(addr, buf.as_ptr().cast_mut(), buf.len(), true);
        }
        self.guest
            .write_slice(buf, GuestAddress(addr))
            .map_err(|_| Fault { addr })
    }

    pub fn read_u64(&self, addr: u64) -> Result<u64, Fault> {
        let mut b = [0u8; 8];
        self.read(addr, &mut b)?;
        Ok(u64::from_le_bytes(b))
    }

    pub fn write_u64(&self, addr: u64, value: u64) -> Result<(), Fault> {
        self.write(addr, &value.to_le_bytes())
    }

    /// Reads a NUL-terminated string of at most `max` bytes (without the NUL).
    /// Reads page by page so a string that ends just before an unmapped page
    /// is fine.
    pub fn read_cstr(&self, addr: u64, max: usize) -> Result<Vec<u8>, CstrError> {
        let mut out = Vec::new();
        let mut at = addr;
        while out.len() <= max {
            let chunk = (PAGE_SIZE - at % PAGE_SIZE).min((max + 1 - out.len()) as u64);
            let mut buf = vec![0u8; chunk as usize];
            self.read(at, &mut buf).map_err(CstrError::Fault)?;
            if let Some(nul) = buf.iter().position(|&b| b == 0) {
                out.extend_from_slice(&buf[..nul]);
                return Ok(out);
            }
            out.extend_from_slice(&buf);
            at += chunk;
        }
        Err(CstrError::TooLong)
    }
}

/// Why a guest string could not be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CstrError {
    Fault(Fault),
    TooLong,
}

impl Drop for Memory {
    fn drop(&mut self) {
        if !*self.kernel_room_taken.get_mut() {
            // SAFETY: the reservation was made in `new` and nothing refers
            // to it any more.
            unsafe { libc::munmap(self.reserved_at.cast(), self.reserved) };
            return;
        }
        // The reservation less the kernel room, which its taker unmaps.
        let room = self.kernel_room();
        let end = self.reserved_at.wrapping_add(self.reserved);
        let after = room.wrapping_add(KERNEL_SIZE as usize);
        // SAFETY: both ranges are parts of the reservation made in `new`, and
        // nothing refers to them any more (the VM that used them as memory
        // slots is dropped first).
        unsafe {
            libc::munmap(
                self.reserved_at.cast(),
                room as usize - self.reserved_at as usize,
            );
            libc::munmap(after.cast(), end as usize - after as usize);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mapped_memory_is_readable_and_writable_through_checks() {
        let mut m = Memory::new().unwrap();
        m.map_anon(0x40_0000, 0x2000, PROT_READ | PROT_WRITE, false)
            .unwrap();
        m.write(0x40_0ff0, b"hello, pico\0").unwrap();
        assert_eq!(m.read_cstr(0x40_0ff0, 100).unwrap(), b"hello, pico");
        assert_eq!(
            m.read_u64(0x40_0ff0).unwrap(),
            u64::from_le_bytes(*b"hello, p")
        );
    }

    #[test]
    fn unmapped_and_read_only_memory_faults_instead_of_crashing() {
        let mut m = Memory::new().unwrap();
        m.map_anon(0x40_0000, 0x1000, PROT_READ, false).unwrap();
        assert_eq!(m.write(0x40_0000, b"x"), Err(Fault { addr: 0x40_0000 }));
        assert!(
            m.read(0x40_0ffc, &mut [0u8; 8]).is_err(),
            "runs off the mapping"
        );
        assert!(m.read(0, &mut [0u8; 1]).is_err());
        assert!(m.read(WINDOW_SIZE - 1, &mut [0u8; 4]).is_err());
        assert!(m.read(u64::MAX - 2, &mut [0u8; 8]).is_err());
        m.unmap(0x40_0000, 0x1000).unwrap();
        assert!(m.read(0x40_0000, &mut [0u8; 1]).is_err());
    }

    #[test]
    fn accessible_len_stops_at_the_first_gap() {
        let mut m = Memory::new().unwrap();
        m.map_anon(0x10000, 0x2000, PROT_READ | PROT_WRITE, false)
            .unwrap();
        m.map_anon(0x12000, 0x1000, PROT_READ, false).unwrap();
        assert_eq!(m.accessible_len(0x10800, 0x10000, Access::Read), 0x2800);
        assert_eq!(m.accessible_len(0x10800, 0x10000, Access::Write), 0x1800);
        assert_eq!(m.accessible_len(0x10800, 0x10, Access::Write), 0x10);
        assert_eq!(m.accessible_len(0x20000, 0x10, Access::Read), 0);
    }

    #[test]
    fn protect_changes_what_the_checks_allow() {
        let mut m = Memory::new().unwrap();
        m.map_anon(0x10000, 0x3000, PROT_READ | PROT_WRITE, false)
            .unwrap();
        m.protect(0x11000, 0x1000, PROT_READ).unwrap();
        assert!(m.write(0x10000, b"a").is_ok());
        assert!(m.write(0x11000, b"a").is_err());
        assert!(m.write(0x12000, b"a").is_ok());
        assert!(
            m.protect(0x13000, 0x1000, PROT_READ).is_err(),
            "unmapped: ENOMEM"
        );
    }

    #[test]
    fn remap_moves_contents_and_leaves_a_reservation() {
        let mut m = Memory::new().unwrap();
        m.map_anon(0x10000, 0x1000, PROT_READ | PROT_WRITE, false)
            .unwrap();
        m.write(0x10000, b"moved").unwrap();
        m.remap(0x10000, 0x1000, 0x80000, 0x3000).unwrap();
        let mut b = [0u8; 5];
        m.read(0x80000, &mut b).unwrap();
        assert_eq!(&b, b"moved");
        assert!(m.read(0x10000, &mut b).is_err());
        assert!(m.write(0x82000, b"grown").is_ok());
    }

    #[test]
    fn file_mappings_keep_their_file_and_offsets_when_split_or_moved() {
        use std::os::fd::AsFd;
        let mut m = Memory::new().unwrap();
        let file = std::fs::File::open("/proc/self/exe").unwrap();
        m.map_file(0x40_0000, 0x3000, PROT_READ, false, file.as_fd(), 0x2000)
            .unwrap();
        // Recorded as three pieces (the host keeps one mapping).
        m.protect(0x40_1000, 0x1000, PROT_READ).unwrap();
        let offsets: Vec<u64> = m
            .regions()
            .iter()
            .map(|(s, _, r)| r.file.as_ref().unwrap().offset_at(s))
            .collect();
        assert_eq!(offsets, vec![0x2000, 0x3000, 0x4000]);
        let (_, _, first) = m.regions().get(0x40_0000).unwrap();
        let mapped = &first.file.as_ref().unwrap().file;
        assert_eq!(mapped.path, std::fs::read_link("/proc/self/exe").unwrap());
        assert_ne!(mapped.ino, 0);
        // Moved and grown: each piece keeps its offset, the last one grows.
        m.remap(0x40_0000, 0x3000, 0x80_0000, 0x4000).unwrap();
        let moved: Vec<(u64, u64, u64)> = m
            .regions()
            .iter()
            .map(|(s, e, r)| (s, e, r.file.as_ref().unwrap().offset_at(s)))
            .collect();
        assert_eq!(
            moved,
            vec![
                (0x80_0000, 0x80_1000, 0x2000),
                (0x80_1000, 0x80_2000, 0x3000),
                (0x80_2000, 0x80_4000, 0x4000),
            ]
        );
        assert!(m.regions().is_free(0x40_0000, 0x40_3000));
    }

    #[test]
    fn unterminated_string_is_too_long() {
        let mut m = Memory::new().unwrap();
        m.map_anon(0x10000, 0x1000, PROT_READ | PROT_WRITE, false)
            .unwrap();
        m.write(0x10000, &[b'a'; 64]).unwrap();
        assert_eq!(m.read_cstr(0x10000, 10), Err(CstrError::TooLong));
        m.write(0x10fc0, &[b'b'; 64]).unwrap();
        assert!(matches!(
            m.read_cstr(0x10fc0, 4096),
            Err(CstrError::Fault(_))
        ));
    }
}

/// The most one pass of [`Memory::copy_by_kernel`] puts in its pipe (a
/// pipe's default capacity, so a write never blocks).
const COPY_PIPE_CHUNK: usize = 64 << 10;

/// A thread's copy pipe; its ends close when the thread ends.
struct CopyPipe {
    /// The process it belongs to (a forked child inherits the value but
    /// must not share the pipe).
    pid: u32,
    read: std::os::fd::OwnedFd,
    write: std::os::fd::OwnedFd,
}

thread_local! {
    static COPY_PIPE: std::cell::RefCell<Option<CopyPipe>> = const { std::cell::RefCell::new(None) };
}

/// This thread's copy pipe (read end, write end), made on first use.
fn copy_pipe() -> Option<(i32, i32)> {
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    let pid = std::process::id();
    COPY_PIPE.with(|cell| {
        let mut slot = cell.borrow_mut();
        if let Some(p) = slot.as_ref().filter(|p| p.pid == pid) {
            return Some((p.read.as_raw_fd(), p.write.as_raw_fd()));
        }
        // A forked child's inherited ends are closed here.
        *slot = None;
        let mut ends = [0i32; 2];
        // SAFETY: pipe2 writes two descriptors into the local array.
        if unsafe { libc::pipe2(ends.as_mut_ptr(), libc::O_CLOEXEC | libc::O_NONBLOCK) } != 0 {
            return None;
        }
        // SAFETY: both descriptors were just made and are owned by nothing else.
        let (read, write) =
            unsafe { (OwnedFd::from_raw_fd(ends[0]), OwnedFd::from_raw_fd(ends[1])) };
        *slot = Some(CopyPipe { pid, read, write });
        Some((ends[0], ends[1]))
    })
}

/// Empties the copy pipe after a copy out of it failed half-way.
fn drain(read_end: i32) {
    let mut scratch = [0u8; 4096];
    // SAFETY: reads into a local buffer; the pipe is non-blocking.
    while unsafe { libc::read(read_end, scratch.as_mut_ptr().cast(), scratch.len()) } > 0 {}
}
