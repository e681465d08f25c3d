//! poll(2) and ppoll(2): the guest's pollfd array is translated to host
//! descriptors, polled by the host, and the events written back.

use pico_abi::Errno;

use super::{Args, SysResult};
use crate::host::{self, HostArg};
use crate::task::Task;

const POLLNVAL: i16 = 0x20;
const POLLFD_SIZE: u64 = 8;

/// Polls `nfds` guest pollfds at `addr`; `extra` are the host call's
/// arguments after (fds, nfds).
fn poll_common(t: &mut Task, addr: u64, nfds: u64, nr: i64, extra: &[HostArg<'_>]) -> SysResult {
    if nfds > super::fs::fd_limit() as u64 {
        return Err(Errno::EINVAL);
    }
    let mut raw = vec![0u8; (nfds * POLLFD_SIZE) as usize];
    t.read_bytes(addr, &mut raw)?;
    t.out_buf(addr, raw.len() as u64)?;
    let mut host_fds: Vec<libc::pollfd> = Vec::with_capacity(nfds as usize);
    let mut invalid = Vec::new();
    for (i, p) in raw.chunks_exact(8).enumerate() {
        let fd = i32::from_le_bytes([p[0], p[1], p[2], p[3]]);
        let events = i16::from_le_bytes([p[4], p[5]]);
        let host_fd = if fd < 0 {
            -1 // ignored, as by Linux
        } else {
            match t.fds.host(fd as u64) {
                Ok(h) => h,
                Err(_) => {
                    invalid.push(i);
                    -1
                }
            }
        };
        host_fds.push(libc::pollfd {
            fd: host_fd,
            events,
            revents: 0,
        });
    }
    let mut args = vec![HostArg::Local(host_fds.as_mut_ptr().cast()), nfds.into()];
    args.extend_from_slice(extra);
    let mut ready = if invalid.is_empty() {
        host::call(nr, &args)?
    } else {
        // A closed descriptor is reported at once with POLLNVAL: poll the
        // others without waiting.
        let mut now = args.clone();
        if nr == libc::SYS_poll {
            now[2] = 0u64.into();
        } else {
            let zero = libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            };
            now[2] = HostArg::Local((&zero as *const libc::timespec).cast_mut().cast());
            now[3] = 0u64.into();
            let r = host::call(nr, &now)?;
            return finish(t, addr, &mut host_fds, &invalid, r);
        }
        host::call(nr, &now)?
    };
    ready = finish(t, addr, &mut host_fds, &invalid, ready)?;
    Ok(ready)
}

fn finish(
    t: &Task,
    addr: u64,
    fds: &mut [libc::pollfd],
    invalid: &[usize],
    ready: u64,
) -> SysResult {
    for &i in invalid {
        fds[i].revents = POLLNVAL;
    }
    for (i, p) in fds.iter().enumerate() {
        t.write_bytes(addr + i as u64 * POLLFD_SIZE + 6, &p.revents.to_le_bytes())?;
    }
    Ok(ready + invalid.len() as u64)
}

/// poll(2).
pub fn poll(t: &mut Task, a: &Args) -> SysResult {
    poll_common(
        t,
        a[0],
        a[1],
        libc::SYS_poll,
        &[(a.int(2) as i64 as u64).into()],
    )
}

/// ppoll(2). The timeout is updated by the host, as Linux does.
pub fn ppoll(t: &mut Task, a: &Args) -> SysResult {
    let timeout = t.opt_out_buf(a[2], 16)?;
    if a[3] != 0 && a[4] != 8 {
        return Err(Errno::EINVAL);
    }
    poll_common(
        t,
        a[0],
        a[1],
        libc::SYS_ppoll,
        &[timeout.into(), 0u64.into(), 0u64.into()],
    )
}
