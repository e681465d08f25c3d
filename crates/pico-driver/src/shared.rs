//! What the threads of one pico process share: the address space (the VM
//! and the program break) behind a read-write lock. Guest-memory checks take
//! the read lock briefly; mmap and friends take the write lock; no lock is
//! held across a blocking host call (a checked guest buffer is a host
//! pointer the host kernel validates again).

use std::ops::Deref;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use pico_vm::{Memory, Vm};

use crate::mm::Layout;

/// The address space: the VM and the program break.
pub struct Mm {
    pub vm: Vm,
    pub layout: Layout,
}

#[derive(Clone)]
pub struct SharedVm(Arc<Shared>);

struct Shared {
    mm: RwLock<Mm>,
    /// The program break as of the last change, readable without the
    /// lock: each exit publishes it to the vCPU's fast page (brk(0)).
    brk: AtomicU64,
}

/// Read access to guest memory for the duration of one check or copy.
pub struct MemoryGuard<'a>(RwLockReadGuard<'a, Mm>);

impl Deref for MemoryGuard<'_> {
    type Target = Memory;
    fn deref(&self) -> &Memory {
        self.0.vm.memory()
    }
}

impl SharedVm {
    pub fn new(vm: Vm, layout: Layout) -> SharedVm {
        let brk = AtomicU64::new(layout.brk);
        SharedVm(Arc::new(Shared {
            mm: RwLock::new(Mm { vm, layout }),
            brk,
        }))
    }

    pub fn read(&self) -> RwLockReadGuard<'_, Mm> {
        self.0.mm.read().unwrap_or_else(|p| p.into_inner())
    }

    pub fn write(&self) -> RwLockWriteGuard<'_, Mm> {
        self.0.mm.write().unwrap_or_else(|p| p.into_inner())
    }

    /// The program break (see [`SharedVm::set_brk`]).
    pub fn brk(&self) -> u64 {
        self.0.brk.load(Ordering::Acquire)
    }

    /// Records a new program break; call with the write lock held, right
    /// after changing `layout.brk`.
    pub fn set_brk(&self, brk: u64) {
        self.0.brk.store(brk, Ordering::Release);
    }

    /// Guest memory, read-locked while the guard lives.
    pub fn memory(&self) -> MemoryGuard<'_> {
        MemoryGuard(self.read())
    }

    pub fn xsave_size(&self) -> usize {
        self.read().vm.xsave_size()
    }

    pub fn xcr0(&self) -> u64 {
        self.read().vm.xcr0()
    }
}
