//! System information and limits: the host's answers, written into guest
//! memory.

use pico_abi::Errno;

use super::{Args, SysResult};
use crate::host::{self, GuestBuf};
use crate::task::Task;

const RLIMIT_SIZE: u64 = 16;

/// uname(2).
pub fn uname(t: &mut Task, a: &Args) -> SysResult {
    let buf = t.out_buf(a[0], 6 * 65)?;
    host::call(libc::SYS_uname, &[buf.into()])
}

/// sysinfo(2).
pub fn sysinfo(t: &mut Task, a: &Args) -> SysResult {
    let buf = t.out_buf(a[0], 112)?;
    host::call(libc::SYS_sysinfo, &[buf.into()])
}

/// getrusage(2).
pub fn getrusage(t: &mut Task, a: &Args) -> SysResult {
    let buf = t.out_buf(a[1], 144)?;
    host::call(libc::SYS_getrusage, &[a[0].into(), buf.into()])
}

/// The limits a pico process keeps for itself rather than give to the
/// host: RLIMIT_DATA, RLIMIT_STACK, RLIMIT_NOFILE and RLIMIT_AS. On the
/// host they would bind picorun (its 1 TiB window, its heap, its threads'
/// stacks, its own descriptors for the VM and vCPUs), not the program: a
/// guest lowering RLIMIT_AS made picorun's next allocation abort, and one
/// lowering RLIMIT_NOFILE made its children fail to create their VM. They
/// are checked and reported like Linux's; RLIMIT_NOFILE is enforced on the
/// program's descriptor numbers ([`kept_nofile`]), the others are not
/// enforced.
const GUEST_KEPT: [u32; 4] = [2, 3, 7, 9];
const NOFILE_SLOT: usize = 2;

type Kept = [[u64; 2]; GUEST_KEPT.len()];

/// The kept limits `[cur, max]` in `GUEST_KEPT` order, taken from the host
/// (what picorun inherited) at first use. Per host process, as rlimits are
/// per process: a forked child has its copy, and exec keeps them.
static KEPT: std::sync::Mutex<Option<Kept>> = std::sync::Mutex::new(None);

/// The program's RLIMIT_NOFILE (soft): the bound on its descriptor numbers.
pub fn kept_nofile() -> u64 {
    kept_limits().map_or(1024, |limits| limits[NOFILE_SLOT][0])
}

fn kept_limits() -> std::sync::MutexGuard<'static, Option<Kept>> {
    let mut kept = KEPT.lock().unwrap_or_else(|p| p.into_inner());
    if kept.is_none() {
        let mut limits = [[u64::MAX; 2]; GUEST_KEPT.len()];
        for (limit, &resource) in limits.iter_mut().zip(&GUEST_KEPT) {
            let mut rl = libc::rlimit {
                rlim_cur: libc::RLIM_INFINITY,
                rlim_max: libc::RLIM_INFINITY,
            };
            // SAFETY: getrlimit writes the local struct only.
            unsafe { libc::getrlimit(resource, &mut rl) };
            *limit = [rl.rlim_cur, rl.rlim_max];
        }
        *kept = Some(limits);
    }
    kept
}

/// Whether picorun's host process has CAP_SYS_RESOURCE (may raise a hard limit).
fn may_raise_hard_limits() -> bool {
    const CAP_SYS_RESOURCE: u32 = 24;
    // _LINUX_CAPABILITY_VERSION_3: two 32-bit sets per field.
    let mut header = [0x2008_0522u32, 0];
    let mut data = [0u32; 6];
    // SAFETY: capget fills the local header and data arrays, sized for
    // version 3.
    let ok =
        unsafe { libc::syscall(libc::SYS_capget, header.as_mut_ptr(), data.as_mut_ptr()) } == 0;
    ok && data[0] & (1 << CAP_SYS_RESOURCE) != 0
}

/// prlimit64 on one of the kept limits of this process.
fn prlimit_kept(t: &Task, slot: usize, new_addr: u64, old_addr: u64) -> SysResult {
    let new = if new_addr == 0 {
        None
    } else {
        let mut b = [0u8; RLIMIT_SIZE as usize];
        t.read_bytes(new_addr, &mut b)?;
        let word =
            |i: usize| u64::from_le_bytes(b[8 * i..8 * i + 8].try_into().unwrap_or_default());
        Some([word(0), word(1)])
    };
    let mut kept = kept_limits();
    let Some(limits) = kept.as_mut() else {
        return Err(Errno::EINVAL);
    };
    let old = limits[slot];
    if let Some([cur, max]) = new {
        if cur > max {
            return Err(Errno::EINVAL);
        }
        if max > old[1] && !may_raise_hard_limits() {
            return Err(Errno::EPERM);
        }
    }
    if old_addr != 0 {
        let mut b = [0u8; RLIMIT_SIZE as usize];
        b[..8].copy_from_slice(&old[0].to_le_bytes());
        b[8..].copy_from_slice(&old[1].to_le_bytes());
        t.write_bytes(old_addr, &b)?;
    }
    if let Some(new) = new {
        limits[slot] = new;
    }
    Ok(0)
}

/// prlimit64(2). Limits are the host process's, which is this guest
/// process, except the ones it keeps for itself (see [`GUEST_KEPT`]).
pub fn prlimit64(t: &mut Task, a: &Args) -> SysResult {
    let own = a[0] as u32 == 0 || a[0] as u32 == t.pid;
    if let Some(slot) = GUEST_KEPT
        .iter()
        .position(|&r| u64::from(r) == u64::from(a[1] as u32))
    {
        if own {
            return prlimit_kept(t, slot, a[2], a[3]);
        }
    }
    let new = t.opt_in_buf(a[2], RLIMIT_SIZE)?;
    let wanted = if a[2] == 0 {
        None
    } else {
        Some([t.read_u64(a[2])?, t.read_u64(a[2] + 8)?])
    };
    crate::policy::may_set_rlimit(a[1], wanted)?;
    let old = t.opt_out_buf(a[3], RLIMIT_SIZE)?;
    host::call(
        libc::SYS_prlimit64,
        &[
            u64::from(a[0] as u32).into(),
            a[1].into(),
            new.into(),
            old.into(),
        ],
    )
}

/// getrlimit(2).
pub fn getrlimit(t: &mut Task, a: &Args) -> SysResult {
    prlimit64(t, &Args([0, a[0], 0, a[1], 0, 0]))
}

/// setrlimit(2).
pub fn setrlimit(t: &mut Task, a: &Args) -> SysResult {
    if a[1] == 0 {
        return Err(Errno::EFAULT);
    }
    prlimit64(t, &Args([0, a[0], a[1], 0, 0, 0]))
}

/// getrandom(2).
pub fn getrandom(t: &mut Task, a: &Args) -> SysResult {
    if a[1] == 0 {
        return host::call(
            libc::SYS_getrandom,
            &[GuestBuf::null().into(), 0u64.into(), a[2].into()],
        );
    }
    let buf = GuestBuf::prefix(&t.vm.memory(), a[0], a[1], pico_vm::Access::Write)?;
    host::call(
        libc::SYS_getrandom,
        &[buf.into(), (buf.len() as u64).into(), a[2].into()],
    )
}
