//! picorun: run unmodified Linux x86-64 programs as pico processes — each
//! process in its own minimal KVM guest, its code at ring 3, every syscall
//! serviced on the host by the pico driver with Linux semantics.
//!
//! The crates underneath: `pico-vm` (KVM, guest memory, the trampoline),
//! `pico-loader` (ELF → load plan, initial stack), `pico-driver` (the
//! syscall layer), `pico-abi` (the Linux ABI). This crate is the facade and
//! the CLI's logic.

pub mod cli;
pub mod resolve;

pub use pico_driver::{Config, ExecError, Outcome, Process};
