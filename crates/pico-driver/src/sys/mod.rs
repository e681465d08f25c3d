//! Syscall handlers, grouped by family, and the one table that lists them.
//!
//! Handlers decode their arguments and call the host (through
//! [`crate::host`]) or the driver's own state; they have one shape,
//! `fn(&mut Task, &Args) -> Result<u64, Errno>`. The few that end the
//! process return a [`Flow`] instead, so nobody ends it by accident.

pub mod cmsg;
pub mod epoll;
pub mod eventfd;
pub mod fs;
pub mod futex;
pub mod info;
pub mod mm;
pub mod poll;
pub mod proc;
pub mod rw;
pub mod select;
pub mod signal;
pub mod socket;
pub mod sockopt;
pub mod table;
pub mod task;
pub mod time;
pub mod xattr;
// more syscalls
pub mod inotify;
pub mod misc;
pub mod mlock;
pub mod sched;
pub mod splice;
pub mod timer;

use pico_abi::Errno;

use crate::task::{Outcome, Task};

/// The six syscall argument registers (rdi, rsi, rdx, r10, r8, r9).
#[derive(Clone, Copy, Debug, Default)]
pub struct Args(pub [u64; 6]);

impl Args {
    pub fn get(&self, i: usize) -> u64 {
        self.0[i]
    }

    /// An `int` argument: the low 32 bits, sign-extended.
    pub fn int(&self, i: usize) -> i32 {
        self.0[i] as i32
    }
}

impl std::ops::Index<usize> for Args {
    type Output = u64;
    fn index(&self, i: usize) -> &u64 {
        &self.0[i]
    }
}

pub type SysResult = Result<u64, Errno>;

/// Control flow other than "set rax and return to the guest".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flow {
    Return(u64),
    /// The handler set every register itself (rt_sigreturn): no result.
    FrameReplaced,
    /// This thread ends (exit(2)).
    ThreadExit(i32),
    /// The process ends.
    Exit(Outcome),
}

#[derive(Clone, Copy)]
pub enum Handler {
    Plain(fn(&mut Task, &Args) -> SysResult),
    Control(fn(&mut Task, &Args) -> Result<Flow, Errno>),
}

impl Handler {
    pub fn call(self, task: &mut Task, args: &Args) -> Result<Flow, Errno> {
        match self {
            Handler::Plain(f) => f(task, args).map(Flow::Return),
            Handler::Control(f) => f(task, args),
        }
    }
}
