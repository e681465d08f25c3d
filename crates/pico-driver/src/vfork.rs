//! vfork's shared memory, on top of a host fork. A vfork child runs on a
//! copy-on-write copy of its parent's memory (a KVM VM cannot be shared
//! with another process), but the parent is suspended until the child
//! execs or exits, so nothing can observe the difference as long as every
//! store the child made is in the parent's memory when it resumes. So at
//! exec or exit the child of a single-threaded parent sends every page of
//! private writable guest memory
//! it has written back through the vfork pipe; the parent, which waits on
//! that pipe, writes them into its own memory before it continues. (Shared
//! mappings are shared already.)
//!
//! Which pages the child wrote: right after a fork every private page is
//! shared copy-on-write between the two processes; a page the child writes
//! becomes its own copy, which the host's pagemap reports as "exclusively
//! mapped" (bit 56). (Soft-dirty bits would be the textbook tool, but the
//! host kernel here does not set them on copy-on-write faults after a fork.)

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::os::unix::fs::FileExt;

use pico_vm::layout::PAGE_SIZE;
use pico_vm::memory::PROT_WRITE;

use crate::task::Task;

/// A vfork child's link to its waiting parent.
#[derive(Debug)]
pub struct VforkDone {
    pipe: OwnedFd,
    /// Whether the child's stores go back to the parent. Only when the
    /// parent had one thread: otherwise its other threads keep running and
    /// writing while the child runs, and whole pages copied back would undo
    /// their stores (a Go runtime's locks, say). Programs that vfork from
    /// several threads (Go, posix_spawn in threaded programs) report exec
    /// errors through a pipe, not through the shared memory.
    copy_back: bool,
}

impl VforkDone {
    pub fn new(pipe: OwnedFd, copy_back: bool) -> VforkDone {
        VforkDone { pipe, copy_back }
    }
}

/// Bit 56 of a pagemap entry: the page is mapped by this process only.
const EXCLUSIVE: u64 = 1 << 56;

/// Guest pages of `[start, end)` the child has written since the fork.
fn dirty_pages(pagemap: &File, base: u64, start: u64, end: u64) -> Vec<u64> {
    let pages = ((end - start) / PAGE_SIZE) as usize;
    let mut raw = vec![0u8; pages * 8];
    if pagemap
        .read_exact_at(&mut raw, (base + start) / PAGE_SIZE * 8)
        .is_err()
    {
        return Vec::new();
    }
    raw.chunks_exact(8)
        .enumerate()
        .filter(|(_, e)| u64::from_le_bytes((*e).try_into().unwrap_or_default()) & EXCLUSIVE != 0)
        .map(|(i, _)| start + i as u64 * PAGE_SIZE)
        .collect()
}

/// In the child, at exec or exit: sends the pages it dirtied, then closes
/// the pipe (which lets the parent continue).
pub fn child_done(t: &Task, done: VforkDone) {
    if !done.copy_back {
        return;
    }
    let Ok(pagemap) = File::open("/proc/self/pagemap") else {
        return;
    };
    let mut out = File::from(done.pipe);
    let mem = t.vm.memory();
    let base = mem.host_base();
    let private_writable: Vec<(u64, u64)> = mem
        .regions()
        .iter()
        .filter(|(_, _, r)| !r.shared && r.prot & PROT_WRITE != 0)
        .map(|(s, e, _)| (s, e))
        .collect();
    drop(mem);
    let mut page = vec![0u8; PAGE_SIZE as usize];
    for (start, end) in private_writable {
        let dirty = dirty_pages(&pagemap, base, start, end);
        log::debug!(
            "vfork child: {} dirty pages in {start:#x}..{end:#x}",
            dirty.len()
        );
        for addr in dirty {
            if t.read_bytes(addr, &mut page).is_err() {
                continue;
            }
            let header = [addr.to_le_bytes(), PAGE_SIZE.to_le_bytes()].concat();
            if out
                .write_all(&header)
                .and_then(|_| out.write_all(&page))
                .is_err()
            {
                return;
            }
        }
    }
}

/// In the parent: takes the child's pages until it execs or exits.
pub fn parent_wait(t: &Task, done: OwnedFd) {
    let mut input = File::from(done);
    let mut header = [0u8; 16];
    let mut page = vec![0u8; PAGE_SIZE as usize];
    loop {
        if read_all(&mut input, &mut header).is_err() {
            return;
        }
        let addr = u64::from_le_bytes(header[..8].try_into().unwrap_or_default());
        let len = u64::from_le_bytes(header[8..].try_into().unwrap_or_default());
        if len != PAGE_SIZE || read_all(&mut input, &mut page).is_err() {
            return;
        }
        if t.vm.memory().write_initial(addr, &page).is_err() {
            log::debug!("vfork: page {addr:#x} is no longer writable in the parent");
        }
    }
}

/// read_exact that retries on EINTR (a routed signal) and stops at EOF.
fn read_all(input: &mut File, buf: &mut [u8]) -> std::io::Result<()> {
    let mut got = 0;
    while got < buf.len() {
        match input.read(&mut buf[got..]) {
            Ok(0) => return Err(std::io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}
