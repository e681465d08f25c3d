//! Keeps a guest's vvar page in step with the host's clocks, so the vDSO
//! (see `pico_vm::vdso`) answers clock_gettime without a VM exit.
//!
//! The guest computes `base_ns + (tsc - tsc_base) * mult >> 32` per clock.
//! The host samples its own clocks against its TSC (plus the guest's TSC
//! offset, measured once per VM) and republishes every [`PERIOD`] from a
//! helper thread per pico process. Why a thread and not the exits: a guest
//! spinning on clock_gettime makes no exits at all, and NTP slews
//! CLOCK_REALTIME/MONOTONIC by up to 500 ppm, so without a periodic update
//! the guest would drift by up to 0.5 ms per second.
//!
//! Each republish is continuous: a clock's new base is what the guest
//! would have computed at that instant, and the gap to the host's clock is
//! closed by slewing `mult` over the next period, so CLOCK_MONOTONIC never
//! goes back. Only a large gap steps (forward; REALTIME both ways, as after
//! `settimeofday`). The rate per clock is measured over about a second.
//! CLOCK_BOOTTIME is CLOCK_MONOTONIC plus the time spent suspended, as in
//! the kernel: an offset that is never negative and only grows, so a
//! BOOTTIME read after a MONOTONIC one is never behind it.
//!
//! Must never make the guest wrong: where anything is missing (no invariant
//! TSC, no KVM_GET_TSC_KHZ) the page stays not ready and the vDSO makes
//! the real syscalls.

use std::sync::{Arc, Weak};
use std::time::Duration;

use pico_vm::vdso::{clock, ClockBase, Vvar, VvarData, VVAR_CLOCKS, VVAR_RES_IDS};
use pico_vm::{Vcpu, Vm};

use crate::host;

/// How often the host republishes.
pub const PERIOD: Duration = Duration::from_millis(10);
/// A gap past this steps the clock instead of slewing it.
const STEP_NS: i128 = 1_000_000;
/// Most a slew changes a clock's rate, in parts per million.
const MAX_SLEW_PPM: i128 = 200;
/// How long a baseline the rates are measured over.
const RATE_BASELINE: Duration = Duration::from_secs(1);

/// The host clock behind each vvar clock.
const HOST_CLOCKS: [libc::clockid_t; VVAR_CLOCKS as usize] = [
    libc::CLOCK_REALTIME,
    libc::CLOCK_MONOTONIC,
    libc::CLOCK_BOOTTIME,
    libc::CLOCK_MONOTONIC_RAW,
];

/// The host's clocks at one guest TSC value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sample {
    pub tsc: u64,
    pub ns: [u64; VVAR_CLOCKS as usize],
}

/// ns per tick << 32 for a TSC of `khz`.
pub fn nominal_mult(khz: u32) -> u64 {
    ((1_000_000u128 << 32) / u128::from(khz.max(1))) as u64
}

/// What the guest computes for clock `c` at guest TSC `tsc`.
pub fn extrapolate(c: ClockBase, tsc_base: u64, tsc: u64) -> u64 {
    let delta = tsc.wrapping_sub(tsc_base);
    let delta = if (delta as i64) < 0 { 0 } else { delta };
    c.base_ns
        .wrapping_add(((u128::from(delta) * u128::from(c.mult)) >> 32) as u64)
}

/// The updater's state for one vvar page.
pub struct Tracker {
    pub data: VvarData,
    /// ns per tick << 32 from the TSC frequency KVM reports.
    nominal: u64,
    /// Measured rates: one for the NTP-disciplined clocks, one for RAW.
    rate: u64,
    raw_rate: u64,
    anchor: Option<Sample>,
    /// BOOTTIME - MONOTONIC in ns (time spent suspended).
    boot_offset: u64,
}

impl Tracker {
    pub fn new(khz: u32, res_ns: [u64; VVAR_RES_IDS as usize]) -> Tracker {
        let nominal = nominal_mult(khz);
        Tracker {
            data: VvarData {
                res_ns,
                ..Default::default()
            },
            nominal,
            rate: nominal,
            raw_rate: nominal,
            anchor: None,
            boot_offset: 0,
        }
    }

    fn period_ticks(&self) -> i128 {
        (i128::from(PERIOD.as_nanos() as u64) << 32) / i128::from(self.nominal.max(1))
    }

    fn measure_rates(&mut self, s: &Sample) {
        let Some(anchor) = self.anchor else {
            self.anchor = Some(*s);
            return;
        };
        let ticks = s.tsc.wrapping_sub(anchor.tsc);
        if (ticks as i64) <= 0 {
            self.anchor = Some(*s);
            return;
        }
        let baseline_ticks = (RATE_BASELINE.as_nanos() << 32) / u128::from(self.nominal.max(1));
        if u128::from(ticks) < baseline_ticks {
            return;
        }
        let rate_of = |i: usize| {
            let ns = s.ns[i].wrapping_sub(anchor.ns[i]);
            ((u128::from(ns) << 32) / u128::from(ticks)) as u64
        };
        // A rate far from the TSC's means a clock step, not a rate: ignore.
        let sane = |r: u64| r.abs_diff(self.nominal) < self.nominal / 1000;
        let (rate, raw) = (rate_of(clock::MONOTONIC), rate_of(clock::MONOTONIC_RAW));
        if sane(rate) {
            self.rate = rate;
        }
        if sane(raw) {
            self.raw_rate = raw;
        }
        self.anchor = Some(*s);
    }

    /// Folds in a new sample; the result is `self.data`, to publish.
    pub fn update(&mut self, s: &Sample) {
        self.measure_rates(s);
        let prev = self.data;
        let period = self.period_ticks().max(1);
        for (i, c) in self.data.clocks.iter_mut().enumerate() {
            if i == clock::BOOTTIME {
                continue; // follows MONOTONIC, below
            }
            let rate = if i == clock::MONOTONIC_RAW {
                self.raw_rate
            } else {
                self.rate
            };
            let ext = extrapolate(prev.clocks[i], prev.tsc_base, s.tsc);
            let err = i128::from(s.ns[i]) - i128::from(ext);
            let step = !prev.ready || err > STEP_NS || (i == clock::REALTIME && err < -STEP_NS);
            *c = if step {
                ClockBase {
                    base_ns: s.ns[i],
                    mult: rate,
                }
            } else {
                let limit = i128::from(rate) * MAX_SLEW_PPM / 1_000_000;
                let slew = ((err << 32) / period).clamp(-limit, limit);
                ClockBase {
                    base_ns: ext,
                    mult: (i128::from(rate) + slew) as u64,
                }
            };
        }
        // Sampled at the same instant, the two differ by the suspended
        // time, give or take the sampling error: only a suspend (a jump
        // past STEP_NS) moves the offset, and only forward.
        let sampled = s.ns[clock::BOOTTIME].saturating_sub(s.ns[clock::MONOTONIC]);
        if !prev.ready || i128::from(sampled) - i128::from(self.boot_offset) > STEP_NS {
            self.boot_offset = sampled;
        }
        let mono = self.data.clocks[clock::MONOTONIC];
        self.data.clocks[clock::BOOTTIME] = ClockBase {
            base_ns: mono.base_ns.wrapping_add(self.boot_offset),
            mult: mono.mult,
        };
        self.data.tsc_base = s.tsc;
        self.data.ready = true;
    }
}

/// Reads the host's clocks against the host TSC, as guest TSC values.
fn sample(offset: u64, nominal: u64) -> Option<Sample> {
    let mut ns = [0u64; VVAR_CLOCKS as usize];
    let mut first = None;
    for (i, &id) in HOST_CLOCKS.iter().enumerate() {
        let t0 = pico_vm::host_tsc();
        let value = host::clock_ns(id)?;
        let t1 = pico_vm::host_tsc();
        let mid = t0.wrapping_add(t1.wrapping_sub(t0) / 2);
        let at = *first.get_or_insert(mid);
        // Bring every reading to the first clock's instant.
        let since = mid.wrapping_sub(at);
        ns[i] = value.wrapping_sub(((u128::from(since) * u128::from(nominal)) >> 32) as u64);
    }
    Some(Sample {
        tsc: first?.wrapping_add(offset),
        ns,
    })
}

/// What the host's clock_getres says, by clock id (0 where it has none).
fn resolutions() -> [u64; VVAR_RES_IDS as usize] {
    let mut res = [0u64; VVAR_RES_IDS as usize];
    for (id, r) in res.iter_mut().enumerate() {
        *r = host::clock_res_ns(id as libc::clockid_t).unwrap_or(0);
    }
    // CPU-time clocks always go to the host.
    res[libc::CLOCK_PROCESS_CPUTIME_ID as usize] = 0;
    res[libc::CLOCK_THREAD_CPUTIME_ID as usize] = 0;
    res
}

/// Publishes the clocks into `vm`'s vvar page (if it has one) for the guest
/// that runs on `vcpu`'s VM, and starts the updater thread. On any failure
/// the page stays not ready: the guest's vDSO then makes syscalls.
pub fn attach(vm: &Vm, vcpu: &Vcpu) {
    let Some(page) = vm.vvar() else {
        return;
    };
    if let Err(why) = start(page, vm.tsc_offset(), vcpu) {
        log::debug!("vDSO clocks disabled: {why}");
    }
}

fn start(page: Arc<Vvar>, offset: Option<u64>, vcpu: &Vcpu) -> Result<(), String> {
    if !host::invariant_tsc() {
        return Err("the host TSC is not invariant".into());
    }
    let khz = vcpu.tsc_khz().map_err(|e| e.to_string())?;
    let offset = offset.ok_or("the guest's TSC offset is unknown")?;
    let mut tracker = Tracker::new(khz, resolutions());
    let first = sample(offset, tracker.nominal).ok_or("the host clocks cannot be read")?;
    tracker.update(&first);
    page.publish(&tracker.data);
    let weak = Arc::downgrade(&page);
    drop(page);
    host::spawn_quiet("pico-clock", move || run(weak, tracker, offset))
        .map(drop)
        .map_err(|e| format!("updater thread: {e}"))
}

/// The updater: republishes until the VM (and its page) is gone.
fn run(page: Weak<Vvar>, mut tracker: Tracker, offset: u64) {
    loop {
        std::thread::sleep(PERIOD);
        let Some(page) = page.upgrade() else {
            return;
        };
        if let Some(s) = sample(offset, tracker.nominal) {
            tracker.update(&s);
            page.publish(&tracker.data);
        }
    }
}

#[cfg(test)]
mod tests;
