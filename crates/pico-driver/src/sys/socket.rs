//! Sockets the guest already holds: socketpair(2), and data, names and
//! shutdown on any socket descriptor. Options are in [`super::sockopt`],
//! control messages in [`super::cmsg`]. Creating, binding and connecting
//! sockets (the network) is not here and stays `ENOSYS`.
//!
//! What crosses to the host is always translated, never the guest's raw
//! values: addresses are copied into driver-owned `sockaddr_storage`s,
//! iovecs point into checked guest memory, and control buffers are
//! driver-owned copies.
//!
//! Data buffers must be accessible whole (`EFAULT` otherwise, before any
//! data moves), where Linux may first deliver part of a stream: a datagram
//! must never be cut short by a fault picorun would otherwise turn into a
//! shorter buffer.

use std::os::fd::RawFd;

use pico_abi::Errno;
use pico_vm::Access;

use super::cmsg::{deliver_control, le_i32, le_u64, rights_to_host, SOL_SOCKET};
use super::rw::{iovecs, pipe_check, Extent, IOV_MAX};
use super::{Args, SysResult};
use crate::host::{self, GuestBuf, HostArg};
use crate::task::Task;

const SOCK_STREAM: i32 = 1;
const SOCK_CLOEXEC: u64 = 0o2000000;
const SO_TYPE: i32 = 3;
const MSG_NOSIGNAL: u64 = 0x4000;
const MSG_CTRUNC: u32 = 0x8;
const MSG_CMSG_CLOEXEC: u64 = 0x4000_0000;
const MSG_CMSG_COMPAT: u64 = 0x8000_0000;
/// Linux caps one transfer at INT_MAX rounded down to a page.
const MAX_RW_COUNT: u64 = 0x7fff_f000;
const SOCKADDR_STORAGE: usize = 128;
const MSGHDR_SIZE: usize = 56;
/// Send-side control data the driver copies at most; Linux refuses far
/// less (net.core.optmem_max) with the same `ENOBUFS`.
const SEND_CONTROL_MAX: u64 = 1 << 20;
/// Receive-side control buffer handed to the host at most: more than
/// any control data a socket produces (SCM_MAX_FD descriptors, credentials,
/// a security label).
const RECV_CONTROL_MAX: u64 = 64 << 10;

/// `struct msghdr` as the host kernel reads it (x86-64).
#[repr(C)]
struct HostMsghdr {
    name: *mut u8,
    namelen: u32,
    iov: *mut libc::iovec,
    iovlen: usize,
    control: *mut u8,
    controllen: usize,
    flags: i32,
}

/// The guest's `struct msghdr`, decoded.
struct GuestMsghdr {
    name: u64,
    namelen: i32,
    iov: u64,
    iovlen: u64,
    control: u64,
    controllen: u64,
}

/// A socket address the host fills in, and its length.
struct Sockaddr {
    bytes: [u8; SOCKADDR_STORAGE],
    len: u32,
}

impl Sockaddr {
    fn new() -> Sockaddr {
        Sockaddr {
            bytes: [0; SOCKADDR_STORAGE],
            len: SOCKADDR_STORAGE as u32,
        }
    }

    fn ptr(&mut self) -> HostArg<'static> {
        HostArg::Local(self.bytes.as_mut_ptr())
    }

    fn len_ptr(&mut self) -> HostArg<'static> {
        HostArg::Local((&mut self.len as *mut u32).cast())
    }

    /// Linux's move_addr_to_user: reads the guest's buffer length at
    /// `ulen`, stores the full length there, and copies as much of the
    /// address as fits to `uaddr`.
    fn put(&self, t: &Task, uaddr: u64, ulen: u64) -> Result<(), Errno> {
        let klen = (self.len as usize).min(SOCKADDR_STORAGE) as i32;
        let len = read_i32(t, ulen)?.min(klen);
        if len >= 0 {
            t.write_bytes(ulen, &klen.to_le_bytes())?;
        }
        match usize::try_from(len) {
            Err(_) => Err(Errno::EINVAL),
            Ok(0) => Ok(()),
            Ok(n) => t.write_bytes(uaddr, self.bytes.get(..n).unwrap_or_default()),
        }
    }
}

pub(super) fn read_i32(t: &Task, addr: u64) -> Result<i32, Errno> {
    let mut b = [0u8; 4];
    t.read_bytes(addr, &mut b)?;
    Ok(i32::from_le_bytes(b))
}

/// A data buffer of a send or receive: all of it, or `EFAULT`.
fn data_buf(t: &Task, addr: u64, len: u64, access: Access) -> Result<GuestBuf, Errno> {
    let len = len.min(MAX_RW_COUNT);
    if len == 0 {
        return Ok(GuestBuf::null());
    }
    GuestBuf::new(&t.vm.memory(), addr, len, access)
}

/// An `int` socket option of a host descriptor, or the host's errno.
pub(super) fn int_option(fd: RawFd, name: i32) -> Result<i32, Errno> {
    let mut value = 0i32;
    let mut len = 4u32;
    host::call(
        libc::SYS_getsockopt,
        &[
            HostArg::Fd(fd),
            (SOL_SOCKET as u64).into(),
            (name as u64).into(),
            HostArg::Local((&mut value as *mut i32).cast()),
            HostArg::Local((&mut len as *mut u32).cast()),
        ],
    )?;
    Ok(value)
}

/// Whether Linux raises SIGPIPE along with an EPIPE from writing to `fd`:
/// pipes and stream sockets do; datagram and seqpacket sockets do not.
pub(crate) fn epipe_raises_sigpipe(fd: RawFd) -> bool {
    match int_option(fd, SO_TYPE) {
        Ok(ty) => ty == SOCK_STREAM,
        Err(_) => true,
    }
}

/// A send's result: EPIPE raises SIGPIPE unless MSG_NOSIGNAL.
fn sent(t: &mut Task, fd: RawFd, flags: u64, r: SysResult) -> SysResult {
    if flags & MSG_NOSIGNAL != 0 {
        r
    } else {
        pipe_check(t, fd, r)
    }
}

/// socketpair(2). Any domain goes to the host, which answers as Linux
/// does (AF_UNIX works; AF_INET and the like are `EOPNOTSUPP`).
pub fn socketpair(t: &mut Task, a: &Args) -> SysResult {
    let mut sv = [0i32; 2];
    host::call(
        libc::SYS_socketpair,
        &[
            a[0].into(),
            (a[1] | SOCK_CLOEXEC).into(),
            a[2].into(),
            HostArg::Local(sv.as_mut_ptr().cast()),
        ],
    )?;
    super::fs::install_pair(t, sv, a[1] & SOCK_CLOEXEC != 0, a[3])
}

/// Under `--root`, a destination address (an AF_UNIX path or abstract
/// name) would be looked up by the host outside the guest's namespace:
/// refused with `EACCES` (the guest's sockets are socketpairs, which need
/// none).
fn no_address_under_root(len: usize) -> Result<(), Errno> {
    if len > 0 && crate::rootfs::get().is_some() {
        return Err(Errno::EACCES);
    }
    Ok(())
}

/// sendto(2) (and send(3)).
pub fn sendto(t: &mut Task, a: &Args) -> SysResult {
    let fd = t.fds.host(a[0])?;
    let buf = data_buf(t, a[1], a[2], Access::Read)?;
    let flags = u64::from(a[3] as u32);
    let mut addr = [0u8; SOCKADDR_STORAGE];
    let (addr_arg, addr_len) = if a[4] == 0 {
        (HostArg::Int(0), 0)
    } else {
        let len = usize::try_from(a.int(5))
            .ok()
            .filter(|&l| l <= SOCKADDR_STORAGE)
            .ok_or(Errno::EINVAL)?;
        if len > 0 {
            t.read_bytes(a[4], addr.get_mut(..len).unwrap_or_default())?;
        }
        no_address_under_root(len)?;
        (HostArg::Local(addr.as_mut_ptr()), len as u64)
    };
    let r = host::call(
        libc::SYS_sendto,
        &[
            HostArg::Fd(fd),
            buf.into(),
            (buf.len() as u64).into(),
            flags.into(),
            addr_arg,
            addr_len.into(),
        ],
    );
    sent(t, fd, flags, r)
}

/// recvfrom(2) (and recv(3)). The sender's address, if asked for, is
/// written after the data is received, as Linux does.
pub fn recvfrom(t: &mut Task, a: &Args) -> SysResult {
    let fd = t.fds.host(a[0])?;
    let buf = data_buf(t, a[1], a[2], Access::Write)?;
    let mut addr = Sockaddr::new();
    let (addr_arg, len_arg) = if a[4] == 0 {
        (HostArg::Int(0), HostArg::Int(0))
    } else {
        (addr.ptr(), addr.len_ptr())
    };
    let n = host::call(
        libc::SYS_recvfrom,
        &[
            HostArg::Fd(fd),
            buf.into(),
            (buf.len() as u64).into(),
            u64::from(a[3] as u32).into(),
            addr_arg,
            len_arg,
        ],
    )?;
    if a[4] != 0 {
        addr.put(t, a[4], a[5])?;
    }
    Ok(n)
}

fn read_msghdr(t: &Task, addr: u64) -> Result<GuestMsghdr, Errno> {
    let mut raw = [0u8; MSGHDR_SIZE];
    t.read_bytes(addr, &mut raw)?;
    let h = GuestMsghdr {
        name: le_u64(&raw, 0),
        namelen: le_i32(&raw, 8),
        iov: le_u64(&raw, 16),
        iovlen: le_u64(&raw, 24),
        control: le_u64(&raw, 32),
        controllen: le_u64(&raw, 40),
    };
    if h.name != 0 && h.namelen < 0 {
        return Err(Errno::EINVAL);
    }
    if h.iovlen > IOV_MAX {
        return Err(Errno::EMSGSIZE);
    }
    Ok(h)
}

/// The guest's iovecs of a message, for the host.
fn message_iovecs(t: &Task, h: &GuestMsghdr, access: Access) -> Result<Vec<libc::iovec>, Errno> {
    if h.iovlen == 0 {
        return Ok(Vec::new());
    }
    iovecs(t, h.iov, h.iovlen, access, Extent::Whole)
}

fn local_or_null<T>(v: &mut [T]) -> *mut u8 {
    if v.is_empty() {
        std::ptr::null_mut()
    } else {
        v.as_mut_ptr().cast()
    }
}

/// sendmsg(2). Descriptors in `SCM_RIGHTS` are the guest's; the rest of
/// the control data (SCM_CREDENTIALS, protocol levels) passes unchanged.
pub fn sendmsg(t: &mut Task, a: &Args) -> SysResult {
    let flags = u64::from(a[2] as u32);
    if flags & MSG_CMSG_COMPAT != 0 {
        return Err(Errno::EINVAL);
    }
    let fd = t.fds.host(a[0])?;
    let h = read_msghdr(t, a[1])?;
    let mut name = [0u8; SOCKADDR_STORAGE];
    let namelen = if h.name == 0 {
        0
    } else {
        (h.namelen as usize).min(SOCKADDR_STORAGE)
    };
    if namelen > 0 {
        t.read_bytes(h.name, name.get_mut(..namelen).unwrap_or_default())?;
    }
    no_address_under_root(namelen)?;
    let mut iov = message_iovecs(t, &h, Access::Read)?;
    if h.controllen > i32::MAX as u64 || h.controllen > SEND_CONTROL_MAX {
        return Err(Errno::ENOBUFS);
    }
    let mut ctl = vec![0u8; h.controllen as usize];
    if !ctl.is_empty() {
        t.read_bytes(h.control, &mut ctl)?;
    }
    rights_to_host(t, &mut ctl)?;
    let mut hdr = HostMsghdr {
        name: if namelen == 0 {
            std::ptr::null_mut()
        } else {
            name.as_mut_ptr()
        },
        namelen: namelen as u32,
        iovlen: iov.len(),
        iov: local_or_null(&mut iov).cast(),
        controllen: ctl.len(),
        control: local_or_null(&mut ctl),
        flags: 0,
    };
    // Every pointer in `hdr` is driver-owned or checked guest memory, and
    // outlives the call.
    let r = host::call(
        libc::SYS_sendmsg,
        &[
            HostArg::Fd(fd),
            HostArg::Local((&mut hdr as *mut HostMsghdr).cast()),
            flags.into(),
        ],
    );
    sent(t, fd, flags, r)
}

/// recvmsg(2). Received descriptors become guest descriptors
/// (close-on-exec with MSG_CMSG_CLOEXEC); `msg_namelen`,
/// `msg_controllen` and `msg_flags` are written back as Linux does.
pub fn recvmsg(t: &mut Task, a: &Args) -> SysResult {
    let flags = u64::from(a[2] as u32);
    if flags & MSG_CMSG_COMPAT != 0 {
        return Err(Errno::EINVAL);
    }
    let fd = t.fds.host(a[0])?;
    let h = read_msghdr(t, a[1])?;
    let mut iov = message_iovecs(t, &h, Access::Write)?;
    let mut ctl = vec![0u8; h.controllen.min(RECV_CONTROL_MAX) as usize];
    let mut name = Sockaddr::new();
    let mut hdr = HostMsghdr {
        name: if h.name == 0 {
            std::ptr::null_mut()
        } else {
            name.bytes.as_mut_ptr()
        },
        namelen: if h.name == 0 { 0 } else { name.len },
        iovlen: iov.len(),
        iov: local_or_null(&mut iov).cast(),
        controllen: ctl.len(),
        control: local_or_null(&mut ctl),
        flags: 0,
    };
    // The host installs received descriptors close-on-exec, always; the
    // guest's wish goes into its own table.
    let n = host::call(
        libc::SYS_recvmsg,
        &[
            HostArg::Fd(fd),
            HostArg::Local((&mut hdr as *mut HostMsghdr).cast()),
            (flags | MSG_CMSG_CLOEXEC).into(),
        ],
    )?;
    name.len = hdr.namelen;
    let used = hdr.controllen.min(ctl.len());
    let mut out_flags = hdr.flags as u32;
    if flags & MSG_CMSG_CLOEXEC == 0 {
        out_flags &= !(MSG_CMSG_CLOEXEC as u32);
    }
    let guest_len = usize::try_from(h.controllen).unwrap_or(usize::MAX);
    let cloexec = flags & MSG_CMSG_CLOEXEC != 0;
    let received = ctl.get_mut(..used).unwrap_or_default();
    let delivered = deliver_control(t, received, h.control, guest_len, cloexec);
    if delivered.truncated {
        out_flags |= MSG_CTRUNC;
    }
    if h.name != 0 {
        name.put(t, h.name, a[1] + 8)?;
    }
    t.write_bytes(a[1] + 48, &out_flags.to_le_bytes())?;
    t.write_u64(a[1] + 40, delivered.len as u64)?;
    Ok(n)
}

/// shutdown(2).
pub fn shutdown(t: &mut Task, a: &Args) -> SysResult {
    let fd = t.fds.host(a[0])?;
    host::call(libc::SYS_shutdown, &[HostArg::Fd(fd), a[1].into()])
}

/// getsockname(2).
pub fn getsockname(t: &mut Task, a: &Args) -> SysResult {
    name_of(t, a, libc::SYS_getsockname)
}

/// getpeername(2).
pub fn getpeername(t: &mut Task, a: &Args) -> SysResult {
    name_of(t, a, libc::SYS_getpeername)
}

fn name_of(t: &mut Task, a: &Args, nr: i64) -> SysResult {
    let fd = t.fds.host(a[0])?;
    let mut addr = Sockaddr::new();
    host::call(nr, &[HostArg::Fd(fd), addr.ptr(), addr.len_ptr()])?;
    addr.put(t, a[1], a[2])?;
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn msghdr_layout() {
        assert_eq!(std::mem::size_of::<HostMsghdr>(), MSGHDR_SIZE);
        assert_eq!(std::mem::offset_of!(HostMsghdr, controllen), 40);
        assert_eq!(std::mem::offset_of!(HostMsghdr, flags), 48);
    }
}
