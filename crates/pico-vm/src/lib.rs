//! pico-vm: the KVM side of a pico process.
//!
//! One VM per guest process in 64-bit long mode; the guest's code runs at
//! ring 3; `syscall` enters a one-instruction trampoline that exits to the
//! host. This crate knows nothing of Linux syscalls: it offers a VM with
//! guest memory ([`Vm`], [`Memory`]) and vCPUs whose run loop returns typed
//! exits ([`Exit`]). It is the only crate that issues KVM ioctls or touches
//! guest memory through host pointers.

mod apic;
mod cpu;
mod cpuid_cache;
mod descriptors;
mod error;
mod fastpath;
mod kernel;
pub mod layout;
pub mod memory;
mod paging;
pub mod postbox;
pub mod rangemap;
mod setup;
mod trampoline;
pub use trampoline::FAST_SYSCALLS;
mod vcpu;
pub mod vdso;
mod vm;

pub use error::VmError;
pub use memory::{Access, CstrError, Fault, FileMapping, MappedFile, Memory, Region};
pub use postbox::{PostBox, Request};
pub use setup::spawn_quiet;
pub use vcpu::{Deferred, EntryMode, ExceptionInfo, Exit, FastState, KickHandle, Vcpu};
pub use vm::{prewarm, set_fast_syscalls, AfterSetup, CpuState, Features, Vm};

/// The host's time-stamp counter (what the guest's reads are offset from).
pub fn host_tsc() -> u64 {
    cpu::host_tsc()
}
