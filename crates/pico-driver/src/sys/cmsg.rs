//! Control messages (`cmsg(3)`) of sendmsg and recvmsg, in driver-owned
//! copies of the guest's control buffer: descriptors in `SCM_RIGHTS` are
//! guest numbers on the way out and must be host numbers for the host
//! kernel; received ones (and `SCM_PIDFD`'s) are host descriptors picorun
//! now owns and must become guest descriptors. The walk over a buffer is
//! the kernel's own, so the driver translates exactly the messages the
//! host kernel will act on. Nothing else in a control message is touched.

use std::os::fd::OwnedFd;

use pico_abi::Errno;

use crate::fd::FdEntry;
use crate::host;
use crate::task::Task;

pub(crate) const SOL_SOCKET: i32 = 1;
const SCM_RIGHTS: i32 = 1;
const SCM_PIDFD: i32 = 4;
const CMSGHDR_SIZE: usize = 16;
/// Most descriptors one message may carry (SCM_MAX_FD).
const SCM_MAX_FD: usize = 253;

pub(crate) fn le_u64(bytes: &[u8], at: usize) -> u64 {
    bytes
        .get(at..at + 8)
        .and_then(|b| b.try_into().ok())
        .map_or(0, u64::from_le_bytes)
}

pub(crate) fn le_i32(bytes: &[u8], at: usize) -> i32 {
    bytes
        .get(at..at + 4)
        .and_then(|b| b.try_into().ok())
        .map_or(0, i32::from_le_bytes)
}

fn put_i32(bytes: &mut [u8], at: usize, v: i32) {
    if let Some(b) = bytes.get_mut(at..at + 4) {
        b.copy_from_slice(&v.to_le_bytes());
    }
}

/// CMSG_ALIGN: control messages start on 8-byte boundaries.
fn cmsg_align(len: usize) -> usize {
    len.saturating_add(7) & !7
}

/// One control message header in a control buffer: offset, `cmsg_len`,
/// level and type. Walks as the kernel does (CMSG_FIRSTHDR/CMSG_NXTHDR)
/// and stops at the first header that does not fit (`CMSG_OK` fails),
/// where the host kernel stops too.
fn cmsgs(buf: &[u8]) -> impl Iterator<Item = (usize, usize, i32, i32)> + '_ {
    let mut off = 0usize;
    std::iter::from_fn(move || {
        if off.checked_add(CMSGHDR_SIZE)? > buf.len() {
            return None;
        }
        let len = usize::try_from(le_u64(buf, off)).ok()?;
        if len < CMSGHDR_SIZE || len > buf.len() - off {
            return None;
        }
        let item = (off, len, le_i32(buf, off + 8), le_i32(buf, off + 12));
        off += cmsg_align(len);
        Some(item)
    })
}

/// Replaces the guest descriptors in a send's `SCM_RIGHTS` messages with
/// their host descriptors (`EBADF` for one that is not open). Messages
/// past the first malformed one, or past SCM_MAX_FD descriptors, are left
/// alone: the host kernel refuses the send there, before reading them.
pub(crate) fn rights_to_host(t: &Task, ctl: &mut [u8]) -> Result<(), Errno> {
    let mut total = 0usize;
    let found: Vec<_> = cmsgs(ctl).collect();
    for (off, len, level, ty) in found {
        if level != SOL_SOCKET || ty != SCM_RIGHTS {
            continue;
        }
        let count = (len - CMSGHDR_SIZE) / 4;
        total += count;
        if total > SCM_MAX_FD {
            break;
        }
        for i in 0..count {
            let at = off + CMSGHDR_SIZE + 4 * i;
            let guest = le_i32(ctl, at);
            let host = t.fds.host(guest as i64 as u64)?;
            put_i32(ctl, at, host);
        }
    }
    Ok(())
}

/// What receiving left in the guest's control buffer.
pub(crate) struct Delivered {
    /// Bytes of control data written (the new `msg_controllen`).
    pub len: usize,
    /// MSG_CTRUNC if descriptors were dropped.
    pub truncated: bool,
}

/// Copies the host's received control data to the guest's buffer
/// (`guest_len` bytes at `addr`), installing the descriptors of
/// `SCM_RIGHTS` (close-on-exec as `cloexec`) and `SCM_PIDFD` (always
/// close-on-exec) as guest descriptors. Follows Linux where the guest's
/// table or buffer refuses: descriptors that cannot be installed or
/// written are dropped with MSG_CTRUNC, other messages that cannot be
/// written are skipped.
pub(crate) fn deliver_control(
    t: &mut Task,
    ctl: &mut [u8],
    addr: u64,
    guest_len: usize,
    cloexec: bool,
) -> Delivered {
    let mut out = Delivered {
        len: 0,
        truncated: false,
    };
    let found: Vec<_> = cmsgs(ctl).collect();
    // Own every received host descriptor first, so that all of them close
    // unless the guest's table takes them.
    let mut owned: Vec<Vec<Option<OwnedFd>>> = found
        .iter()
        .map(|&(off, len, level, ty)| {
            let count = match (level, ty) {
                (SOL_SOCKET, SCM_RIGHTS) => (len - CMSGHDR_SIZE) / 4,
                (SOL_SOCKET, SCM_PIDFD) if len >= CMSGHDR_SIZE + 4 => 1,
                _ => 0,
            };
            (0..count)
                .map(|i| {
                    let fd = le_i32(ctl, off + CMSGHDR_SIZE + 4 * i);
                    // SCM_PIDFD carries a negative errno when no pidfd
                    // could be made: that is data, not a descriptor.
                    (fd >= 0).then(|| host::own_fd(fd as u64))
                })
                .collect()
        })
        .collect();
    for (&(off, len, level, ty), fds) in found.iter().zip(owned.iter_mut()) {
        let room = guest_len.saturating_sub(out.len);
        let mut installed = Vec::new();
        let mut len = len;
        if !fds.is_empty() {
            let pidfd = ty == SCM_PIDFD;
            for (i, fd) in fds.iter_mut().enumerate() {
                let at = off + CMSGHDR_SIZE + 4 * i;
                let Some(file) = fd.take() else { continue };
                let entry = FdEntry::new(file, cloexec || pidfd);
                match t.fds.insert_from(0, super::fs::fd_limit(), entry) {
                    Ok(g) => {
                        installed.push(g);
                        put_i32(ctl, at, g as i32);
                    }
                    Err(e) => {
                        // A pidfd that cannot be installed is reported
                        // as the error, as Linux's pidfd_prepare does.
                        put_i32(ctl, at, -i32::from(e.raw()));
                        break;
                    }
                }
            }
            if !pidfd {
                if installed.len() < fds.len() {
                    out.truncated = true;
                }
                if installed.is_empty() {
                    continue;
                }
                len = CMSGHDR_SIZE + 4 * installed.len();
                if let Some(b) = ctl.get_mut(off..off + 8) {
                    b.copy_from_slice(&(len as u64).to_le_bytes());
                }
            }
        }
        let bytes = ctl.get(off..off + len.min(room)).unwrap_or_default();
        if t.write_bytes(addr + out.len as u64, bytes).is_err() {
            for g in installed {
                let _ = t.fds.remove(g);
            }
            if level == SOL_SOCKET && ty == SCM_RIGHTS {
                out.truncated = true;
            }
            continue;
        }
        out.len += cmsg_align(len).min(room);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmsg(len: u64, level: i32, ty: i32, data: &[u8]) -> Vec<u8> {
        let mut v = len.to_le_bytes().to_vec();
        v.extend_from_slice(&level.to_le_bytes());
        v.extend_from_slice(&ty.to_le_bytes());
        v.extend_from_slice(data);
        while !v.len().is_multiple_of(8) {
            v.push(0);
        }
        v
    }

    #[test]
    fn cmsg_walk_follows_the_kernel() {
        let mut buf = cmsg(20, SOL_SOCKET, SCM_RIGHTS, &7i32.to_le_bytes());
        buf.extend(cmsg(28, SOL_SOCKET, 2, &[0; 12]));
        let found: Vec<_> = cmsgs(&buf).collect();
        assert_eq!(found, vec![(0, 20, 1, 1), (24, 28, 1, 2)]);
        // A header whose length runs past the buffer ends the walk.
        let mut bad = cmsg(20, SOL_SOCKET, SCM_RIGHTS, &7i32.to_le_bytes());
        bad.extend(cmsg(64, SOL_SOCKET, SCM_RIGHTS, &[0; 4]));
        assert_eq!(cmsgs(&bad).count(), 1);
        // So does one shorter than a header, and a buffer shorter than one.
        assert_eq!(cmsgs(&cmsg(8, 1, 1, &[])).count(), 0);
        assert_eq!(cmsgs(&[0u8; 15]).count(), 0);
        assert_eq!(cmsgs(&[]).count(), 0);
        // A huge length cannot overflow the walk.
        assert_eq!(cmsgs(&cmsg(u64::MAX, 1, 1, &[0; 8])).count(), 0);
    }

    #[test]
    fn alignment() {
        assert_eq!(cmsg_align(16), 16);
        assert_eq!(cmsg_align(20), 24);
        assert_eq!(cmsg_align(usize::MAX), usize::MAX & !7);
    }
}
