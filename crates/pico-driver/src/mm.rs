//! Linux memory-management semantics on top of the VM's window: where
//! non-fixed mappings go, brk, and the argument rules of mmap, munmap,
//! mprotect, mremap and madvise. The mechanics (host mappings, slots) are
//! pico-vm's.

use std::os::fd::BorrowedFd;

use pico_abi::Errno;
use pico_vm::layout::{PAGE_SIZE, WINDOW_SIZE};
use pico_vm::Vm;

/// Top of the initial stack (exclusive). Of the top 2 MiB of the window
/// only the vvar page and the vDSO are mapped, right above the stack.
pub const STACK_TOP: u64 = WINDOW_SIZE - (2 << 20);
/// Size reserved for the main thread's stack.
pub const STACK_SIZE: u64 = 8 << 20;
/// Non-fixed mappings are placed top-down below this.
pub const MMAP_TOP: u64 = STACK_TOP - STACK_SIZE - (128 << 20);
/// Lowest address a non-fixed mapping may get (Linux's mmap_min_addr).
pub const MMAP_MIN: u64 = 0x10000;
/// Where a position-independent executable is loaded (as Linux's
/// ELF_ET_DYN_BASE, scaled to the window).
pub const PIE_BASE: u64 = 0x55_5540_0000;

pub const PROT_READ: u64 = 1;
pub const PROT_WRITE: u64 = 2;
pub const PROT_EXEC: u64 = 4;
const PROT_GROWSDOWN: u64 = 0x0100_0000;
const PROT_GROWSUP: u64 = 0x0200_0000;

const MAP_SHARED: u64 = 0x01;
const MAP_PRIVATE: u64 = 0x02;
const MAP_SHARED_VALIDATE: u64 = 0x03;
const MAP_TYPE: u64 = 0x0f;
const MAP_FIXED: u64 = 0x10;
const MAP_ANONYMOUS: u64 = 0x20;
const MAP_32BIT: u64 = 0x40;
const MAP_GROWSDOWN: u64 = 0x100;
const MAP_DENYWRITE: u64 = 0x800;
const MAP_EXECUTABLE: u64 = 0x1000;
const MAP_LOCKED: u64 = 0x2000;
const MAP_NORESERVE: u64 = 0x4000;
const MAP_POPULATE: u64 = 0x8000;
const MAP_NONBLOCK: u64 = 0x10000;
const MAP_STACK: u64 = 0x20000;
const MAP_HUGETLB: u64 = 0x40000;
const MAP_SYNC: u64 = 0x80000;
const MAP_FIXED_NOREPLACE: u64 = 0x100000;
/// Flags accepted with MAP_SHARED_VALIDATE (hints picorun honours by
/// letting the host decide, or that do not change semantics here).
const MAP_KNOWN: u64 = MAP_TYPE
    | MAP_FIXED
    | MAP_ANONYMOUS
    | MAP_32BIT
    | MAP_GROWSDOWN
    | MAP_DENYWRITE
    | MAP_EXECUTABLE
    | MAP_LOCKED
    | MAP_NORESERVE
    | MAP_POPULATE
    | MAP_NONBLOCK
    | MAP_STACK
    | MAP_FIXED_NOREPLACE;

const MREMAP_MAYMOVE: u64 = 1;
const MREMAP_FIXED: u64 = 2;

pub fn page_up(x: u64) -> Option<u64> {
    x.checked_add(PAGE_SIZE - 1).map(|v| v & !(PAGE_SIZE - 1))
}

fn aligned(x: u64) -> bool {
    x.is_multiple_of(PAGE_SIZE)
}

fn io_errno(e: std::io::Error) -> Errno {
    Errno::from(e)
}

/// The program break and other per-process layout state.
#[derive(Debug, Clone, Copy)]
pub struct Layout {
    pub brk_start: u64,
    pub brk: u64,
}

/// A file to map: the host descriptor.
pub type MapFile<'a> = Option<BorrowedFd<'a>>;

/// Chooses where a non-fixed mapping of `len` bytes goes: the hint if it
/// is free, else the highest free gap below `MMAP_TOP`.
fn place(vm: &Vm, hint: u64, len: u64, low32: bool) -> Result<u64, Errno> {
    let regions = vm.memory().regions();
    if hint != 0 {
        let hint = hint & !(PAGE_SIZE - 1);
        if hint >= MMAP_MIN
            && hint
                .checked_add(len)
                .is_some_and(|e| e <= STACK_TOP - STACK_SIZE)
            && regions.is_free(hint, hint + len)
        {
            return Ok(hint);
        }
    }
    let (floor, ceiling) = if low32 {
        (0x4000_0000, 0x8000_0000)
    } else {
        (MMAP_MIN, MMAP_TOP)
    };
    regions
        .find_gap_below(len, floor, ceiling, PAGE_SIZE)
        .ok_or(Errno::ENOMEM)
}

/// mmap(2). `file` is the host descriptor for non-anonymous mappings.
pub fn mmap(
    vm: &mut Vm,
    addr: u64,
    len: u64,
    prot: u64,
    flags: u64,
    file: MapFile<'_>,
    offset: u64,
) -> Result<u64, Errno> {
    let shared = match flags & MAP_TYPE {
        MAP_SHARED => true,
        MAP_PRIVATE => false,
        MAP_SHARED_VALIDATE => {
            if flags & !MAP_KNOWN != 0 {
                return Err(Errno::EOPNOTSUPP);
            }
            true
        }
        _ => return Err(Errno::EINVAL),
    };
    if len == 0 || !aligned(offset) || prot & !(PROT_READ | PROT_WRITE | PROT_EXEC) != 0 {
        return Err(Errno::EINVAL);
    }
    if flags & (MAP_HUGETLB | MAP_SYNC) != 0 {
        return Err(Errno::EINVAL);
    }
    let len = page_up(len).ok_or(Errno::ENOMEM)?;
    if len > WINDOW_SIZE {
        return Err(Errno::ENOMEM);
    }
    let anon = flags & MAP_ANONYMOUS != 0;
    if !anon && file.is_none() {
        return Err(Errno::EBADF);
    }
    let fixed = flags & (MAP_FIXED | MAP_FIXED_NOREPLACE) != 0;
    let at = if fixed {
        if !aligned(addr) {
            return Err(Errno::EINVAL);
        }
        if addr.checked_add(len).is_none_or(|e| e > WINDOW_SIZE) || addr < MMAP_MIN.min(PAGE_SIZE) {
            return Err(Errno::ENOMEM);
        }
        if flags & MAP_FIXED == 0 && !vm.memory().regions().is_free(addr, addr + len) {
            return Err(Errno::EEXIST);
        }
        addr
    } else {
        place(vm, addr, len, flags & MAP_32BIT != 0)?
    };
    crate::policy::may_map(vm, at, len, 0)?;
    let was_free = vm.memory().regions().is_free(at, at + len);
    let result = match file {
        Some(fd) if !anon => vm.map_file(at, len, prot as u32, shared, fd, offset),
        _ => vm.map_anon(at, len, prot as u32, shared),
    };
    if let Err(e) = result {
        // A failed MAP_FIXED may have left a hole in the window: fill it.
        if was_free {
            let _ = vm.unmap(at, len);
        }
        return Err(io_errno(e));
    }
    Ok(at)
}

/// munmap(2).
pub fn munmap(vm: &mut Vm, addr: u64, len: u64) -> Result<u64, Errno> {
    if !aligned(addr) || len == 0 {
        return Err(Errno::EINVAL);
    }
    let len = page_up(len).ok_or(Errno::EINVAL)?;
    let end = addr.checked_add(len).ok_or(Errno::EINVAL)?;
    if addr >= WINDOW_SIZE {
        return if end <= pico_loader::elf::USER_END {
            Ok(0)
        } else {
            Err(Errno::EINVAL)
        };
    }
    vm.unmap(addr, end.min(WINDOW_SIZE) - addr)
        .map_err(io_errno)?;
    Ok(0)
}

/// mprotect(2).
pub fn mprotect(vm: &mut Vm, addr: u64, len: u64, prot: u64) -> Result<u64, Errno> {
    if !aligned(addr)
        || prot & !(PROT_READ | PROT_WRITE | PROT_EXEC | PROT_GROWSDOWN | PROT_GROWSUP) != 0
    {
        return Err(Errno::EINVAL);
    }
    if prot & PROT_GROWSDOWN != 0 && prot & PROT_GROWSUP != 0 {
        return Err(Errno::EINVAL);
    }
    if len == 0 {
        return Ok(0);
    }
    let len = page_up(len).ok_or(Errno::ENOMEM)?;
    if addr.checked_add(len).is_none_or(|e| e > WINDOW_SIZE) {
        return Err(Errno::ENOMEM);
    }
    let prot = prot & (PROT_READ | PROT_WRITE | PROT_EXEC);
    vm.protect(addr, len, prot as u32).map_err(io_errno)?;
    Ok(0)
}

/// mremap(2).
pub fn mremap(
    vm: &mut Vm,
    old: u64,
    old_len: u64,
    new_len: u64,
    flags: u64,
    new_addr: u64,
) -> Result<u64, Errno> {
    if flags & !(MREMAP_MAYMOVE | MREMAP_FIXED) != 0 || !aligned(old) {
        return Err(Errno::EINVAL);
    }
    if flags & MREMAP_FIXED != 0 && flags & MREMAP_MAYMOVE == 0 {
        return Err(Errno::EINVAL);
    }
    let old_len = page_up(old_len).ok_or(Errno::EINVAL)?;
    let new_len = page_up(new_len).ok_or(Errno::EINVAL)?;
    if new_len == 0 || old_len == 0 || new_len > WINDOW_SIZE {
        return Err(Errno::EINVAL);
    }
    let regions = vm.memory().regions();
    let old_end = old.checked_add(old_len).ok_or(Errno::EFAULT)?;
    // The old range must be one mapping (in Linux terms, one VMA: mapped
    // throughout, with one protection and sharing, the same file at
    // consecutive offsets).
    let Some((_, _, first)) = regions.get(old) else {
        return Err(Errno::EFAULT);
    };
    if !regions.covered(old, old_end, |r| r == first) {
        return Err(Errno::EFAULT);
    }
    if flags & MREMAP_FIXED != 0 {
        if !aligned(new_addr)
            || new_addr
                .checked_add(new_len)
                .is_none_or(|e| e > WINDOW_SIZE)
        {
            return Err(Errno::EINVAL);
        }
        if new_addr < old_end && old < new_addr + new_len {
            return Err(Errno::EINVAL);
        }
        crate::policy::may_map(vm, new_addr, new_len, old_len)?;
        vm.unmap(new_addr, new_len).map_err(io_errno)?;
        vm.remap(old, old_len, new_addr, new_len)
            .map_err(io_errno)?;
        return Ok(new_addr);
    }
    if new_len <= old_len {
        if new_len < old_len {
            vm.unmap(old + new_len, old_len - new_len)
                .map_err(io_errno)?;
        }
        return Ok(old);
    }
    let grow_end = old.checked_add(new_len).ok_or(Errno::ENOMEM)?;
    if grow_end <= MMAP_TOP && regions.is_free(old_end, grow_end) {
        crate::policy::may_map(vm, old_end, new_len - old_len, 0)?;
        vm.remap(old, old_len, old, new_len).map_err(io_errno)?;
        return Ok(old);
    }
    if flags & MREMAP_MAYMOVE == 0 {
        return Err(Errno::ENOMEM);
    }
    let to = place(vm, 0, new_len, false)?;
    crate::policy::may_map(vm, to, new_len, old_len)?;
    vm.remap(old, old_len, to, new_len).map_err(io_errno)?;
    Ok(to)
}

/// madvise(2): advice with an effect on contents (DONTNEED, FREE, ...) is
/// carried out on the host mapping, which is the guest's memory.
pub fn madvise(vm: &mut Vm, addr: u64, len: u64, advice: u64) -> Result<u64, Errno> {
    const HOST_ADVICE: &[u64] = &[
        0,  // MADV_NORMAL
        1,  // MADV_RANDOM
        2,  // MADV_SEQUENTIAL
        3,  // MADV_WILLNEED
        4,  // MADV_DONTNEED
        8,  // MADV_FREE
        10, // MADV_DONTFORK (checked, not applied: see below)
        11, // MADV_DOFORK
        12, // MADV_MERGEABLE
        13, // MADV_UNMERGEABLE
        14, // MADV_HUGEPAGE
        15, // MADV_NOHUGEPAGE
        16, // MADV_DONTDUMP
        17, // MADV_DODUMP
        20, // MADV_COLD
        21, // MADV_PAGEOUT
    ];
    if !aligned(addr) || !HOST_ADVICE.contains(&advice) {
        return Err(Errno::EINVAL);
    }
    let len = page_up(len).ok_or(Errno::EINVAL)?;
    if len == 0 {
        return Ok(0);
    }
    let end = addr.checked_add(len).ok_or(Errno::EINVAL)?;
    if end > WINDOW_SIZE || !vm.memory().regions().covered(addr, end, |_| true) {
        return Err(Errno::ENOMEM);
    }
    // MADV_DONTFORK and MADV_DOFORK are accepted but not given to the host:
    // there a forked child (a host fork) would lose the host mapping while
    // its guest still has the region, so picorun's own copies from it
    // crashed the child, and the window got a hole another host mapping
    // could fall into. A child keeps a copy instead.
    if advice == 10 || advice == 11 {
        return Ok(0);
    }
    vm.advise(addr, len, advice as i32).map_err(io_errno)?;
    Ok(0)
}

/// msync(2).
pub fn msync(vm: &mut Vm, addr: u64, len: u64, flags: u64) -> Result<u64, Errno> {
    const MS_ASYNC: u64 = 1;
    const MS_INVALIDATE: u64 = 2;
    const MS_SYNC: u64 = 4;
    if !aligned(addr)
        || flags & !(MS_ASYNC | MS_INVALIDATE | MS_SYNC) != 0
        || flags & (MS_ASYNC | MS_SYNC) == (MS_ASYNC | MS_SYNC)
    {
        return Err(Errno::EINVAL);
    }
    let len = page_up(len).ok_or(Errno::ENOMEM)?;
    if len == 0 {
        return Ok(0);
    }
    let end = addr.checked_add(len).ok_or(Errno::ENOMEM)?;
    if end > WINDOW_SIZE || !vm.memory().regions().covered(addr, end, |_| true) {
        return Err(Errno::ENOMEM);
    }
    vm.memory()
        .sync(addr, len, flags as i32)
        .map_err(io_errno)?;
    Ok(0)
}

/// brk(2): returns the new break, or the old one when it cannot move.
pub fn brk(vm: &mut Vm, layout: &mut Layout, requested: u64) -> u64 {
    if requested < layout.brk_start {
        return layout.brk;
    }
    let (Some(old_top), Some(new_top)) = (page_up(layout.brk), page_up(requested)) else {
        return layout.brk;
    };
    if new_top > old_top {
        if new_top > MMAP_TOP
            || !vm.memory().regions().is_free(old_top, new_top)
            || crate::policy::may_map(vm, old_top, new_top - old_top, 0).is_err()
        {
            return layout.brk;
        }
        if vm
            .map_anon(
                old_top,
                new_top - old_top,
                (PROT_READ | PROT_WRITE) as u32,
                false,
            )
            .is_err()
        {
            return layout.brk;
        }
    } else if new_top < old_top && vm.unmap(new_top, old_top - new_top).is_err() {
        return layout.brk;
    }
    layout.brk = requested;
    requested
}
