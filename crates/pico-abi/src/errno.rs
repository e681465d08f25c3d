//! Linux error numbers as a type.
//!
//! A syscall handler returns `Result<u64, Errno>`, and only the dispatcher
//! turns an `Errno` into the `-errno` value the guest sees in `rax`
//! ([`Errno::to_rax`]). Keeping the number in a newtype stops an errno from
//! being returned as a success value by accident.
//!
//! Names are the kernel's (`asm-generic/errno*.h`, which x86-64 uses
//! unchanged); descriptions are glibc's `strerror` text, so the tracer
//! prints the same `ENOENT (No such file or directory)` that strace does.
//!
//! `ERESTARTSYS`, `ERESTARTNOINTR`, `ERESTARTNOHAND` and
//! `ERESTART_RESTARTBLOCK` are kernel-internal: a handler interrupted by a
//! signal returns one, and the dispatcher resolves it against `SA_RESTART`
//! (restart the call, or fail it with `EINTR`). They are never written to
//! the guest's `rax`; [`Errno::is_restart`] tells them apart.

use std::fmt;
use std::io;

/// A Linux error number, `1..=4095`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
#[repr(transparent)]
pub struct Errno(u16);

/// The largest error number: a syscall result in `-4095..=-1` is an error,
/// anything else is a value (a large address returned by `mmap` included).
pub const MAX_ERRNO: u16 = 4095;

macro_rules! errnos {
    ($($name:ident = $num:literal, $desc:literal;)*) => {
        impl Errno {
            $(
                #[doc = concat!($desc, ".")]
                pub const $name: Errno = Errno($num);
            )*
        }

        /// `(name, description)` of a known error number.
        fn entry(raw: u16) -> Option<(&'static str, &'static str)> {
            match raw {
                $($num => Some((stringify!($name), $desc)),)*
                _ => None,
            }
        }

        /// Every named error number, for tests.
        #[cfg(test)]
        const ALL: &[Errno] = &[$(Errno($num)),*];
    };
}

errnos! {
    EPERM = 1, "Operation not permitted";
    ENOENT = 2, "No such file or directory";
    ESRCH = 3, "No such process";
    EINTR = 4, "Interrupted system call";
    EIO = 5, "Input/output error";
    ENXIO = 6, "No such device or address";
    E2BIG = 7, "Argument list too long";
    ENOEXEC = 8, "Exec format error";
    EBADF = 9, "Bad file descriptor";
    ECHILD = 10, "No child processes";
    EAGAIN = 11, "Resource temporarily unavailable";
    ENOMEM = 12, "Cannot allocate memory";
    EACCES = 13, "Permission denied";
    EFAULT = 14, "Bad address";
    ENOTBLK = 15, "Block device required";
    EBUSY = 16, "Device or resource busy";
    EEXIST = 17, "File exists";
    EXDEV = 18, "Invalid cross-device link";
    ENODEV = 19, "No such device";
    ENOTDIR = 20, "Not a directory";
    EISDIR = 21, "Is a directory";
    EINVAL = 22, "Invalid argument";
    ENFILE = 23, "Too many open files in system";
    EMFILE = 24, "Too many open files";
    ENOTTY = 25, "Inappropriate ioctl for device";
    ETXTBSY = 26, "Text file busy";
    EFBIG = 27, "File too large";
    ENOSPC = 28, "No space left on device";
    ESPIPE = 29, "Illegal seek";
    EROFS = 30, "Read-only file system";
    EMLINK = 31, "Too many links";
    EPIPE = 32, "Broken pipe";
    EDOM = 33, "Numerical argument out of domain";
    ERANGE = 34, "Numerical result out of range";
    EDEADLK = 35, "Resource deadlock avoided";
    ENAMETOOLONG = 36, "File name too long";
    ENOLCK = 37, "No locks available";
    ENOSYS = 38, "Function not implemented";
    ENOTEMPTY = 39, "Directory not empty";
    ELOOP = 40, "Too many levels of symbolic links";
    ENOMSG = 42, "No message of desired type";
    EIDRM = 43, "Identifier removed";
    ECHRNG = 44, "Channel number out of range";
    EL2NSYNC = 45, "Level 2 not synchronized";
    EL3HLT = 46, "Level 3 halted";
    EL3RST = 47, "Level 3 reset";
    ELNRNG = 48, "Link number out of range";
    EUNATCH = 49, "Protocol driver not attached";
    ENOCSI = 50, "No CSI structure available";
    EL2HLT = 51, "Level 2 halted";
    EBADE = 52, "Invalid exchange";
    EBADR = 53, "Invalid request descriptor";
    EXFULL = 54, "Exchange full";
    ENOANO = 55, "No anode";
    EBADRQC = 56, "Invalid request code";
    EBADSLT = 57, "Invalid slot";
    EBFONT = 59, "Bad font file format";
    ENOSTR = 60, "Device not a stream";
    ENODATA = 61, "No data available";
    ETIME = 62, "Timer expired";
    ENOSR = 63, "Out of streams resources";
    ENONET = 64, "Machine is not on the network";
    ENOPKG = 65, "Package not installed";
    EREMOTE = 66, "Object is remote";
    ENOLINK = 67, "Link has been severed";
    EADV = 68, "Advertise error";
    ESRMNT = 69, "Srmount error";
    ECOMM = 70, "Communication error on send";
    EPROTO = 71, "Protocol error";
    EMULTIHOP = 72, "Multihop attempted";
    EDOTDOT = 73, "RFS specific error";
    EBADMSG = 74, "Bad message";
    EOVERFLOW = 75, "Value too large for defined data type";
    ENOTUNIQ = 76, "Name not unique on network";
    EBADFD = 77, "File descriptor in bad state";
    EREMCHG = 78, "Remote address changed";
    ELIBACC = 79, "Can not access a needed shared library";
    ELIBBAD = 80, "Accessing a corrupted shared library";
    ELIBSCN = 81, ".lib section in a.out corrupted";
    ELIBMAX = 82, "Attempting to link in too many shared libraries";
    ELIBEXEC = 83, "Cannot exec a shared library directly";
    EILSEQ = 84, "Invalid or incomplete multibyte or wide character";
    ERESTART = 85, "Interrupted system call should be restarted";
    ESTRPIPE = 86, "Streams pipe error";
    EUSERS = 87, "Too many users";
    ENOTSOCK = 88, "Socket operation on non-socket";
    EDESTADDRREQ = 89, "Destination address required";
    EMSGSIZE = 90, "Message too long";
    EPROTOTYPE = 91, "Protocol wrong type for socket";
    ENOPROTOOPT = 92, "Protocol not available";
    EPROTONOSUPPORT = 93, "Protocol not supported";
    ESOCKTNOSUPPORT = 94, "Socket type not supported";
    EOPNOTSUPP = 95, "Operation not supported";
    EPFNOSUPPORT = 96, "Protocol family not supported";
    EAFNOSUPPORT = 97, "Address family not supported by protocol";
    EADDRINUSE = 98, "Address already in use";
    EADDRNOTAVAIL = 99, "Cannot assign requested address";
    ENETDOWN = 100, "Network is down";
    ENETUNREACH = 101, "Network is unreachable";
    ENETRESET = 102, "Network dropped connection on reset";
    ECONNABORTED = 103, "Software caused connection abort";
    ECONNRESET = 104, "Connection reset by peer";
    ENOBUFS = 105, "No buffer space available";
    EISCONN = 106, "Transport endpoint is already connected";
    ENOTCONN = 107, "Transport endpoint is not connected";
    ESHUTDOWN = 108, "Cannot send after transport endpoint shutdown";
    ETOOMANYREFS = 109, "Too many references: cannot splice";
    ETIMEDOUT = 110, "Connection timed out";
    ECONNREFUSED = 111, "Connection refused";
    EHOSTDOWN = 112, "Host is down";
    EHOSTUNREACH = 113, "No route to host";
    EALREADY = 114, "Operation already in progress";
    EINPROGRESS = 115, "Operation now in progress";
    ESTALE = 116, "Stale file handle";
    EUCLEAN = 117, "Structure needs cleaning";
    ENOTNAM = 118, "Not a XENIX named type file";
    ENAVAIL = 119, "No XENIX semaphores available";
    EISNAM = 120, "Is a named type file";
    EREMOTEIO = 121, "Remote I/O error";
    EDQUOT = 122, "Disk quota exceeded";
    ENOMEDIUM = 123, "No medium found";
    EMEDIUMTYPE = 124, "Wrong medium type";
    ECANCELED = 125, "Operation canceled";
    ENOKEY = 126, "Required key not available";
    EKEYEXPIRED = 127, "Key has expired";
    EKEYREVOKED = 128, "Key has been revoked";
    EKEYREJECTED = 129, "Key was rejected by service";
    EOWNERDEAD = 130, "Owner died";
    ENOTRECOVERABLE = 131, "State not recoverable";
    ERFKILL = 132, "Operation not possible due to RF-kill";
    EHWPOISON = 133, "Memory page has hardware error";
    // Kernel-internal restart codes. A handler interrupted by a signal
    // returns one of these; the dispatcher resolves it (restart the call or
    // turn it into EINTR, depending on SA_RESTART) before the guest resumes,
    // so they are never written to `rax`. Their descriptions are strace's,
    // as glibc has none.
    ERESTARTSYS = 512, "To be restarted if SA_RESTART is set";
    ERESTARTNOINTR = 513, "To be restarted";
    ERESTARTNOHAND = 514, "To be restarted if no handler";
    ERESTART_RESTARTBLOCK = 516, "Interrupted by signal";
}

impl Errno {
    /// Same as [`Errno::EAGAIN`].
    pub const EWOULDBLOCK: Errno = Errno::EAGAIN;
    /// Same as [`Errno::EDEADLK`].
    pub const EDEADLOCK: Errno = Errno::EDEADLK;
    /// Same as [`Errno::EOPNOTSUPP`] (glibc's spelling).
    pub const ENOTSUP: Errno = Errno::EOPNOTSUPP;

    /// Wraps a raw error number. Keep it in `1..=4095`: anything else
    /// would not read back as an error through [`Errno::from_rax`].
    pub const fn new(raw: u16) -> Errno {
        Errno(raw)
    }

    /// The positive error number.
    pub const fn raw(self) -> u16 {
        self.0
    }

    /// The value the guest sees in `rax`: `-errno` as an unsigned register.
    pub fn to_rax(self) -> u64 {
        (-i64::from(self.0)) as u64
    }

    /// Reads a syscall result register: `Some` exactly when it is in the
    /// kernel's error range `-4095..=-1`.
    pub fn from_rax(rax: u64) -> Option<Errno> {
        let value = rax as i64;
        if (-i64::from(MAX_ERRNO)..=-1).contains(&value) {
            Some(Errno((-value) as u16))
        } else {
            None
        }
    }

    /// True for the kernel-internal restart codes, which must be resolved
    /// before a result reaches the guest.
    pub fn is_restart(self) -> bool {
        matches!(self.0, 512 | 513 | 514 | 516)
    }

    /// The symbolic name, such as `"ENOENT"`; `"E?"` when unknown.
    pub fn name(self) -> &'static str {
        entry(self.0).map_or("E?", |(name, _)| name)
    }

    /// glibc's `strerror` text, such as `"No such file or directory"`;
    /// `"Unknown error"` when unknown.
    pub fn description(self) -> &'static str {
        entry(self.0).map_or("Unknown error", |(_, desc)| desc)
    }

    /// Converts a host `errno` value. Values outside `1..=4095` cannot be
    /// an error number and become `EIO`, so a confused host error still
    /// reaches the guest as a failure.
    pub fn from_raw_os_error(raw: i32) -> Errno {
        match u16::try_from(raw) {
            Ok(n) if (1..=MAX_ERRNO).contains(&n) => Errno(n),
            _ => Errno::EIO,
        }
    }

    /// The calling thread's current host `errno`.
    pub fn last_os_error() -> Errno {
        Errno::from(io::Error::last_os_error())
    }
}

impl From<io::Error> for Errno {
    /// The host error's `errno`, or `EIO` for errors that carry none.
    fn from(err: io::Error) -> Errno {
        err.raw_os_error()
            .map_or(Errno::EIO, Errno::from_raw_os_error)
    }
}

impl fmt::Display for Errno {
    /// strace style: `ENOENT (No such file or directory)`. An unknown
    /// number keeps its value visible: `E? (Unknown error 300)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match entry(self.0) {
            Some((name, desc)) => write!(f, "{name} ({desc})"),
            None => write!(f, "E? (Unknown error {})", self.0),
        }
    }
}

impl std::error::Error for Errno {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rax_boundary() {
        assert_eq!(Errno::from_rax(-1i64 as u64), Some(Errno::EPERM));
        assert_eq!(Errno::from_rax(-4095i64 as u64), Some(Errno::new(4095)));
        assert_eq!(Errno::from_rax(-4096i64 as u64), None);
        assert_eq!(Errno::from_rax(0), None);
        assert_eq!(Errno::from_rax(4095), None);
        assert_eq!(Errno::from_rax(i64::MIN as u64), None);
        // A high mmap address is a value, not an error.
        assert_eq!(Errno::from_rax(0xffff_ffff_ffff_e000), None);
    }

    #[test]
    fn rax_round_trip() {
        assert_eq!(Errno::ENOENT.to_rax(), 0xffff_ffff_ffff_fffe);
        assert_eq!(Errno::ENOSYS.to_rax() as i64, -38);
        for &e in ALL {
            assert_eq!(Errno::from_rax(e.to_rax()), Some(e));
        }
    }

    #[test]
    fn x86_64_values() {
        assert_eq!(Errno::EPERM.raw(), 1);
        assert_eq!(Errno::EAGAIN.raw(), 11);
        assert_eq!(Errno::EFAULT.raw(), 14);
        assert_eq!(Errno::ENOSYS.raw(), 38);
        assert_eq!(Errno::ELOOP.raw(), 40);
        assert_eq!(Errno::EOPNOTSUPP.raw(), 95);
        assert_eq!(Errno::ETIMEDOUT.raw(), 110);
        assert_eq!(Errno::EHWPOISON.raw(), 133);
        assert_eq!(Errno::EWOULDBLOCK, Errno::EAGAIN);
        assert_eq!(Errno::ENOTSUP.raw(), 95);
        assert_eq!(Errno::ERESTARTSYS.raw(), 512);
        assert_eq!(Errno::ERESTART_RESTARTBLOCK.raw(), 516);
    }

    #[test]
    fn names_and_descriptions() {
        assert_eq!(Errno::ENOENT.name(), "ENOENT");
        assert_eq!(Errno::ENOENT.description(), "No such file or directory");
        assert_eq!(Errno::EPERM.description(), "Operation not permitted");
        assert_eq!(Errno::ENOSYS.description(), "Function not implemented");
        assert_eq!(Errno::EAGAIN.name(), "EAGAIN");
        assert_eq!(
            Errno::EAGAIN.description(),
            "Resource temporarily unavailable"
        );
        assert_eq!(Errno::EDEADLOCK.name(), "EDEADLK");
        assert_eq!(
            Errno::EHWPOISON.description(),
            "Memory page has hardware error"
        );
        assert_eq!(Errno::new(41).name(), "E?");
        assert_eq!(Errno::new(41).description(), "Unknown error");
        assert_eq!(Errno::ERESTARTSYS.name(), "ERESTARTSYS");
    }

    #[test]
    fn every_errno_from_1_to_133_except_gaps_is_named() {
        for raw in 1..=133u16 {
            let named = Errno::new(raw).name() != "E?";
            assert_eq!(named, raw != 41 && raw != 58, "errno {raw}");
        }
    }

    #[test]
    fn display_is_strace_style() {
        assert_eq!(
            Errno::ENOENT.to_string(),
            "ENOENT (No such file or directory)"
        );
        assert_eq!(Errno::EBADF.to_string(), "EBADF (Bad file descriptor)");
        assert_eq!(Errno::new(300).to_string(), "E? (Unknown error 300)");
    }

    #[test]
    fn restart_codes() {
        assert!(Errno::ERESTARTSYS.is_restart());
        assert!(Errno::ERESTARTNOINTR.is_restart());
        assert!(Errno::ERESTARTNOHAND.is_restart());
        assert!(Errno::ERESTART_RESTARTBLOCK.is_restart());
        assert!(!Errno::EINTR.is_restart());
        assert!(!Errno::new(515).is_restart());
    }

    #[test]
    fn from_host_errors() {
        assert_eq!(Errno::from(io::Error::from_raw_os_error(2)), Errno::ENOENT);
        assert_eq!(Errno::from(io::Error::other("no errno")), Errno::EIO);
        assert_eq!(Errno::from_raw_os_error(13), Errno::EACCES);
        assert_eq!(Errno::from_raw_os_error(0), Errno::EIO);
        assert_eq!(Errno::from_raw_os_error(-2), Errno::EIO);
        assert_eq!(Errno::from_raw_os_error(70000), Errno::EIO);
    }

    #[test]
    fn last_os_error_reads_the_host_errno() {
        // A failed open leaves ENOENT in the thread's errno; nothing between
        // the call and the read touches it.
        let opened = std::fs::File::open("/nonexistent/pico-abi-test");
        let errno = Errno::last_os_error();
        assert!(opened.is_err());
        assert_eq!(errno, Errno::ENOENT);
        assert_eq!(opened.map_err(Errno::from).err(), Some(Errno::ENOENT));
    }
}
