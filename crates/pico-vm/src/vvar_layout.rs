// The vvar page's layout, shared by the host (`vdso.rs`) and the guest's
// vDSO (`guest-stubs/vvar.h`, which gets these as -D macros from build.rs
// and checks its struct against them). Plain constants only: build.rs
// includes this file.

/// Clocks with a base and a rate: REALTIME, MONOTONIC, BOOTTIME, MONOTONIC_RAW.
pub const VVAR_CLOCKS: u64 = 4;
/// Clock ids 0..VVAR_RES_IDS have a `clock_getres` answer in the page.
pub const VVAR_RES_IDS: u64 = 12;
pub const VVAR_OFF_SEQ: u64 = 0;
pub const VVAR_OFF_READY: u64 = 4;
pub const VVAR_OFF_TSC_BASE: u64 = 8;
pub const VVAR_OFF_CLOCKS: u64 = 16;
/// Each clock: base nanoseconds at `tsc_base`, then ns per tick << 32.
pub const VVAR_CLOCK_SIZE: u64 = 16;
pub const VVAR_OFF_RES: u64 = VVAR_OFF_CLOCKS + VVAR_CLOCKS * VVAR_CLOCK_SIZE;
pub const VVAR_SIZE: u64 = VVAR_OFF_RES + 8 * VVAR_RES_IDS;
