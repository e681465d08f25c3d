//! The fast syscall page: each syscall it answers, in a pico process with
//! and without it (without, every call exits to the host), against native,
//! all in one run.
//!
//!     cargo bench --bench fastpath
//!
//! A fast call never exits, so the guest (`benches/guests/fast_loop.c`)
//! makes a batch of 1,000 of them and then one exiting getppid; the
//! getppid's cost, measured alone in the same run, is subtracted.

use std::time::{Duration, Instant};

mod common;

use common::median_ns;
use criterion::{criterion_group, Criterion};

/// Calls per batch; must match `benches/guests/fast_loop.c`.
const BATCH: u64 = 1000;

/// (name, -DCALL value, syscalls per call). arch_prctl(ARCH_GET_FS) is
/// answered in the guest only where the guest CPU has FSGSBASE (hardware
/// KVM; not PVM, where it exits and is not worth a batch here).
const CALLS: [(&str, u32, u64); 5] = [
    ("getpid", 0, 1),
    ("gettid", 1, 1),
    ("sigprocmask_pair", 2, 2),
    ("set_robust_list", 3, 1),
    ("brk_query", 4, 1),
];

fn guest(call: u32) -> std::path::PathBuf {
    common::build_guest_as(
        "fast_loop",
        &format!("fast_loop_{call}"),
        &[
            "-O1",
            "-static",
            "-nostdlib",
            "-fno-stack-protector",
            &format!("-DCALL={call}"),
        ],
    )
}

/// Times `process` per exiting syscall (a batch, for the fast guests).
fn bench_exits(c: &mut Criterion, id: &str, mut process: picorun::Process) {
    c.bench_function(id, |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            let ended = process.run_for(iters).unwrap();
            assert!(ended.is_none(), "the guest loops forever");
            start.elapsed()
        })
    });
    process.release();
}

fn fast(c: &mut Criterion) {
    pico_vm::set_fast_syscalls(true);
    for (name, call, _) in CALLS {
        bench_exits(
            c,
            &format!("fast_{name}_batch"),
            common::start_guest(&guest(call)),
        );
    }
    let getppid = common::build_guest(
        "getppid_loop",
        &["-O1", "-static", "-nostdlib", "-fno-stack-protector"],
    );
    bench_exits(c, "fast_getppid_alone", common::start_guest(&getppid));
}

fn exit_path(c: &mut Criterion) {
    // Without the fast page every call exits: the batch guest then exits
    // BATCH times per getppid, so time a single getpid the same way.
    pico_vm::set_fast_syscalls(false);
    let getpid = common::build_guest_as(
        "fast_loop",
        "fast_loop_exit",
        &[
            "-O1",
            "-static",
            "-nostdlib",
            "-fno-stack-protector",
            "-DCALL=0",
        ],
    );
    bench_exits(c, "exit_getpid", common::start_guest(&getpid));
    pico_vm::set_fast_syscalls(true);
}

fn native(c: &mut Criterion) {
    let set: u64 = 1 << 9;
    let mut old: u64 = 0;
    // This thread's robust list, put back after the set_robust_list runs.
    let (mut own_head, mut own_len) = (0usize, 0usize);
    // SAFETY: get_robust_list(0, ...) writes this thread's head and size
    // into the two locals.
    unsafe { libc::syscall(libc::SYS_get_robust_list, 0, &mut own_head, &mut own_len) };
    // An empty list: its head points at itself.
    let mut empty = [0usize; 3];
    empty[0] = empty.as_ptr() as usize;
    for (name, call, _) in CALLS {
        c.bench_function(&format!("native_{name}"), |b| {
            // SAFETY: each call passes pointers to live locals of the right
            // size; none changes anything the benchmark relies on.
            b.iter(|| unsafe {
                match call {
                    0 => libc::syscall(libc::SYS_getpid),
                    1 => libc::syscall(libc::SYS_gettid),
                    3 => libc::syscall(libc::SYS_set_robust_list, empty.as_ptr(), 24),
                    4 => libc::syscall(libc::SYS_brk, 0),
                    _ => {
                        libc::syscall(libc::SYS_rt_sigprocmask, 0, &set, &mut old, 8);
                        libc::syscall(libc::SYS_rt_sigprocmask, 2, &old, 0, 8)
                    }
                }
            })
        });
    }
    // SAFETY: restores the head get_robust_list reported for this thread.
    unsafe { libc::syscall(libc::SYS_set_robust_list, own_head, own_len) };
}

fn report() {
    let Some(getppid) = median_ns("fast_getppid_alone") else {
        println!("(ratios unavailable: run all benchmarks)");
        return;
    };
    println!();
    println!("getppid (exits to the host): {:.2} us", getppid / 1e3);
    if let Some(exit) = median_ns("exit_getpid") {
        println!("getpid with every syscall exiting: {:.2} us", exit / 1e3);
    }
    println!(
        "{:<20} {:>12} {:>12} {:>10}",
        "call", "fast page", "native", "ratio"
    );
    for (name, _, per) in CALLS {
        let (Some(batch), Some(native)) = (
            median_ns(&format!("fast_{name}_batch")),
            median_ns(&format!("native_{name}")),
        ) else {
            continue;
        };
        let fast = (batch - getppid) / BATCH as f64;
        println!(
            "{:<20} {:>9.0} ns {:>9.0} ns {:>9.1}x   ({} syscall(s) per call)",
            name,
            fast,
            native,
            fast / native,
            per
        );
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(4)).sample_size(20);
    targets = fast, exit_path, native
}

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    report();
}
