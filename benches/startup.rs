//! Start-up: a static hello-world (`gcc -O2 -static`) from spawn to exit,
//! natively and under the built `picorun` binary, in the same run; and, in
//! this process, a VM with one vCPU from `Vm::new` to its first exit (a
//! `syscall`), and that VM's teardown. Prints the medians and the ratio.
//!
//!     cargo bench --bench startup
//!
//! The in-process numbers leave out what only the first VM of a process
//! pays (`KVM_GET_SUPPORTED_CPUID` is asked once per process), as in a
//! forked child or after execve.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod common;

use common::median_ns;
use criterion::{criterion_group, Criterion};
use pico_vm::memory::{PROT_EXEC, PROT_READ, PROT_WRITE};
use pico_vm::{Exit, Vm};

fn run(cmd: &mut Command) {
    let status = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("spawn");
    assert!(status.success(), "{cmd:?} failed: {status}");
}

fn start_to_exit(c: &mut Criterion) {
    let hello = common::build_guest("hello", &["-O2", "-static"]);
    let picorun = common::picorun_exe();
    c.bench_function("startup_native_hello", |b| {
        b.iter(|| run(&mut Command::new(&hello)))
    });
    c.bench_function("startup_picorun_hello", |b| {
        b.iter(|| run(Command::new(&picorun).arg(&hello)))
    });
}

/// `mov eax, 60; syscall`: the first instruction exits.
const EXIT_AT_ONCE: [u8; 7] = [0xb8, 60, 0, 0, 0, 0x0f, 0x05];
const CODE: u64 = 0x40_0000;
const STACK: u64 = 0x80_0000;

/// A VM and vCPU 0 ready at `CODE`, run to the first exit.
fn vm_to_first_exit() -> (Vm, pico_vm::Vcpu) {
    let mut vm = Vm::new().expect("KVM");
    vm.map_anon(CODE, 0x1000, PROT_READ | PROT_WRITE, false)
        .unwrap();
    vm.memory().write(CODE, &EXIT_AT_ONCE).unwrap();
    vm.protect(CODE, 0x1000, PROT_READ | PROT_EXEC).unwrap();
    vm.map_anon(STACK - 0x1000, 0x1000, PROT_READ | PROT_WRITE, false)
        .unwrap();
    let mut vcpu = vm.create_vcpu(0, CODE, STACK).unwrap();
    assert_eq!(vcpu.run().unwrap(), Exit::Syscall);
    (vm, vcpu)
}

fn in_process(c: &mut Criterion) {
    c.bench_function("startup_vm_to_first_exit", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let start = Instant::now();
                let made = vm_to_first_exit();
                total += start.elapsed();
                drop(made);
            }
            total
        })
    });
    c.bench_function("startup_vm_teardown", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let (vm, vcpu) = vm_to_first_exit();
                let start = Instant::now();
                drop(vcpu);
                drop(vm);
                total += start.elapsed();
            }
            total
        })
    });
}

fn report() {
    let ms = |id: &str| median_ns(id).map(|ns| ns / 1e6);
    println!();
    match (ms("startup_native_hello"), ms("startup_picorun_hello")) {
        (Some(native), Some(pico)) => {
            println!("static hello, spawn to exit: native {native:.2} ms, picorun {pico:.2} ms");
            println!("picorun/native = {:.1}x", pico / native);
        }
        _ => println!("(start-to-exit ratio unavailable: run both benchmarks)"),
    }
    if let Some(first) = ms("startup_vm_to_first_exit") {
        println!("VM + vCPU 0, new to first exit (in process): {first:.2} ms");
    }
    if let Some(teardown) = ms("startup_vm_teardown") {
        println!("VM + vCPU 0 teardown (in process): {teardown:.2} ms");
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(5)).sample_size(20);
    targets = start_to_exit, in_process
}

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    report();
}
