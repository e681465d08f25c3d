//! futex(2) on the host: a guest futex word is host memory at
//! `base + uaddr`, so private futexes are host-private futexes of picorun's
//! process (guest threads are host threads) and shared ones are keyed by
//! the host's shared mapping, across pico processes too.

use pico_abi::Errno;

use super::{Args, SysResult};
use crate::host::{self, GuestBuf, HostArg};
use crate::task::Task;

const FUTEX_WAIT: u64 = 0;
const FUTEX_WAKE: u64 = 1;
const FUTEX_FD: u64 = 2;
const FUTEX_REQUEUE: u64 = 3;
const FUTEX_CMP_REQUEUE: u64 = 4;
const FUTEX_WAKE_OP: u64 = 5;
const FUTEX_LOCK_PI: u64 = 6;
const FUTEX_UNLOCK_PI: u64 = 7;
const FUTEX_TRYLOCK_PI: u64 = 8;
const FUTEX_WAIT_BITSET: u64 = 9;
const FUTEX_WAKE_BITSET: u64 = 10;
const FUTEX_WAIT_REQUEUE_PI: u64 = 11;
const FUTEX_CMP_REQUEUE_PI: u64 = 12;
const FUTEX_LOCK_PI2: u64 = 13;
const FUTEX_CMD_MASK: u64 = !(128 | 256);

/// futex(2).
pub fn futex(t: &mut Task, a: &Args) -> SysResult {
    let op = a[1] & 0xffff_ffff;
    let word = |addr: u64| GuestBuf::new(&t.vm.memory(), addr, 4, pico_vm::Access::Read);
    let uaddr = word(a[0])?;
    // The fourth argument is a timeout pointer for waits, an integer
    // (val2) for requeues and WAKE_OP.
    let (arg4, uaddr2) = match op & FUTEX_CMD_MASK {
        FUTEX_WAIT | FUTEX_WAIT_BITSET | FUTEX_LOCK_PI | FUTEX_LOCK_PI2 => {
            (HostArg::Buf(t.opt_in_buf(a[3], 16)?), GuestBuf::null())
        }
        FUTEX_WAIT_REQUEUE_PI => (HostArg::Buf(t.opt_in_buf(a[3], 16)?), word(a[4])?),
        FUTEX_WAKE | FUTEX_WAKE_BITSET | FUTEX_UNLOCK_PI | FUTEX_TRYLOCK_PI => {
            (HostArg::Int(a[3]), GuestBuf::null())
        }
        FUTEX_REQUEUE | FUTEX_CMP_REQUEUE | FUTEX_WAKE_OP | FUTEX_CMP_REQUEUE_PI => {
            (HostArg::Int(a[3]), word(a[4])?)
        }
        FUTEX_FD => return Err(Errno::EINVAL),
        _ => return Err(Errno::ENOSYS),
    };
    host::call(
        libc::SYS_futex,
        &[
            uaddr.into(),
            op.into(),
            a[2].into(),
            arg4,
            uaddr2.into(),
            a[5].into(),
        ],
    )
}
