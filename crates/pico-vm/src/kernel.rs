//! The kernel area's host memory: page tables, descriptor tables, the
//! trampoline and the exception stack, written once by the host.

use std::io;
use std::sync::Arc;

use crate::descriptors;
use crate::layout::{kernel_addr, kpage, vcpu_slot, KERNEL_SIZE, PAGE_SIZE};
use crate::memory::Memory;
use crate::paging;
use crate::trampoline::{fast_code, trampoline};

/// Host memory behind the kernel area's memory slot.
pub struct KernelArea {
    host: *mut u8,
}

// SAFETY: the area is plain host memory owned by this value; every access
// is bounds-checked against KERNEL_SIZE.
unsafe impl Send for KernelArea {}
// SAFETY: as above; concurrent readers only read 8-byte words.
unsafe impl Sync for KernelArea {}

impl KernelArea {
    /// Allocates the area in `memory`'s kernel room and fills in everything
    /// a vCPU needs. The area owns that room from now on.
    pub fn new(memory: &Memory) -> io::Result<Arc<KernelArea>> {
        let room = memory
            .take_kernel_room()
            .ok_or_else(|| io::Error::from_raw_os_error(libc::EEXIST))?;
        // SAFETY: the room is `KERNEL_SIZE` reserved bytes that `Memory`
        // handed out once and no longer maps or unmaps; this replaces the
        // reservation there.
        let host = unsafe {
            libc::mmap(
                room.cast(),
                KERNEL_SIZE as usize,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED,
                -1,
                0,
            )
        };
        if host == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let area = KernelArea { host: host.cast() };
        for (offset, entry) in paging::build() {
            area.write(offset, &entry.to_le_bytes());
        }
        let t = trampoline();
        area.write(kpage::TRAMPOLINE, t.bytes);
        let stub =
            |v: u16| kernel_addr(kpage::TRAMPOLINE) + t.exceptions + u64::from(v) * t.stub_size;
        area.write(kpage::IDT, &descriptors::idt(stub));
        Ok(Arc::new(area))
    }

    pub fn host_addr(&self) -> u64 {
        self.host as u64
    }

    /// Writes vCPU `id`'s GDT, TSS, fast syscall page (its data zeroed)
    /// and page mappings.
    pub fn prepare_vcpu_slot(&self, id: u64) {
        let slot = vcpu_slot(id);
        let tss_base = kernel_addr(slot + kpage::SLOT_TSS);
        let gdt: Vec<u8> = descriptors::gdt(tss_base)
            .iter()
            .flat_map(|e| e.to_le_bytes())
            .collect();
        self.write(slot, &gdt);
        self.write(
            slot + kpage::SLOT_TSS,
            &descriptors::tss(kernel_addr(slot + kpage::SLOT_EXCEPTION_STACK_TOP)),
        );
        self.write(slot + kpage::SLOT_FAST_CODE, fast_code().bytes);
        self.write(slot + kpage::SLOT_FAST_DATA, &[0; PAGE_SIZE as usize]);
        for (offset, entry) in paging::slot_mappings(slot) {
            self.write(offset, &entry.to_le_bytes());
        }
    }

    /// Makes window GiB `gib` reachable through page directory number `n`.
    pub fn map_window_gib(&self, gib: u64, n: u64) -> io::Result<()> {
        let directory = kpage::DIRECTORIES + n * crate::layout::PAGE_SIZE;
        if directory >= kpage::DIRECTORIES_END {
            return Err(io::Error::from_raw_os_error(libc::ENOMEM));
        }
        for (offset, entry) in paging::window_directory(gib, directory) {
            self.write(offset, &entry.to_le_bytes());
        }
        Ok(())
    }

    fn write(&self, offset: u64, bytes: &[u8]) {
        let end = offset.checked_add(bytes.len() as u64);
        assert!(
            end.is_some_and(|e| e <= KERNEL_SIZE),
            "kernel area write out of bounds"
        );
        // SAFETY: [offset, offset+len) is inside the area (asserted above).
        unsafe {
            std::ptr::copy_nonoverlapping(
                bytes.as_ptr(),
                self.host.add(offset as usize),
                bytes.len(),
            )
        };
    }

    /// Stores the 8-byte word at `offset` (a fast data page field). The
    /// guest may read it concurrently: a single aligned store.
    pub fn write_u64(&self, offset: u64, value: u64) {
        assert!(
            offset.is_multiple_of(8) && offset + 8 <= KERNEL_SIZE,
            "kernel area write out of bounds"
        );
        // SAFETY: in bounds and 8-byte aligned (asserted above).
        unsafe { std::ptr::write_volatile(self.host.add(offset as usize) as *mut u64, value) }
    }

    /// The 8-byte word at `offset` as an atomic (the exitless request state,
    /// shared by the guest, the serving thread and the vCPU's thread).
    pub fn atomic_u64(&self, offset: u64) -> &std::sync::atomic::AtomicU64 {
        assert!(
            offset.is_multiple_of(8) && offset + 8 <= KERNEL_SIZE,
            "kernel area access out of bounds"
        );
        // SAFETY: in bounds and 8-byte aligned (asserted above); the memory
        // lives as long as `self`, and every access to this word, by the
        // host or the guest, is a single aligned 8-byte access.
        unsafe { &*(self.host.add(offset as usize) as *const std::sync::atomic::AtomicU64) }
    }

    /// Reads the 8-byte word at `offset` (exception frames).
    pub fn read_u64(&self, offset: u64) -> u64 {
        assert!(
            offset.is_multiple_of(8) && offset + 8 <= KERNEL_SIZE,
            "kernel area read out of bounds"
        );
        // SAFETY: in bounds and 8-byte aligned (asserted above); the guest may
        // write the stack concurrently only while its vCPU runs, and the
        // caller reads it after an exit.
        unsafe { std::ptr::read_volatile(self.host.add(offset as usize) as *const u64) }
    }
}

impl Drop for KernelArea {
    fn drop(&mut self) {
        // SAFETY: the mapping was made in `new`; the last Arc is gone, so no
        // vCPU of ours refers to it.
        unsafe {
            libc::munmap(self.host.cast(), KERNEL_SIZE as usize);
        }
    }
}
