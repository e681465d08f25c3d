//! The host side of exitless syscalls: a vCPU's request slot in its fast
//! data page (protocol in `layout::fastdata` and rule 4 of
//! `guest-stubs/trampoline.S`). A serving thread takes requests and answers
//! them while the guest waits in its fast page, without a VM exit.

use std::sync::atomic::Ordering::{AcqRel, Acquire, Release};
use std::sync::Arc;

use crate::kernel::KernelArea;
use crate::layout::fastdata as f;

/// One vCPU's request slot. Cheap to clone; usable from any thread.
#[derive(Clone)]
pub struct PostBox {
    kernel: Arc<KernelArea>,
    /// Kernel-area offset of the vCPU's fast data page.
    data: u64,
}

/// A request taken from the guest: the syscall number and arguments.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Request {
    pub nr: u64,
    pub args: [u64; 6],
}

/// How a request the guest stopped waiting for ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Settled {
    /// It was served: this is its result.
    Done(u64),
    /// It was not (cancelled or declined): the syscall is still to be made.
    NotDone,
}

impl PostBox {
    pub(crate) fn new(kernel: Arc<KernelArea>, data: u64) -> PostBox {
        PostBox { kernel, data }
    }

    fn state(&self) -> &std::sync::atomic::AtomicU64 {
        self.kernel.atomic_u64(self.data + f::STATE)
    }

    /// Takes the posted request, if there is one.
    pub fn take(&self) -> Option<Request> {
        let state = self.state();
        if state.load(Acquire) != f::POSTED
            || state
                .compare_exchange(f::POSTED, f::TAKEN, AcqRel, Acquire)
                .is_err()
        {
            return None;
        }
        let word = |o: u64| self.kernel.read_u64(self.data + o);
        Some(Request {
            nr: word(f::REQ_NR),
            args: std::array::from_fn(|i| word(f::REQ_ARGS + 8 * i as u64)),
        })
    }

    /// Answers the taken request.
    pub fn complete(&self, result: u64) {
        self.kernel.write_u64(self.data + f::RESULT, result);
        self.state().store(f::DONE, Release);
    }

    /// Gives the taken request back: the guest makes it with a VM exit.
    pub fn decline(&self) {
        self.state().store(f::DECLINED, Release);
    }

    /// Says whether a server polls this slot; the guest posts only then.
    pub fn set_awake(&self, awake: bool) {
        self.kernel
            .atomic_u64(self.data + f::AWAKE)
            .store(u64::from(awake), Release);
    }

    pub fn awake(&self) -> bool {
        self.kernel.atomic_u64(self.data + f::AWAKE).load(Acquire) != 0
    }

    /// Whether this slot belongs to the same VM and vCPU as `other`.
    pub fn same_as(&self, other: &PostBox) -> bool {
        Arc::ptr_eq(&self.kernel, &other.kernel) && self.data == other.data
    }

    /// Ends the request of a guest stopped while waiting (on the vCPU's own
    /// thread): cancels it if nobody took it, else waits for the taker.
    pub(crate) fn settle(&self) -> Settled {
        let state = self.state();
        loop {
            match state.load(Acquire) {
                f::DONE => {
                    state.store(f::IDLE, Release);
                    return Settled::Done(self.kernel.read_u64(self.data + f::RESULT));
                }
                f::TAKEN => std::hint::spin_loop(),
                f::POSTED => {
                    if state
                        .compare_exchange(f::POSTED, f::IDLE, AcqRel, Acquire)
                        .is_ok()
                    {
                        return Settled::NotDone;
                    }
                }
                _ => {
                    state.store(f::IDLE, Release);
                    return Settled::NotDone;
                }
            }
        }
    }

    /// Sets which syscalls the guest posts and turns posting on.
    pub(crate) fn enable(&self, allow: &[u64]) {
        let mut bitmap = [0u64; (f::ALLOW_BITS / 64) as usize];
        for &nr in allow.iter().filter(|&&nr| nr < f::ALLOW_BITS) {
            bitmap[(nr / 64) as usize] |= 1 << (nr % 64);
        }
        for (i, word) in bitmap.iter().enumerate() {
            self.kernel
                .write_u64(self.data + f::ALLOW + 8 * i as u64, *word);
        }
        let flags = self.kernel.read_u64(self.data + f::FLAGS);
        self.kernel
            .write_u64(self.data + f::FLAGS, flags | f::FLAG_EXITLESS);
    }
}
