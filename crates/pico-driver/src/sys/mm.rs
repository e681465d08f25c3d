//! Memory syscalls: argument decoding; the semantics are in `crate::mm`.

use std::os::fd::AsFd;

use super::{Args, SysResult};
use crate::mm;
use crate::task::Task;

const MAP_ANONYMOUS: u64 = 0x20;

/// mmap(2).
pub fn mmap(t: &mut Task, a: &Args) -> SysResult {
    let file = if a[3] & MAP_ANONYMOUS != 0 {
        None
    } else {
        Some(t.fds.file(a[4])?)
    };
    let fd = file.as_deref().map(|f| f.as_fd());
    mm::mmap(&mut t.vm.write().vm, a[0], a[1], a[2], a[3], fd, a[5])
}

/// munmap(2).
pub fn munmap(t: &mut Task, a: &Args) -> SysResult {
    mm::munmap(&mut t.vm.write().vm, a[0], a[1])
}

/// mprotect(2).
pub fn mprotect(t: &mut Task, a: &Args) -> SysResult {
    mm::mprotect(&mut t.vm.write().vm, a[0], a[1], a[2])
}

/// mremap(2).
pub fn mremap(t: &mut Task, a: &Args) -> SysResult {
    mm::mremap(&mut t.vm.write().vm, a[0], a[1], a[2], a[3], a[4])
}

/// madvise(2).
pub fn madvise(t: &mut Task, a: &Args) -> SysResult {
    mm::madvise(&mut t.vm.write().vm, a[0], a[1], a[2])
}

/// msync(2).
pub fn msync(t: &mut Task, a: &Args) -> SysResult {
    mm::msync(&mut t.vm.write().vm, a[0], a[1], a[2])
}

/// brk(2).
pub fn brk(t: &mut Task, a: &Args) -> SysResult {
    let mut g = t.vm.write();
    let crate::shared::Mm { vm, layout } = &mut *g;
    let brk = mm::brk(vm, layout, a[0]);
    t.vm.set_brk(brk);
    Ok(brk)
}
