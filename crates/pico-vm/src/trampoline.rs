//! The trampoline's bytes, assembled from `guest-stubs/trampoline.S` into
//! the picorun binary (as data) with the ports passed as `const` operands,
//! so the assembly and `layout.rs` cannot disagree.

use crate::layout::{
    fastdata as f, selector, EXCEPTION_PORT_BASE, FS_LIMIT, SYSCALL_PORT, USER_TOP,
};

/// The syscalls the fast page may answer without an exit; its assembly
/// compares with these very constants. A policy that must see one of them
/// turns the fast page off (`set_fast_syscalls`).
pub const FAST_SYSCALLS: [i64; 8] = [
    libc::SYS_getpid,
    libc::SYS_gettid,
    libc::SYS_rt_sigprocmask,
    libc::SYS_arch_prctl,
    libc::SYS_set_robust_list,
    libc::SYS_set_tid_address,
    libc::SYS_rseq,
    libc::SYS_brk,
];

std::arch::global_asm!(
    include_str!("../../../guest-stubs/trampoline.S"),
    SYSCALL_PORT = const SYSCALL_PORT,
    EXCEPTION_PORT_BASE = const EXCEPTION_PORT_BASE,
    F_RCX = const f::RCX,
    F_R11 = const f::R11,
    F_RSP = const f::RSP,
    F_RAX = const f::RAX,
    F_PID = const f::PID,
    F_TID = const f::TID,
    F_MASK = const f::MASK,
    F_HOST_MASK = const f::HOST_MASK,
    F_PENDING = const f::PENDING,
    F_FLAGS = const f::FLAGS,
    FLAG_FAST = const f::FLAG_FAST,
    FLAG_FSGSBASE = const f::FLAG_FSGSBASE,
    FLAG_EXITLESS = const f::FLAG_EXITLESS,
    F_DEFERRED = const f::DEFERRED,
    DEFER_ROBUST_LIST = const f::DEFER_ROBUST_LIST,
    DEFER_CLEAR_CHILD_TID = const f::DEFER_CLEAR_CHILD_TID,
    F_ROBUST_LIST = const f::ROBUST_LIST,
    F_CLEAR_CHILD_TID = const f::CLEAR_CHILD_TID,
    ENOSYS = const libc::ENOSYS,
    NR_GETPID = const FAST_SYSCALLS[0],
    NR_GETTID = const FAST_SYSCALLS[1],
    NR_RT_SIGPROCMASK = const FAST_SYSCALLS[2],
    NR_ARCH_PRCTL = const FAST_SYSCALLS[3],
    NR_SET_ROBUST_LIST = const FAST_SYSCALLS[4],
    NR_SET_TID_ADDRESS = const FAST_SYSCALLS[5],
    NR_RSEQ = const FAST_SYSCALLS[6],
    NR_BRK = const FAST_SYSCALLS[7],
    F_BRK = const f::BRK,
    F_STATE = const f::STATE,
    F_REQ_NR = const f::REQ_NR,
    F_REQ_ARGS = const f::REQ_ARGS,
    F_RESULT = const f::RESULT,
    F_AWAKE = const f::AWAKE,
    F_ALLOW = const f::ALLOW,
    ALLOW_BITS = const f::ALLOW_BITS,
    POSTED = const f::POSTED,
    DONE = const f::DONE,
    DECLINED = const f::DECLINED,
    SPIN = const f::SPIN,
    USER_TOP = const USER_TOP,
    FS_LIMIT = const FS_LIMIT,
    USER_SS = const selector::USER_DATA,
    USER_CS = const selector::USER_CODE,
    options(att_syntax)
);

extern "C" {
    static pico_trampoline_start: u8;
    static pico_trampoline_exceptions: u8;
    static pico_trampoline_end: u8;
    static pico_fast_start: u8;
    static pico_fast_saved: u8;
    static pico_fast_out: u8;
    static pico_fast_commit: u8;
    static pico_fast_post: u8;
    static pico_fast_posted_end: u8;
    static pico_fast_wait_out: u8;
    static pico_fast_return: u8;
    static pico_fast_end: u8;
}

/// The fast syscall page's code (copied per vCPU) and the offsets of the
/// points the host must know (see the rules in `guest-stubs/trampoline.S`).
pub struct FastCode {
    pub bytes: &'static [u8],
    /// The registers are saved in the data page from here on.
    pub saved: u64,
    /// The `out` that hands a syscall to the host.
    pub out: u64,
    /// The one non-repeatable store (the new signal mask, in r11).
    pub commit: u64,
    /// The store that posts an exitless request; after it, up to
    /// `posted_end`, a request is outstanding.
    pub post: u64,
    pub posted_end: u64,
    /// The `out` of a guest that stopped waiting for its posted request.
    pub wait_out: u64,
    /// The return to user mode, with the result in rax.
    pub ret: u64,
}

pub fn fast_code() -> FastCode {
    let addr = |p: *const u8| p as usize;
    // Only the addresses of these symbols are taken; they are defined in
    // one section by the global_asm! above, in this order.
    let (start, saved, out, commit, ret, end) = (
        addr(std::ptr::addr_of!(pico_fast_start)),
        addr(std::ptr::addr_of!(pico_fast_saved)),
        addr(std::ptr::addr_of!(pico_fast_out)),
        addr(std::ptr::addr_of!(pico_fast_commit)),
        addr(std::ptr::addr_of!(pico_fast_return)),
        addr(std::ptr::addr_of!(pico_fast_end)),
    );
    let (post, posted_end, wait_out) = (
        addr(std::ptr::addr_of!(pico_fast_post)),
        addr(std::ptr::addr_of!(pico_fast_posted_end)),
        addr(std::ptr::addr_of!(pico_fast_wait_out)),
    );
    // SAFETY: [start, end) is the fast page's bytes in read-only data,
    // which live for the whole program.
    let bytes = unsafe { std::slice::from_raw_parts(start as *const u8, end - start) };
    let at = |p: usize| (p - start) as u64;
    FastCode {
        bytes,
        saved: at(saved),
        out: at(out),
        commit: at(commit),
        post: at(post),
        posted_end: at(posted_end),
        wait_out: at(wait_out),
        ret: at(ret),
    }
}

/// The trampoline image and the offsets of its entry points.
pub struct Trampoline {
    pub bytes: &'static [u8],
    /// Offset of the syscall entry (LSTAR).
    pub syscall_entry: u64,
    /// Offset of the first exception stub; each stub is `stub_size` long.
    pub exceptions: u64,
    pub stub_size: u64,
}

/// Length of the `out imm8, al` instruction: the rip the host sees after it.
pub const OUT_LEN: u64 = 2;

pub fn trampoline() -> Trampoline {
    // The three symbols are defined by the global_asm! above in one section,
    // in this order; only their addresses are taken, never a value.
    let (start, exceptions, end) = (
        std::ptr::addr_of!(pico_trampoline_start) as usize,
        std::ptr::addr_of!(pico_trampoline_exceptions) as usize,
        std::ptr::addr_of!(pico_trampoline_end) as usize,
    );
    // SAFETY: [start, end) is the trampoline's bytes in read-only data,
    // which live for the whole program.
    let bytes = unsafe { std::slice::from_raw_parts(start as *const u8, end - start) };
    Trampoline {
        bytes,
        syscall_entry: 0,
        exceptions: (exceptions - start) as u64,
        stub_size: 4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syscall_entry_is_one_out_to_the_syscall_port() {
        let t = trampoline();
        assert_eq!(&t.bytes[..2], &[0xe6, SYSCALL_PORT as u8]);
        assert_eq!(&t.bytes[2..4], &[0x0f, 0x0b], "ud2 after the exit");
    }

    #[test]
    fn each_exception_stub_exits_through_its_own_port() {
        let t = trampoline();
        for v in 0..32u64 {
            let at = (t.exceptions + v * t.stub_size) as usize;
            assert_eq!(
                &t.bytes[at..at + 2],
                &[0xe6, EXCEPTION_PORT_BASE as u8 + v as u8]
            );
        }
        assert_eq!(t.bytes.len() as u64, t.exceptions + 32 * t.stub_size);
    }
}
