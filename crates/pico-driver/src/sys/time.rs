//! Clocks and sleeping: the host's clocks, written straight into guest
//! memory.

use super::{Args, SysResult};
use crate::host;
use crate::task::Task;

const TIMESPEC: u64 = 16;

/// clock_gettime(2).
pub fn clock_gettime(t: &mut Task, a: &Args) -> SysResult {
    let tp = t.out_buf(a[1], TIMESPEC)?;
    host::call(libc::SYS_clock_gettime, &[a[0].into(), tp.into()])
}

/// clock_getres(2).
pub fn clock_getres(t: &mut Task, a: &Args) -> SysResult {
    let res = t.opt_out_buf(a[1], TIMESPEC)?;
    host::call(libc::SYS_clock_getres, &[a[0].into(), res.into()])
}

/// gettimeofday(2).
pub fn gettimeofday(t: &mut Task, a: &Args) -> SysResult {
    let tv = t.opt_out_buf(a[0], 16)?;
    let tz = t.opt_out_buf(a[1], 8)?;
    host::call(libc::SYS_gettimeofday, &[tv.into(), tz.into()])
}

/// time(2).
pub fn time(t: &mut Task, a: &Args) -> SysResult {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    if a[0] != 0 {
        t.write_u64(a[0], now)?;
    }
    Ok(now)
}

/// nanosleep(2).
pub fn nanosleep(t: &mut Task, a: &Args) -> SysResult {
    let req = t.in_buf(a[0], TIMESPEC)?;
    let rem = t.opt_out_buf(a[1], TIMESPEC)?;
    host::call(libc::SYS_nanosleep, &[req.into(), rem.into()])
}

/// clock_nanosleep(2).
pub fn clock_nanosleep(t: &mut Task, a: &Args) -> SysResult {
    let req = t.in_buf(a[2], TIMESPEC)?;
    let rem = t.opt_out_buf(a[3], TIMESPEC)?;
    host::call(
        libc::SYS_clock_nanosleep,
        &[a[0].into(), a[1].into(), req.into(), rem.into()],
    )
}

/// times(2).
pub fn times(t: &mut Task, a: &Args) -> SysResult {
    let buf = t.opt_out_buf(a[0], 32)?;
    host::call(libc::SYS_times, &[buf.into()])
}
