//! Files and paths: `open`, `*at`, `access`, `lseek`, `fcntl`, `renameat2`,
//! `statx`.

use super::{append_bits, bits, one_of, Table};

/// `dirfd` meaning "relative to the current directory".
pub const AT_FDCWD: i64 = -100;

/// Mask of the access mode in open flags.
pub const O_ACCMODE: u64 = 0o3;
/// Open for reading only.
pub const O_RDONLY: u64 = 0o0;
/// Open for writing only.
pub const O_WRONLY: u64 = 0o1;
/// Open for reading and writing.
pub const O_RDWR: u64 = 0o2;
/// Create the file if it does not exist.
pub const O_CREAT: u64 = 0o100;
/// With `O_CREAT`: fail if the file exists.
pub const O_EXCL: u64 = 0o200;
/// Don't make a terminal the controlling terminal.
pub const O_NOCTTY: u64 = 0o400;
/// Truncate to length 0.
pub const O_TRUNC: u64 = 0o1000;
/// Every write appends.
pub const O_APPEND: u64 = 0o2000;
/// Non-blocking I/O.
pub const O_NONBLOCK: u64 = 0o4000;
/// Writes complete with data integrity.
pub const O_DSYNC: u64 = 0o10000;
/// Signal-driven I/O.
pub const O_ASYNC: u64 = 0o20000;
/// Same as [`O_ASYNC`]; the name strace prints.
pub const FASYNC: u64 = O_ASYNC;
/// Bypass the page cache.
pub const O_DIRECT: u64 = 0o40000;
/// Large file offsets (always on for 64-bit processes).
pub const O_LARGEFILE: u64 = 0o100000;
/// Fail unless the path is a directory.
pub const O_DIRECTORY: u64 = 0o200000;
/// Fail if the last component is a symlink.
pub const O_NOFOLLOW: u64 = 0o400000;
/// Don't update the access time.
pub const O_NOATIME: u64 = 0o1000000;
/// Close on `execve`.
pub const O_CLOEXEC: u64 = 0o2000000;
/// Writes complete with file integrity (includes `O_DSYNC`).
pub const O_SYNC: u64 = 0o4010000;
/// A path-only descriptor: no I/O, no permission check on the file.
pub const O_PATH: u64 = 0o10000000;
/// An unnamed temporary file in the given directory (includes
/// `O_DIRECTORY`).
pub const O_TMPFILE: u64 = 0o20200000;
/// Same as [`O_NONBLOCK`].
pub const O_NDELAY: u64 = O_NONBLOCK;

/// Open flags after the access mode, in strace's order (multi-bit
/// `O_SYNC` and `O_TMPFILE` before their parts).
const OPEN_FLAGS: Table = table![
    O_CREAT,
    O_EXCL,
    O_NOCTTY,
    O_TRUNC,
    O_APPEND,
    O_NONBLOCK,
    O_SYNC,
    O_DSYNC,
    (0o4000000, "__O_SYNC"),
    O_DIRECT,
    O_LARGEFILE,
    O_NOFOLLOW,
    O_NOATIME,
    O_CLOEXEC,
    O_PATH,
    O_TMPFILE,
    (0o20000000, "__O_TMPFILE"),
    O_DIRECTORY,
    FASYNC,
];

/// `open`/`openat` flags: `O_RDONLY|O_CLOEXEC`, `O_WRONLY|O_CREAT|O_TRUNC`.
pub fn open_flags(flags: u64) -> String {
    let mut out = match flags & O_ACCMODE {
        O_RDONLY => "O_RDONLY",
        O_WRONLY => "O_WRONLY",
        O_RDWR => "O_RDWR",
        _ => "O_ACCMODE",
    }
    .to_owned();
    append_bits(&mut out, flags & !O_ACCMODE, OPEN_FLAGS);
    out
}

/// A `dirfd` argument: `AT_FDCWD`, or the descriptor number. Only the low
/// 32 bits count, as the kernel reads an `int`.
pub fn dirfd(fd: i64) -> String {
    let fd = fd as i32;
    if i64::from(fd) == AT_FDCWD {
        "AT_FDCWD".to_owned()
    } else {
        fd.to_string()
    }
}

/// Don't follow a final symlink.
pub const AT_SYMLINK_NOFOLLOW: u64 = 0x100;
/// `unlinkat`: remove a directory.
pub const AT_REMOVEDIR: u64 = 0x200;
/// `faccessat`: check with the effective ids (same bit as
/// [`AT_REMOVEDIR`]).
pub const AT_EACCESS: u64 = 0x200;
/// `linkat`: follow a final symlink.
pub const AT_SYMLINK_FOLLOW: u64 = 0x400;
/// Don't trigger an automount.
pub const AT_NO_AUTOMOUNT: u64 = 0x800;
/// An empty path means `dirfd` itself.
pub const AT_EMPTY_PATH: u64 = 0x1000;
/// `statx`: mask of the sync type.
pub const AT_STATX_SYNC_TYPE: u64 = 0x6000;
/// `statx`: do what `stat` does (sync type 0).
pub const AT_STATX_SYNC_AS_STAT: u64 = 0x0000;
/// `statx`: force a sync with the server.
pub const AT_STATX_FORCE_SYNC: u64 = 0x2000;
/// `statx`: don't sync, use cached attributes.
pub const AT_STATX_DONT_SYNC: u64 = 0x4000;
/// Apply to the whole subtree (`open_tree`, `mount_setattr`).
pub const AT_RECURSIVE: u64 = 0x8000;

const AT_FLAGS: Table = table![
    AT_SYMLINK_NOFOLLOW,
    AT_REMOVEDIR,
    AT_SYMLINK_FOLLOW,
    AT_NO_AUTOMOUNT,
    AT_EMPTY_PATH,
    AT_STATX_FORCE_SYNC,
    AT_STATX_DONT_SYNC,
    AT_RECURSIVE,
];

/// Flags of the `*at` calls. `0x200` prints as `AT_REMOVEDIR`; use
/// [`faccessat_flags`] where it means `AT_EACCESS`.
pub fn at_flags(flags: u64) -> String {
    bits(flags, AT_FLAGS)
}

const FACCESSAT_FLAGS: Table = table![AT_SYMLINK_NOFOLLOW, AT_EACCESS, AT_EMPTY_PATH];

/// Flags of `faccessat2`.
pub fn faccessat_flags(flags: u64) -> String {
    bits(flags, FACCESSAT_FLAGS)
}

/// Flags of `statx`: the sync type first, as strace prints it
/// (`AT_STATX_SYNC_AS_STAT|AT_SYMLINK_NOFOLLOW`).
pub fn statx_flags(flags: u64) -> String {
    let mut out = match flags & AT_STATX_SYNC_TYPE {
        AT_STATX_SYNC_AS_STAT => "AT_STATX_SYNC_AS_STAT",
        AT_STATX_FORCE_SYNC => "AT_STATX_FORCE_SYNC",
        AT_STATX_DONT_SYNC => "AT_STATX_DONT_SYNC",
        _ => "AT_STATX_FORCE_SYNC|AT_STATX_DONT_SYNC",
    }
    .to_owned();
    append_bits(&mut out, flags & !AT_STATX_SYNC_TYPE, AT_FLAGS);
    out
}

/// A file mode in octal as strace prints it: `0644`, `0755`, `000`.
pub fn mode(mode: u64) -> String {
    format!("{:0>3}", format!("0{mode:o}"))
}

/// Mask of the file type bits of a mode.
pub const S_IFMT: u64 = 0o170000;
/// Socket.
pub const S_IFSOCK: u64 = 0o140000;
/// Symbolic link.
pub const S_IFLNK: u64 = 0o120000;
/// Regular file.
pub const S_IFREG: u64 = 0o100000;
/// Block device.
pub const S_IFBLK: u64 = 0o060000;
/// Directory.
pub const S_IFDIR: u64 = 0o040000;
/// Character device.
pub const S_IFCHR: u64 = 0o020000;
/// FIFO.
pub const S_IFIFO: u64 = 0o010000;

/// `access`: the file exists.
pub const F_OK: u64 = 0;
/// `access`: read permission.
pub const R_OK: u64 = 4;
/// `access`: write permission.
pub const W_OK: u64 = 2;
/// `access`: execute permission.
pub const X_OK: u64 = 1;

const ACCESS_MODES: Table = table![R_OK, W_OK, X_OK];

/// `access`/`faccessat` mode: `F_OK`, `R_OK|X_OK`.
pub fn access_mode(mode: u64) -> String {
    if mode == F_OK {
        "F_OK".to_owned()
    } else {
        bits(mode, ACCESS_MODES)
    }
}

/// `lseek`: from the start.
pub const SEEK_SET: u64 = 0;
/// `lseek`: from the current offset.
pub const SEEK_CUR: u64 = 1;
/// `lseek`: from the end.
pub const SEEK_END: u64 = 2;
/// `lseek`: to the next data at or after the offset.
pub const SEEK_DATA: u64 = 3;
/// `lseek`: to the next hole at or after the offset.
pub const SEEK_HOLE: u64 = 4;

/// `lseek` whence.
pub fn whence(whence: u64) -> String {
    one_of(
        whence,
        table![SEEK_SET, SEEK_CUR, SEEK_END, SEEK_DATA, SEEK_HOLE],
    )
}

/// `F_SETFD`/`F_GETFD` flag: close on exec.
pub const FD_CLOEXEC: u64 = 1;
/// Duplicate to the lowest free descriptor at or above the argument.
pub const F_DUPFD: u64 = 0;
/// Get descriptor flags.
pub const F_GETFD: u64 = 1;
/// Set descriptor flags.
pub const F_SETFD: u64 = 2;
/// Get file status flags.
pub const F_GETFL: u64 = 3;
/// Set file status flags.
pub const F_SETFL: u64 = 4;
/// Test a process-associated record lock.
pub const F_GETLK: u64 = 5;
/// Set a process-associated record lock.
pub const F_SETLK: u64 = 6;
/// Set a process-associated record lock, waiting.
pub const F_SETLKW: u64 = 7;
/// Set the `SIGIO` owner.
pub const F_SETOWN: u64 = 8;
/// Get the `SIGIO` owner.
pub const F_GETOWN: u64 = 9;
/// Set the signal sent for I/O readiness.
pub const F_SETSIG: u64 = 10;
/// Get the signal sent for I/O readiness.
pub const F_GETSIG: u64 = 11;
/// Set the owner as a thread, process or group.
pub const F_SETOWN_EX: u64 = 15;
/// Get the owner as a thread, process or group.
pub const F_GETOWN_EX: u64 = 16;
/// Test an open-file-description lock.
pub const F_OFD_GETLK: u64 = 36;
/// Set an open-file-description lock.
pub const F_OFD_SETLK: u64 = 37;
/// Set an open-file-description lock, waiting.
pub const F_OFD_SETLKW: u64 = 38;
/// Set a lease.
pub const F_SETLEASE: u64 = 1024;
/// Get the lease type.
pub const F_GETLEASE: u64 = 1025;
/// Request directory change notifications (dnotify).
pub const F_NOTIFY: u64 = 1026;
/// Whether two descriptors refer to the same open file.
pub const F_DUPFD_QUERY: u64 = 1027;
/// Whether the `open` that made this descriptor created the file.
pub const F_CREATED_QUERY: u64 = 1028;
/// Cancel a blocked lock request.
pub const F_CANCELLK: u64 = 1029;
/// [`F_DUPFD`] with close-on-exec set on the new descriptor.
pub const F_DUPFD_CLOEXEC: u64 = 1030;
/// Set a pipe's capacity.
pub const F_SETPIPE_SZ: u64 = 1031;
/// Get a pipe's capacity.
pub const F_GETPIPE_SZ: u64 = 1032;
/// Add memfd seals.
pub const F_ADD_SEALS: u64 = 1033;
/// Get memfd seals.
pub const F_GET_SEALS: u64 = 1034;
/// Get the inode's write lifetime hint.
pub const F_GET_RW_HINT: u64 = 1035;
/// Set the inode's write lifetime hint.
pub const F_SET_RW_HINT: u64 = 1036;
/// Get the open file's write lifetime hint.
pub const F_GET_FILE_RW_HINT: u64 = 1037;
/// Set the open file's write lifetime hint.
pub const F_SET_FILE_RW_HINT: u64 = 1038;

/// Seal: no more seals may be added.
pub const F_SEAL_SEAL: u64 = 0x1;
/// Seal: the file may not shrink.
pub const F_SEAL_SHRINK: u64 = 0x2;
/// Seal: the file may not grow.
pub const F_SEAL_GROW: u64 = 0x4;
/// Seal: the contents may not change.
pub const F_SEAL_WRITE: u64 = 0x8;
/// Seal: no new writable mappings or writes.
pub const F_SEAL_FUTURE_WRITE: u64 = 0x10;
/// Seal: the exec bits may not change.
pub const F_SEAL_EXEC: u64 = 0x20;

const FCNTL_CMDS: Table = table![
    F_DUPFD,
    F_GETFD,
    F_SETFD,
    F_GETFL,
    F_SETFL,
    F_GETLK,
    F_SETLK,
    F_SETLKW,
    F_SETOWN,
    F_GETOWN,
    F_SETSIG,
    F_GETSIG,
    F_SETOWN_EX,
    F_GETOWN_EX,
    (17, "F_GETOWNER_UIDS"),
    F_OFD_GETLK,
    F_OFD_SETLK,
    F_OFD_SETLKW,
    F_SETLEASE,
    F_GETLEASE,
    F_NOTIFY,
    F_DUPFD_QUERY,
    F_CREATED_QUERY,
    F_CANCELLK,
    F_DUPFD_CLOEXEC,
    F_SETPIPE_SZ,
    F_GETPIPE_SZ,
    F_ADD_SEALS,
    F_GET_SEALS,
    F_GET_RW_HINT,
    F_SET_RW_HINT,
    F_GET_FILE_RW_HINT,
    F_SET_FILE_RW_HINT,
];

/// `fcntl` command.
pub fn fcntl_cmd(cmd: u64) -> String {
    one_of(cmd, FCNTL_CMDS)
}

/// `renameat2`: fail if the target exists.
pub const RENAME_NOREPLACE: u64 = 1;
/// `renameat2`: swap the two paths atomically.
pub const RENAME_EXCHANGE: u64 = 2;
/// `renameat2`: leave a whiteout at the source (overlayfs).
pub const RENAME_WHITEOUT: u64 = 4;

/// `renameat2` flags.
pub fn renameat2_flags(flags: u64) -> String {
    bits(
        flags,
        table![RENAME_NOREPLACE, RENAME_EXCHANGE, RENAME_WHITEOUT],
    )
}

/// `statx` mask: file type.
pub const STATX_TYPE: u64 = 0x1;
/// `statx` mask: permission bits.
pub const STATX_MODE: u64 = 0x2;
/// `statx` mask: link count.
pub const STATX_NLINK: u64 = 0x4;
/// `statx` mask: owner.
pub const STATX_UID: u64 = 0x8;
/// `statx` mask: group.
pub const STATX_GID: u64 = 0x10;
/// `statx` mask: access time.
pub const STATX_ATIME: u64 = 0x20;
/// `statx` mask: modification time.
pub const STATX_MTIME: u64 = 0x40;
/// `statx` mask: change time.
pub const STATX_CTIME: u64 = 0x80;
/// `statx` mask: inode number.
pub const STATX_INO: u64 = 0x100;
/// `statx` mask: size.
pub const STATX_SIZE: u64 = 0x200;
/// `statx` mask: block count.
pub const STATX_BLOCKS: u64 = 0x400;
/// `statx` mask: everything `stat` returns.
pub const STATX_BASIC_STATS: u64 = 0x7ff;
/// `statx` mask: creation time.
pub const STATX_BTIME: u64 = 0x800;
/// `statx` mask: the old "everything" (basic stats and birth time).
pub const STATX_ALL: u64 = 0xfff;
/// `statx` mask: mount id.
pub const STATX_MNT_ID: u64 = 0x1000;
/// `statx` mask: direct I/O alignment.
pub const STATX_DIOALIGN: u64 = 0x2000;
/// `statx` mask: unique mount id.
pub const STATX_MNT_ID_UNIQUE: u64 = 0x4000;
/// `statx` mask: subvolume id.
pub const STATX_SUBVOL: u64 = 0x8000;
/// `statx` mask: atomic write limits.
pub const STATX_WRITE_ATOMIC: u64 = 0x10000;
/// `statx` mask: direct I/O read alignment.
pub const STATX_DIO_READ_ALIGN: u64 = 0x20000;

const STATX_MASK: Table = table![
    STATX_ALL,
    STATX_BASIC_STATS,
    STATX_TYPE,
    STATX_MODE,
    STATX_NLINK,
    STATX_UID,
    STATX_GID,
    STATX_ATIME,
    STATX_MTIME,
    STATX_CTIME,
    STATX_INO,
    STATX_SIZE,
    STATX_BLOCKS,
    STATX_BTIME,
    STATX_MNT_ID,
    STATX_DIOALIGN,
    STATX_MNT_ID_UNIQUE,
    STATX_SUBVOL,
    STATX_WRITE_ATOMIC,
    STATX_DIO_READ_ALIGN,
];

/// `statx` request mask: `STATX_BASIC_STATS|STATX_MNT_ID`.
pub fn statx_mask(mask: u64) -> String {
    bits(mask, STATX_MASK)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_flags_like_strace() {
        assert_eq!(open_flags(0o2000000), "O_RDONLY|O_CLOEXEC");
        assert_eq!(open_flags(0o1101), "O_WRONLY|O_CREAT|O_TRUNC");
        assert_eq!(open_flags(0x241), "O_WRONLY|O_CREAT|O_TRUNC");
        assert_eq!(open_flags(0), "O_RDONLY");
        assert_eq!(
            open_flags(O_RDWR | O_CREAT | O_EXCL),
            "O_RDWR|O_CREAT|O_EXCL"
        );
        assert_eq!(
            open_flags(O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_DIRECTORY),
            "O_RDONLY|O_NONBLOCK|O_CLOEXEC|O_DIRECTORY"
        );
        assert_eq!(open_flags(O_WRONLY | O_SYNC), "O_WRONLY|O_SYNC");
        assert_eq!(open_flags(O_WRONLY | O_DSYNC), "O_WRONLY|O_DSYNC");
        assert_eq!(
            open_flags(O_RDWR | O_TMPFILE | O_EXCL),
            "O_RDWR|O_EXCL|O_TMPFILE"
        );
        assert_eq!(open_flags(O_PATH | O_CLOEXEC), "O_RDONLY|O_CLOEXEC|O_PATH");
        assert_eq!(
            open_flags(O_PATH | O_DIRECTORY),
            "O_RDONLY|O_PATH|O_DIRECTORY"
        );
        assert_eq!(
            open_flags(O_DIRECTORY | O_ASYNC),
            "O_RDONLY|O_DIRECTORY|FASYNC"
        );
        assert_eq!(open_flags(0o4000000), "O_RDONLY|__O_SYNC");
        assert_eq!(
            open_flags(O_RDWR | O_NOCTTY | O_DSYNC | O_DIRECT | O_NOATIME | O_ASYNC),
            "O_RDWR|O_NOCTTY|O_DSYNC|O_DIRECT|O_NOATIME|FASYNC"
        );
        assert_eq!(
            open_flags(
                O_WRONLY
                    | O_CREAT
                    | O_TRUNC
                    | O_APPEND
                    | O_NONBLOCK
                    | O_SYNC
                    | O_NOFOLLOW
                    | O_CLOEXEC
            ),
            "O_WRONLY|O_CREAT|O_TRUNC|O_APPEND|O_NONBLOCK|O_SYNC|O_NOFOLLOW|O_CLOEXEC"
        );
        assert_eq!(open_flags(3), "O_ACCMODE");
        assert_eq!(open_flags(0x4000_0000), "O_RDONLY|0x40000000");
    }

    #[test]
    fn dirfd_values() {
        assert_eq!(dirfd(-100), "AT_FDCWD");
        assert_eq!(dirfd(0xffff_ff9c), "AT_FDCWD");
        assert_eq!(dirfd(3), "3");
        assert_eq!(dirfd(-1), "-1");
    }

    #[test]
    fn at_and_statx_flags() {
        assert_eq!(at_flags(0), "0");
        assert_eq!(at_flags(AT_SYMLINK_NOFOLLOW), "AT_SYMLINK_NOFOLLOW");
        assert_eq!(at_flags(0x1100), "AT_SYMLINK_NOFOLLOW|AT_EMPTY_PATH");
        assert_eq!(at_flags(AT_REMOVEDIR), "AT_REMOVEDIR");
        assert_eq!(faccessat_flags(AT_EACCESS), "AT_EACCESS");
        assert_eq!(statx_flags(0), "AT_STATX_SYNC_AS_STAT");
        assert_eq!(
            statx_flags(AT_SYMLINK_NOFOLLOW | AT_STATX_DONT_SYNC),
            "AT_STATX_DONT_SYNC|AT_SYMLINK_NOFOLLOW"
        );
        assert_eq!(statx_mask(STATX_BASIC_STATS), "STATX_BASIC_STATS");
        assert_eq!(statx_mask(0xfff), "STATX_ALL");
        assert_eq!(statx_mask(STATX_TYPE | STATX_SIZE), "STATX_TYPE|STATX_SIZE");
        assert_eq!(
            statx_mask(0x7ff | STATX_MNT_ID),
            "STATX_BASIC_STATS|STATX_MNT_ID"
        );
    }

    #[test]
    fn modes() {
        assert_eq!(mode(0o644), "0644");
        assert_eq!(mode(0o755), "0755");
        assert_eq!(mode(0o4755), "04755");
        assert_eq!(mode(0), "000");
        assert_eq!(mode(0o7), "007");
        assert_eq!(access_mode(0), "F_OK");
        assert_eq!(access_mode(R_OK | X_OK), "R_OK|X_OK");
        assert_eq!(access_mode(7), "R_OK|W_OK|X_OK");
    }

    #[test]
    fn enumerations() {
        assert_eq!(whence(0), "SEEK_SET");
        assert_eq!(whence(4), "SEEK_HOLE");
        assert_eq!(whence(9), "0x9");
        assert_eq!(fcntl_cmd(1030), "F_DUPFD_CLOEXEC");
        assert_eq!(fcntl_cmd(F_GETFL), "F_GETFL");
        assert_eq!(fcntl_cmd(F_OFD_SETLKW), "F_OFD_SETLKW");
        assert_eq!(fcntl_cmd(F_GET_SEALS), "F_GET_SEALS");
        assert_eq!(renameat2_flags(RENAME_NOREPLACE), "RENAME_NOREPLACE");
        assert_eq!(renameat2_flags(0), "0");
    }
}
