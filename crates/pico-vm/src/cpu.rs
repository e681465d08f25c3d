//! The vCPU's architectural state at start: 64-bit long mode with paging,
//! ring-3 user segments, `syscall` enabled with LSTAR at the trampoline,
//! XSAVE enabled so glibc's AVX code runs. Pure values; `vcpu.rs` applies them.

use kvm_bindings::{kvm_msr_entry, kvm_regs, kvm_segment, kvm_sregs, CpuId};

use crate::descriptors::TSS_SIZE;
use crate::layout::{kernel_addr, kpage, selector};

pub const CR0_PE: u64 = 1 << 0;
pub const CR0_MP: u64 = 1 << 1;
pub const CR0_ET: u64 = 1 << 4;
pub const CR0_NE: u64 = 1 << 5;
pub const CR0_WP: u64 = 1 << 16;
pub const CR0_AM: u64 = 1 << 18;
pub const CR0_PG: u64 = 1 << 31;
pub const CR4_PAE: u64 = 1 << 5;
pub const CR4_OSFXSR: u64 = 1 << 9;
pub const CR4_OSXMMEXCPT: u64 = 1 << 10;
pub const CR4_FSGSBASE: u64 = 1 << 16;
pub const CR4_OSXSAVE: u64 = 1 << 18;
pub const EFER_SCE: u64 = 1 << 0;
pub const EFER_LME: u64 = 1 << 8;
pub const EFER_LMA: u64 = 1 << 10;
pub const EFER_NXE: u64 = 1 << 11;

pub const MSR_STAR: u32 = 0xc000_0081;
pub const MSR_LSTAR: u32 = 0xc000_0082;
pub const MSR_CSTAR: u32 = 0xc000_0083;
pub const MSR_SFMASK: u32 = 0xc000_0084;
pub const MSR_KERNEL_GS_BASE: u32 = 0xc000_0102;
pub const MSR_TSC_AUX: u32 = 0xc000_0103;
pub const MSR_IA32_TSC: u32 = 0x10;

/// The host's time-stamp counter.
pub fn host_tsc() -> u64 {
    // SAFETY: rdtsc only reads the time-stamp counter; it has no memory
    // effects and is available on every x86-64 CPU KVM runs on.
    unsafe { core::arch::x86_64::_rdtsc() }
}

/// rflags bits a user program may set, as the kernel's `sysret` path allows
/// (CF PF AF ZF SF TF DF OF NT AC ID); IOPL and the rest stay 0.
pub const USER_RFLAGS: u64 = 0x0024_4dd5;
/// Always set in user rflags: reserved bit 1 and IF.
pub const RFLAGS_FIXED: u64 = 0x202;
/// Cleared on `syscall` entry, like Linux (TF DF IF IOPL NT AC).
const SFMASK: u64 = 0x4_7700;

/// A new vCPU's registers: at `rip` with stack `rsp`, all else zero.
pub fn start_regs(rip: u64, rsp: u64) -> kvm_regs {
    kvm_regs {
        rip,
        rsp,
        rflags: RFLAGS_FIXED,
        ..Default::default()
    }
}

/// The rflags a return to user mode installs from what the guest supplied.
pub fn user_rflags(requested: u64) -> u64 {
    (requested & USER_RFLAGS) | RFLAGS_FIXED
}

fn segment(sel: u16, code: bool, dpl: u8) -> kvm_segment {
    kvm_segment {
        base: 0,
        limit: 0xffff_ffff,
        selector: sel,
        type_: if code { 11 } else { 3 },
        present: 1,
        dpl,
        db: u8::from(!code),
        s: 1,
        l: u8::from(code),
        g: 1,
        ..Default::default()
    }
}

/// User code and stack segments, as `sysret` would load them.
pub fn user_code_segment() -> kvm_segment {
    segment(selector::USER_CODE, true, 3)
}

pub fn user_data_segment() -> kvm_segment {
    segment(selector::USER_DATA, false, 3)
}

/// System registers for running user code. `has_fsgsbase`: enable user
/// `wrfsbase` & co. as Linux does where the CPU has them.
/// `slot` is the vCPU's slot in the kernel area (its GDT and TSS).
pub fn initial_sregs(mut s: kvm_sregs, has_fsgsbase: bool, slot: u64) -> kvm_sregs {
    s.cs = user_code_segment();
    s.ss = user_data_segment();
    s.ds = user_data_segment();
    s.es = user_data_segment();
    s.fs = user_data_segment();
    s.gs = user_data_segment();
    s.tr = kvm_segment {
        base: kernel_addr(slot + kpage::SLOT_TSS),
        limit: TSS_SIZE as u32 - 1,
        selector: selector::TSS,
        type_: 11, // busy 64-bit TSS
        present: 1,
        ..Default::default()
    };
    s.gdt.base = kernel_addr(slot);
    s.gdt.limit = 9 * 8 - 1;
    s.idt.base = kernel_addr(kpage::IDT);
    s.idt.limit = 32 * 16 - 1;
    s.cr0 = CR0_PE | CR0_MP | CR0_ET | CR0_NE | CR0_WP | CR0_AM | CR0_PG;
    s.cr3 = kernel_addr(kpage::PML4);
    s.cr4 = CR4_PAE | CR4_OSFXSR | CR4_OSXMMEXCPT | CR4_OSXSAVE;
    if has_fsgsbase {
        s.cr4 |= CR4_FSGSBASE;
    }
    s.efer = EFER_SCE | EFER_LME | EFER_LMA | EFER_NXE;
    s
}

/// MSRs for the `syscall` path: LSTAR at the trampoline's entry.
pub fn initial_msrs(lstar: u64) -> Vec<kvm_msr_entry> {
    let star = (u64::from(selector::USER_CODE32) << 48) | (u64::from(selector::KERNEL_CODE) << 32);
    [
        (MSR_STAR, star),
        (MSR_LSTAR, lstar),
        (MSR_CSTAR, 0),
        (MSR_SFMASK, SFMASK),
        (MSR_KERNEL_GS_BASE, 0),
        (MSR_TSC_AUX, 0),
    ]
    .into_iter()
    .map(|(index, data)| kvm_msr_entry {
        index,
        data,
        ..Default::default()
    })
    .collect()
}

/// Hides virtualization extensions from the guest; everything else KVM
/// supports is passed through so libc picks the same code paths as natively.
pub fn filter_cpuid(cpuid: &mut CpuId) {
    for e in cpuid.as_mut_slice() {
        match e.function {
            1 => e.ecx &= !(1 << 5),           // VMX
            0x8000_0001 => e.ecx &= !(1 << 2), // SVM
            _ => {}
        }
    }
}

/// Whether the CPU offers FSGSBASE (leaf 7, ebx bit 0).
pub fn has_fsgsbase(cpuid: &CpuId) -> bool {
    cpuid
        .as_slice()
        .iter()
        .any(|e| e.function == 7 && e.index == 0 && e.ebx & 1 != 0)
}

/// XCR0 to enable: x87, SSE, AVX and AVX-512 state where supported (leaf 0xD).
pub fn xcr0(cpuid: &CpuId) -> u64 {
    const WANTED: u64 = 0x1 | 0x2 | 0x4 | 0x20 | 0x40 | 0x80;
    let supported = cpuid
        .as_slice()
        .iter()
        .find(|e| e.function == 0xd && e.index == 0)
        .map(|e| u64::from(e.eax) | (u64::from(e.edx) << 32))
        .unwrap_or(0x3);
    supported & WANTED | 0x1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_rflags_keep_arithmetic_flags_and_drop_iopl() {
        assert_eq!(user_rflags(0x3000 | 0x1), 0x203, "IOPL dropped, CF kept");
        assert_eq!(user_rflags(0), 0x202);
        assert_eq!(user_rflags(0x10000), 0x202, "RF dropped");
    }

    #[test]
    fn star_gives_linux_user_selectors() {
        let msrs = initial_msrs(0x1234);
        let star = msrs.iter().find(|m| m.index == MSR_STAR).unwrap().data;
        assert_eq!((star >> 48) + 16, u64::from(selector::USER_CODE));
        assert_eq!((star >> 48) + 8, u64::from(selector::USER_DATA));
    }
}
