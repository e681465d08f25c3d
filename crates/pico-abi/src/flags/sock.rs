//! Sockets as the tracer prints them: address families, socket types,
//! `MSG_*` flags, `shutdown` modes and option levels. Every one of these
//! arguments is an `int`, so only the low 32 bits count.

use super::{append_bits, bits, one_of, Table};

/// Local (Unix-domain) sockets.
pub const AF_UNIX: u64 = 1;
/// IPv4.
pub const AF_INET: u64 = 2;
/// IPv6.
pub const AF_INET6: u64 = 10;
/// Kernel/user-space messaging.
pub const AF_NETLINK: u64 = 16;
/// Raw link-level packets.
pub const AF_PACKET: u64 = 17;

const FAMILIES: Table = table![
    (0, "AF_UNSPEC"),
    AF_UNIX,
    AF_INET,
    AF_INET6,
    AF_NETLINK,
    AF_PACKET,
    (30, "AF_TIPC"),
    (31, "AF_BLUETOOTH"),
    (38, "AF_ALG"),
    (40, "AF_VSOCK"),
];

/// An address family: `AF_UNIX`.
pub fn socket_family(family: u64) -> String {
    one_of(family & 0xffff_ffff, FAMILIES)
}

/// Reliable byte stream.
pub const SOCK_STREAM: u64 = 1;
/// Datagrams.
pub const SOCK_DGRAM: u64 = 2;
/// Records with boundaries over a connection.
pub const SOCK_SEQPACKET: u64 = 5;
/// Mask of the type proper in `socket`'s type argument.
pub const SOCK_TYPE_MASK: u64 = 0xf;
/// Non-blocking descriptor (same bit as `O_NONBLOCK`).
pub const SOCK_NONBLOCK: u64 = 0o4000;
/// Close-on-exec descriptor (same bit as `O_CLOEXEC`).
pub const SOCK_CLOEXEC: u64 = 0o2000000;

const TYPES: Table = table![
    SOCK_STREAM,
    SOCK_DGRAM,
    (3, "SOCK_RAW"),
    (4, "SOCK_RDM"),
    SOCK_SEQPACKET,
    (6, "SOCK_DCCP"),
    (10, "SOCK_PACKET"),
];

/// A socket type with its flags: `SOCK_STREAM|SOCK_CLOEXEC`.
pub fn socket_type(ty: u64) -> String {
    let ty = ty & 0xffff_ffff;
    let mut out = one_of(ty & SOCK_TYPE_MASK, TYPES);
    append_bits(
        &mut out,
        ty & !SOCK_TYPE_MASK,
        table![SOCK_CLOEXEC, SOCK_NONBLOCK],
    );
    out
}

/// Out-of-band data.
pub const MSG_OOB: u64 = 0x1;
/// Receive without removing the data.
pub const MSG_PEEK: u64 = 0x2;
/// Control data was cut short.
pub const MSG_CTRUNC: u64 = 0x8;
/// The datagram was cut short (or: report its real length).
pub const MSG_TRUNC: u64 = 0x20;
/// Don't block for this call.
pub const MSG_DONTWAIT: u64 = 0x40;
/// End of record.
pub const MSG_EOR: u64 = 0x80;
/// Wait for the whole buffer.
pub const MSG_WAITALL: u64 = 0x100;
/// Receive from the error queue.
pub const MSG_ERRQUEUE: u64 = 0x2000;
/// Don't raise SIGPIPE with EPIPE.
pub const MSG_NOSIGNAL: u64 = 0x4000;
/// More data follows.
pub const MSG_MORE: u64 = 0x8000;
/// Received descriptors are close-on-exec.
pub const MSG_CMSG_CLOEXEC: u64 = 0x4000_0000;

const MSG_FLAGS: Table = table![
    MSG_OOB,
    MSG_PEEK,
    (0x4, "MSG_DONTROUTE"),
    MSG_CTRUNC,
    (0x10, "MSG_PROBE"),
    MSG_TRUNC,
    MSG_DONTWAIT,
    MSG_EOR,
    MSG_WAITALL,
    (0x200, "MSG_FIN"),
    (0x400, "MSG_SYN"),
    (0x800, "MSG_CONFIRM"),
    (0x1000, "MSG_RST"),
    MSG_ERRQUEUE,
    MSG_NOSIGNAL,
    MSG_MORE,
    (0x10000, "MSG_WAITFORONE"),
    (0x40000, "MSG_BATCH"),
    (0x400_0000, "MSG_ZEROCOPY"),
    (0x2000_0000, "MSG_FASTOPEN"),
    MSG_CMSG_CLOEXEC,
];

/// Flags of the send and receive calls: `MSG_PEEK|MSG_DONTWAIT`.
pub fn msg_flags(flags: u64) -> String {
    bits(flags & 0xffff_ffff, MSG_FLAGS)
}

/// `shutdown` modes.
pub fn shutdown_how(how: u64) -> String {
    one_of(
        how & 0xffff_ffff,
        table![(0, "SHUT_RD"), (1, "SHUT_WR"), (2, "SHUT_RDWR")],
    )
}

/// Socket-level options.
pub const SOL_SOCKET: u64 = 1;

/// A socket option level: `SOL_SOCKET`, `SOL_TCP`.
pub fn sockopt_level(level: u64) -> String {
    one_of(
        level & 0xffff_ffff,
        table![
            (0, "SOL_IP"),
            SOL_SOCKET,
            (6, "SOL_TCP"),
            (17, "SOL_UDP"),
            (41, "SOL_IPV6"),
            (255, "SOL_RAW"),
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_strace() {
        assert_eq!(socket_family(1), "AF_UNIX");
        assert_eq!(socket_family(0xffff_ffff_0000_0002), "AF_INET");
        assert_eq!(socket_family(99), "0x63");
        assert_eq!(socket_type(SOCK_STREAM), "SOCK_STREAM");
        assert_eq!(
            socket_type(SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC),
            "SOCK_DGRAM|SOCK_CLOEXEC|SOCK_NONBLOCK"
        );
        assert_eq!(socket_type(9 | 0x100), "0x9|0x100");
        assert_eq!(msg_flags(0), "0");
        assert_eq!(msg_flags(MSG_PEEK | MSG_DONTWAIT), "MSG_PEEK|MSG_DONTWAIT");
        assert_eq!(
            msg_flags(MSG_NOSIGNAL | 0x100_0000),
            "MSG_NOSIGNAL|0x1000000"
        );
        assert_eq!(shutdown_how(1), "SHUT_WR");
        assert_eq!(shutdown_how(7), "0x7");
        assert_eq!(sockopt_level(1), "SOL_SOCKET");
        assert_eq!(sockopt_level(6), "SOL_TCP");
    }
}
