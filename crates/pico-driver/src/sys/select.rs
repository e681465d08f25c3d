//! select(2) and pselect6(2): the guest's fd_sets name guest descriptors,
//! so each set bit is translated to its host descriptor, the host's
//! pselect6 waits on driver-owned sets, and the ready bits are translated
//! back. The timeout is a driver-owned copy the host updates; it is
//! written back as Linux does (not for a zero timeout, and a guest buffer
//! that cannot take it is no error).
//!
//! Linux ignores set bits at or above the size of its descriptor table,
//! an allocation detail no program can rely on; picorun treats every bit
//! below `nfds` (at most RLIMIT_NOFILE) alike: `EBADF` for one that names
//! no open descriptor.

use pico_abi::Errno;

use super::{Args, SysResult};
use crate::host::{self, HostArg};
use crate::task::Task;

const NSEC_PER_SEC: i64 = 1_000_000_000;
const USEC_PER_SEC: i64 = 1_000_000;

/// The guest's three sets (read, write, except) of `nfds` bits, as read
/// from the guest (empty for a set not passed).
struct GuestSets {
    words: [Vec<u64>; 3],
    nfds: usize,
}

impl GuestSets {
    /// Reads each non-NULL set: whole 64-bit words, as Linux copies them,
    /// with the bits at and past `nfds` cleared.
    fn read(t: &Task, nfds: usize, addrs: [u64; 3]) -> Result<GuestSets, Errno> {
        let n_words = nfds.div_ceil(64);
        let mut words: [Vec<u64>; 3] = Default::default();
        for (set, &addr) in words.iter_mut().zip(&addrs) {
            if addr == 0 {
                continue;
            }
            let mut raw = vec![0u8; n_words * 8];
            t.read_bytes(addr, &mut raw)?;
            *set = raw
                .chunks_exact(8)
                .map(|w| u64::from_le_bytes(w.try_into().unwrap_or_default()))
                .collect();
            if let (Some(last), rem @ 1..) = (set.last_mut(), nfds % 64) {
                *last &= (1u64 << rem) - 1;
            }
        }
        Ok(GuestSets { words, nfds })
    }

    /// Every guest descriptor set in any of the sets, ascending.
    fn members(&self) -> Vec<usize> {
        let n_words = self.nfds.div_ceil(64);
        let mut out = Vec::new();
        for w in 0..n_words {
            let mut any = self
                .words
                .iter()
                .map(|s| s.get(w).copied().unwrap_or(0))
                .fold(0, |a, b| a | b);
            while any != 0 {
                out.push(w * 64 + any.trailing_zeros() as usize);
                any &= any - 1;
            }
        }
        out
    }
}

fn bit(set: &[u64], i: usize) -> bool {
    set.get(i / 64).is_some_and(|w| w >> (i % 64) & 1 != 0)
}

fn set_bit(set: &mut [u64], i: usize) {
    if let Some(w) = set.get_mut(i / 64) {
        *w |= 1 << (i % 64);
    }
}

/// Waits on the guest's sets with `timeout` (updated by the host) and
/// writes the ready sets back.
fn select_common(
    t: &mut Task,
    nfds: i32,
    addrs: [u64; 3],
    timeout: Option<&mut libc::timespec>,
) -> SysResult {
    let nfds = usize::try_from(nfds).map_err(|_| Errno::EINVAL)?;
    let nfds = nfds.min(super::fs::fd_limit());
    let guest = GuestSets::read(t, nfds, addrs)?;
    let pairs = guest
        .members()
        .into_iter()
        .map(|g| Ok((g, t.fds.host(g as u64)? as usize)))
        .collect::<Result<Vec<_>, Errno>>()?;
    let host_nfds = pairs.iter().map(|&(_, h)| h + 1).max().unwrap_or(0);
    let mut host_sets: [Vec<u64>; 3] = Default::default();
    for (k, set) in host_sets.iter_mut().enumerate() {
        if addrs[k] != 0 {
            *set = vec![0; host_nfds.div_ceil(64)];
            for &(g, h) in &pairs {
                if bit(&guest.words[k], g) {
                    set_bit(set, h);
                }
            }
        }
    }
    let set_arg = |set: &mut Vec<u64>| {
        if set.is_empty() {
            HostArg::Int(0)
        } else {
            HostArg::Local(set.as_mut_ptr().cast())
        }
    };
    let [r, w, e] = &mut host_sets;
    let timeout_arg = match timeout {
        Some(ts) => HostArg::Local((ts as *mut libc::timespec).cast()),
        None => HostArg::Int(0),
    };
    // The sets and the timeout are driver-owned and outlive the call; no
    // signal mask (0).
    let ready = host::call(
        libc::SYS_pselect6,
        &[
            (host_nfds as u64).into(),
            set_arg(r),
            set_arg(w),
            set_arg(e),
            timeout_arg,
            0u64.into(),
        ],
    )?;
    for (k, &addr) in addrs.iter().enumerate() {
        if addr == 0 {
            continue;
        }
        let mut out = vec![0u64; guest.nfds.div_ceil(64)];
        for &(g, h) in &pairs {
            if bit(&host_sets[k], h) {
                set_bit(&mut out, g);
            }
        }
        let bytes: Vec<u8> = out.iter().flat_map(|w| w.to_le_bytes()).collect();
        t.write_bytes(addr, &bytes)?;
    }
    Ok(ready)
}

fn is_zero(ts: &libc::timespec) -> bool {
    ts.tv_sec == 0 && ts.tv_nsec == 0
}

fn valid(ts: &libc::timespec) -> bool {
    ts.tv_sec >= 0 && (0..NSEC_PER_SEC).contains(&ts.tv_nsec)
}

fn read_pair(t: &Task, addr: u64) -> Result<(i64, i64), Errno> {
    let mut raw = [0u8; 16];
    t.read_bytes(addr, &mut raw)?;
    let first = i64::from_le_bytes(raw[..8].try_into().unwrap_or_default());
    let second = i64::from_le_bytes(raw[8..].try_into().unwrap_or_default());
    Ok((first, second))
}

fn write_pair(t: &Task, addr: u64, first: i64, second: i64) -> Result<(), Errno> {
    let bytes = [first.to_le_bytes(), second.to_le_bytes()].concat();
    t.write_bytes(addr, &bytes)
}

/// select(2). A timeval's microseconds of a second or more carry into
/// the seconds, as Linux does; the time left is written back.
pub fn select(t: &mut Task, a: &Args) -> SysResult {
    let mut timeout = None;
    if a[4] != 0 {
        let (sec, usec) = read_pair(t, a[4])?;
        let ts = libc::timespec {
            tv_sec: sec.wrapping_add(usec / USEC_PER_SEC),
            tv_nsec: (usec % USEC_PER_SEC) * 1000,
        };
        if !valid(&ts) {
            return Err(Errno::EINVAL);
        }
        timeout = Some(ts);
    }
    let was_zero = timeout.as_ref().is_some_and(is_zero);
    let r = select_common(t, a.int(0), [a[1], a[2], a[3]], timeout.as_mut());
    if let Some(left) = timeout.filter(|_| !was_zero) {
        let _ = write_pair(t, a[4], left.tv_sec, left.tv_nsec / 1000);
    }
    r
}

/// pselect6(2). The signal mask is checked as Linux checks it (`{ptr,
/// size}` readable, size 8, mask readable) but not applied: without
/// asynchronous signal delivery there is nothing it could let in.
pub fn pselect6(t: &mut Task, a: &Args) -> SysResult {
    let mask = if a[5] == 0 {
        None
    } else {
        Some(read_pair(t, a[5])?)
    };
    let mut timeout = None;
    if a[4] != 0 {
        let (sec, nsec) = read_pair(t, a[4])?;
        let ts = libc::timespec {
            tv_sec: sec,
            tv_nsec: nsec,
        };
        if !valid(&ts) {
            return Err(Errno::EINVAL);
        }
        timeout = Some(ts);
    }
    if let Some((ptr, size)) = mask.filter(|&(ptr, _)| ptr != 0) {
        if size != 8 {
            return Err(Errno::EINVAL);
        }
        t.read_u64(ptr as u64)?;
    }
    let was_zero = timeout.as_ref().is_some_and(is_zero);
    let r = select_common(t, a.int(0), [a[1], a[2], a[3]], timeout.as_mut());
    if let Some(left) = timeout.filter(|_| !was_zero) {
        let _ = write_pair(t, a[4], left.tv_sec, left.tv_nsec);
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_are_the_union_in_order() {
        let sets = GuestSets {
            words: [vec![0b1010, 1 << 63], vec![], vec![0b0110, 1]],
            nfds: 128,
        };
        assert_eq!(sets.members(), vec![1, 2, 3, 64, 127]);
    }

    #[test]
    fn bits() {
        let mut set = vec![0u64; 2];
        set_bit(&mut set, 70);
        set_bit(&mut set, 500); // past the end: ignored
        assert!(bit(&set, 70) && !bit(&set, 69) && !bit(&set, 500));
    }

    #[test]
    fn timeouts() {
        let ts = |s, ns| libc::timespec {
            tv_sec: s,
            tv_nsec: ns,
        };
        assert!(valid(&ts(0, 0)) && valid(&ts(5, NSEC_PER_SEC - 1)));
        assert!(!valid(&ts(-1, 0)) && !valid(&ts(0, -1)) && !valid(&ts(0, NSEC_PER_SEC)));
    }
}
