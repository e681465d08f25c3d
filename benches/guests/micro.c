/* The microbenchmarks of `cargo bench --bench compare`, one per run:
 *
 *     micro BENCH COUNT [FILE]
 *
 * runs COUNT operations of BENCH, timed with clock_gettime(CLOCK_MONOTONIC)
 * around the operations only (set-up such as forking the pipe partner is
 * outside), REPS times, and prints one line:
 *
 *     micro bench=BENCH ops=COUNT reps=REPS total_ns=T ns_per_op=P read_calls=R
 *
 * where T is the median of the REPS timed loops, P = T / COUNT, and R the
 * read calls per pass (only `read`, 0 otherwise). FILE is the file `open`,
 * `stat` and `read` work on. Built -O2 -static with glibc. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define REPS 5
#define READ_CHUNK (64 * 1024)

static const char *file;
static long read_calls_per_pass;

static void die(const char *what)
{
    perror(what);
    exit(1);
}

static int64_t now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static int64_t bench_getppid(long n)
{
    int64_t start = now_ns();
    for (long i = 0; i < n; i++)
        syscall(SYS_getppid);
    return now_ns() - start;
}

static int64_t bench_clock_gettime(long n)
{
    struct timespec t;
    int64_t start = now_ns();
    for (long i = 0; i < n; i++)
        clock_gettime(CLOCK_MONOTONIC, &t);
    return now_ns() - start;
}

static int64_t bench_write_devnull(long n)
{
    int fd = open("/dev/null", O_WRONLY);
    if (fd < 0)
        die("/dev/null");
    char byte = 'x';
    int64_t start = now_ns();
    for (long i = 0; i < n; i++)
        if (write(fd, &byte, 1) != 1)
            die("write");
    int64_t elapsed = now_ns() - start;
    close(fd);
    return elapsed;
}

static int64_t bench_open_close(long n)
{
    int64_t start = now_ns();
    for (long i = 0; i < n; i++) {
        int fd = open(file, O_RDONLY);
        if (fd < 0)
            die(file);
        close(fd);
    }
    return now_ns() - start;
}

static int64_t bench_stat(long n)
{
    struct stat st;
    int64_t start = now_ns();
    for (long i = 0; i < n; i++)
        if (stat(file, &st))
            die(file);
    return now_ns() - start;
}

static int64_t bench_mmap_munmap(long n)
{
    int64_t start = now_ns();
    for (long i = 0; i < n; i++) {
        volatile char *page = mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (page == MAP_FAILED)
            die("mmap");
        page[0] = 1;
        munmap((void *)page, 4096);
    }
    return now_ns() - start;
}

/* One byte there and back between this process and a forked child. */
static int64_t bench_pipe_pingpong(long n)
{
    int there[2], back[2];
    char byte = 'x';
    if (pipe(there) || pipe(back))
        die("pipe");
    pid_t child = fork();
    if (child < 0)
        die("fork");
    if (child == 0) {
        for (long i = 0; i < n; i++)
            if (read(there[0], &byte, 1) != 1 || write(back[1], &byte, 1) != 1)
                _exit(1);
        _exit(0);
    }
    int64_t start = now_ns();
    for (long i = 0; i < n; i++)
        if (write(there[1], &byte, 1) != 1 || read(back[0], &byte, 1) != 1)
            die("pipe ping-pong");
    int64_t elapsed = now_ns() - start;
    waitpid(child, 0, 0);
    close(there[0]), close(there[1]), close(back[0]), close(back[1]);
    return elapsed;
}

static int64_t bench_fork_wait(long n)
{
    int64_t start = now_ns();
    for (long i = 0; i < n; i++) {
        pid_t child = fork();
        if (child < 0)
            die("fork");
        if (child == 0)
            _exit(0);
        int status;
        if (waitpid(child, &status, 0) != child || !WIFEXITED(status))
            die("waitpid");
    }
    return now_ns() - start;
}

static void *return_at_once(void *arg)
{
    return arg;
}

static int64_t bench_thread_create_join(long n)
{
    int64_t start = now_ns();
    for (long i = 0; i < n; i++) {
        pthread_t thread;
        if (pthread_create(&thread, 0, return_at_once, 0))
            die("pthread_create");
        pthread_join(thread, 0);
    }
    return now_ns() - start;
}

/* The futex word the two threads hand back and forth: 1 = the partner's
 * turn, 0 = the main thread's. */
static atomic_int turn;
static long handoffs;

static void wait_for_turn(int value)
{
    while (atomic_load(&turn) != value)
        syscall(SYS_futex, &turn, FUTEX_WAIT_PRIVATE, !value, 0, 0, 0);
}

static void give_turn(int value)
{
    atomic_store(&turn, value);
    syscall(SYS_futex, &turn, FUTEX_WAKE_PRIVATE, 1, 0, 0, 0);
}

static void *futex_partner(void *arg)
{
    for (long i = 0; i < handoffs; i++) {
        wait_for_turn(1);
        give_turn(0);
    }
    return arg;
}

static int64_t bench_futex_pingpong(long n)
{
    pthread_t partner;
    handoffs = n;
    atomic_store(&turn, 0);
    if (pthread_create(&partner, 0, futex_partner, 0))
        die("pthread_create");
    int64_t start = now_ns();
    for (long i = 0; i < n; i++) {
        give_turn(1);
        wait_for_turn(0);
    }
    int64_t elapsed = now_ns() - start;
    pthread_join(partner, 0);
    return elapsed;
}

/* n passes over FILE in READ_CHUNK reads, each from the start. */
static int64_t bench_read(long n)
{
    static char buffer[READ_CHUNK];
    memset(buffer, 0, sizeof buffer);
    int fd = open(file, O_RDONLY);
    if (fd < 0)
        die(file);
    long calls = 0;
    int64_t start = now_ns();
    for (long i = 0; i < n; i++) {
        lseek(fd, 0, SEEK_SET);
        ssize_t got;
        do {
            got = read(fd, buffer, sizeof buffer);
            calls++;
        } while (got > 0);
        if (got < 0)
            die("read");
    }
    int64_t elapsed = now_ns() - start;
    close(fd);
    read_calls_per_pass = calls / n;
    return elapsed;
}

/* n xorshift64 steps spread over an L1-sized array; the sum goes to a
 * volatile so the compiler keeps the work. */
static volatile uint64_t compute_sink;

static int64_t bench_compute(long n)
{
    enum { WORDS = 1024 };
    static uint64_t state[WORDS];
    for (int i = 0; i < WORDS; i++)
        state[i] = 0x9e3779b97f4a7c15ull * (i + 1);
    int64_t start = now_ns();
    for (long step = 0; step < n; step++) {
        uint64_t x = state[step % WORDS];
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        state[(step + x) % WORDS] += x;
    }
    int64_t elapsed = now_ns() - start;
    uint64_t sum = 0;
    for (int i = 0; i < WORDS; i++)
        sum += state[i];
    compute_sink = sum;
    return elapsed;
}

static const struct {
    const char *name;
    int64_t (*run)(long n);
} benches[] = {
    {"getppid", bench_getppid},
    {"clock_gettime", bench_clock_gettime},
    {"write_devnull", bench_write_devnull},
    {"open_close", bench_open_close},
    {"stat", bench_stat},
    {"mmap_munmap", bench_mmap_munmap},
    {"pipe_pingpong", bench_pipe_pingpong},
    {"fork_wait", bench_fork_wait},
    {"thread_create_join", bench_thread_create_join},
    {"futex_pingpong", bench_futex_pingpong},
    {"read", bench_read},
    {"compute", bench_compute},
};

static int compare_int64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s BENCH COUNT [FILE]\n", argv[0]);
        return 2;
    }
    long n = atol(argv[2]);
    file = argc > 3 ? argv[3] : argv[0];
    if (n < 1) {
        fprintf(stderr, "COUNT must be at least 1\n");
        return 2;
    }
    for (size_t b = 0; b < sizeof benches / sizeof benches[0]; b++) {
        if (strcmp(benches[b].name, argv[1]))
            continue;
        int64_t times[REPS];
        for (int r = 0; r < REPS; r++)
            times[r] = benches[b].run(n);
        qsort(times, REPS, sizeof times[0], compare_int64);
        int64_t median = times[REPS / 2];
        printf("micro bench=%s ops=%ld reps=%d total_ns=%lld ns_per_op=%.3f read_calls=%ld\n",
               argv[1], n, REPS, (long long)median, (double)median / n, read_calls_per_pass);
        return 0;
    }
    fprintf(stderr, "unknown benchmark %s\n", argv[1]);
    return 2;
}
