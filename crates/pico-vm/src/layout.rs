//! Where everything lives in a pico process's guest address space.
//!
//! Two regions, both identity-mapped (guest-virtual == guest-physical):
//!
//! * the **user window** `[0, WINDOW_SIZE)`: the Linux process's whole
//!   address space. Guest page tables map it with 2 MiB user read/write/execute
//!   pages (directories filled in per GiB on first use); what is really mapped, and with which
//!   protection, is decided by the host mapping behind it (see
//!   `memory.rs`), which KVM follows through its MMU notifiers on every kind
//!   of KVM. Memory slots are registered lazily, one `SLOT_CHUNK` at a time.
//! * the **kernel area** at `KERNEL_BASE`, just above the window: page
//!   tables, the IDT, the trampoline, and per vCPU a GDT, TSS and exception
//!   stack. Only the trampoline page is user-visible (read + execute),
//!   because on PVM a ring-3 `syscall` reaches LSTAR still at CPL 3.

/// Size of the user window: the guest's whole user address space (1 TiB).
pub const WINDOW_SIZE: u64 = 1 << 40;
/// Memory slots cover the window in chunks of this size, registered on first
/// use: a 1 TiB slot would cost KVM ~256 MiB of reverse-map metadata. KVM
/// allocates (and zeroes, and later frees) that metadata in proportion to
/// a slot's size, about 1 µs per MiB over a slot's life on a shadow-paging
/// host, against ~25 µs per slot whatever its size: 64 MiB chunks keep a
/// small program's three or four slots cheap.
pub const SLOT_CHUNK: u64 = 64 << 20;
/// Guest-physical (and virtual) base of the kernel area.
pub const KERNEL_BASE: u64 = WINDOW_SIZE;
/// Size of the kernel area's memory slot.
pub const KERNEL_SIZE: u64 = 2 << 20;
/// Guest page size.
pub const PAGE_SIZE: u64 = 4096;

/// Offsets of the kernel area's pages from `KERNEL_BASE`.
pub mod kpage {
    /// Top-level page table.
    pub const PML4: u64 = 0x0000;
    /// Page-directory-pointer tables for the window's two 512 GiB halves.
    pub const PDPT_WINDOW: [u64; 2] = [0x1000, 0x2000];
    /// Page-directory-pointer table, directory and table of the kernel area.
    pub const PDPT_KERNEL: u64 = 0x3000;
    pub const PD_KERNEL: u64 = 0x4000;
    pub const PT_KERNEL: u64 = 0x5000;
    /// The interrupt descriptor table, shared by all vCPUs.
    pub const IDT: u64 = 0x7000;
    /// The trampoline: user read + execute, never writable.
    pub const TRAMPOLINE: u64 = 0x9000;
    /// First page past the shared kernel pages.
    pub const END: u64 = 0xa000;
    /// Per-vCPU slots: each vCPU has its own GDT and TSS (page 0 of its
    /// slot) and exception stack (page 1), so two threads faulting at once
    /// do not write their exception frames over each other, and its own
    /// fast syscall page (page 2, user read + execute, its LSTAR) with the
    /// data page that code reads (page 3, user read/write).
    pub const VCPU_SLOTS: u64 = 0x10000;
    pub const VCPU_SLOT_SIZE: u64 = 0x4000;
    /// Top of a slot's exception stack.
    pub const SLOT_EXCEPTION_STACK_TOP: u64 = 0x2000;
    /// A slot's fast syscall code page and its data page.
    pub const SLOT_FAST_CODE: u64 = 0x2000;
    pub const SLOT_FAST_DATA: u64 = 0x3000;
    /// Offset of the TSS within a slot's first page.
    pub const SLOT_TSS: u64 = 0x800;
    /// Pool of page directories for the window, one per GiB in use.
    pub const DIRECTORIES: u64 = 0x10_0000;
    pub const DIRECTORIES_END: u64 = super::KERNEL_SIZE;
}

/// I/O port the syscall path exits through.
pub const SYSCALL_PORT: u16 = 0x10;
/// I/O port of exception vector 0; vector `v` uses `EXCEPTION_PORT_BASE + v`.
pub const EXCEPTION_PORT_BASE: u16 = 0xc0;
/// Number of exception vectors with stubs.
pub const EXCEPTION_VECTORS: u16 = 32;

/// Segment selectors, in Linux's own layout so that `STAR` yields the same
/// user selectors (0x33 code, 0x2b data) the host kernel uses.
pub mod selector {
    pub const KERNEL_CODE: u16 = 0x10;
    pub const KERNEL_DATA: u16 = 0x18;
    pub const USER_CODE32: u16 = 0x23;
    pub const USER_DATA: u16 = 0x2b;
    pub const USER_CODE: u16 = 0x33;
    pub const TSS: u16 = 0x38;
}

/// How many vCPUs get a slot of their own; more share slots round-robin
/// (only their concurrent exceptions could then collide) and use the plain
/// trampoline, since a fast page's data is per vCPU.
pub const VCPU_SLOT_COUNT: u64 = (kpage::DIRECTORIES - kpage::VCPU_SLOTS) / kpage::VCPU_SLOT_SIZE;

/// Kernel-area offset of vCPU `id`'s slot.
pub const fn vcpu_slot(id: u64) -> u64 {
    kpage::VCPU_SLOTS + (id % VCPU_SLOT_COUNT) * kpage::VCPU_SLOT_SIZE
}

/// Guest-physical address of a kernel-area page.
pub const fn kernel_addr(offset: u64) -> u64 {
    KERNEL_BASE + offset
}

/// Byte offsets of the fields of a vCPU's fast data page (see
/// `guest-stubs/trampoline.S`). The guest can write this page: the host
/// treats everything in it as guest input, like a register.
pub mod fastdata {
    /// The user's rcx, r11, rsp and rax (the syscall number) at entry.
    pub const RCX: u64 = 0x00;
    pub const R11: u64 = 0x08;
    pub const RSP: u64 = 0x10;
    pub const RAX: u64 = 0x18;
    /// What getpid and gettid answer.
    pub const PID: u64 = 0x20;
    pub const TID: u64 = 0x28;
    /// The thread's blocked signals; the fast rt_sigprocmask changes it.
    pub const MASK: u64 = 0x30;
    /// Signals the host thread blocks: a fast rt_sigprocmask must keep them
    /// blocked.
    pub const HOST_MASK: u64 = 0x38;
    /// Nonzero while a signal is pending for the thread.
    pub const PENDING: u64 = 0x40;
    /// `FLAG_*` bits.
    pub const FLAGS: u64 = 0x48;
    /// Answer syscalls in the guest at all.
    pub const FLAG_FAST: u64 = 1;
    /// `rdfsbase`/`wrfsbase` work (CR4.FSGSBASE), for arch_prctl.
    pub const FLAG_FSGSBASE: u64 = 2;
    /// Post the syscalls in `ALLOW` for a host thread to serve (exitless).
    pub const FLAG_EXITLESS: u64 = 4;
    /// `DEFER_*` bits: what the guest recorded in this page for the host
    /// to take over at the next exit (set_robust_list, set_tid_address
    /// only store a pointer the kernel uses later, at thread exit).
    pub const DEFERRED: u64 = 0x50;
    pub const DEFER_ROBUST_LIST: u64 = 1;
    pub const DEFER_CLEAR_CHILD_TID: u64 = 2;
    /// The robust list head and the clear-child-tid address, valid while
    /// their `DEFER_*` bit is set.
    pub const ROBUST_LIST: u64 = 0x58;
    pub const CLEAR_CHILD_TID: u64 = 0x60;
    /// What brk(0) answers: the program break, or 0 where the host must
    /// answer (in a process with more threads, another thread may move the
    /// break between two exits of this one).
    pub const BRK: u64 = 0x68;

    /// The exitless request, on a cache line of its own: state, number,
    /// arguments and result.
    pub const STATE: u64 = 0x80;
    pub const REQ_NR: u64 = 0x88;
    pub const REQ_ARGS: u64 = 0x90;
    pub const RESULT: u64 = 0xc0;
    /// Nonzero while a serving thread is polling (not parked): only then
    /// does the guest post rather than exit.
    pub const AWAKE: u64 = 0xc8;
    /// Bitmap of the syscall numbers (below 512) that may be posted.
    pub const ALLOW: u64 = 0x100;
    pub const ALLOW_BITS: u64 = 512;

    /// Request states. The guest writes POSTED (after the arguments) and
    /// then waits; the serving thread moves POSTED to TAKEN and then to
    /// DONE (after the result) or DECLINED; the vCPU's own thread may move
    /// POSTED to IDLE to cancel a request the guest gave up waiting for.
    pub const IDLE: u64 = 0;
    pub const POSTED: u64 = 1;
    pub const TAKEN: u64 = 2;
    pub const DONE: u64 = 3;
    pub const DECLINED: u64 = 4;
    /// How many times the guest polls for DONE before it exits instead.
    pub const SPIN: u64 = 4000;
}

/// Highest address a fast path dereferences: the last u64 of the window.
pub const USER_TOP: u64 = WINDOW_SIZE - 8;
/// arch_prctl(ARCH_SET_FS) accepts bases below this (Linux's TASK_SIZE_MAX).
pub const FS_LIMIT: u64 = 0x7fff_ffff_f000;
