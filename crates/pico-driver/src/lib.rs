//! pico-driver: the Linux syscall layer of a pico process.
//!
//! Services every syscall of a guest program against real host resources
//! (files, pipes, time, processes, threads, signals) with Linux semantics,
//! or answers `ENOSYS`. Knows nothing of KVM ioctls: the VM is pico-vm's.
//! The only modules that call the host kernel with raw pointers are
//! [`host`] and [`hostsig`]. Guest input never reaches a panic: unwrap,
//! expect and panic are denied outside tests.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

mod bpftree;
pub mod clock;
pub mod confine;
pub mod exec;
pub mod exitless;
pub mod faultaddr;
pub mod fd;
pub mod host;
pub mod hostsig;
pub mod mm;
pub mod policy;
pub mod process;
pub mod procfs;
pub mod retire;
pub mod rootfs;
pub mod shared;
pub mod sigframe;
pub mod signal;
pub mod sys;
pub mod task;
pub mod thread;
pub mod threads;
pub mod trace;
pub mod vfork;
pub mod warn;

pub use exec::ExecError;
pub use process::{Config, Process};
pub use task::Outcome;
