//! The threads of one pico process: how many run, and the vCPU ids handed
//! out. Each guest thread is a host thread with its own vCPU in the
//! process's VM.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

#[derive(Debug)]
pub struct Threads {
    live: AtomicUsize,
    next_vcpu: AtomicU64,
}

impl Default for Threads {
    fn default() -> Self {
        Threads {
            live: AtomicUsize::new(1),
            next_vcpu: AtomicU64::new(1),
        }
    }
}

impl Threads {
    /// A thread starts; returns the vCPU id for it.
    pub fn start(&self) -> u64 {
        self.live.fetch_add(1, Ordering::AcqRel);
        self.next_vcpu.fetch_add(1, Ordering::AcqRel)
    }

    /// A thread that was counted could not start after all.
    pub fn abandon(&self) {
        self.live.fetch_sub(1, Ordering::AcqRel);
    }

    /// A thread exits; true if it was the last one.
    pub fn exit(&self) -> bool {
        self.live.fetch_sub(1, Ordering::AcqRel) == 1
    }

    pub fn live(&self) -> usize {
        self.live.load(Ordering::Acquire)
    }
}
