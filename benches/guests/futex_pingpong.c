/* Two threads hand a token back and forth through a futex word, N times. */
#include <linux/futex.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>
static atomic_int word;
static int n;
static void wait_for(int v) {
    while (atomic_load(&word) != v) syscall(SYS_futex, &word, FUTEX_WAIT_PRIVATE, !v, 0, 0, 0);
}
static void hand(int v) {
    atomic_store(&word, v);
    syscall(SYS_futex, &word, FUTEX_WAKE_PRIVATE, 1, 0, 0, 0);
}
static void *other(void *p) {
    for (int i = 0; i < n; i++) { wait_for(1); hand(0); }
    return p;
}
int main(int argc, char **argv) {
    n = argc > 1 ? atoi(argv[1]) : 1000;
    pthread_t t;
    pthread_create(&t, 0, other, 0);
    for (int i = 0; i < n; i++) { hand(1); wait_for(0); }
    pthread_join(t, 0);
    return 0;
}
