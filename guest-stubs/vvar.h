/*
 * The vvar page: clock data picorun's host writes and the vDSO reads. The
 * offsets come from crates/pico-vm/src/vvar_layout.rs (passed with -D by
 * crates/pico-vm/build.rs) and are checked here, so the two cannot drift.
 */
#ifndef PICO_VVAR_H
#define PICO_VVAR_H

#include <stddef.h>

typedef unsigned long u64;
typedef unsigned int u32;

/* Nanoseconds of one clock at tsc_base, and its rate: ns per TSC tick << 32. */
struct pico_clock {
    u64 base_ns;
    u64 mult;
};

struct pico_vvar {
    u32 seq;                              /* odd while the host writes */
    u32 ready;                            /* 0: use the syscall */
    u64 tsc_base;                         /* guest TSC the bases are at */
    struct pico_clock clock[VVAR_CLOCKS]; /* REALTIME, MONOTONIC, BOOTTIME, MONOTONIC_RAW */
    u64 res_ns[VVAR_RES_IDS];             /* clock_getres by clock id; 0: ask the host */
};

_Static_assert(offsetof(struct pico_vvar, seq) == VVAR_OFF_SEQ, "seq");
_Static_assert(offsetof(struct pico_vvar, ready) == VVAR_OFF_READY, "ready");
_Static_assert(offsetof(struct pico_vvar, tsc_base) == VVAR_OFF_TSC_BASE, "tsc_base");
_Static_assert(offsetof(struct pico_vvar, clock) == VVAR_OFF_CLOCKS, "clocks");
_Static_assert(sizeof(struct pico_clock) == VVAR_CLOCK_SIZE, "clock size");
_Static_assert(offsetof(struct pico_vvar, res_ns) == VVAR_OFF_RES, "res");
_Static_assert(sizeof(struct pico_vvar) == VVAR_SIZE, "size");

#endif
