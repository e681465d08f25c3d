//! clock_gettime(CLOCK_MONOTONIC) natively and in a pico process (glibc
//! static, through picorun's vDSO), in one run, in batches of `BATCH`
//! calls; prints the per-call times and their ratio.
//!
//!     cargo bench --bench clock

use std::time::{Duration, Instant};

mod common;

use common::median_ns;
use criterion::{criterion_group, Criterion};

/// Calls per batch; must match `benches/guests/clock_loop.c`.
const BATCH: u64 = 100_000;

fn picorun_clock(c: &mut Criterion) {
    let mut process = common::start_guest(&common::build_guest("clock_loop", &["-O2", "-static"]));
    // Past libc's start-up syscalls: from here on, one syscall per batch.
    assert!(process.run_for(100).unwrap().is_none());
    c.bench_function("picorun_clock_gettime_batch", |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            let ended = process.run_for(iters).unwrap();
            assert!(ended.is_none(), "the guest loops forever");
            start.elapsed()
        })
    });
}

fn native_clock(c: &mut Criterion) {
    c.bench_function("native_clock_gettime_batch", |b| {
        b.iter(|| {
            let mut t = libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            };
            for _ in 0..BATCH {
                // SAFETY: writes one timespec into a local.
                unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut t) };
            }
            t
        })
    });
}

/// The ratio, printed after criterion's own report.
fn report() {
    let (Some(pico), Some(native)) = (
        median_ns("picorun_clock_gettime_batch"),
        median_ns("native_clock_gettime_batch"),
    ) else {
        println!("(ratio unavailable: run both benchmarks)");
        return;
    };
    let (pico, native) = (pico / BATCH as f64, native / BATCH as f64);
    println!();
    println!("clock_gettime(MONOTONIC): picorun {pico:.1} ns, native {native:.1} ns per call");
    println!("picorun/native = {:.2}x", pico / native);
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(5)).sample_size(20);
    targets = picorun_clock, native_clock
}

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    report();
}
