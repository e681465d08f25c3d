//! Process-level operations, natively and under picorun in the same run:
//! fork+exit+wait, pipe ping-pong between two processes, thread
//! create+join, futex ping-pong between threads, and `bash -c true`
//! start-to-exit. Each guest does N operations; the report divides by N
//! and prints picorun/native for each.
//!
//!     cargo bench --bench processes

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

mod common;

use common::median_ns;
use criterion::{criterion_group, Criterion};

/// (name, guest source, operations per run)
const CASES: &[(&str, &str, u32)] = &[
    ("fork_exit_wait", "fork_wait.c", 20),
    ("pipe_pingpong", "pipe_pingpong.c", 200),
    ("thread_create_join", "thread_create.c", 50),
    ("futex_pingpong", "futex_pingpong.c", 200),
];

fn picorun() -> PathBuf {
    common::picorun_exe()
}

fn run(cmd: &mut Command) {
    let status = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "{cmd:?} failed: {status}");
}

fn benches(c: &mut Criterion) {
    let pico = picorun();
    for &(name, src, ops) in CASES {
        let prog = common::build_guest(src.trim_end_matches(".c"), &["-O2", "-pthread"]);
        let n = ops.to_string();
        c.bench_function(&format!("native/{name}"), |b| {
            b.iter(|| run(Command::new(&prog).arg(&n)))
        });
        c.bench_function(&format!("picorun/{name}"), |b| {
            b.iter(|| run(Command::new(&pico).arg(&prog).arg(&n)))
        });
    }
    c.bench_function("native/bash_true", |b| {
        b.iter(|| run(Command::new("bash").args(["-c", "true"])))
    });
    c.bench_function("picorun/bash_true", |b| {
        b.iter(|| run(Command::new(&pico).args(["bash", "-c", "true"])))
    });
}

fn report() {
    println!(
        "\n{:<22} {:>14} {:>14} {:>9}",
        "operation", "native/op", "picorun/op", "ratio"
    );
    let mut rows: Vec<(&str, u32)> = CASES.iter().map(|&(name, _, ops)| (name, ops)).collect();
    rows.push(("bash_true", 1));
    for (name, ops) in rows {
        let (Some(native), Some(pico)) = (
            median_ns(&format!("native_{name}")),
            median_ns(&format!("picorun_{name}")),
        ) else {
            println!("{name:<22} (not measured)");
            continue;
        };
        let per = |ns: f64| format!("{:.1} us", ns / f64::from(ops) / 1e3);
        println!(
            "{name:<22} {:>14} {:>14} {:>8.1}x",
            per(native),
            per(pico),
            pico / native
        );
    }
}

criterion_group! {
    name = group;
    config = Criterion::default().measurement_time(Duration::from_secs(4)).sample_size(10);
    targets = benches
}

fn main() {
    group();
    Criterion::default().configure_from_args().final_summary();
    report();
}
