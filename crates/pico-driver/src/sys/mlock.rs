//! Memory locking and residency: mlock, munlock, mlockall, munlockall,
//! mincore. Every guest mapping is a host mapping at `base + guest
//! address`, so locking the host pages behind a guest range locks the
//! guest's pages, and their residency is the guest's. Guest ranges are
//! checked against the guest's own mapping record first: a hole there is
//! `ENOMEM` even though the host has a reservation behind it.

use pico_abi::Errno;
use pico_vm::layout::PAGE_SIZE;

use super::{Args, SysResult};
use crate::host::{self, GuestBuf, HostArg};
use crate::task::Task;

const MLOCK_ONFAULT: u64 = 1;
const MCL_CURRENT: u64 = 1;
const MCL_FUTURE: u64 = 2;
const MCL_ONFAULT: u64 = 4;
/// The top of a Linux x86-64 process's address space (47 bits, less the
/// guard page).
const TASK_SIZE_MAX: u64 = (1 << 47) - PAGE_SIZE;

/// The whole pages `[addr, addr + len)` touches, rounded as Linux rounds
/// them (with its wrap-around): `None` for an empty range, `EINVAL` when
/// the end wraps past the top of the address space.
fn pages(addr: u64, len: u64) -> Result<Option<(u64, u64)>, Errno> {
    let start = addr & !(PAGE_SIZE - 1);
    let len = len.wrapping_add(addr - start).wrapping_add(PAGE_SIZE - 1) & !(PAGE_SIZE - 1);
    let end = start.wrapping_add(len);
    if end < start {
        return Err(Errno::EINVAL);
    }
    Ok((end > start).then_some((start, len)))
}

/// mlock, munlock and mlock2 on the host pages behind a guest range.
fn lock_call(t: &Task, nr: i64, addr: u64, len: u64, flags: Option<u64>) -> SysResult {
    let Some((start, len)) = pages(addr, len)? else {
        return Ok(0);
    };
    let range = GuestBuf::mapped(&t.vm.memory(), start, len)?;
    match flags {
        Some(flags) => host::call(nr, &[range.into(), len.into(), flags.into()]),
        None => host::call(nr, &[range.into(), len.into()]),
    }
}

/// mlock(2).
pub fn mlock(t: &mut Task, a: &Args) -> SysResult {
    lock_call(t, libc::SYS_mlock, a[0], a[1], None)
}

/// mlock2(2).
pub fn mlock2(t: &mut Task, a: &Args) -> SysResult {
    if a[2] & 0xffff_ffff & !MLOCK_ONFAULT != 0 {
        return Err(Errno::EINVAL);
    }
    lock_call(t, libc::SYS_mlock2, a[0], a[1], Some(a[2] & MLOCK_ONFAULT))
}

/// munlock(2).
pub fn munlock(t: &mut Task, a: &Args) -> SysResult {
    lock_call(t, libc::SYS_munlock, a[0], a[1], None)
}

/// mlockall(2) with `MCL_CURRENT`: every guest mapping is locked. First
/// all of them lock-on-fault, which is where the host kernel enforces
/// RLIMIT_MEMLOCK (and `EPERM` without it): the guest's mappings must fit
/// the limit, as Linux's check against the process's whole size; on
/// failure the ones locked so far are unlocked again. Then, without
/// `MCL_ONFAULT`, they are populated, whose failures Linux ignores too.
/// `MCL_FUTURE` is `EINVAL`: later mappings would not be locked.
pub fn mlockall(t: &mut Task, a: &Args) -> SysResult {
    let flags = a[0] & 0xffff_ffff;
    if flags == 0 || flags & !(MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT) != 0 || flags == MCL_ONFAULT
    {
        return Err(Errno::EINVAL);
    }
    if flags & MCL_FUTURE != 0 {
        return Err(Errno::EINVAL);
    }
    let regions: Vec<(u64, u64)> = {
        let mem = t.vm.memory();
        mem.regions()
            .overlapping(0, pico_vm::layout::WINDOW_SIZE)
            .into_iter()
            .map(|(start, end, _)| (start, end - start))
            .collect()
    };
    let each = |nr: i64, flags: Option<u64>| {
        regions
            .iter()
            .map(|&(start, len)| lock_call(t, nr, start, len, flags))
            .collect::<Vec<_>>()
    };
    let locked = each(libc::SYS_mlock2, Some(MLOCK_ONFAULT));
    if let Some(err) = locked.iter().find_map(|r| r.err()) {
        for (&(start, len), r) in regions.iter().zip(&locked) {
            if r.is_ok() {
                let _ = lock_call(t, libc::SYS_munlock, start, len, None);
            }
        }
        return Err(err);
    }
    if flags & MCL_ONFAULT == 0 {
        each(libc::SYS_mlock, None);
    }
    Ok(0)
}

/// munlockall(2). picorun locks none of its own memory, so unlocking all
/// of the host process's unlocks exactly the guest's.
pub fn munlockall(_t: &mut Task, _a: &Args) -> SysResult {
    host::call(libc::SYS_munlockall, &[])
}

/// mincore(2): the residency of the host pages behind a guest range.
pub fn mincore(t: &mut Task, a: &Args) -> SysResult {
    let (addr, len) = (a[0], a[1]);
    if addr % PAGE_SIZE != 0 {
        return Err(Errno::EINVAL);
    }
    // Linux's access_ok: the range must lie below the top of user space.
    if addr.checked_add(len).is_none_or(|end| end > TASK_SIZE_MAX) {
        return Err(Errno::ENOMEM);
    }
    let pages = len.div_ceil(PAGE_SIZE);
    let vec = t.out_buf(a[2], pages)?;
    let range = GuestBuf::mapped(&t.vm.memory(), addr, pages * PAGE_SIZE)?;
    host::call(
        libc::SYS_mincore,
        &[range.into(), len.into(), HostArg::Buf(vec)],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_round_to_whole_pages_like_linux() {
        assert_eq!(pages(0x1000, 0), Ok(None));
        assert_eq!(pages(0x1234, 0), Ok(Some((0x1000, 0x1000))));
        assert_eq!(pages(0x1fff, 2), Ok(Some((0x1000, 0x2000))));
        assert_eq!(pages(0x1000, 0x3000), Ok(Some((0x1000, 0x3000))));
        assert_eq!(pages(0x3000, u64::MAX - 0x2000), Err(Errno::EINVAL));
        // Linux's PAGE_ALIGN wraps a length near 2^64 to nothing.
        assert_eq!(pages(0x1000, u64::MAX), Ok(None));
    }
}
