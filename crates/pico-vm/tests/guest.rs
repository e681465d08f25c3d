//! Runs hand-assembled ring-3 code in a real VM: the syscall round trip, a
//! fault on a read-only page, an exception, and a forged port access.

use pico_vm::memory::{PROT_EXEC, PROT_READ, PROT_WRITE};
use pico_vm::{Exit, Vm};

const CODE: u64 = 0x40_0000;
const STACK: u64 = 0x80_0000;

fn vm_with(code: &[u8]) -> (Vm, pico_vm::Vcpu) {
    let mut vm = Vm::new().expect("KVM must work on this machine");
    vm.map_anon(CODE, 0x1000, PROT_READ | PROT_WRITE, false)
        .unwrap();
    vm.memory().write(CODE, code).unwrap();
    vm.protect(CODE, 0x1000, PROT_READ | PROT_EXEC).unwrap();
    vm.map_anon(STACK - 0x1000, 0x1000, PROT_READ | PROT_WRITE, false)
        .unwrap();
    let vcpu = vm.create_vcpu(0, CODE, STACK).unwrap();
    (vm, vcpu)
}

#[test]
fn syscall_round_trip_returns_to_ring3_with_result() {
    // mov eax, 39; syscall; mov edi, eax; mov eax, 60; syscall
    let code = [
        0xb8, 39, 0, 0, 0, 0x0f, 0x05, 0x89, 0xc7, 0xb8, 60, 0, 0, 0, 0x0f, 0x05,
    ];
    let (_vm, mut vcpu) = vm_with(&code);
    assert_eq!(vcpu.run().unwrap(), Exit::Syscall);
    assert_eq!(vcpu.regs().rax, 39);
    assert_eq!(vcpu.regs().rcx, CODE + 7, "rcx = return address");
    vcpu.finish_syscall(1234).unwrap();
    assert_eq!(vcpu.run().unwrap(), Exit::Syscall);
    assert_eq!(vcpu.regs().rax, 60);
    assert_eq!(vcpu.regs().rdi, 1234, "the result reached ring 3");
    assert_eq!(vcpu.regs().rsp, STACK, "stack untouched");
}

#[test]
fn many_round_trips_keep_flags_and_registers() {
    // mov ecx? no: loop: mov eax, 39; syscall; dec ebx; jnz loop; mov eax, 60; syscall
    let code = [
        0xbb, 100, 0, 0, 0, 0xb8, 39, 0, 0, 0, 0x0f, 0x05, 0xff, 0xcb, 0x75, 0xf5, 0xb8, 60, 0, 0,
        0, 0x0f, 0x05,
    ];
    let (_vm, mut vcpu) = vm_with(&code);
    let mut n = 0;
    loop {
        assert_eq!(vcpu.run().unwrap(), Exit::Syscall);
        if vcpu.regs().rax == 60 {
            break;
        }
        n += 1;
        vcpu.finish_syscall(0).unwrap();
    }
    assert_eq!(n, 100);
}

#[test]
fn write_to_read_only_page_is_a_memory_fault() {
    // mov [rip + x], eax  -> the code page is read-only
    let code = [0x89, 0x05, 0x00, 0x01, 0x00, 0x00];
    let (_vm, mut vcpu) = vm_with(&code);
    assert!(matches!(vcpu.run().unwrap(), Exit::MemoryFault { .. }));
    assert_eq!(vcpu.regs().rip, CODE, "rip on the faulting instruction");
}

#[test]
fn ud2_is_an_invalid_opcode_exception() {
    let (_vm, mut vcpu) = vm_with(&[0x90, 0x0f, 0x0b]);
    match vcpu.run().unwrap() {
        Exit::Exception(e) => {
            assert_eq!(e.vector, 6);
            assert_eq!(e.rip, CODE + 1);
            assert_eq!(e.rsp, STACK);
        }
        other => panic!("expected #UD, got {other:?}"),
    }
}

#[test]
fn access_outside_the_window_is_a_page_fault() {
    // mov rax, 1<<41; mov rax, [rax]
    let mut code = vec![0x48, 0xb8];
    code.extend_from_slice(&(1u64 << 41).to_le_bytes());
    code.extend_from_slice(&[0x48, 0x8b, 0x00]);
    let (_vm, mut vcpu) = vm_with(&code);
    match vcpu.run().unwrap() {
        Exit::Exception(e) => {
            assert_eq!(e.vector, 14);
            assert_eq!(e.cr2, 1 << 41);
            assert_eq!(e.rip, CODE + 10);
        }
        other => panic!("expected #PF, got {other:?}"),
    }
}

#[test]
fn user_cannot_write_the_trampoline() {
    // mov rax, LSTAR page; mov [rax], eax
    let mut code = vec![0x48, 0xb8];
    code.extend_from_slice(
        &(pico_vm::layout::kernel_addr(pico_vm::layout::kpage::TRAMPOLINE)).to_le_bytes(),
    );
    code.extend_from_slice(&[0x89, 0x00]);
    let (_vm, mut vcpu) = vm_with(&code);
    match vcpu.run().unwrap() {
        Exit::Exception(e) => assert_eq!((e.vector, e.rip), (14, CODE + 10)),
        other => panic!("expected #PF, got {other:?}"),
    }
}

#[test]
fn guest_tsc_is_the_host_tsc_plus_the_measured_offset() {
    // rdtsc; mov rdi, rax; mov rsi, rdx; mov eax, 39; syscall
    let code = [
        0x0f, 0x31, 0x48, 0x89, 0xc7, 0x48, 0x89, 0xd6, 0xb8, 39, 0, 0, 0, 0x0f, 0x05,
    ];
    let (_vm, mut vcpu) = vm_with(&code);
    let offset = vcpu.tsc_offset().unwrap();
    assert!(
        vcpu.tsc_khz().unwrap() > 100_000,
        "a TSC of at least 100 MHz"
    );
    let before = pico_vm::host_tsc().wrapping_add(offset);
    assert_eq!(vcpu.run().unwrap(), Exit::Syscall);
    let after = pico_vm::host_tsc().wrapping_add(offset);
    let guest = (vcpu.regs().rsi << 32) | (vcpu.regs().rdi & 0xffff_ffff);
    // The measurement is good to a few microseconds (an ioctl's length).
    let slack = 100_000;
    assert!(
        guest.wrapping_sub(before) as i64 > -slack && after.wrapping_sub(guest) as i64 > -slack,
        "guest {guest} outside [{before}, {after}]"
    );
}
