//! The threads of one pico process: how many run, and the vCPU ids handed
//! out. Each guest thread is a host thread with its own vCPU in the
//! process's VM.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;

use pico_vm::Vcpu;

/// vCPUs of exited threads are kept for the next threads: KVM cannot
/// destroy a vCPU and allows at most 1024 per VM, so a program that starts
/// and ends threads all day must not need a new one each time.
pub struct Threads {
    live: AtomicUsize,
    next_vcpu: AtomicU64,
    idle: Mutex<Vec<Vcpu>>,
}

impl Default for Threads {
    fn default() -> Self {
        Threads {
            live: AtomicUsize::new(1),
            next_vcpu: AtomicU64::new(1),
            idle: Mutex::new(Vec::new()),
        }
    }
}

impl Threads {
    /// A thread starts: a parked vCPU to reuse, or the id for a new one.
    pub fn start(&self) -> Result<Vcpu, u64> {
        self.live.fetch_add(1, Ordering::AcqRel);
        match self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop() {
            Some(vcpu) => Ok(vcpu),
            None => Err(self.next_vcpu.fetch_add(1, Ordering::AcqRel)),
        }
    }

    /// Keeps an exited thread's vCPU for reuse.
    pub fn park(&self, vcpu: Vcpu) {
        self.idle
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(vcpu);
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
