//! The Linux x86-64 ABI, and nothing else.
//!
//! picorun services a guest's syscalls on the host, so every part of it
//! speaks the same numbers: the syscall table, error values in `rax`, open
//! and mmap flags, signal numbers and `struct sigaction`, the auxiliary
//! vector. They live here, in one place, so the driver, the loader and the
//! tracer cannot disagree, and so each value is written (and tested) once.
//!
//! This crate has no `unsafe`, no dependencies and does no I/O beyond
//! reading the host's `errno`: it is data and the pure functions that
//! name it (strace-style decoders for `--trace`).

#![forbid(unsafe_code)]

mod errno;

pub mod auxv;
pub mod flags;
pub mod signal;
pub mod sysno;

pub use errno::{Errno, MAX_ERRNO};
