//! Which address a faulting instruction touched, for hosts where KVM does
//! not say (PVM: a guest access the host mapping forbids fails `KVM_RUN`
//! with `EFAULT` and no address). The instruction at rip is decoded
//! (iced-x86) and its memory operands computed from the registers; the
//! first one the guest may not access that way is the fault address.

use iced_x86::{Decoder, DecoderOptions, InstructionInfoFactory, OpAccess, Register};
use kvm_bindings::kvm_regs;

/// Memory the faulting instruction accesses: (address, is_write), in
/// operand order.
pub fn accesses(
    code: &[u8],
    rip: u64,
    regs: &kvm_regs,
    fs_base: u64,
    gs_base: u64,
) -> Vec<(u64, u64, bool)> {
    let mut decoder = Decoder::with_ip(64, code, rip, DecoderOptions::NONE);
    let instr = decoder.decode();
    if instr.is_invalid() {
        return Vec::new();
    }
    let mut factory = InstructionInfoFactory::new();
    let info = factory.info(&instr);
    let reg = |r: Register, _element: usize, _size: usize| -> Option<u64> {
        Some(match r.full_register() {
            Register::RAX => regs.rax,
            Register::RBX => regs.rbx,
            Register::RCX => regs.rcx,
            Register::RDX => regs.rdx,
            Register::RSI => regs.rsi,
            Register::RDI => regs.rdi,
            Register::RBP => regs.rbp,
            Register::RSP => regs.rsp,
            Register::R8 => regs.r8,
            Register::R9 => regs.r9,
            Register::R10 => regs.r10,
            Register::R11 => regs.r11,
            Register::R12 => regs.r12,
            Register::R13 => regs.r13,
            Register::R14 => regs.r14,
            Register::R15 => regs.r15,
            Register::RIP => rip,
            Register::FS => fs_base,
            Register::GS => gs_base,
            Register::ES | Register::CS | Register::SS | Register::DS => 0,
            Register::None => 0,
            _ => return None,
        })
    };
    info.used_memory()
        .iter()
        .filter_map(|m| {
            let write = matches!(
                m.access(),
                OpAccess::Write
                    | OpAccess::ReadWrite
                    | OpAccess::CondWrite
                    | OpAccess::ReadCondWrite
            );
            m.virtual_address(0, reg)
                .map(|addr| (addr, m.memory_size().size() as u64, write))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_through_a_register_plus_displacement() {
        // mov dword [rax+0x10], 1
        let code = [0xc7, 0x40, 0x10, 0x01, 0x00, 0x00, 0x00];
        let regs = kvm_regs {
            rax: 0x1000,
            ..Default::default()
        };
        assert_eq!(
            accesses(&code, 0x400000, &regs, 0, 0),
            vec![(0x1010, 4, true)]
        );
    }

    #[test]
    fn load_relative_to_fs_and_rip() {
        // mov rax, fs:[0x28]
        let code = [0x64, 0x48, 0x8b, 0x04, 0x25, 0x28, 0x00, 0x00, 0x00];
        assert_eq!(
            accesses(&code, 0, &kvm_regs::default(), 0x7000, 0),
            vec![(0x7028, 8, false)]
        );
        // mov eax, [rip+0x100] (6 bytes): relative to the next instruction
        let code = [0x8b, 0x05, 0x00, 0x01, 0x00, 0x00];
        assert_eq!(
            accesses(&code, 0x400000, &kvm_regs::default(), 0, 0),
            vec![(0x400106, 4, false)]
        );
    }

    #[test]
    fn garbage_is_no_access() {
        assert!(accesses(&[0x0f, 0xff], 0, &kvm_regs::default(), 0, 0).is_empty());
        assert!(accesses(&[], 0, &kvm_regs::default(), 0, 0).is_empty());
    }
}
