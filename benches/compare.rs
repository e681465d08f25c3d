//! The comparison benchmark: the same microbenchmarks natively, under
//! picorun (default, and `--exitless` when `picorun --help` lists it), and
//! under `qemu-x86_64` (qemu-user) and `proot` when they are in PATH, all
//! in one run. Prints one table — per benchmark, the median time per
//! operation for each runner and its ratio to native — the raw VM-exit
//! floor measured in the same run, and the checks of the "Speed" issue as
//! PASS/FAIL lines computed from this run's numbers (reported, never
//! asserted).
//!
//! Every microbenchmark is one run of `benches/guests/micro.c` (glibc,
//! `-O2 -static`), which times its own loop with `CLOCK_MONOTONIC`, five
//! times, and prints the median: a runner's start-up is not in those rows.
//! Start-up has its own row: a static hello world, timed by this binary from
//! spawn to exit of `RUNNER hello`. Runners take turns (five runs of each
//! microbenchmark, eleven of the 64 MiB read, 50 of hello, per runner;
//! each round in a new order) and each cell is the median, so that load
//! from elsewhere on a shared machine hits them alike. The 64 MiB read
//! check subtracts, round by round, the floor measured right after
//! picorun's read; the same read is also measured on a raw VM with no
//! picorun code (the floor's guest, the host reading into its memory at
//! each exit), which shows what the exits alone do to the reads between
//! them and what picorun itself adds. proot runs as
//! `proot PROG`, its default: the host's root as its root (Debian's proot
//! 5.1 has no seccomp acceleration, so it stops at every syscall).
//!
//!     cargo bench --bench compare
//!     PICORUN_COMPARE_QUICK=1 cargo bench --bench compare   # smoke run, ~10x fewer iterations
//!     PICORUN_COMPARE_ONLY=read,hello cargo bench --bench compare   # only those rows
//!
//! Install the other runners with `apt-get install qemu-user proot`; a
//! runner that is missing shows as `n/a`.

use std::ffi::OsString;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

mod common;

/// Set (to anything but `0`) for a fast smoke run with fewer iterations.
const QUICK_ENV: &str = "PICORUN_COMPARE_QUICK";
/// Set to a comma-separated list of benchmark names (`micro.c`'s, and
/// `hello`) to measure only those rows.
const ONLY_ENV: &str = "PICORUN_COMPARE_ONLY";
/// Iteration counts are divided by this in a quick run.
const QUICK_DIVISOR: u64 = 10;
/// A runner that has not finished one benchmark by then is killed.
const RUN_TIMEOUT: Duration = Duration::from_secs(120);
/// Runs of `micro` per benchmark and runner (one in a quick run); each
/// cell is their median.
const MICRO_ROUNDS: usize = 5;
/// Runs of the 64 MiB read per runner.
const READ_ROUNDS: usize = 11;
/// Runs of the static hello per runner.
const STARTUP_RUNS: usize = 50;
/// The size of the file the `read` benchmark reads.
const BIG_FILE_SIZE: usize = 64 << 20;

/// The columns of the table, in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum RunnerKind {
    Native,
    Picorun,
    Exitless,
    Qemu,
    Proot,
}

impl RunnerKind {
    fn label(self) -> &'static str {
        match self {
            RunnerKind::Native => "native",
            RunnerKind::Picorun => "picorun",
            RunnerKind::Exitless => "picorun --exitless",
            RunnerKind::Qemu => "qemu-x86_64",
            RunnerKind::Proot => "proot",
        }
    }
}

/// How to run a program under one runner: the command words that go
/// before it, or why this runner is not available.
struct Runner {
    kind: RunnerKind,
    prefix: Result<Vec<OsString>, String>,
}

impl Runner {
    fn command(&self, program: &Path) -> Option<Command> {
        let prefix = self.prefix.as_ref().ok()?;
        let mut command = match prefix.split_first() {
            Some((runner, runner_args)) => {
                let mut command = Command::new(runner);
                command.args(runner_args).arg(program);
                command
            }
            None => Command::new(program),
        };
        command.stdin(Stdio::null());
        Some(command)
    }
}

fn runners() -> Vec<Runner> {
    let picorun = PathBuf::from(env!("CARGO_BIN_EXE_picorun"));
    let exitless = if picorun_has_exitless(&picorun) {
        Ok(vec![picorun.clone().into(), "--exitless".into()])
    } else {
        Err("`picorun --help` lists no --exitless".to_string())
    };
    vec![
        Runner {
            kind: RunnerKind::Native,
            prefix: Ok(vec![]),
        },
        Runner {
            kind: RunnerKind::Picorun,
            prefix: Ok(vec![picorun.into()]),
        },
        Runner {
            kind: RunnerKind::Exitless,
            prefix: exitless,
        },
        installed_runner(RunnerKind::Qemu, "qemu-x86_64", "qemu-user"),
        installed_runner(RunnerKind::Proot, "proot", "proot"),
    ]
}

fn picorun_has_exitless(picorun: &Path) -> bool {
    Command::new(picorun)
        .arg("--help")
        .output()
        .map(|output| String::from_utf8_lossy(&output.stdout).contains("--exitless"))
        .unwrap_or(false)
}

fn installed_runner(kind: RunnerKind, program: &str, debian_package: &str) -> Runner {
    let prefix = match find_in_path(program) {
        Some(path) => Ok(vec![path.into()]),
        None => Err(format!(
            "{program} not in PATH (apt-get install {debian_package})"
        )),
    };
    Runner { kind, prefix }
}

fn find_in_path(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
}

/// The file a microbenchmark works on, passed as its third argument.
#[derive(Clone, Copy)]
enum Input {
    None,
    SmallFile,
    BigFile,
}

/// One microbenchmark of `micro.c`.
struct Micro {
    /// The name `micro.c` knows it by.
    name: &'static str,
    label: &'static str,
    /// What one reported time covers.
    per: &'static str,
    /// Operations per timed loop (divided by `QUICK_DIVISOR` in a quick
    /// run): enough for a stable median, few enough that the slowest
    /// runner (picorun: ~27 µs per exit; proot: ~100 µs per syscall; a
    /// fork is milliseconds) takes at most a few seconds.
    count: u64,
    input: Input,
    /// Report the whole timed loop rather than one operation.
    whole_loop: bool,
    /// Runs per runner (one in a quick run).
    rounds: usize,
}

const GETPPID: &str = "getppid";
const CLOCK_GETTIME: &str = "clock_gettime";
const READ: &str = "read";
const COMPUTE: &str = "compute";
const HELLO: &str = "hello";

const MICROS: &[Micro] = &[
    Micro::per_op(GETPPID, "getppid (raw syscall)", "call", 5_000),
    Micro::per_op(CLOCK_GETTIME, "clock_gettime(MONOTONIC)", "call", 500_000),
    Micro::per_op("write_devnull", "write 1 B to /dev/null", "call", 5_000),
    Micro::per_op("open_close", "open + close", "pair", 3_000).on(Input::SmallFile),
    Micro::per_op("stat", "stat", "call", 5_000).on(Input::SmallFile),
    Micro::per_op("mmap_munmap", "4 KiB mmap+touch+munmap", "op", 3_000),
    Micro::per_op(
        "pipe_pingpong",
        "pipe ping-pong (2 procs)",
        "round trip",
        1_000,
    ),
    Micro::per_op("fork_wait", "fork + wait", "op", 100),
    Micro::per_op("thread_create_join", "thread create + join", "op", 200),
    Micro::per_op(
        "futex_pingpong",
        "futex ping-pong (2 thr)",
        "round trip",
        2_000,
    ),
    // One pass over the 64 MiB file per timed loop; more rounds, as its
    // check is the difference of two large numbers.
    Micro::per_op(READ, "read 64 MiB (64 KiB reads)", "64 MiB", 1)
        .on(Input::BigFile)
        .rounds(READ_ROUNDS),
    // ~0.3 s natively.
    Micro::per_op(COMPUTE, "compute loop (xorshift)", "loop", 200_000_000).whole_loop(),
];

impl Micro {
    const fn per_op(
        name: &'static str,
        label: &'static str,
        per: &'static str,
        count: u64,
    ) -> Micro {
        Micro {
            name,
            label,
            per,
            count,
            input: Input::None,
            whole_loop: false,
            rounds: MICRO_ROUNDS,
        }
    }

    const fn rounds(self, rounds: usize) -> Micro {
        Micro { rounds, ..self }
    }

    const fn on(self, input: Input) -> Micro {
        Micro { input, ..self }
    }

    const fn whole_loop(self) -> Micro {
        Micro {
            whole_loop: true,
            ..self
        }
    }

    fn count(&self, quick: bool) -> u64 {
        if quick {
            (self.count / QUICK_DIVISOR).max(1)
        } else {
            self.count
        }
    }
}

/// What `micro.c` reports: the median time of one timed loop and the read
/// calls per pass (`read` only).
#[derive(Clone, Copy, Debug)]
struct Sample {
    /// Nanoseconds per reported unit (an operation, or the whole loop).
    ns: f64,
    read_calls: u64,
}

/// One runner's result in one row.
enum Cell {
    Measured(Sample),
    Failed(String),
    Unavailable,
}

struct Row {
    name: &'static str,
    label: &'static str,
    per: &'static str,
    /// In the order of the runners.
    cells: Vec<Cell>,
}

/// Everything measured in this run.
struct Results {
    runners: Vec<Runner>,
    rows: Vec<Row>,
    floor_ns: f64,
    read_rounds: ReadRounds,
}

impl Results {
    fn column(&self, kind: RunnerKind) -> usize {
        self.runners
            .iter()
            .position(|runner| runner.kind == kind)
            .expect("every kind has a column")
    }

    /// The sample of `row` under `kind`, or why there is none.
    fn sample(&self, row: &str, kind: RunnerKind) -> Result<Sample, String> {
        let column = self.column(kind);
        let row = self
            .rows
            .iter()
            .find(|r| r.name == row)
            .ok_or_else(|| format!("no row {row}"))?;
        match &row.cells[column] {
            Cell::Measured(sample) => Ok(*sample),
            Cell::Failed(_) => Err(format!("{} failed", kind.label())),
            Cell::Unavailable => Err(match &self.runners[column].prefix {
                Err(why) => why.clone(),
                Ok(_) => format!("{} not measured", kind.label()),
            }),
        }
    }

    fn ns(&self, row: &str, kind: RunnerKind) -> Result<f64, String> {
        self.sample(row, kind).map(|sample| sample.ns)
    }
}

/// The files the benchmarks read, under target/compare.
struct InputFiles {
    small: PathBuf,
    big: PathBuf,
}

impl InputFiles {
    fn prepare() -> InputFiles {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/compare");
        std::fs::create_dir_all(&dir).expect("target/compare is writable");
        let small = dir.join("small.txt");
        std::fs::write(&small, "a small file for open and stat\n").expect("write small.txt");
        let big = dir.join("read-64MiB.bin");
        let has_right_size = std::fs::metadata(&big).is_ok_and(|m| m.len() == BIG_FILE_SIZE as u64);
        if !has_right_size {
            let pattern: Vec<u8> = (0..BIG_FILE_SIZE).map(|i| (i % 251) as u8).collect();
            std::fs::write(&big, pattern).expect("write the 64 MiB file");
        }
        // Read once natively, so that every runner reads from the page cache.
        let content = std::fs::read(&big).expect("read the 64 MiB file");
        assert_eq!(content.len(), BIG_FILE_SIZE);
        InputFiles { small, big }
    }

    fn path(&self, input: Input) -> Option<&Path> {
        match input {
            Input::None => None,
            Input::SmallFile => Some(&self.small),
            Input::BigFile => Some(&self.big),
        }
    }
}

fn main() {
    let quick = std::env::var_os(QUICK_ENV).is_some_and(|v| v != "0");
    let micro = common::build_guest("micro", &["-O2", "-static", "-pthread"]);
    let hello = common::build_guest("hello", &["-O2", "-static"]);
    let files = InputFiles::prepare();
    let runners = runners();
    print_runners(&runners, quick);

    eprintln!("compare: the raw VM-exit floor");
    let floor_ns = measure_floor(FLOOR_BATCHES);
    let mut read_rounds = ReadRounds::default();
    let only = std::env::var(ONLY_ENV).ok();
    let wanted = |name: &str| {
        only.as_deref()
            .is_none_or(|list| list.split(',').any(|w| w.trim() == name))
    };
    let mut rows: Vec<Row> = MICROS
        .iter()
        .filter(|m| wanted(m.name))
        .map(|m| {
            measure_micro(m, &runners, &micro, &files, quick, |runner, sample| {
                if m.name == READ {
                    read_rounds.record(runner.kind, sample, &files.big);
                }
            })
        })
        .collect();
    if wanted(HELLO) {
        rows.push(measure_startup(&runners, &hello, quick));
    }

    let results = Results {
        runners,
        rows,
        floor_ns,
        read_rounds,
    };
    print_table(&results);
    print_failures(&results);
    print_checks(&results);
}

fn print_runners(runners: &[Runner], quick: bool) {
    println!("compare{}:", if quick { " (quick run)" } else { "" });
    for runner in runners {
        match &runner.prefix {
            Ok(prefix) if prefix.is_empty() => {
                println!("  {:<20} the program itself", runner.kind.label())
            }
            Ok(prefix) => println!("  {:<20} {}", runner.kind.label(), join_words(prefix)),
            Err(why) => println!("  {:<20} n/a: {why}", runner.kind.label()),
        }
    }
}

fn join_words(words: &[OsString]) -> String {
    let words: Vec<_> = words.iter().map(|w| w.to_string_lossy()).collect();
    words.join(" ")
}

/// Batches of the floor measured for the table.
const FLOOR_BATCHES: usize = 11;
/// Batches measured right after each of picorun's 64 MiB reads.
const READ_FLOOR_BATCHES: usize = 5;

/// The 64 MiB read round by round: picorun's sample, with the floor and
/// the raw read (see [`measure_raw_read`]) measured right after it, and
/// native's samples, in round order. The check subtracts each round's own
/// floor: the floor drifts by a microsecond or more over a run on a shared
/// machine, and 1,025 reads times that is ~10% of the native read.
#[derive(Default)]
struct ReadRounds {
    picorun: Vec<ReadRound>,
    native: Vec<Sample>,
}

#[derive(Clone, Copy)]
struct ReadRound {
    picorun: Sample,
    floor_ns: f64,
    raw_ns: f64,
}

impl ReadRounds {
    fn record(&mut self, kind: RunnerKind, sample: &Sample, file: &Path) {
        match kind {
            RunnerKind::Picorun => self.picorun.push(ReadRound {
                picorun: *sample,
                floor_ns: measure_floor(READ_FLOOR_BATCHES),
                raw_ns: measure_raw_read(file),
            }),
            RunnerKind::Native => self.native.push(*sample),
            _ => {}
        }
    }

    /// The median over rounds of `f(that round's picorun round, native)`.
    fn median_of(&self, f: impl Fn(&ReadRound, &Sample) -> f64) -> Result<f64, String> {
        let mut values: Vec<f64> = self
            .picorun
            .iter()
            .zip(&self.native)
            .map(|(round, native)| f(round, native))
            .collect();
        if values.is_empty() {
            return Err("no rounds of both".into());
        }
        Ok(median(&mut values))
    }

    /// The check: (picorun - read calls x floor) / native.
    fn residual_ratio(&self) -> Result<f64, String> {
        self.median_of(|round, native| {
            (round.picorun.ns - round.picorun.read_calls as f64 * round.floor_ns) / native.ns
        })
    }

    /// The same residual for the raw read, which has no picorun code in
    /// it: what the exits alone do to the reads between them.
    fn raw_residual_ratio(&self) -> Result<f64, String> {
        self.median_of(|round, native| {
            (round.raw_ns - round.picorun.read_calls as f64 * round.floor_ns) / native.ns
        })
    }

    /// picorun / the raw read: what picorun's own code adds to the data
    /// path.
    fn picorun_over_raw(&self) -> Result<f64, String> {
        self.median_of(|round, _| round.picorun.ns / round.raw_ns)
    }

    fn raw_ns(&self) -> Result<f64, String> {
        self.median_of(|round, _| round.raw_ns)
    }
}

/// Passes of the raw read measured per round (each ~30-40 ms here).
const RAW_READ_PASSES: usize = 5;

/// One pass of `micro.c`'s `read` benchmark with picorun taken out: a
/// minimal guest (the floor's) makes the same exits — one for the
/// `lseek`, then one per `read` until end of file — and the host serves
/// each read by reading 64 KiB of the file straight into the guest's
/// memory. The median over [`RAW_READ_PASSES`] passes, in nanoseconds.
///
/// A native read right after a VM exit costs more than one in a tight
/// native loop (presumably cold caches or TLB after the world switch): this
/// measures the exits and the reads together, so comparing picorun with
/// it leaves only what picorun's own code adds.
fn measure_raw_read(file: &Path) -> f64 {
    use std::io::{Seek, SeekFrom};
    use std::os::fd::AsRawFd;
    let mut file = std::fs::File::open(file).expect("the 64 MiB file");
    let mut guest = common::FloorGuest::new();
    let mut one_pass = || {
        let start = Instant::now();
        guest.round_trip();
        file.seek(SeekFrom::Start(0)).expect("seek");
        loop {
            let got = guest.round_trip_reading(file.as_raw_fd());
            assert!(got >= 0, "read: {}", std::io::Error::last_os_error());
            if got == 0 {
                break;
            }
        }
        start.elapsed().as_nanos() as f64
    };
    one_pass();
    let mut passes: Vec<f64> = (0..RAW_READ_PASSES).map(|_| one_pass()).collect();
    median(&mut passes)
}

/// The raw VM-exit floor per round trip: the median over `batches` of a
/// minimal guest's `syscall` → exit → return (well under a second, so the
/// same in a quick run).
fn measure_floor(batches: usize) -> f64 {
    const ROUND_TRIPS_PER_BATCH: u32 = 2_000;
    let mut guest = common::FloorGuest::new();
    for _ in 0..ROUND_TRIPS_PER_BATCH / 10 {
        guest.round_trip();
    }
    let mut per_round_trip: Vec<f64> = (0..batches)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..ROUND_TRIPS_PER_BATCH {
                guest.round_trip();
            }
            start.elapsed().as_nanos() as f64 / f64::from(ROUND_TRIPS_PER_BATCH)
        })
        .collect();
    median(&mut per_round_trip)
}

fn measure_micro(
    micro: &Micro,
    runners: &[Runner],
    program: &Path,
    files: &InputFiles,
    quick: bool,
    mut after: impl FnMut(&Runner, &Sample),
) -> Row {
    let count = micro.count(quick);
    let rounds = if quick { 1 } else { micro.rounds };
    eprintln!(
        "compare: {} ({count} per loop, {rounds} rounds)",
        micro.label
    );
    let cells = measure_round_robin(runners, rounds, |runner| {
        let mut command = runner.command(program).expect("an available runner");
        command.arg(micro.name).arg(count.to_string());
        if let Some(file) = files.path(micro.input) {
            command.arg(file);
        }
        let sample = run_micro(command, micro.whole_loop)?;
        after(runner, &sample);
        Ok(sample)
    });
    Row {
        name: micro.name,
        label: micro.label,
        per: micro.per,
        cells,
    }
}

/// Measures every available runner `rounds` times, taking turns, so that
/// a burst of load on a shared machine hits all runners alike; each cell
/// is the median sample. A runner's first failure ends its measurements.
///
/// Each round takes the runners in a new order (a fixed pseudo-random
/// shuffle), so that each runs after each of the others about equally
/// often: a static hello run a few milliseconds after `qemu-x86_64` exits
/// was measured ~0.3 ms slower (the host is still busy after qemu), and in
/// a fixed order that always fell on the same column.
fn measure_round_robin(
    runners: &[Runner],
    rounds: usize,
    mut measure_once: impl FnMut(&Runner) -> Result<Sample, String>,
) -> Vec<Cell> {
    let mut samples: Vec<Vec<Sample>> = runners.iter().map(|_| Vec::new()).collect();
    let mut failures: Vec<Option<String>> = runners.iter().map(|_| None).collect();
    let mut order: Vec<usize> = (0..runners.len()).collect();
    let mut random = 0x9e37_79b9_7f4a_7c15_u64;
    for _ in 0..rounds {
        // Fisher-Yates with xorshift64: the same orders in every run.
        for i in (1..order.len()).rev() {
            random ^= random << 13;
            random ^= random >> 7;
            random ^= random << 17;
            order.swap(i, (random % (i as u64 + 1)) as usize);
        }
        for &column in &order {
            let runner = &runners[column];
            if runner.prefix.is_err() || failures[column].is_some() {
                continue;
            }
            match measure_once(runner) {
                Ok(sample) => samples[column].push(sample),
                Err(error) => failures[column] = Some(error),
            }
        }
    }
    runners
        .iter()
        .zip(samples.iter_mut().zip(failures))
        .map(|(runner, (samples, failure))| match failure {
            Some(error) => Cell::Failed(error),
            None if runner.prefix.is_err() || samples.is_empty() => Cell::Unavailable,
            None => Cell::Measured(median_sample(samples)),
        })
        .collect()
}

fn median_sample(samples: &mut [Sample]) -> Sample {
    samples.sort_by(|a, b| a.ns.total_cmp(&b.ns));
    samples[samples.len() / 2]
}

fn run_micro(command: Command, whole_loop: bool) -> Result<Sample, String> {
    let output = run_with_timeout(command, RUN_TIMEOUT)?;
    if !output.status.success() {
        return Err(describe_failure(&output));
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout
        .lines()
        .find(|line| line.starts_with("micro "))
        .ok_or_else(|| format!("no result line; {}", describe_failure(&output)))?;
    let field = |key: &str| -> Result<f64, String> {
        line.split_whitespace()
            .find_map(|word| word.strip_prefix(key)?.strip_prefix('='))
            .and_then(|value| value.parse().ok())
            .ok_or_else(|| format!("no {key} in {line:?}"))
    };
    Ok(Sample {
        ns: field(if whole_loop { "total_ns" } else { "ns_per_op" })?,
        read_calls: field("read_calls")? as u64,
    })
}

/// Runs `command` with its output captured, in a process group of its own
/// that is killed if it has not finished after `timeout`.
fn run_with_timeout(mut command: Command, timeout: Duration) -> Result<Output, String> {
    command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let child = command
        .spawn()
        .map_err(|e| format!("cannot start {command:?}: {e}"))?;
    let group = child.id() as libc::pid_t;
    let (send, finished) = mpsc::channel();
    std::thread::spawn(move || send.send(child.wait_with_output()));
    match finished.recv_timeout(timeout) {
        Ok(result) => result.map_err(|e| format!("waiting for {command:?}: {e}")),
        Err(_) => {
            // SAFETY: sends a signal to the process group this function
            // created; no memory is involved.
            unsafe { libc::kill(-group, libc::SIGKILL) };
            let _ = finished.recv_timeout(Duration::from_secs(10));
            Err(format!(
                "still running after {} s, killed",
                timeout.as_secs()
            ))
        }
    }
}

fn describe_failure(output: &Output) -> String {
    let stderr = String::from_utf8_lossy(&output.stderr);
    let last_lines: Vec<&str> = stderr.lines().rev().take(5).collect();
    let last_lines: Vec<&str> = last_lines.into_iter().rev().collect();
    format!("{}; stderr: {:?}", output.status, last_lines.join("\n"))
}

/// The start-up row: spawn to exit of `RUNNER hello`, median over runs.
fn measure_startup(runners: &[Runner], hello: &Path, quick: bool) -> Row {
    let runs = if quick { 5 } else { STARTUP_RUNS };
    eprintln!("compare: static hello start-up ({runs} runs)");
    let cells = measure_round_robin(runners, runs, |runner| {
        let ns = time_startup(runner, hello)?;
        Ok(Sample { ns, read_calls: 0 })
    });
    Row {
        name: HELLO,
        label: "static hello start-up",
        per: "run",
        cells,
    }
}

/// Nanoseconds from spawning `RUNNER hello` to its exit.
fn time_startup(runner: &Runner, hello: &Path) -> Result<f64, String> {
    let mut command = runner.command(hello).expect("an available runner");
    let start = Instant::now();
    let output = command
        .output()
        .map_err(|e| format!("cannot start {command:?}: {e}"))?;
    let elapsed = start.elapsed();
    if !output.status.success() || output.stdout != b"hello, world\n" {
        return Err(format!(
            "stdout {:?}; {}",
            String::from_utf8_lossy(&output.stdout),
            describe_failure(&output)
        ));
    }
    Ok(elapsed.as_nanos() as f64)
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

const LABEL_WIDTH: usize = 27;
const PER_WIDTH: usize = 10;
const CELL_WIDTH: usize = 20;

fn print_table(results: &Results) {
    println!();
    println!(
        "raw VM-exit floor (minimal guest: syscall -> exit -> return): {} per round trip",
        format_ns(results.floor_ns)
    );
    println!();
    let mut header = format!("{:<LABEL_WIDTH$} {:<PER_WIDTH$}", "benchmark", "per");
    for runner in &results.runners {
        header += &format!(" {:>CELL_WIDTH$}", runner.kind.label());
    }
    println!("{header}");
    println!("{}", "-".repeat(header.len()));
    let native = results.column(RunnerKind::Native);
    for row in &results.rows {
        let native_ns = match &row.cells[native] {
            Cell::Measured(sample) => Some(sample.ns),
            _ => None,
        };
        let mut line = format!("{:<LABEL_WIDTH$} {:<PER_WIDTH$}", row.label, row.per);
        for (column, cell) in row.cells.iter().enumerate() {
            let ratio_base = if column == native { None } else { native_ns };
            line += &format!(" {:>CELL_WIDTH$}", format_cell(cell, ratio_base));
        }
        println!("{line}");
    }
    println!("(median time per unit, then the ratio to native)");
    print_raw_read(&results.read_rounds);
}

/// The 64 MiB read with picorun taken out (see [`measure_raw_read`]) and
/// the residual computed for it.
fn print_raw_read(rounds: &ReadRounds) {
    let (Ok(raw_ns), Ok(residual)) = (rounds.raw_ns(), rounds.raw_residual_ratio()) else {
        return;
    };
    println!();
    println!(
        "64 MiB read on a raw VM (the floor's guest making the same exits, the host reading \
         each 64 KiB into its memory): {}; (raw - reads x floor) / native = {residual:.3}",
        format_ns(raw_ns)
    );
}

/// The cell's time, and its ratio to `native_ns` when given.
fn format_cell(cell: &Cell, native_ns: Option<f64>) -> String {
    match cell {
        Cell::Measured(sample) => match native_ns {
            Some(native) if native > 0.0 => {
                format!(
                    "{} {:>7}",
                    format_ns(sample.ns),
                    format_ratio(sample.ns / native)
                )
            }
            _ => format_ns(sample.ns),
        },
        Cell::Failed(_) => "FAILED".to_string(),
        Cell::Unavailable => "n/a".to_string(),
    }
}

fn format_ns(ns: f64) -> String {
    if ns < 1e3 {
        format!("{ns:.1} ns")
    } else if ns < 1e6 {
        format!("{:.1} us", ns / 1e3)
    } else if ns < 1e9 {
        format!("{:.2} ms", ns / 1e6)
    } else {
        format!("{:.2} s", ns / 1e9)
    }
}

fn format_ratio(ratio: f64) -> String {
    if ratio < 10.0 {
        format!("{ratio:.2}x")
    } else if ratio < 100.0 {
        format!("{ratio:.1}x")
    } else {
        format!("{ratio:.0}x")
    }
}

fn print_failures(results: &Results) {
    for row in &results.rows {
        for (runner, cell) in results.runners.iter().zip(&row.cells) {
            if let Cell::Failed(error) = cell {
                println!("FAILED {} under {}: {error}", row.name, runner.kind.label());
            }
        }
    }
}

/// One of the targets, checked against this run's numbers.
struct Check {
    what: String,
    /// The measured value, or why it could not be computed.
    measured: Result<f64, String>,
    target: &'static str,
    meets_target: fn(f64) -> bool,
}

const CHECK_WIDTH: usize = 58;

fn print_checks(results: &Results) {
    println!();
    println!("checks (this run):");
    for check in checks(results) {
        let what = &check.what;
        let target = check.target;
        match check.measured {
            Ok(value) => {
                let verdict = if (check.meets_target)(value) {
                    "PASS"
                } else {
                    "FAIL"
                };
                println!("  {verdict}  {what:<CHECK_WIDTH$} {value:>8.3}   target {target}");
            }
            Err(why) => {
                println!(
                    "  n/a   {what:<CHECK_WIDTH$} {:>8}   target {target} ({why})",
                    "-"
                )
            }
        }
    }
}

fn checks(results: &Results) -> Vec<Check> {
    use RunnerKind::{Exitless, Native, Picorun, Proot, Qemu};
    let ratio = |row: &str, a: RunnerKind, b: RunnerKind| -> Result<f64, String> {
        Ok(results.ns(row, a)? / results.ns(row, b)?)
    };
    let read_calls = results
        .sample(READ, Picorun)
        .map_or("read calls".to_string(), |s| {
            format!("{} reads", s.read_calls)
        });
    vec![
        Check {
            what: "compute loop: picorun / native".into(),
            measured: ratio(COMPUTE, Picorun, Native),
            target: "<= 1.03",
            meets_target: |v| v <= 1.03,
        },
        Check {
            what: format!("64 MiB read: (picorun - {read_calls} x floor) / native"),
            measured: results.read_rounds.residual_ratio(),
            target: "<= 1.1",
            meets_target: |v| v <= 1.1,
        },
        Check {
            what: "64 MiB read: picorun / raw VM, same exits and reads".into(),
            measured: results.read_rounds.picorun_over_raw(),
            target: "<= 1.1",
            meets_target: |v| v <= 1.1,
        },
        Check {
            what: "64 MiB read: exitless throughput / native".into(),
            measured: ratio(READ, Native, Exitless),
            target: ">= 0.5",
            meets_target: |v| v >= 0.5,
        },
        Check {
            what: "static hello start-up: picorun / qemu-x86_64".into(),
            measured: ratio(HELLO, Picorun, Qemu),
            target: "<= 0.25",
            meets_target: |v| v <= 0.25,
        },
        Check {
            what: "static hello start-up: picorun / proot".into(),
            measured: ratio(HELLO, Picorun, Proot),
            target: "< 1",
            meets_target: |v| v < 1.0,
        },
        Check {
            what: "clock_gettime: picorun / native".into(),
            measured: ratio(CLOCK_GETTIME, Picorun, Native),
            target: "<= 1.5",
            meets_target: |v| v <= 1.5,
        },
        Check {
            what: "getppid: picorun / exitless (speed-up)".into(),
            measured: ratio(GETPPID, Picorun, Exitless),
            target: ">= 4",
            meets_target: |v| v >= 4.0,
        },
    ]
}
