//! getsockopt(2) and setsockopt(2). Option values normally pass as
//! checked guest memory; the few SOL_SOCKET options whose value holds a
//! pointer (a classic BPF program) or a descriptor (an eBPF program, a
//! peer pidfd) are translated, since the host kernel would otherwise read
//! picorun's memory or hand out picorun's descriptors. Other levels are
//! refused for the same reason: their options are not vetted.

use std::os::fd::RawFd;

use pico_abi::Errno;
use pico_vm::Access;

use super::cmsg::{le_u64, SOL_SOCKET};
use super::socket::{int_option, read_i32};
use super::{Args, SysResult};
use crate::host::{self, GuestBuf, HostArg};
use crate::task::Task;

const SO_ATTACH_FILTER: i32 = 26;
const SO_DOMAIN: i32 = 39;
const SO_ATTACH_BPF: i32 = 50;
const SO_ATTACH_REUSEPORT_CBPF: i32 = 51;
const SO_ATTACH_REUSEPORT_EBPF: i32 = 52;
const SO_PEERPIDFD: i32 = 77;
/// Longest classic BPF program (BPF_MAXINSNS).
const BPF_MAXINSNS: u64 = 4096;

/// `struct sock_fprog`: a classic BPF program (length, pointer).
#[repr(C)]
struct SockFprog {
    len: u16,
    filter: u64,
}

/// Options of levels other than SOL_SOCKET are refused with the answer
/// AF_UNIX sockets give (`EOPNOTSUPP`), after the checks that come first
/// on Linux (`EBADF`, `ENOTSOCK`).
fn other_level(fd: RawFd) -> SysResult {
    int_option(fd, SO_DOMAIN)?;
    Err(Errno::EOPNOTSUPP)
}

/// getsockopt(2). Only SOL_SOCKET options; a peer pidfd becomes a guest
/// descriptor.
pub fn getsockopt(t: &mut Task, a: &Args) -> SysResult {
    let fd = t.fds.host(a[0])?;
    let (level, name) = (a.int(1), a.int(2));
    if level != SOL_SOCKET {
        return other_level(fd);
    }
    let ulen = read_i32(t, a[4])?;
    let mut len = ulen;
    let buf = match name {
        SO_PEERPIDFD => return peer_pidfd(t, fd, a, ulen),
        // SO_GET_FILTER counts instructions, not bytes.
        SO_ATTACH_FILTER if ulen > 0 => {
            let b = GuestBuf::prefix(&t.vm.memory(), a[3], ulen as u64 * 8, Access::Write)?;
            len = (b.len() / 8) as i32;
            b
        }
        _ if ulen > 0 => {
            let b = GuestBuf::prefix(&t.vm.memory(), a[3], ulen as u64, Access::Write)?;
            len = b.len() as i32;
            b
        }
        _ => GuestBuf::null(),
    };
    let sent_len = len;
    let r = host::call(
        libc::SYS_getsockopt,
        &[
            HostArg::Fd(fd),
            (level as u64).into(),
            (name as u64).into(),
            buf.into(),
            HostArg::Local((&mut len as *mut i32).cast()),
        ],
    );
    // Some failures (ERANGE) report the length needed.
    if r.is_ok() || len != sent_len {
        t.write_bytes(a[4], &len.to_le_bytes())?;
    }
    r
}

/// getsockopt(SO_PEERPIDFD): the host's new pidfd goes into the guest's
/// table (pidfds are always close-on-exec). As on Linux, a buffer shorter
/// than an int gets the first bytes of the number.
fn peer_pidfd(t: &mut Task, fd: RawFd, a: &Args, ulen: i32) -> SysResult {
    let n = usize::try_from(ulen).map_err(|_| Errno::EINVAL)?.min(4);
    let mut pidfd = -1i32;
    let mut len = 4i32;
    host::call(
        libc::SYS_getsockopt,
        &[
            HostArg::Fd(fd),
            (SOL_SOCKET as u64).into(),
            (SO_PEERPIDFD as u64).into(),
            HostArg::Local((&mut pidfd as *mut i32).cast()),
            HostArg::Local((&mut len as *mut i32).cast()),
        ],
    )?;
    let guest = super::fs::install(t, pidfd as u64, true)?;
    let bytes = (guest as i32).to_le_bytes();
    let value = if n == 0 {
        Ok(())
    } else {
        t.write_bytes(a[3], bytes.get(..n).unwrap_or_default())
    };
    let written = value.and_then(|()| t.write_bytes(a[4], &(n as i32).to_le_bytes()));
    if let Err(e) = written {
        let _ = t.fds.remove(guest);
        return Err(e);
    }
    Ok(0)
}

/// setsockopt(2). Only SOL_SOCKET options; socket filters are copied with
/// their program, BPF program descriptors are translated.
pub fn setsockopt(t: &mut Task, a: &Args) -> SysResult {
    let optlen = a.int(4);
    if optlen < 0 {
        return Err(Errno::EINVAL);
    }
    let fd = t.fds.host(a[0])?;
    let (level, name) = (a.int(1), a.int(2));
    if level != SOL_SOCKET {
        return other_level(fd);
    }
    let call = |value: HostArg<'_>, len: u64| {
        host::call(
            libc::SYS_setsockopt,
            &[
                HostArg::Fd(fd),
                (level as u64).into(),
                (name as u64).into(),
                value,
                len.into(),
            ],
        )
    };
    match name {
        SO_ATTACH_FILTER | SO_ATTACH_REUSEPORT_CBPF => {
            // Linux reads an int first, then wants exactly a sock_fprog.
            if optlen < 4 {
                return Err(Errno::EINVAL);
            }
            read_i32(t, a[3])?;
            if optlen != 16 {
                return Err(Errno::EINVAL);
            }
            let mut raw = [0u8; 16];
            t.read_bytes(a[3], &mut raw)?;
            let len = u64::from(u16::from_le_bytes([raw[0], raw[1]]));
            let filter = le_u64(&raw, 8);
            if filter == 0 || len == 0 || len > BPF_MAXINSNS {
                return Err(Errno::EINVAL);
            }
            let program = t.in_buf(filter, len * 8)?;
            let mut prog = SockFprog {
                len: len as u16,
                filter: program.addr(),
            };
            call(HostArg::Local((&mut prog as *mut SockFprog).cast()), 16)
        }
        SO_ATTACH_BPF | SO_ATTACH_REUSEPORT_EBPF => {
            if optlen < 4 {
                return Err(Errno::EINVAL);
            }
            let guest = read_i32(t, a[3])?;
            if optlen != 4 {
                return Err(Errno::EINVAL);
            }
            let mut host_fd = t.fds.host(guest as i64 as u64)?;
            call(HostArg::Local((&mut host_fd as *mut RawFd).cast()), 4)
        }
        _ => {
            let value = if optlen == 0 {
                GuestBuf::null()
            } else {
                t.in_buf(a[3], optlen as u64)?
            };
            call(value.into(), optlen as u64)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fprog_layout() {
        assert_eq!(std::mem::size_of::<SockFprog>(), 16);
    }
}
