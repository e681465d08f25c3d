//! The guest page tables, built once when the VM is created and never
//! changed afterwards. Pure: produces (offset, entry) writes for the kernel
//! area, so it can be unit-tested without a VM.
//!
//! Why static: on PVM (shadow paging) a host edit of a present guest PTE is
//! not seen by ring 3 until the memory slot is re-registered, whereas a host
//! `mmap`/`mprotect`/`munmap` of the memory behind a slot is seen at once on
//! every kind of KVM. So protections live in the host mapping and the guest
//! page tables only say "the window is user memory".

use crate::layout::{kpage, KERNEL_BASE, PAGE_SIZE, WINDOW_SIZE};

pub const PRESENT: u64 = 1 << 0;
pub const WRITABLE: u64 = 1 << 1;
pub const USER: u64 = 1 << 2;
pub const HUGE: u64 = 1 << 7;
pub const NO_EXECUTE: u64 = 1 << 63;

/// How one kernel-area page is mapped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KernelPage {
    /// Supervisor read/write, not executable (tables, stacks).
    Data,
    /// User-readable and executable, never writable (the trampoline).
    UserCode,
    /// User read/write, not executable (a vCPU's fast data page).
    UserData,
}

/// The shared kernel-area pages that get a virtual mapping, with their kind.
pub const KERNEL_MAPPINGS: [(u64, KernelPage); 2] = [
    (kpage::IDT, KernelPage::Data),
    (kpage::TRAMPOLINE, KernelPage::UserCode),
];

/// The leaf entry that maps kernel-area page `offset` as `kind`.
fn kernel_leaf(offset: u64, kind: KernelPage) -> TableWrite {
    let flags = match kind {
        KernelPage::Data => PRESENT | WRITABLE | NO_EXECUTE,
        KernelPage::UserCode => PRESENT | USER,
        KernelPage::UserData => PRESENT | WRITABLE | USER | NO_EXECUTE,
    };
    let pt_index = (offset / PAGE_SIZE) & 511;
    (
        kpage::PT_KERNEL + 8 * pt_index,
        (KERNEL_BASE + offset) | flags,
    )
}

/// Entries mapping a vCPU slot's pages: descriptors and exception stack
/// (supervisor-only), the fast syscall code and its data (user). Filling
/// never-present entries is seen at once.
pub fn slot_mappings(slot: u64) -> [TableWrite; 4] {
    [
        kernel_leaf(slot, KernelPage::Data),
        kernel_leaf(slot + PAGE_SIZE, KernelPage::Data),
        kernel_leaf(slot + kpage::SLOT_FAST_CODE, KernelPage::UserCode),
        kernel_leaf(slot + kpage::SLOT_FAST_DATA, KernelPage::UserData),
    ]
}

/// One 8-byte write into the kernel area: `(offset from KERNEL_BASE, value)`.
pub type TableWrite = (u64, u64);

/// Size of the user pages the window is mapped with (2 MiB): 1 GiB pages
/// would need fewer tables, but PVM does not offer them (no `pdpe1gb`).
pub const USER_PAGE: u64 = 2 << 20;
/// The window's page directories are filled in one GiB at a time, on first
/// use: a never-present entry the host fills is seen at once on every kind
/// of KVM, and a 1 TiB window would need 4 MiB of directories up front.
pub const DIRECTORY_SPAN: u64 = 1 << 30;

/// The fixed page-table entries: PML4 and the kernel area's own tables.
pub fn build() -> Vec<TableWrite> {
    let mut writes = Vec::new();
    let table = |offset: u64| KERNEL_BASE + offset;
    let upper = PRESENT | WRITABLE | USER;
    for (half, &pdpt) in kpage::PDPT_WINDOW.iter().enumerate() {
        writes.push((kpage::PML4 + 8 * half as u64, table(pdpt) | upper));
    }
    // Kernel area: PML4 slot of KERNEL_BASE -> PDPT -> PD -> PT -> 4 KiB pages.
    // The upper levels allow user access; each leaf decides.
    let pml4_index = (KERNEL_BASE >> 39) & 511;
    let pdpt_index = (KERNEL_BASE >> 30) & 511;
    let pd_index = (KERNEL_BASE >> 21) & 511;
    writes.push((
        kpage::PML4 + 8 * pml4_index,
        table(kpage::PDPT_KERNEL) | upper,
    ));
    writes.push((
        kpage::PDPT_KERNEL + 8 * pdpt_index,
        table(kpage::PD_KERNEL) | upper,
    ));
    writes.push((
        kpage::PD_KERNEL + 8 * pd_index,
        table(kpage::PT_KERNEL) | upper,
    ));
    for (offset, kind) in KERNEL_MAPPINGS {
        writes.push(kernel_leaf(offset, kind));
    }
    writes
}

/// Entries that map window GiB number `gib` with user pages, using the page
/// directory at kernel-area offset `directory`. The directory's entries
/// come first and the PDPT entry that makes them reachable last.
pub fn window_directory(gib: u64, directory: u64) -> Vec<TableWrite> {
    debug_assert!(gib < WINDOW_SIZE / DIRECTORY_SPAN);
    let mut writes: Vec<TableWrite> = (0..512u64)
        .map(|i| {
            let addr = gib * DIRECTORY_SPAN + i * USER_PAGE;
            (directory + 8 * i, addr | PRESENT | WRITABLE | USER | HUGE)
        })
        .collect();
    let pdpt = kpage::PDPT_WINDOW[(gib / 512) as usize];
    writes.push((
        pdpt + 8 * (gib % 512),
        (KERNEL_BASE + directory) | PRESENT | WRITABLE | USER,
    ));
    writes
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    /// Walks the built tables like the MMU does; returns (physical, user, writable, nx).
    fn walk(tables: &HashMap<u64, u64>, va: u64) -> Option<(u64, bool, bool, bool)> {
        let mut table = KERNEL_BASE + kpage::PML4;
        let (mut user, mut writable, mut nx) = (true, true, false);
        for level in (0..4).rev() {
            let index = (va >> (12 + 9 * level)) & 511;
            let entry = *tables.get(&(table - KERNEL_BASE + 8 * index))?;
            if entry & PRESENT == 0 {
                return None;
            }
            user &= entry & USER != 0;
            writable &= entry & WRITABLE != 0;
            nx |= entry & NO_EXECUTE != 0;
            let frame = entry & 0x000f_ffff_ffff_f000;
            if level == 0 || entry & HUGE != 0 {
                let page_mask = (1u64 << (12 + 9 * level)) - 1;
                return Some(((frame & !page_mask) | (va & page_mask), user, writable, nx));
            }
            table = frame;
        }
        None
    }

    fn tables() -> HashMap<u64, u64> {
        let mut t: HashMap<u64, u64> = build().into_iter().collect();
        for (n, gib) in [0u64, 0x7f, WINDOW_SIZE / DIRECTORY_SPAN - 1]
            .into_iter()
            .enumerate()
        {
            t.extend(window_directory(
                gib,
                kpage::DIRECTORIES + n as u64 * PAGE_SIZE,
            ));
        }
        t
    }

    #[test]
    fn window_is_identity_mapped_user_memory() {
        let t = tables();
        for va in [0u64, 0x40_0000, (0x7f << 30) + 0x1234_5678, WINDOW_SIZE - 1] {
            assert_eq!(walk(&t, va), Some((va, true, true, false)), "va {va:#x}");
        }
    }

    #[test]
    fn gibs_without_a_directory_are_not_mapped() {
        let t = tables();
        assert_eq!(walk(&t, 1 << 30), None);
        assert_eq!(walk(&t, 0x80 << 30), None);
    }

    #[test]
    fn nothing_above_the_kernel_pages_is_mapped() {
        let t = tables();
        assert_eq!(
            walk(&t, KERNEL_BASE + kpage::PML4),
            None,
            "page tables are not mapped"
        );
        assert_eq!(walk(&t, KERNEL_BASE + kpage::END), None);
        assert_eq!(walk(&t, 2 * WINDOW_SIZE), None);
    }

    #[test]
    fn trampoline_is_user_executable_but_read_only() {
        let t = tables();
        let va = KERNEL_BASE + kpage::TRAMPOLINE + 0x10;
        assert_eq!(walk(&t, va), Some((va, true, false, false)));
    }

    #[test]
    fn descriptor_tables_are_supervisor_only() {
        let t = tables();
        let mut t = t;
        t.extend(slot_mappings(crate::layout::vcpu_slot(3)));
        let slot = crate::layout::vcpu_slot(3);
        for page in [kpage::IDT, slot, slot + PAGE_SIZE] {
            let va = KERNEL_BASE + page;
            assert_eq!(
                walk(&t, va),
                Some((va, false, true, true)),
                "page {page:#x}"
            );
        }
    }
}
