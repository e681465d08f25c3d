/* A guest for the fast-path benchmark: forever, BATCH calls of one syscall
 * that the fast syscall page answers (chosen with -DCALL=...), then one
 * getppid, which exits to the host and so lets the benchmark count
 * batches. Built with -nostdlib at bench time. */
#define BATCH 1000

static long sys(long nr, long a, long b, long c, long d) {
    long ret;
    register long r10 __asm__("r10") = d;
    __asm__ volatile("syscall"
                     : "=a"(ret)
                     : "a"(nr), "D"(a), "S"(b), "d"(c), "r"(r10)
                     : "rcx", "r11", "memory");
    return ret;
}

__attribute__((noreturn)) void _start(void) {
    unsigned long set = 1UL << 9, old = 0, fs = 0;
    /* An empty robust list: its head points at itself. */
    void *robust[3] = {robust, 0, 0};
    for (;;) {
        for (int i = 0; i < BATCH; i++) {
#if CALL == 0
            sys(39, 0, 0, 0, 0); /* getpid */
#elif CALL == 1
            sys(186, 0, 0, 0, 0); /* gettid */
#elif CALL == 2
            sys(14, 0, (long)&set, (long)&old, 8); /* rt_sigprocmask SIG_BLOCK */
            sys(14, 2, (long)&old, 0, 8);          /* and back */
#elif CALL == 3
            sys(273, (long)robust, 24, 0, 0); /* set_robust_list */
#elif CALL == 4
            sys(12, 0, 0, 0, 0); /* brk(0) */
#else
            sys(158, 0x1003, (long)&fs, 0, 0); /* arch_prctl(ARCH_GET_FS) */
#endif
        }
        sys(110, 0, 0, 0, 0);
    }
}
