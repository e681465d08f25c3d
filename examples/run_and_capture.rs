//! Runs programs as pico processes and captures what they print, as
//! `std::process::Command` would: `output()` for a program run to its end,
//! and piped stdin/stdout for a program fed while it runs.
//!
//! ```sh
//! cargo run --release --example run_and_capture
//! ```
//!
//! It checks what it gets and fails otherwise, so the test suite runs it
//! (`cargo test` runs this example as a test).

use std::error::Error;
use std::io::{Read, Write};

use picorun::{Command, Stdio};

fn main() -> Result<(), Box<dyn Error>> {
    // Run to the end: stdout and stderr are captured, stdin is /dev/null.
    let output = Command::new("sh")
        .args(["-c", "echo out; echo err >&2; uname -s; exit 3"])
        .output()?;
    print!("stdout: {}", String::from_utf8_lossy(&output.stdout));
    print!("stderr: {}", String::from_utf8_lossy(&output.stderr));
    println!("status: {}", output.status);
    expect(output.stdout == b"out\nLinux\n", "the program's stdout")?;
    expect(output.stderr == b"err\n", "the program's stderr")?;
    expect(output.status.code() == Some(3), "exit status 3")?;

    // Feed a running program and read its answer.
    let mut child = Command::new("tr")
        .args(["a-z", "A-Z"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()?;
    println!("tr runs as pid {}", child.id());
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(b"shout this\n")?;
    } // dropped: tr sees EOF
    let mut answer = String::new();
    if let Some(mut stdout) = child.stdout.take() {
        stdout.read_to_string(&mut answer)?;
    }
    let status = child.wait()?;
    print!("tr said: {answer}");
    expect(answer == "SHOUT THIS\n" && status.success(), "tr's answer")?;
    Ok(())
}

fn expect(ok: bool, what: &str) -> Result<(), Box<dyn Error>> {
    if ok {
        Ok(())
    } else {
        Err(format!("unexpected: {what}").into())
    }
}
