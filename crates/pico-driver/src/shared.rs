//! What the threads of one pico process share: the address space (the VM
//! and the program break) behind a read-write lock. Guest-memory checks take
//! the read lock briefly; mmap and friends take the write lock; no lock is
//! held across a blocking host call (a checked guest buffer is a host
//! pointer the host kernel validates again).

use std::ops::Deref;
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use pico_vm::{Memory, Vm};

use crate::mm::Layout;

/// The address space: the VM and the program break.
pub struct Mm {
    pub vm: Vm,
    pub layout: Layout,
}

#[derive(Clone)]
pub struct SharedVm(Arc<RwLock<Mm>>);

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
        SharedVm(Arc::new(RwLock::new(Mm { vm, layout })))
    }

    pub fn read(&self) -> RwLockReadGuard<'_, Mm> {
        self.0.read().unwrap_or_else(|p| p.into_inner())
    }

    pub fn write(&self) -> RwLockWriteGuard<'_, Mm> {
        self.0.write().unwrap_or_else(|p| p.into_inner())
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
