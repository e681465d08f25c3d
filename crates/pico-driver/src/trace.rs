//! `--trace` (one strace-style line per syscall) and `--stats` (a count and
//! time table at exit, like `strace -c`), both driven by the syscall table.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::time::Duration;

use pico_abi::{flags, sysno, Errno};

use crate::sys::table::{Arg, Entry, Ret};
use crate::sys::Args;
use crate::task::Task;

#[derive(Default)]
pub struct Tracer {
    pub trace: bool,
    /// Set in child processes: trace lines start with `[pid N] `.
    pub pid: Option<u32>,
    pub stats: Option<BTreeMap<u64, Stat>>,
}

#[derive(Default, Clone, Copy)]
pub struct Stat {
    pub calls: u64,
    pub errors: u64,
    pub time: Duration,
}

impl Tracer {
    pub fn record(&mut self, nr: u64, failed: bool, time: Duration) {
        if let Some(stats) = &mut self.stats {
            let s = stats.entry(nr).or_default();
            s.calls += 1;
            s.errors += u64::from(failed);
            s.time += time;
        }
    }

    /// The `strace -c` style table.
    pub fn stats_table(&self) -> Option<String> {
        let stats = self.stats.as_ref()?;
        let total: Duration = stats.values().map(|s| s.time).sum();
        let mut rows: Vec<_> = stats.iter().collect();
        rows.sort_by(|a, b| b.1.time.cmp(&a.1.time).then(a.0.cmp(b.0)));
        let mut out = String::new();
        let _ = writeln!(
            out,
            "% time     seconds  usecs/call     calls    errors syscall"
        );
        let _ = writeln!(
            out,
            "------ ----------- ----------- --------- --------- ----------------"
        );
        let (mut calls, mut errors) = (0, 0);
        for (nr, s) in rows {
            let pct = if total.is_zero() {
                0.0
            } else {
                100.0 * s.time.as_secs_f64() / total.as_secs_f64()
            };
            let per = s.time.as_micros() as u64 / s.calls.max(1);
            let errs = if s.errors > 0 {
                s.errors.to_string()
            } else {
                String::new()
            };
            let name = sysno::name(*nr).unwrap_or("?");
            let _ = writeln!(
                out,
                "{pct:6.2} {:11.6} {per:11} {:9} {errs:>9} {name}",
                s.time.as_secs_f64(),
                s.calls
            );
            calls += s.calls;
            errors += s.errors;
        }
        let _ = writeln!(
            out,
            "------ ----------- ----------- --------- --------- ----------------"
        );
        let per = total.as_micros() as u64 / calls.max(1);
        let errs = if errors > 0 {
            errors.to_string()
        } else {
            String::new()
        };
        let _ = writeln!(
            out,
            "100.00 {:11.6} {per:11} {calls:9} {errs:>9} total",
            total.as_secs_f64()
        );
        Some(out)
    }
}

/// Writes a trace line straight to stderr (unbuffered, like strace).
pub fn emit(line: &str) {
    let _ = std::io::stderr().write_all(line.as_bytes());
}

/// A trace line with the `[pid N] ` prefix strace -f uses for children.
pub fn emit_for(tracer: &Tracer, line: &str) {
    match tracer.pid {
        Some(pid) => emit(&format!("[pid {pid}] {line}")),
        None => emit(line),
    }
}

/// Guest memory as the tracer reads it, to show strings and buffers:
/// a [`Task`]'s, or anything else (the fuzz target's fake memory).
pub trait GuestMemory {
    /// The NUL-terminated string at `addr`, at most `max` bytes.
    fn cstr(&self, addr: u64, max: usize) -> Option<Vec<u8>>;
    /// Fills `buf` from `addr`, all or nothing.
    fn bytes(&self, addr: u64, buf: &mut [u8]) -> bool;
}

impl GuestMemory for Task {
    fn cstr(&self, addr: u64, max: usize) -> Option<Vec<u8>> {
        self.vm.memory().read_cstr(addr, max).ok()
    }

    fn bytes(&self, addr: u64, buf: &mut [u8]) -> bool {
        self.read_bytes(addr, buf).is_ok()
    }
}

/// `name(args) = result` for one finished syscall.
pub fn line(
    task: &Task,
    nr: u64,
    entry: Option<&Entry>,
    args: &Args,
    result: Option<Result<u64, Errno>>,
) -> String {
    format_call(task, nr, entry, args, result)
}

/// [`line`] over any [`GuestMemory`]. Whatever the arguments and the
/// memory hold, it returns a line and never panics.
pub fn format_call(
    task: &dyn GuestMemory,
    nr: u64,
    entry: Option<&Entry>,
    args: &Args,
    result: Option<Result<u64, Errno>>,
) -> String {
    let name = sysno::name(nr)
        .map(str::to_string)
        .unwrap_or_else(|| format!("syscall_{nr:#x}"));
    let mut s = format!("{name}(");
    match entry {
        Some(e) => {
            for (i, kind) in e.args.iter().enumerate() {
                if i > 0 {
                    s.push_str(", ");
                }
                s.push_str(&arg(task, *kind, args, i, result));
            }
        }
        None => {
            let raw: Vec<String> = args.0.iter().map(|a| format!("{a:#x}")).collect();
            s.push_str(&raw.join(", "));
        }
    }
    s.push(')');
    match result {
        None => s.push_str(" = ?"),
        Some(Ok(v)) => {
            let ret = entry.map(|e| e.ret).unwrap_or(Ret::Int);
            match ret {
                Ret::Hex => {
                    let _ = write!(s, " = {v:#x}");
                }
                _ => {
                    let _ = write!(s, " = {}", v as i64);
                }
            }
        }
        Some(Err(e)) => {
            let _ = write!(s, " = -1 {e}");
        }
    }
    s.push('\n');
    s
}

fn arg(
    task: &dyn GuestMemory,
    kind: Arg,
    args: &Args,
    i: usize,
    result: Option<Result<u64, Errno>>,
) -> String {
    let v = args[i];
    match kind {
        Arg::Int => (v as i32).to_string(),
        Arg::Long => (v as i64).to_string(),
        Arg::Uint => v.to_string(),
        Arg::Hex => format!("{v:#x}"),
        Arg::Ptr => ptr(v),
        Arg::Fd => (v as i32).to_string(),
        Arg::DirFd => flags::dirfd(v as i32 as i64),
        Arg::Path => string(task, v, 4096),
        Arg::InBuf(len) => data(task, v, args[len]),
        Arg::OutBuf(_) => match result {
            Some(Ok(n)) => data(task, v, n),
            _ => ptr(v),
        },
        Arg::OpenFlags => flags::open_flags(v),
        Arg::Mode => flags::mode(v),
        Arg::AtFlags => flags::at_flags(v),
        Arg::Prot => flags::prot(v),
        Arg::MapFlags => flags::map_flags(v),
        Arg::MremapFlags => flags::mremap_flags(v),
        Arg::Madvise => flags::madvise_advice(v),
        Arg::Signal => flags::signal_name(v),
        Arg::SigHow => flags::sigprocmask_how(v),
        Arg::ClockId => flags::clock_id(v),
        Arg::Whence => flags::whence(v),
        Arg::FcntlCmd => flags::fcntl_cmd(v),
        Arg::IoctlReq => flags::ioctl_request(v),
        Arg::ArchPrctl => flags::arch_prctl_code(v),
        Arg::PrctlOption => flags::prctl_option(v),
        Arg::Rlimit => flags::rlimit_resource(v),
        Arg::AccessMode => flags::access_mode(v),
        Arg::RenameFlags => flags::renameat2_flags(v),
        Arg::GetrandomFlags => flags::getrandom_flags(v),
        Arg::StatxMask => flags::statx_mask(v),
        Arg::SockFamily => flags::socket_family(v),
        Arg::SockType => flags::socket_type(v),
        Arg::MsgFlags => flags::msg_flags(v),
        Arg::ShutdownHow => flags::shutdown_how(v),
        Arg::SockoptLevel => flags::sockopt_level(v),
        Arg::EpollOp => flags::epoll_ctl_op(v),
        Arg::EpollCreateFlags => flags::epoll_create_flags(v),
        Arg::EventfdFlags => flags::eventfd_flags(v),
        Arg::TimerfdCreateFlags => flags::timerfd_create_flags(v),
        Arg::TimerfdSettimeFlags => flags::timerfd_settime_flags(v),
    }
}

fn ptr(v: u64) -> String {
    if v == 0 {
        "NULL".into()
    } else {
        format!("{v:#x}")
    }
}

/// A C string argument, quoted and escaped like strace.
fn string(task: &dyn GuestMemory, addr: u64, max: usize) -> String {
    match task.cstr(addr, max) {
        Some(bytes) => quote(&bytes, false),
        None => ptr(addr),
    }
}

/// A data buffer: the first 32 bytes, quoted, with "..." when longer.
fn data(task: &dyn GuestMemory, addr: u64, len: u64) -> String {
    const SHOWN: u64 = 32;
    let mut buf = vec![0u8; len.min(SHOWN) as usize];
    if !task.bytes(addr, &mut buf) {
        return ptr(addr);
    }
    quote(&buf, len > SHOWN)
}

fn quote(bytes: &[u8], more: bool) -> String {
    let mut s = String::from("\"");
    for &b in bytes {
        match b {
            b'"' => s.push_str("\\\""),
            b'\\' => s.push_str("\\\\"),
            b'\n' => s.push_str("\\n"),
            b'\t' => s.push_str("\\t"),
            b'\r' => s.push_str("\\r"),
            0x20..=0x7e => s.push(b as char),
            _ => {
                let _ = write!(s, "\\{b:o}");
            }
        }
    }
    s.push('"');
    if more {
        s.push_str("...");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_matches_strace() {
        assert_eq!(quote(b"hello world\n", false), "\"hello world\\n\"");
        assert_eq!(quote(b"a\"b\\", true), "\"a\\\"b\\\\\"...");
        assert_eq!(quote(&[0, 7, 255], false), "\"\\0\\7\\377\"");
    }

    #[test]
    fn stats_table_totals() {
        let mut t = Tracer {
            trace: false,
            pid: None,
            stats: Some(BTreeMap::new()),
        };
        t.record(1, false, Duration::from_micros(30));
        t.record(1, true, Duration::from_micros(10));
        t.record(39, false, Duration::from_micros(40));
        let table = t.stats_table().unwrap();
        assert!(table.contains(" write\n"), "{table}");
        let total = table.lines().last().unwrap();
        assert!(
            total.ends_with("total") && total.contains(" 3 ") && total.contains(" 1 "),
            "{total}"
        );
    }
}
