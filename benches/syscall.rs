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
use pico_vm::memory::{PROT_EXEC, PROT_READ, PROT_WRITE};
use pico_vm::{Exit, Vm};

/// `mov eax, 110; syscall; jmp back`.
const FLOOR_LOOP: [u8; 9] = [0xb8, 110, 0, 0, 0, 0x0f, 0x05, 0xeb, 0xf7];

fn floor(c: &mut Criterion) {
    let mut vm = Vm::new().expect("KVM");
    let code = 0x40_0000;
    vm.map_anon(code, 0x1000, PROT_READ | PROT_WRITE, false)
        .unwrap();
    vm.memory().write(code, &FLOOR_LOOP).unwrap();
    vm.protect(code, 0x1000, PROT_READ | PROT_EXEC).unwrap();
    vm.map_anon(0x80_0000, 0x1000, PROT_READ | PROT_WRITE, false)
        .unwrap();
    let mut vcpu = vm.create_vcpu(0, code, 0x80_1000).unwrap();
    c.bench_function("floor_syscall_exit_return", |b| {
        b.iter(|| {
            let exit = vcpu.run().unwrap();
            assert_eq!(exit, Exit::Syscall);
            vcpu.finish_syscall(0).unwrap();
        })
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
