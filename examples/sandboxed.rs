//! Runs an untrusted program in a sandbox: no network, at most 256 MiB of
//! memory per process, at most 4 processes, 5 s of CPU and 20 s in all.
//! The "untrusted" program is a Python script that tries each; then a
//! runaway shell whose whole tree the wall-time limit kills.
//!
//! ```sh
//! cargo run --release --example sandboxed
//! ```
//!
//! It checks what it gets and fails otherwise, so the test suite runs it.

use std::error::Error;
use std::time::{Duration, Instant};

use picorun::{Command, Limit, Policy};

const UNTRUSTED: &str = r#"
import os, socket
try:
    socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    print("network: open")
except PermissionError as e:
    print("network: denied, errno", e.errno)
try:
    hog = bytearray(512 << 20)
    print("memory: got 512 MiB")
except MemoryError:
    print("memory: 512 MiB refused")
r, w = os.pipe()
children = 0
try:
    while children < 10:
        if os.fork() == 0:
            os.close(w)
            os.read(r, 1)
            os._exit(0)
        children += 1
except BlockingIOError:
    pass
print("processes: forked", children, "children")
os.close(w)
for _ in range(children):
    os.wait()
"#;

fn main() -> Result<(), Box<dyn Error>> {
    let policy = Policy::new()
        .no_network()
        .mem_limit(256 << 20)
        .max_procs(4)
        .cpu_time(Duration::from_secs(5))
        .wall_time(Duration::from_secs(20));

    // /usr/bin/python3 rather than a PATH lookup, which may find a wrapper.
    let output = Command::new("/usr/bin/python3")
        .args(["-c", UNTRUSTED])
        .policy(policy.clone())
        .output()?;
    let said = String::from_utf8_lossy(&output.stdout);
    print!("{said}{}", String::from_utf8_lossy(&output.stderr));
    println!("status: {}", output.status);
    let expected = "network: denied, errno 13\n\
                    memory: 512 MiB refused\n\
                    processes: forked 3 children\n";
    expect(
        said == expected && output.status.success(),
        "the script's view",
    )?;

    // A runaway tree: the shell and a background copy of itself spin.
    let started = Instant::now();
    let status = Command::new("sh")
        .args(["-c", "while :; do :; done & while :; do :; done"])
        .policy(policy.wall_time(Duration::from_secs(1)))
        .status()?;
    println!("runaway: {status} after {:.1?}", started.elapsed());
    expect(
        status.limit() == Some(Limit::WallTime),
        "the wall-time limit",
    )?;
    expect(status.signal() == Some(9), "death by SIGKILL")?;
    Ok(())
}

fn expect(ok: bool, what: &str) -> Result<(), Box<dyn Error>> {
    if ok {
        Ok(())
    } else {
        Err(format!("unexpected: {what}").into())
    }
}
