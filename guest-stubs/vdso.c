/*
 * picorun's vDSO: clock_gettime and friends served in guest ring 3 from the
 * vvar page (the page just below this object, written by the host) and the
 * TSC, so they need no VM exit. Anything it cannot serve goes to the real
 * `syscall`, so correctness never depends on it.
 *
 * Built by crates/pico-vm/build.rs as a position-independent shared object
 * with no relocations; see vdso.lds for the layout, vdso.map for versions.
 */
#include "vvar.h"

#define CLOCK_REALTIME 0
#define CLOCK_MONOTONIC 1
#define CLOCK_MONOTONIC_RAW 4
#define CLOCK_REALTIME_COARSE 5
#define CLOCK_MONOTONIC_COARSE 6
#define CLOCK_BOOTTIME 7

#define NR_gettimeofday 96
#define NR_time 201
#define NR_clock_gettime 228
#define NR_clock_getres 229
#define NR_getcpu 309

#define NSEC_PER_SEC 1000000000UL

struct timespec { long tv_sec; long tv_nsec; };
struct timeval { long tv_sec; long tv_usec; };
struct timezone;

/* Placed by vdso.lds one page below the object's start. */
extern const struct pico_vvar pico_vvar_page __attribute__((visibility("hidden")));

static long syscall2(long nr, long a, long b)
{
    long ret;
    __asm__ volatile("syscall" : "=a"(ret) : "a"(nr), "D"(a), "S"(b) : "rcx", "r11", "memory");
    return ret;
}

static inline u64 rdtsc_ordered(void)
{
    u32 lo, hi;
    __asm__ volatile("lfence; rdtsc" : "=a"(lo), "=d"(hi) :: "memory");
    return ((u64)hi << 32) | lo;
}

/* Which vvar clock serves clock id `id`, and whether it is a coarse one. */
static int clock_index(long id, int *coarse)
{
    *coarse = 0;
    switch (id) {
    case CLOCK_REALTIME_COARSE: *coarse = 1; return 0;
    case CLOCK_REALTIME: return 0;
    case CLOCK_MONOTONIC_COARSE: *coarse = 1; return 1;
    case CLOCK_MONOTONIC: return 1;
    case CLOCK_BOOTTIME: return 2;
    case CLOCK_MONOTONIC_RAW: return 3;
    default: return -1;
    }
}

/* Nanoseconds of vvar clock `index` now (or at the last update if coarse);
 * 0 if the page is not ready. */
static u64 read_ns(int index, int coarse)
{
    const volatile struct pico_vvar *v = &pico_vvar_page;
    u32 seq;
    u64 base, mult, tsc_base, tsc;
    do {
        while ((seq = v->seq) & 1)
            __asm__ volatile("pause" ::: "memory");
        __asm__ volatile("" ::: "memory");
        if (!v->ready)
            return 0;
        base = v->clock[index].base_ns;
        mult = v->clock[index].mult;
        tsc_base = v->tsc_base;
        tsc = coarse ? tsc_base : rdtsc_ordered();
        __asm__ volatile("" ::: "memory");
    } while (v->seq != seq);
    u64 delta = tsc - tsc_base;
    if ((long)delta < 0)
        delta = 0;
    return base + (u64)(((unsigned __int128)delta * mult) >> 32);
}

int __vdso_clock_gettime(long id, struct timespec *ts)
{
    int coarse;
    int index = clock_index(id, &coarse);
    u64 ns = index < 0 ? 0 : read_ns(index, coarse);
    if (!ns)
        return (int)syscall2(NR_clock_gettime, id, (long)ts);
    ts->tv_sec = (long)(ns / NSEC_PER_SEC);
    ts->tv_nsec = (long)(ns % NSEC_PER_SEC);
    return 0;
}

int __vdso_gettimeofday(struct timeval *tv, struct timezone *tz)
{
    /* The timezone is the host kernel's business. */
    u64 ns = tz ? 0 : read_ns(0, 0);
    if (!ns)
        return (int)syscall2(NR_gettimeofday, (long)tv, (long)tz);
    if (tv) {
        tv->tv_sec = (long)(ns / NSEC_PER_SEC);
        tv->tv_usec = (long)(ns % NSEC_PER_SEC / 1000);
    }
    return 0;
}

long __vdso_time(long *t)
{
    u64 ns = read_ns(0, 1);
    if (!ns)
        return syscall2(NR_time, (long)t, 0);
    long secs = (long)(ns / NSEC_PER_SEC);
    if (t)
        *t = secs;
    return secs;
}

int __vdso_clock_getres(long id, struct timespec *res)
{
    const volatile struct pico_vvar *v = &pico_vvar_page;
    u64 ns = id >= 0 && id < VVAR_RES_IDS && v->ready ? v->res_ns[id] : 0;
    if (!ns)
        return (int)syscall2(NR_clock_getres, id, (long)res);
    if (res) {
        res->tv_sec = (long)(ns / NSEC_PER_SEC);
        res->tv_nsec = (long)(ns % NSEC_PER_SEC);
    }
    return 0;
}

/* picorun sets TSC_AUX to 0 on every vCPU, so rdtscp/rdpid would say CPU 0,
 * node 0 too; answered without them (not every CPU has rdpid). */
long __vdso_getcpu(unsigned *cpu, unsigned *node, void *unused)
{
    (void)unused;
    if (cpu)
        *cpu = 0;
    if (node)
        *node = 0;
    return 0;
}

int clock_gettime(long, struct timespec *) __attribute__((weak, alias("__vdso_clock_gettime")));
int gettimeofday(struct timeval *, struct timezone *) __attribute__((weak, alias("__vdso_gettimeofday")));
long time(long *) __attribute__((weak, alias("__vdso_time")));
long getcpu(unsigned *, unsigned *, void *) __attribute__((weak, alias("__vdso_getcpu")));
int clock_getres(long, struct timespec *) __attribute__((weak, alias("__vdso_clock_getres")));
