//! `ioctl` requests a program run under picorun is likely to make: the
//! terminal ones libc issues on every `isatty` and the generic `FIO*` ones.

use super::{one_of, Table};

/// Get terminal attributes (`tcgetattr`, and glibc's `isatty`).
pub const TCGETS: u64 = 0x5401;
/// Set terminal attributes now.
pub const TCSETS: u64 = 0x5402;
/// Set terminal attributes after output drains.
pub const TCSETSW: u64 = 0x5403;
/// Set terminal attributes after output drains, discarding input.
pub const TCSETSF: u64 = 0x5404;
/// Make the terminal the controlling terminal.
pub const TIOCSCTTY: u64 = 0x540e;
/// Get the foreground process group.
pub const TIOCGPGRP: u64 = 0x540f;
/// Set the foreground process group.
pub const TIOCSPGRP: u64 = 0x5410;
/// Get the window size.
pub const TIOCGWINSZ: u64 = 0x5413;
/// Set the window size.
pub const TIOCSWINSZ: u64 = 0x5414;
/// Bytes available to read.
pub const FIONREAD: u64 = 0x541b;
/// Set or clear `O_NONBLOCK`.
pub const FIONBIO: u64 = 0x5421;
/// Give up the controlling terminal.
pub const TIOCNOTTY: u64 = 0x5422;
/// Get the session id of the terminal.
pub const TIOCGSID: u64 = 0x5429;
/// Get the pty number.
pub const TIOCGPTN: u64 = 0x8004_5430;
/// Lock or unlock the pty.
pub const TIOCSPTLCK: u64 = 0x4004_5431;
/// Clear close-on-exec.
pub const FIONCLEX: u64 = 0x5450;
/// Set close-on-exec.
pub const FIOCLEX: u64 = 0x5451;
/// Set or clear `O_ASYNC`.
pub const FIOASYNC: u64 = 0x5452;

const IOCTL_REQUESTS: Table = table![
    TCGETS,
    TCSETS,
    TCSETSW,
    TCSETSF,
    (0x5405, "TCGETA"),
    (0x5406, "TCSETA"),
    (0x5407, "TCSETAW"),
    (0x5408, "TCSETAF"),
    (0x5409, "TCSBRK"),
    (0x540a, "TCXONC"),
    (0x540b, "TCFLSH"),
    (0x540c, "TIOCEXCL"),
    (0x540d, "TIOCNXCL"),
    TIOCSCTTY,
    TIOCGPGRP,
    TIOCSPGRP,
    (0x5411, "TIOCOUTQ"),
    (0x5412, "TIOCSTI"),
    TIOCGWINSZ,
    TIOCSWINSZ,
    (0x5415, "TIOCMGET"),
    (0x5416, "TIOCMBIS"),
    (0x5417, "TIOCMBIC"),
    (0x5418, "TIOCMSET"),
    FIONREAD,
    (0x541c, "TIOCLINUX"),
    (0x541d, "TIOCCONS"),
    (0x5420, "TIOCPKT"),
    FIONBIO,
    TIOCNOTTY,
    (0x5423, "TIOCSETD"),
    (0x5424, "TIOCGETD"),
    (0x5425, "TCSBRKP"),
    (0x5427, "TIOCSBRK"),
    (0x5428, "TIOCCBRK"),
    TIOCGSID,
    (0x802c_542a, "TCGETS2"),
    (0x402c_542b, "TCSETS2"),
    (0x402c_542c, "TCSETSW2"),
    (0x402c_542d, "TCSETSF2"),
    TIOCGPTN,
    TIOCSPTLCK,
    (0x8004_5432, "TIOCGDEV"),
    (0x4004_5436, "TIOCSIG"),
    (0x5437, "TIOCVHANGUP"),
    (0x8004_5438, "TIOCGPKT"),
    (0x8004_5439, "TIOCGPTLCK"),
    (0x8004_5440, "TIOCGEXCL"),
    (0x5441, "TIOCGPTPEER"),
    FIONCLEX,
    FIOCLEX,
    FIOASYNC,
    (0x5460, "FIOQSIZE"),
    (0x8901, "FIOSETOWN"),
    (0x8902, "SIOCSPGRP"),
    (0x8903, "FIOGETOWN"),
    (0x8904, "SIOCGPGRP"),
    (0x4004_9409, "FICLONE"),
    (0x4020_940d, "FICLONERANGE"),
    (0x8008_6601, "FS_IOC_GETFLAGS"),
    (0x4008_6602, "FS_IOC_SETFLAGS"),
    (0x8008_1272, "BLKGETSIZE64"),
];

/// An `ioctl` request: `TCGETS`, `TIOCGWINSZ`; unknown ones in hex. Only
/// the low 32 bits count, as the kernel reads an `unsigned int`.
pub fn ioctl_request(request: u64) -> String {
    one_of(request & 0xffff_ffff, IOCTL_REQUESTS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests() {
        assert_eq!(ioctl_request(0x5401), "TCGETS");
        assert_eq!(ioctl_request(0x5413), "TIOCGWINSZ");
        assert_eq!(ioctl_request(0x541b), "FIONREAD");
        assert_eq!(ioctl_request(FIOCLEX), "FIOCLEX");
        assert_eq!(ioctl_request(TIOCGPTN), "TIOCGPTN");
        assert_eq!(ioctl_request(0xffff_ffff_0000_5401), "TCGETS");
        assert_eq!(ioctl_request(0x1234), "0x1234");
    }
}
