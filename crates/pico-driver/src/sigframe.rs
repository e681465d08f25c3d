//! The x86-64 Linux signal frame (`struct rt_sigframe`), written on the
//! guest stack when a handler runs and read back by `rt_sigreturn`. Pure:
//! registers and bytes in, bytes and addresses out, so the layout is
//! unit-tested without a VM.
//!
//! Layout, lowest address first: `pretcode` (the restorer the handler
//! returns to), `struct ucontext` (flags, link, `stack_t`, `sigcontext`,
//! sigmask), `siginfo`, and, 64-byte aligned above, the XSAVE image with
//! the `fpx_sw_bytes` magic and the trailing `FP_XSTATE_MAGIC2`.

use kvm_bindings::kvm_regs;

pub const SIGINFO_SIZE: usize = 128;
const UCONTEXT_SIZE: u64 = 304;
const UC_OFFSET: u64 = 8;
const SIGINFO_OFFSET: u64 = UC_OFFSET + UCONTEXT_SIZE;
const FRAME_SIZE: u64 = SIGINFO_OFFSET + SIGINFO_SIZE as u64;
const MCONTEXT_OFFSET: u64 = 40;
const SIGMASK_OFFSET: u64 = MCONTEXT_OFFSET + 256;
const FP_XSTATE_MAGIC1: u32 = 0x4650_5853;
const FP_XSTATE_MAGIC2: u32 = 0x4650_5845;
/// uc_flags: UC_FP_XSTATE | UC_SIGCONTEXT_SS | UC_STRICT_RESTORE_SS.
const UC_FLAGS: u64 = 0x7;
/// The ABI's red zone below the interrupted stack pointer.
pub const RED_ZONE: u64 = 128;

/// `stack_t`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AltStack {
    pub sp: u64,
    pub flags: u32,
    pub size: u64,
}

/// What a frame records beyond the registers.
pub struct FrameInput<'a> {
    pub regs: &'a kvm_regs,
    pub cs: u16,
    pub ss: u16,
    /// Stack top to build below (already past the red zone or on the
    /// alternate stack).
    pub top: u64,
    pub restorer: u64,
    pub info: &'a [u8; SIGINFO_SIZE],
    pub blocked: u64,
    pub altstack: AltStack,
    pub xsave: &'a [u8],
    pub xfeatures: u64,
    pub err: u64,
    pub trapno: u64,
    pub cr2: u64,
}

/// A built frame: write `bytes` at `addr`; the handler starts with
/// `rsp = addr`, `rsi = info`, `rdx = ucontext`.
pub struct Frame {
    pub addr: u64,
    pub bytes: Vec<u8>,
    pub info: u64,
    pub ucontext: u64,
}

fn put(bytes: &mut [u8], at: u64, value: u64) {
    let at = at as usize;
    bytes[at..at + 8].copy_from_slice(&value.to_le_bytes());
}

fn put32(bytes: &mut [u8], at: u64, value: u32) {
    let at = at as usize;
    bytes[at..at + 4].copy_from_slice(&value.to_le_bytes());
}

fn get(bytes: &[u8], at: u64) -> u64 {
    let at = at as usize;
    bytes
        .get(at..at + 8)
        .and_then(|b| b.try_into().ok())
        .map(u64::from_le_bytes)
        .unwrap_or(0)
}

/// The general registers in `sigcontext` order (r8 .. rip, eflags).
fn gregs(r: &kvm_regs) -> [u64; 18] {
    [
        r.r8, r.r9, r.r10, r.r11, r.r12, r.r13, r.r14, r.r15, r.rdi, r.rsi, r.rbp, r.rbx, r.rdx,
        r.rax, r.rcx, r.rsp, r.rip, r.rflags,
    ]
}

/// Lays out a frame below `input.top`. Returns `None` if it would wrap.
pub fn build(input: &FrameInput<'_>) -> Option<Frame> {
    let fp_size = input.xsave.len() as u64 + 4;
    let fpstate = input.top.checked_sub(fp_size)? & !63;
    let addr = (fpstate.checked_sub(FRAME_SIZE)? & !15).checked_sub(8)?;
    let len = (fpstate + fp_size - addr) as usize;
    let mut bytes = vec![0u8; len];
    let rel = |a: u64| a - addr;
    put(&mut bytes, 0, input.restorer);
    let uc = UC_OFFSET;
    put(&mut bytes, uc, UC_FLAGS);
    put(&mut bytes, uc + 16, input.altstack.sp);
    put32(&mut bytes, uc + 24, input.altstack.flags);
    put(&mut bytes, uc + 32, input.altstack.size);
    let mc = uc + MCONTEXT_OFFSET;
    for (i, v) in gregs(input.regs).iter().enumerate() {
        put(&mut bytes, mc + 8 * i as u64, *v);
    }
    let segs = u64::from(input.cs) | (u64::from(input.ss) << 48);
    put(&mut bytes, mc + 8 * 18, segs);
    put(&mut bytes, mc + 8 * 19, input.err);
    put(&mut bytes, mc + 8 * 20, input.trapno);
    put(&mut bytes, mc + 8 * 21, input.blocked);
    put(&mut bytes, mc + 8 * 22, input.cr2);
    put(&mut bytes, mc + 8 * 23, fpstate);
    put(&mut bytes, uc + SIGMASK_OFFSET, input.blocked);
    let si = SIGINFO_OFFSET as usize;
    bytes[si..si + SIGINFO_SIZE].copy_from_slice(input.info);
    let fp = rel(fpstate) as usize;
    bytes[fp..fp + input.xsave.len()].copy_from_slice(input.xsave);
    // fpx_sw_bytes in the legacy area's software-reserved bytes (464..512).
    let sw = rel(fpstate) + 464;
    put32(&mut bytes, sw, FP_XSTATE_MAGIC1);
    put32(&mut bytes, sw + 4, fp_size as u32);
    put(&mut bytes, sw + 8, input.xfeatures);
    put32(&mut bytes, sw + 16, input.xsave.len() as u32);
    put32(
        &mut bytes,
        rel(fpstate) + input.xsave.len() as u64,
        FP_XSTATE_MAGIC2,
    );
    Some(Frame {
        addr,
        bytes,
        info: addr + SIGINFO_OFFSET,
        ucontext: addr + UC_OFFSET,
    })
}

/// What `rt_sigreturn` restores from a `ucontext`.
pub struct Restored {
    pub regs: kvm_regs,
    pub blocked: u64,
    pub fpstate: u64,
    pub altstack: AltStack,
}

/// Size of the `ucontext` bytes [`restore`] reads.
pub const UCONTEXT_LEN: usize = UCONTEXT_SIZE as usize;

/// Reads a `ucontext` (as the handler may have changed it).
pub fn restore(uc: &[u8]) -> Restored {
    let mc = MCONTEXT_OFFSET;
    let g = |i: u64| get(uc, mc + 8 * i);
    let regs = kvm_regs {
        r8: g(0),
        r9: g(1),
        r10: g(2),
        r11: g(3),
        r12: g(4),
        r13: g(5),
        r14: g(6),
        r15: g(7),
        rdi: g(8),
        rsi: g(9),
        rbp: g(10),
        rbx: g(11),
        rdx: g(12),
        rax: g(13),
        rcx: g(14),
        rsp: g(15),
        rip: g(16),
        rflags: g(17),
    };
    let altstack = AltStack {
        sp: get(uc, 16),
        flags: get(uc, 24) as u32,
        size: get(uc, 32),
    };
    Restored {
        regs,
        blocked: get(uc, SIGMASK_OFFSET),
        fpstate: g(23),
        altstack,
    }
}

/// The XSAVE image size a frame holds, checked against the magic words the
/// frame was built with; `None` if the guest damaged them.
pub fn fpstate_len(legacy: &[u8]) -> Option<usize> {
    if legacy.len() < 512 || get(legacy, 464) as u32 != FP_XSTATE_MAGIC1 {
        return None;
    }
    Some((get(legacy, 480) as u32) as usize)
}

/// siginfo for a signal sent by a process (`kill`, `tgkill`): si_code SI_USER
/// or SI_TKILL, with the sender's pid and uid.
pub fn user_info(signo: u32, code: i32, pid: u32, uid: u32) -> [u8; SIGINFO_SIZE] {
    let mut b = [0u8; SIGINFO_SIZE];
    put32(&mut b, 0, signo);
    put32(&mut b, 8, code as u32);
    put32(&mut b, 16, pid);
    put32(&mut b, 20, uid);
    b
}

/// siginfo for a fault: si_code and the faulting address.
pub fn fault_info(signo: u32, code: i32, addr: u64) -> [u8; SIGINFO_SIZE] {
    let mut b = [0u8; SIGINFO_SIZE];
    put32(&mut b, 0, signo);
    put32(&mut b, 8, code as u32);
    put(&mut b, 16, addr);
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> (kvm_regs, Vec<u8>) {
        let regs = kvm_regs {
            rax: 1,
            rbx: 2,
            rcx: 3,
            rdx: 4,
            rsi: 5,
            rdi: 6,
            rsp: 0x7000,
            rbp: 8,
            r8: 9,
            r15: 16,
            rip: 0x401000,
            rflags: 0x246,
            ..Default::default()
        };
        (regs, vec![0xaa; 832])
    }

    #[test]
    fn frame_is_aligned_like_linux_and_round_trips() {
        let (regs, xsave) = sample();
        let info = user_info(10, 0, 42, 0);
        let input = FrameInput {
            regs: &regs,
            cs: 0x33,
            ss: 0x2b,
            top: 0x10_0000 - RED_ZONE,
            restorer: 0x40_1234,
            info: &info,
            blocked: 1 << 9,
            altstack: AltStack::default(),
            xsave: &xsave,
            xfeatures: 7,
            err: 0,
            trapno: 0,
            cr2: 0,
        };
        let f = build(&input).unwrap();
        assert_eq!(
            (f.addr + 8) % 16,
            0,
            "handler sees rsp+8 16-aligned, as after a call"
        );
        assert_eq!(get(&f.bytes, 0), 0x40_1234, "pretcode is the restorer");
        assert_eq!(f.info, f.addr + 312);
        assert_eq!(&f.bytes[312..316], &10u32.to_le_bytes());
        let uc = &f.bytes[8..8 + UCONTEXT_LEN];
        let r = restore(uc);
        assert_eq!(gregs(&r.regs), gregs(&regs));
        assert_eq!(r.blocked, 1 << 9);
        assert_eq!(r.fpstate % 64, 0);
        let fp = (r.fpstate - f.addr) as usize;
        assert_eq!(fpstate_len(&f.bytes[fp..]), Some(832));
        assert_eq!(
            &f.bytes[fp + 832..fp + 836],
            &FP_XSTATE_MAGIC2.to_le_bytes()
        );
        assert_eq!(f.addr as usize + f.bytes.len(), (r.fpstate + 836) as usize);
    }

    #[test]
    fn damaged_fp_magic_is_detected() {
        assert_eq!(fpstate_len(&[0u8; 512]), None);
        assert_eq!(fpstate_len(&[0u8; 100]), None);
    }

    #[test]
    fn frame_near_zero_does_not_wrap() {
        let (regs, xsave) = sample();
        let info = [0u8; SIGINFO_SIZE];
        let input = FrameInput {
            regs: &regs,
            cs: 0x33,
            ss: 0x2b,
            top: 100,
            restorer: 0,
            info: &info,
            blocked: 0,
            altstack: AltStack::default(),
            xsave: &xsave,
            xfeatures: 7,
            err: 0,
            trapno: 0,
            cr2: 0,
        };
        assert!(build(&input).is_none());
    }
}
