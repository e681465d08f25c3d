//! pico-loader: turns the bytes of a Linux x86-64 program into what a loader
//! must do — a [`LoadPlan`] and its [`MapStep`]s, the initial stack
//! ([`build_stack`]), and the `#!` line of scripts ([`parse_shebang`]).
//!
//! Pure and fuzzable: bytes in, data out. It opens no file, maps no memory,
//! depends on nothing of picorun's, and must never panic on any input — every
//! malformed image is a [`LoadError`].

#![forbid(unsafe_code)]

pub mod elf;
pub mod map;
pub mod script;
pub mod stack;

#[cfg(test)]
mod fuzz;
pub mod invariants;
#[cfg(test)]
mod testelf;

pub use elf::{parse, parse_prefix, ElfKind, LoadError, LoadPlan, Prot, Segment, PAGE_SIZE};
pub use map::MapStep;
pub use script::{parse_shebang, Shebang};
pub use stack::{build_stack, StackError, StackImage, StackSpec};
