/* A guest that calls clock_gettime(CLOCK_MONOTONIC) forever, in batches of
 * BATCH calls each followed by one getppid: the benchmark counts batches
 * by those syscalls (the clock calls themselves make none). */
#define _GNU_SOURCE
#include <time.h>
#include <unistd.h>
#include <sys/syscall.h>

#define BATCH 100000

int main(void)
{
    struct timespec t;
    for (;;) {
        for (int i = 0; i < BATCH; i++)
            clock_gettime(CLOCK_MONOTONIC, &t);
        syscall(SYS_getppid);
    }
}
