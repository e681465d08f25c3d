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

/*
 * The fast syscall page: one copy per vCPU, at LSTAR, with the vCPU's data
 * page right after it (so `D + field(%rip)` reaches this vCPU's own data).
 * It answers a few syscalls without leaving the guest (getpid, gettid,
 * rt_sigprocmask with nothing pending, arch_prctl FS, set_robust_list,
 * set_tid_address, rseq, brk(0)) and sends the rest to the host through
 * the same `out` as the plain trampoline.
 *
 * Where `syscall` arrives at CPL 3 (PVM) this is native ring-3 code, so an
 * answer costs the `syscall` instruction and a few loads instead of a VM
 * exit; on hardware KVM it runs at CPL 0 and returns with `iretq`.
 *
 * The host may stop the vCPU anywhere in here (a signal, a fault on a
 * guest pointer) and then needs to know the user's state, so the code
 * keeps to three rules the host relies on (see `fastpath.rs`):
 *  1. The first four instructions save rcx, r11, rsp and rax (the syscall
 *     number) in the data page; until `pico_fast_saved` the registers are
 *     still the user's.
 *  2. Until `pico_fast_commit`, nothing visible has changed except a
 *     repeatable store (the old mask to *oldset, FS base): the host can
 *     restart the call as an ordinary syscall from the saved registers.
 *  3. From `pico_fast_commit` on, the call is done: rax is the result and
 *     only the return remains (at `pico_fast_commit` itself, r11 holds the
 *     new signal mask still to be stored).
 *  4. Between `pico_fast_post` (exclusive) and `pico_fast_posted_end` a
 *     request is posted (exitless mode): the request's state says whether
 *     the call was done (finish it with the posted result) or not (cancel
 *     it, then restart it as in rule 2).
 */
    .set D, pico_fast_start + 0x1000

    .balign 16
    .globl pico_fast_start
pico_fast_start:
    mov %rcx, D + {F_RCX}(%rip)
    mov %r11, D + {F_R11}(%rip)
    mov %rsp, D + {F_RSP}(%rip)
    mov %rax, D + {F_RAX}(%rip)
    .globl pico_fast_saved
pico_fast_saved:
    testb ${FLAG_FAST}, D + {F_FLAGS}(%rip)
    jz fast_slow
    cmp ${NR_GETPID}, %rax
    je fast_getpid
    cmp ${NR_GETTID}, %rax
    je fast_gettid
    cmp ${NR_RT_SIGPROCMASK}, %rax
    je fast_sigprocmask
    cmp ${NR_ARCH_PRCTL}, %rax
    je fast_arch_prctl
    cmp ${NR_SET_ROBUST_LIST}, %rax
    je fast_set_robust_list
    cmp ${NR_SET_TID_ADDRESS}, %rax
    je fast_set_tid_address
    cmp ${NR_RSEQ}, %rax
    je fast_rseq
    cmp ${NR_BRK}, %rax
    je fast_brk
    /* Exitless: post the call for a host thread that is awake and wait
       for its answer; exit instead if it declines or takes too long
       (rule 4). */
    testb ${FLAG_EXITLESS}, D + {F_FLAGS}(%rip)
    jz fast_slow
    cmp ${ALLOW_BITS}, %rax
    jae fast_slow
    bt %rax, D + {F_ALLOW}(%rip)
    jnc fast_slow
    cmpq $0, D + {F_AWAKE}(%rip)
    je fast_slow
    mov %rax, D + {F_REQ_NR}(%rip)
    mov %rdi, D + {F_REQ_ARGS}(%rip)
    mov %rsi, D + {F_REQ_ARGS} + 8(%rip)
    mov %rdx, D + {F_REQ_ARGS} + 16(%rip)
    mov %r10, D + {F_REQ_ARGS} + 24(%rip)
    mov %r8, D + {F_REQ_ARGS} + 32(%rip)
    mov %r9, D + {F_REQ_ARGS} + 40(%rip)
    .globl pico_fast_post
pico_fast_post:
    movq ${POSTED}, D + {F_STATE}(%rip)
    .globl pico_fast_posted
pico_fast_posted:
    mov ${SPIN}, %ecx
6:  mov D + {F_STATE}(%rip), %rax
    cmp ${DONE}, %rax
    je 7f
    cmp ${DECLINED}, %rax
    je 8f
    pause
    dec %ecx
    jnz 6b
8:
    .globl pico_fast_wait_out
pico_fast_wait_out:
    outb %al, ${SYSCALL_PORT}
    ud2
7:  mov D + {F_RESULT}(%rip), %rax
    jmp fast_return_l
    .globl pico_fast_posted_end
pico_fast_posted_end:

fast_slow:
    mov D + {F_RCX}(%rip), %rcx
    mov D + {F_R11}(%rip), %r11
    mov D + {F_RAX}(%rip), %rax
    .globl pico_fast_out
pico_fast_out:
    outb %al, ${SYSCALL_PORT}
    ud2

fast_getpid:
    mov D + {F_PID}(%rip), %rax
    jmp fast_return_l
fast_gettid:
    mov D + {F_TID}(%rip), %rax
    jmp fast_return_l

    /* set_robust_list(head=rdi, len=rsi) and set_tid_address(tidptr=rdi)
       only record a pointer the kernel uses when the thread ends: record it
       here, with a bit in F_DEFERRED, and the host takes it over at the next
       exit, before it handles anything else. Both stores are repeatable
       (rule 2). Every glibc process and thread starts with these calls. */
fast_set_robust_list:
    cmp $24, %rsi                           /* sizeof(struct robust_list_head) */
    jne fast_slow
    mov %rdi, D + {F_ROBUST_LIST}(%rip)
    orq ${DEFER_ROBUST_LIST}, D + {F_DEFERRED}(%rip)
    xor %eax, %eax
    jmp fast_return_l
fast_set_tid_address:
    mov %rdi, D + {F_CLEAR_CHILD_TID}(%rip)
    orq ${DEFER_CLEAR_CHILD_TID}, D + {F_DEFERRED}(%rip)
    mov D + {F_TID}(%rip), %rax
    jmp fast_return_l
    /* rseq: picorun has no restartable sequences; the host would answer
       ENOSYS too (glibc then goes on without them). */
fast_rseq:
    mov $-{ENOSYS}, %rax
    jmp fast_return_l
    /* brk(0) asks where the program break is: the host keeps it here
       (0 when it must answer itself). Moving the break exits. */
fast_brk:
    test %rdi, %rdi
    jnz fast_slow
    mov D + {F_BRK}(%rip), %rax
    test %rax, %rax
    jz fast_slow
    jmp fast_return_l

fast_arch_prctl:
    testb ${FLAG_FSGSBASE}, D + {F_FLAGS}(%rip)
    jz fast_slow
    cmp $0x1003, %rdi                       /* ARCH_GET_FS */
    je 5f
    cmp $0x1002, %rdi                       /* ARCH_SET_FS */
    jne fast_slow
    mov ${FS_LIMIT}, %rax
    cmp %rax, %rsi
    jae fast_slow
    wrfsbase %rsi
    xor %eax, %eax
    jmp fast_return_l
5:  mov ${USER_TOP}, %rax
    cmp %rax, %rsi
    ja fast_slow
    rdfsbase %rax
    mov %rax, (%rsi)
    xor %eax, %eax
    jmp fast_return_l

    /* rt_sigprocmask(how=rdi, set=rsi, oldset=rdx, sigsetsize=r10) */
fast_sigprocmask:
    cmp $8, %r10
    jne fast_slow
    cmpq $0, D + {F_PENDING}(%rip)
    jne fast_slow
    mov D + {F_MASK}(%rip), %rcx            /* the old mask */
    mov %rcx, %r11                          /* the new mask, so far */
    test %rsi, %rsi
    jz 3f
    mov ${USER_TOP}, %rax
    cmp %rax, %rsi
    ja fast_slow
    mov (%rsi), %r11                        /* *set */
    cmp $0, %rdi
    je 1f
    cmp $1, %rdi
    je 2f
    cmp $2, %rdi
    jne fast_slow
    jmp 3f
1:  or %rcx, %r11                           /* SIG_BLOCK */
    jmp 3f
2:  not %r11                                /* SIG_UNBLOCK */
    and %rcx, %r11
3:  btr $8, %r11                            /* SIGKILL and SIGSTOP */
    btr $18, %r11                           /* cannot be blocked */
    /* Everything the host thread blocks must stay blocked: unblocking
       needs the host's mask changed, which only the host can do. */
    mov %r11, %rax
    not %rax
    and D + {F_HOST_MASK}(%rip), %rax
    jnz fast_slow
    test %rdx, %rdx
    jz 4f
    mov ${USER_TOP}, %rax
    cmp %rax, %rdx
    ja fast_slow
    mov %rcx, (%rdx)                        /* *oldset */
4:  xor %eax, %eax
    /* The one store that is not repeatable; it falls through to the
       return, so from here on the host finishes the call (rule 3). */
    .globl pico_fast_commit
pico_fast_commit:
    mov %r11, D + {F_MASK}(%rip)
    .globl pico_fast_return
pico_fast_return:
fast_return_l:
    lea D + 0x1000(%rip), %rsp
    pushq ${USER_SS}
    pushq D + {F_RSP}(%rip)
    pushq D + {F_R11}(%rip)
    pushq ${USER_CS}
    pushq D + {F_RCX}(%rip)
    mov D + {F_RCX}(%rip), %rcx
    mov D + {F_R11}(%rip), %r11
    iretq
    .globl pico_fast_end
pico_fast_end:
    .popsection
