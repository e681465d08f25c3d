//! picorun: run unmodified Linux x86-64 programs as pico processes — each
//! process in its own minimal KVM guest, its code at ring 3, every syscall
//! serviced on the host by the pico driver with Linux semantics.
//!
//! Embedding: [`Command`] runs a program as a pico process tree, the way
//! [`std::process::Command`] runs a process, under a [`Policy`] (no
//! network, memory, process, CPU-time and wall-time limits, denied
//! syscalls) that every process of the tree inherits:
//!
//! ```
//! use std::time::Duration;
//! use picorun::{Command, Limit, Policy};
//!
//! let status = Command::new("sh")
//!     .args(["-c", "while :; do :; done"])
//!     .policy(Policy::new().no_network().wall_time(Duration::from_millis(300)))
//!     .status()?;
//! assert_eq!(status.limit(), Some(Limit::WallTime));
//! assert_eq!(status.signal(), Some(9));
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! The crates underneath: `pico-vm` (KVM, guest memory, the trampoline),
//! `pico-loader` (ELF → load plan, initial stack), `pico-driver` (the
//! syscall layer), `pico-abi` (the Linux ABI). [`Process`] is the
//! driver's pico process, for running one in the calling host process.

mod child;
pub mod cli;
mod command;
mod guest;
mod os;
mod policy;
pub(crate) mod report;
pub mod resolve;
mod stdio;
mod supervisor;
mod tree;

pub use child::{Child, ExitStatus, Output};
pub use command::Command;
pub use pico_driver::{Config, ExecError, Outcome, Process};
pub use policy::{Limit, Policy, UnknownSyscall};
pub use stdio::Stdio;
