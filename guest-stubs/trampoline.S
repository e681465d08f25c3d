/*
 * The ring-0 trampoline of a pico process: the only guest code picorun
 * itself supplies. It is copied into one page of the kernel area that the
 * guest can execute but not write (see crates/pico-vm/src/layout.rs).
 *
 * Every instruction here matters: on PVM each ring-0 instruction is
 * emulated (~0.8 us), so the syscall path is a single `out`. The host reads
 * the arguments from the registers (KVM_CAP_SYNC_REGS), services the call
 * and itself performs the return (rip = rcx, rflags = r11, rax = result and,
 * where `syscall` entered ring 0, cs/ss = the user selectors). The `ud2`
 * after each `out` is never reached unless the host failed to redirect the
 * vCPU; it then shows up as an #UD exception instead of running on.
 *
 * Exceptions (vectors 0-31) enter through IDT gates pointing at one `out`
 * per vector; the port says which vector it was, the CPU-pushed frame on
 * the exception stack gives the rest.
 *
 * The bytes are data in .rodata: the host never executes them.
 */
    .pushsection .rodata.pico_trampoline, "a"
    .balign 16
    .globl pico_trampoline_start
pico_trampoline_start:
pico_syscall_entry:
    outb %al, ${SYSCALL_PORT}
    ud2

    .balign 16
    .globl pico_trampoline_exceptions
pico_trampoline_exceptions:
    .set vector, 0
    .rept 32
    outb %al, $({EXCEPTION_PORT_BASE} + vector)
    ud2
    .set vector, vector + 1
    .endr
    .globl pico_trampoline_end
pico_trampoline_end:
    .popsection
