//! GDT, IDT and TSS contents, as bytes for the kernel area. Pure.

use crate::layout::{selector, EXCEPTION_VECTORS, SYSCALL_PORT};

/// GDT entries, indexed by selector / 8, for a vCPU whose TSS is at
/// `tss_base`. The TSS descriptor takes two entries.
pub fn gdt(tss_base: u64) -> [u64; 9] {
    let tss_limit = TSS_SIZE as u64 - 1;
    let tss_low = (tss_limit & 0xffff)
        | ((tss_base & 0xff_ffff) << 16)
        | (0x89 << 40) // present, DPL 0, type 9: available 64-bit TSS
        | (((tss_limit >> 16) & 0xf) << 48)
        | (((tss_base >> 24) & 0xff) << 56);
    [
        0,                     // 0x00 null
        0x00cf_9a00_0000_ffff, // 0x08 kernel code, 32-bit (unused)
        0x00af_9a00_0000_ffff, // 0x10 kernel code, 64-bit
        0x00cf_9200_0000_ffff, // 0x18 kernel data
        0x00cf_fa00_0000_ffff, // 0x20 user code, 32-bit (STAR's sysret base)
        0x00cf_f200_0000_ffff, // 0x28 user data
        0x00af_fa00_0000_ffff, // 0x30 user code, 64-bit
        tss_low,               // 0x38 TSS, low half
        tss_base >> 32,        // 0x40 TSS, high half
    ]
}

/// The 64-bit TSS proper, before the I/O permission bitmap.
const TSS_BASE_SIZE: usize = 104;
/// Size of the TSS with an I/O bitmap for ports 0-255 and its 0xff terminator.
pub const TSS_SIZE: usize = TSS_BASE_SIZE + 32 + 1;

/// The TSS: IST1 (the stack every exception switches to, from ring 3 or
/// from the ring-0 fast syscall page alike, so a fault there never writes
/// below the user's stack pointer), RSP0 (the same) and an I/O
/// bitmap that allows only the syscall port. Where `syscall` reaches LSTAR
/// still at CPL 3 (PVM), the trampoline's `out` needs that permission; any
/// other ring-3 port access faults. (A ring-3 `out` to the syscall port from
/// anywhere but the trampoline is recognised by its rip and treated as #GP.)
pub fn tss(rsp0: u64) -> [u8; TSS_SIZE] {
    let mut tss = [0xffu8; TSS_SIZE];
    tss[..TSS_BASE_SIZE].fill(0);
    tss[4..12].copy_from_slice(&rsp0.to_le_bytes());
    tss[36..44].copy_from_slice(&rsp0.to_le_bytes()); // IST1
    tss[102..104].copy_from_slice(&(TSS_BASE_SIZE as u16).to_le_bytes());
    let port = usize::from(SYSCALL_PORT);
    tss[TSS_BASE_SIZE + port / 8] &= !(1 << (port % 8));
    tss
}

/// One 16-byte interrupt gate.
fn gate(handler: u64, dpl: u8) -> [u8; 16] {
    let mut g = [0u8; 16];
    g[0..2].copy_from_slice(&(handler as u16).to_le_bytes());
    g[2..4].copy_from_slice(&selector::KERNEL_CODE.to_le_bytes());
    g[4] = 1; // IST1: always switch stacks (see `tss`)
    g[5] = 0x8e | (dpl << 5); // present, interrupt gate
    g[6..8].copy_from_slice(&((handler >> 16) as u16).to_le_bytes());
    g[8..12].copy_from_slice(&((handler >> 32) as u32).to_le_bytes());
    g
}

/// The IDT: vectors 0-31 point at their exception stubs. `int3` and `into`
/// are allowed from ring 3 (DPL 3) as on Linux, so they raise #BP/#OF and
/// not #GP. `stub` gives a vector's stub address.
pub fn idt(stub: impl Fn(u16) -> u64) -> Vec<u8> {
    let mut idt = Vec::with_capacity(16 * EXCEPTION_VECTORS as usize);
    for vector in 0..EXCEPTION_VECTORS {
        let dpl = if vector == 3 || vector == 4 { 3 } else { 0 };
        idt.extend_from_slice(&gate(stub(vector), dpl));
    }
    idt
}

/// Whether the CPU pushes an error code for this exception vector.
pub fn has_error_code(vector: u8) -> bool {
    matches!(vector, 8 | 10..=14 | 17 | 21 | 29 | 30)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::kernel_addr;

    #[test]
    fn tss_descriptor_points_at_the_tss() {
        let g = gdt(kernel_addr(0x12800));
        let low = g[(selector::TSS / 8) as usize];
        let high = g[(selector::TSS / 8) as usize + 1];
        let base = ((low >> 16) & 0xff_ffff) | (((low >> 56) & 0xff) << 24) | (high << 32);
        assert_eq!(base, kernel_addr(0x12800));
        assert_eq!(low & 0xffff, TSS_SIZE as u64 - 1);
        assert_eq!((low >> 40) & 0xff, 0x89);
    }

    #[test]
    fn user_selectors_have_dpl3_and_long_mode() {
        let g = gdt(0);
        let code = g[(selector::USER_CODE / 8) as usize];
        assert_eq!((code >> 45) & 3, 3, "DPL");
        assert_eq!((code >> 53) & 1, 1, "L bit");
        assert_eq!((g[(selector::USER_DATA / 8) as usize] >> 45) & 3, 3);
    }

    #[test]
    fn gates_encode_the_handler() {
        let idt = idt(|v| 0x1234_5678_9abc_0000 + u64::from(v) * 4);
        assert_eq!(idt.len(), 32 * 16);
        let g = &idt[14 * 16..15 * 16];
        let handler = u64::from(u16::from_le_bytes([g[0], g[1]]))
            | (u64::from(u16::from_le_bytes([g[6], g[7]])) << 16)
            | (u64::from(u32::from_le_bytes([g[8], g[9], g[10], g[11]])) << 32);
        assert_eq!(handler, 0x1234_5678_9abc_0000 + 14 * 4);
        assert_eq!(g[5], 0x8e);
        assert_eq!(idt[3 * 16 + 5], 0xee, "int3 allowed from ring 3");
    }

    #[test]
    fn io_bitmap_allows_only_the_syscall_port() {
        let t = tss(0x1000);
        let allowed: Vec<usize> = (0..256)
            .filter(|p| t[TSS_BASE_SIZE + p / 8] & (1 << (p % 8)) == 0)
            .collect();
        assert_eq!(allowed, vec![usize::from(SYSCALL_PORT)]);
        assert_eq!(t[TSS_SIZE - 1], 0xff, "terminator");
    }

    #[test]
    fn error_code_vectors() {
        assert!(
            has_error_code(14) && has_error_code(13) && !has_error_code(6) && !has_error_code(0)
        );
    }
}
