//! Event descriptors as the tracer prints them: `epoll_ctl` operations
//! and the flags of `epoll_create1`, `eventfd2` and the timerfd calls.
//! Every one of these arguments is an `int`, so only the low 32 bits
//! count.

use super::{bits, one_of};

/// Add a descriptor to the interest list.
pub const EPOLL_CTL_ADD: u64 = 1;
/// Remove a descriptor from the interest list.
pub const EPOLL_CTL_DEL: u64 = 2;
/// Change a registered descriptor's events and data.
pub const EPOLL_CTL_MOD: u64 = 3;
/// `epoll_create1`: close-on-exec (same bit as `O_CLOEXEC`).
pub const EPOLL_CLOEXEC: u64 = 0o2000000;

/// An `epoll_ctl` operation.
pub fn epoll_ctl_op(op: u64) -> String {
    one_of(
        op & 0xffff_ffff,
        table![EPOLL_CTL_ADD, EPOLL_CTL_DEL, EPOLL_CTL_MOD],
    )
}

/// `epoll_create1` flags.
pub fn epoll_create_flags(flags: u64) -> String {
    bits(flags & 0xffff_ffff, table![EPOLL_CLOEXEC])
}

/// Reads count down by one.
pub const EFD_SEMAPHORE: u64 = 1;
/// Close-on-exec (same bit as `O_CLOEXEC`).
pub const EFD_CLOEXEC: u64 = 0o2000000;
/// Non-blocking (same bit as `O_NONBLOCK`).
pub const EFD_NONBLOCK: u64 = 0o4000;

/// `eventfd2` flags.
pub fn eventfd_flags(flags: u64) -> String {
    bits(
        flags & 0xffff_ffff,
        table![EFD_SEMAPHORE, EFD_CLOEXEC, EFD_NONBLOCK],
    )
}

/// Close-on-exec (same bit as `O_CLOEXEC`).
pub const TFD_CLOEXEC: u64 = 0o2000000;
/// Non-blocking (same bit as `O_NONBLOCK`).
pub const TFD_NONBLOCK: u64 = 0o4000;
/// `timerfd_settime`: the value is an absolute time.
pub const TFD_TIMER_ABSTIME: u64 = 1;
/// `timerfd_settime`: fail reads with `ECANCELED` when the clock is set.
pub const TFD_TIMER_CANCEL_ON_SET: u64 = 2;

/// `timerfd_create` flags.
pub fn timerfd_create_flags(flags: u64) -> String {
    bits(flags & 0xffff_ffff, table![TFD_CLOEXEC, TFD_NONBLOCK])
}

/// `timerfd_settime` flags.
pub fn timerfd_settime_flags(flags: u64) -> String {
    bits(
        flags & 0xffff_ffff,
        table![TFD_TIMER_ABSTIME, TFD_TIMER_CANCEL_ON_SET],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_strace() {
        assert_eq!(epoll_ctl_op(1), "EPOLL_CTL_ADD");
        assert_eq!(epoll_ctl_op(99), "0x63");
        assert_eq!(epoll_create_flags(EPOLL_CLOEXEC), "EPOLL_CLOEXEC");
        assert_eq!(epoll_create_flags(0), "0");
        assert_eq!(
            eventfd_flags(EFD_NONBLOCK | EFD_CLOEXEC),
            "EFD_CLOEXEC|EFD_NONBLOCK"
        );
        assert_eq!(
            timerfd_create_flags(TFD_NONBLOCK | TFD_CLOEXEC),
            "TFD_CLOEXEC|TFD_NONBLOCK"
        );
        assert_eq!(timerfd_settime_flags(1), "TFD_TIMER_ABSTIME");
        assert_eq!(timerfd_settime_flags(4), "0x4");
    }
}
