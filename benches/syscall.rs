//! The syscall round trip, in one run: (a) the raw floor — a minimal guest
//! looping on `syscall` through the same trampoline, exit and return that
//! picorun uses, and nothing else; (b) `getppid` through picorun's driver;
//! (c) native `getppid`. Prints the ratios picorun/floor and picorun/native
//! from criterion's medians.
//!
//!     cargo bench --bench syscall

use std::time::{Duration, Instant};

mod common;

use common::median_ns;
use criterion::{criterion_group, Criterion};

fn floor(c: &mut Criterion) {
    let mut guest = common::FloorGuest::new();
    c.bench_function("floor_syscall_exit_return", |b| {
        b.iter(|| guest.round_trip())
    });
}

fn picorun_getppid(c: &mut Criterion) {
    let mut process = common::start_guest(&common::build_guest(
        "getppid_loop",
        &["-O1", "-static", "-nostdlib", "-fno-stack-protector"],
    ));
    c.bench_function("picorun_getppid", |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            let ended = process.run_for(iters).unwrap();
            assert!(ended.is_none(), "the guest loops forever");
            start.elapsed()
        })
    });
}

fn native_getppid(c: &mut Criterion) {
    c.bench_function("native_getppid", |b| {
        // SAFETY: getppid takes no arguments and cannot fail.
        b.iter(|| unsafe { libc::syscall(libc::SYS_getppid) })
    });
}

fn report() {
    let (Some(floor), Some(pico), Some(native)) = (
        median_ns("floor_syscall_exit_return"),
        median_ns("picorun_getppid"),
        median_ns("native_getppid"),
    ) else {
        println!("(ratios unavailable: run all three benchmarks)");
        return;
    };
    println!();
    println!(
        "medians: floor {:.2} us, picorun getppid {:.2} us, native getppid {:.3} us",
        floor / 1e3,
        pico / 1e3,
        native / 1e3
    );
    println!("picorun/floor  = {:.3}x", pico / floor);
    println!("picorun/native = {:.1}x", pico / native);
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(5)).sample_size(30);
    targets = floor, picorun_getppid, native_getppid
}

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    report();
}
