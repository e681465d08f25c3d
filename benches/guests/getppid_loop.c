/* A guest that calls getppid forever: the benchmark times the syscall
 * path through picorun with it. Built with -nostdlib at bench time. */
__attribute__((naked, noreturn)) void _start(void) {
    __asm__ volatile(
        "1: mov $110, %eax\n"
        "   syscall\n"
        "   jmp 1b\n");
}
