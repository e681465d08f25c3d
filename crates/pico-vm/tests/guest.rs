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
    // mov eax, 110; syscall; mov edi, eax; mov eax, 60; syscall
    let code = [
        0xb8, 110, 0, 0, 0, 0x0f, 0x05, 0x89, 0xc7, 0xb8, 60, 0, 0, 0, 0x0f, 0x05,
    ];
    let (_vm, mut vcpu) = vm_with(&code);
    assert_eq!(vcpu.run().unwrap(), Exit::Syscall);
    assert_eq!(vcpu.regs().rax, 110);
    assert_eq!(vcpu.regs().rcx, CODE + 7, "rcx = return address");
    vcpu.finish_syscall(1234).unwrap();
    assert_eq!(vcpu.run().unwrap(), Exit::Syscall);
    assert_eq!(vcpu.regs().rax, 60);
    assert_eq!(vcpu.regs().rdi, 1234, "the result reached ring 3");
    assert_eq!(vcpu.regs().rsp, STACK, "stack untouched");
}

#[test]
fn many_round_trips_keep_flags_and_registers() {
    // loop: mov eax, 110; syscall; dec ebx; jnz loop; mov eax, 60; syscall
    let code = [
        0xbb, 100, 0, 0, 0, 0xb8, 110, 0, 0, 0, 0x0f, 0x05, 0xff, 0xcb, 0x75, 0xf5, 0xb8, 60, 0, 0,
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
    // rdtsc; mov rdi, rax; mov rsi, rdx; mov eax, 110; syscall
    let code = [
        0x0f, 0x31, 0x48, 0x89, 0xc7, 0x48, 0x89, 0xd6, 0xb8, 110, 0, 0, 0, 0x0f, 0x05,
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

/// `mov eax, nr; mov edi, a; mov esi, b; mov edx, c; mov r10d, d; syscall`.
fn syscall4(nr: u32, a: u32, b: u32, c: u32, d: u32) -> Vec<u8> {
    let mut code = Vec::new();
    for (op, v) in [
        (vec![0xb8], nr),
        (vec![0xbf], a),
        (vec![0xbe], b),
        (vec![0xba], c),
        (vec![0x41, 0xba], d),
    ] {
        code.extend_from_slice(&op);
        code.extend_from_slice(&v.to_le_bytes());
    }
    code.extend_from_slice(&[0x0f, 0x05]);
    code
}

#[test]
fn getpid_and_gettid_are_answered_in_the_guest() {
    // getpid; mov edi, eax; gettid; mov esi, eax; getppid (exits)
    let code = [
        0xb8, 39, 0, 0, 0, 0x0f, 0x05, 0x89, 0xc7, 0xb8, 186, 0, 0, 0, 0x0f, 0x05, 0x89, 0xc6,
        0xb8, 110, 0, 0, 0, 0x0f, 0x05,
    ];
    let (_vm, mut vcpu) = vm_with(&code);
    vcpu.publish(pico_vm::FastState {
        pid: 4321,
        tid: 4322,
        ..Default::default()
    });
    assert_eq!(vcpu.run().unwrap(), Exit::Syscall);
    let r = vcpu.regs();
    assert_eq!((r.rax, r.rdi, r.rsi), (110, 4321, 4322));
    assert_eq!(r.rsp, STACK, "the fast path left the stack alone");
}

#[test]
fn fast_sigprocmask_blocks_in_the_guest_but_unblocking_what_the_host_blocks_exits() {
    let set = STACK - 0x100;
    // rt_sigprocmask(SIG_BLOCK, &set, NULL, 8) with set = {SIGUSR1}: in the guest.
    let mut code = syscall4(14, 0, set as u32, 0, 8);
    // rt_sigprocmask(SIG_SETMASK, &set, NULL, 8) after *set = 0: must exit,
    // because the host thread blocks SIGINT.
    code.extend_from_slice(&[0xc7, 0x04, 0x25]);
    code.extend_from_slice(&(set as u32).to_le_bytes());
    code.extend_from_slice(&0u32.to_le_bytes());
    code.extend(syscall4(14, 2, set as u32, 0, 8));
    let (vm, mut vcpu) = vm_with(&code);
    vm.memory().write_u64(set, 1 << 9).unwrap();
    vcpu.publish(pico_vm::FastState {
        blocked: 1 << 1,
        ..Default::default()
    });
    assert_eq!(vcpu.run().unwrap(), Exit::Syscall);
    assert_eq!(
        vcpu.fast_blocked(),
        Some(1 << 1 | 1 << 9),
        "SIGUSR1 blocked in the guest"
    );
    let r = vcpu.regs();
    assert_eq!(
        (r.rax, r.rdi, r.rsi, r.r10),
        (14, 2, set, 8),
        "the unblocking call exited"
    );
    assert_eq!(r.rsp, STACK);
}

#[test]
fn a_fault_on_a_fast_path_pointer_restarts_the_call_as_an_ordinary_syscall() {
    // rt_sigprocmask(SIG_BLOCK, 0x1000 (unmapped), NULL, 8)
    let code = syscall4(14, 0, 0x1000, 0, 8);
    let (_vm, mut vcpu) = vm_with(&code);
    vcpu.publish(pico_vm::FastState::default());
    assert_eq!(vcpu.run().unwrap(), Exit::Syscall);
    let r = vcpu.regs();
    assert_eq!((r.rax, r.rdi, r.rsi, r.r10), (14, 0, 0x1000, 8));
    assert_eq!(r.rcx, CODE + code.len() as u64, "rcx = return address");
    assert_eq!(r.rsp, STACK);
    vcpu.finish_syscall(-14i64 as u64).unwrap();
}
