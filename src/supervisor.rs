//! The supervisor: a small host process between the embedding program and
//! the pico process tree, forked by [`Command::spawn`](crate::Command::spawn).
//! It runs no guest code and starts no thread. It
//!
//! - puts the tree in a process group of its own, which the supervisor
//!   itself leaves again (a guest's `kill 0` reaches neither it nor the
//!   embedding program), handing it the terminal when the embedding
//!   program had it;
//! - is a child subreaper, so every process of the tree stays its
//!   descendant, even one whose parent died, and can be found and killed;
//! - forks the pico process and tells the embedding program that it
//!   started (its pid) or why it could not;
//! - watches: the program's end, the wall-time deadline, and the lifeline
//!   socket (a kill request, or the embedding program gone or done with
//!   the child);
//! - when the program ends or must be killed, kills what is left of the
//!   tree with SIGKILL and reaps all of it, then reports the program's
//!   wait status and the limit that ended it, if any.
//!
//! It ignores every signal but the fault signals and SIGCHLD (read through
//! a signalfd): a guest signalling its process group does not end it.

use std::fs::File;
use std::io::Read;
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::time::{Duration, Instant};

use crate::guest::{self, Plan};
use crate::os::{self, Reaped};
use crate::policy::Limit;
use crate::report::Record;
use crate::tree;

/// Signals the supervisor leaves at their default: faults (a crash of its
/// own should look like one) and SIGCHLD (ignoring it would auto-reap).
const DEFAULT: &[i32] = &[
    libc::SIGSEGV,
    libc::SIGBUS,
    libc::SIGILL,
    libc::SIGFPE,
    libc::SIGTRAP,
    libc::SIGABRT,
    libc::SIGSYS,
    libc::SIGCHLD,
];

/// Runs the supervisor in a freshly forked child of the embedding
/// program; never returns.
pub(crate) fn run(plan: &Plan, report: OwnedFd, lifeline: OwnedFd) -> ! {
    let code = match supervise(plan, &report, lifeline) {
        Ok(()) => 0,
        Err(e) => {
            let _ = Record::Failed {
                kind: crate::report::FailKind::Picorun,
                errno: e.raw_os_error().unwrap_or(0),
                message: format!("picorun supervisor: {e}"),
            }
            .send(report.as_raw_fd());
            125
        }
    };
    os::exit_now(code)
}

/// How the watch ended.
enum End {
    /// The program ended by itself.
    Ended(Reaped),
    /// It is to be killed, for this limit (or at the embedding program's
    /// request).
    Kill(Option<Limit>),
    /// It never started: the record says why.
    Failed(Record),
}

fn supervise(plan: &Plan, report: &OwnedFd, lifeline: OwnedFd) -> std::io::Result<()> {
    let deadline = plan.wall_time.map(|t| Instant::now() + t);
    let mut keep = vec![report.as_raw_fd(), lifeline.as_raw_fd()];
    keep.extend(plan.stdio_fds());
    os::close_cloexec_except(&keep);

    let default = DEFAULT.iter().fold(0u64, |m, &s| m | 1 << (s - 1));
    os::set_dispositions(!default, 0);
    os::set_blocked(&[libc::SIGCHLD]);
    let signals = os::signalfd(&[libc::SIGCHLD])?;

    let outer_group = os::getpgrp();
    let terminal = plan.stdio[0].is_none() && os::foreground_group(0) == Some(outer_group);
    os::setpgid(0, 0)?;
    if terminal {
        // SIGTTOU is ignored here, so this works from the background too.
        let _ = os::set_foreground_group(0, os::getpgrp());
    }
    os::become_subreaper()?;

    let (status_read, status_write) = os::pipe()?;
    let main = match os::fork()? {
        None => guest::run(plan, status_write),
        Some(pid) => pid,
    };
    // Back to the embedding program's group: the tree's group is the
    // tree's alone (a guest's `kill -9 0` cannot end the supervisor), and
    // the program, not its leader, may call setsid().
    os::setpgid(0, outer_group)?;
    drop(status_write);
    // The stdio descriptors and whatever else was inherited are the pico
    // process's now: holding them would keep pipes from reaching EOF.
    os::close_all_except(&[
        report.as_raw_fd(),
        lifeline.as_raw_fd(),
        signals.as_raw_fd(),
        status_read.as_raw_fd(),
    ]);

    let mut status = Some(File::from(status_read));
    let mut lifeline = File::from(lifeline);
    let end = watch(
        main,
        deadline,
        &mut status,
        &mut lifeline,
        &signals,
        report.as_raw_fd(),
    )?;
    let (mut ended, limit) = match end {
        End::Failed(record) => {
            let _ = record.send(report.as_raw_fd());
            teardown(main);
            restore_terminal(terminal, outer_group);
            return Ok(());
        }
        End::Ended(reaped) => (Some(reaped), None),
        End::Kill(limit) => {
            let _ = os::kill(main, libc::SIGKILL);
            (None, limit)
        }
    };
    // A program that ended before its loader's word was read: read it now.
    if let Some(mut pipe) = status.take() {
        if let Ok(Some(record)) = Record::receive(&mut pipe) {
            let _ = record.send(report.as_raw_fd());
            teardown(main);
            restore_terminal(terminal, outer_group);
            return Ok(());
        }
        Record::Started { pid: main }.send(report.as_raw_fd())?;
    }
    if let Some(reaped) = teardown(main) {
        ended = Some(reaped);
    }
    restore_terminal(terminal, outer_group);
    let status = ended.map_or(libc::SIGKILL, |r| r.status);
    let limit = limit.or_else(|| ended.and_then(|r| cpu_limit(plan, &r)));
    Record::Ended { status, limit }.send(report.as_raw_fd())
}

/// Waits for the program's start, its end, the deadline or the lifeline.
fn watch(
    main: u32,
    deadline: Option<Instant>,
    status: &mut Option<File>,
    lifeline: &mut File,
    signals: &OwnedFd,
    report: RawFd,
) -> std::io::Result<End> {
    loop {
        let timeout = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        if timeout == Some(Duration::ZERO) {
            return Ok(End::Kill(Some(Limit::WallTime)));
        }
        let mut fds = vec![
            (lifeline.as_fd(), libc::POLLIN),
            (signals.as_fd(), libc::POLLIN),
        ];
        if let Some(pipe) = status.as_ref() {
            fds.push((pipe.as_fd(), libc::POLLIN));
        }
        let ready = os::poll(&fds, timeout)?;
        // The loader's word first: a program that failed to load has
        // also exited.
        if ready.get(2).is_some_and(|&r| r != 0) {
            if let Some(mut pipe) = status.take() {
                match Record::receive(&mut pipe) {
                    Ok(Some(record)) => return Ok(End::Failed(record)),
                    _ => Record::Started { pid: main }.send(report)?,
                }
            }
        }
        if ready[1] != 0 {
            os::drain(signals.as_fd());
            if let Some(reaped) = reap_ready(main) {
                return Ok(End::Ended(reaped));
            }
        }
        if ready[0] != 0 {
            // A byte is a kill request; end of stream means the embedding
            // program dropped the child or is gone: the tree goes too.
            let mut byte = [0u8; 1];
            let _ = lifeline.read(&mut byte);
            return Ok(End::Kill(None));
        }
    }
}

/// Reaps every child that has ended (orphans of the tree included); the
/// program's own end if it is among them.
fn reap_ready(main: u32) -> Option<Reaped> {
    let mut found = None;
    while let Ok(Some(reaped)) = os::wait(-1, true) {
        if reaped.pid == main {
            found = Some(reaped);
        }
    }
    found
}

/// Kills every process left in the tree and reaps them all; returns the
/// program's end if it was reaped here. Each round kills what the scan
/// finds, then waits for one death: a process forked meanwhile is found
/// by the next scan (its dead parent's child is re-parented here), and the
/// tree is gone when no child is left.
fn teardown(main: u32) -> Option<Reaped> {
    let me = std::process::id();
    let mut found = None;
    loop {
        tree::kill_descendants(me);
        match os::wait(-1, false) {
            Ok(Some(reaped)) => {
                if reaped.pid == main {
                    found = Some(reaped);
                }
                if let Some(reaped) = reap_ready(main) {
                    found = Some(reaped);
                }
            }
            // ECHILD: nothing is left.
            Ok(None) | Err(_) => return found,
        }
    }
}

/// Gives the terminal back to the embedding program's process group.
fn restore_terminal(terminal: bool, group: u32) {
    if terminal {
        let _ = os::set_foreground_group(0, group);
    }
}

/// [`Limit::CpuTime`] if the program died of SIGXCPU, or of a SIGKILL
/// the supervisor did not send, after using its CPU time.
fn cpu_limit(plan: &Plan, reaped: &Reaped) -> Option<Limit> {
    let secs = plan.policy.cpu_time?;
    let signal = reaped.status & 0x7f;
    let killed = reaped.status & 0x7f != 0 && reaped.status & 0x7f != 0x7f;
    let used = reaped.cpu + Duration::from_millis(100) >= Duration::from_secs(secs);
    (killed && (signal == libc::SIGXCPU || (signal == libc::SIGKILL && used)))
        .then_some(Limit::CpuTime)
}
