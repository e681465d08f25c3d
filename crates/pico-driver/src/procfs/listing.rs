//! getdents64 on the directories whose entries are the guest's: `fd/`,
//! `fdinfo/` (one entry per guest descriptor) and `task/` (the one thread).
//!
//! The guest's descriptor is the host's own directory (`/proc/self/fd`,
//! ...), opened for real so that fstat, fchdir and lseek work; only the
//! entries are picorun's. The host directory's file position is the cursor,
//! with Linux's positions: 0 is `.`, 1 is `..`, `2 + n` is entry `n`, so
//! rewinddir, telldir and seekdir behave as on Linux, and the listing is
//! read live at each call like Linux's.

use pico_abi::Errno;

use super::Listing;
use crate::host::{self, HostArg};
use crate::sys::SysResult;
use crate::task::Task;

const DT_DIR: u8 = 4;
const DT_REG: u8 = 8;
const DT_LNK: u8 = 10;
const SEEK_SET: u64 = 0;
const SEEK_CUR: u64 = 1;
const AT_SYMLINK_NOFOLLOW: u64 = 0x100;
/// `struct linux_dirent64` up to `d_name`.
const DIRENT_HEAD: usize = 19;

/// getdents64(2) on a listing: guest entries from the cursor on, as many
/// as fit in `len` bytes at `addr`.
pub fn getdents64(t: &Task, fd: u64, kind: Listing, addr: u64, len: u64) -> SysResult {
    let dir = t.fds.host(fd)?;
    let seek = |offset: u64, whence: u64| {
        host::call(
            libc::SYS_lseek,
            &[HostArg::Fd(dir), offset.into(), whence.into()],
        )
    };
    let mut pos = seek(0, SEEK_CUR)?;
    // (guest name, the same entry's name in the host directory)
    let (entries, d_type): (Vec<(u64, String)>, u8) = match kind {
        Listing::Fds | Listing::FdInfo => (
            t.fds
                .numbers()
                .filter_map(|n| Some((n as u64, t.fds.host(n as u64).ok()?.to_string())))
                .collect(),
            if kind == Listing::Fds { DT_LNK } else { DT_REG },
        ),
        Listing::Tasks => (vec![(u64::from(t.pid), t.pid.to_string())], DT_DIR),
    };
    let mut out = Vec::new();
    loop {
        let (name, host_name, d_type, next) = match pos {
            0 => (".".to_owned(), ".", DT_DIR, 1),
            1 => ("..".to_owned(), "..", DT_DIR, 2),
            _ => match entries.iter().find(|(n, _)| n + 2 >= pos) {
                Some((n, host_name)) => (n.to_string(), host_name.as_str(), d_type, n + 3),
                None => break,
            },
        };
        let record = dirent(inode(dir, host_name), next, d_type, name.as_bytes());
        if (out.len() + record.len()) as u64 > len {
            if out.is_empty() {
                return Err(Errno::EINVAL);
            }
            break;
        }
        out.extend_from_slice(&record);
        pos = next;
    }
    t.write_bytes(addr, &out)?;
    seek(pos, SEEK_SET)?;
    Ok(out.len() as u64)
}

/// The inode number of `name` in the host directory `dir` (as lstat
/// reports it, so the two agree); 1 if it cannot be had.
fn inode(dir: i32, name: &str) -> u64 {
    let Ok(name) = std::ffi::CString::new(name) else {
        return 1;
    };
    let mut stat = [0u8; 144];
    let ok = host::call(
        libc::SYS_newfstatat,
        &[
            HostArg::Fd(dir),
            HostArg::Str(&name),
            HostArg::Local(stat.as_mut_ptr()),
            AT_SYMLINK_NOFOLLOW.into(),
        ],
    );
    // st_ino follows the 8-byte st_dev in x86-64's struct stat.
    match (
        ok,
        stat.get(8..16).and_then(|b| <[u8; 8]>::try_from(b).ok()),
    ) {
        (Ok(_), Some(ino)) => u64::from_le_bytes(ino),
        _ => 1,
    }
}

/// One `struct linux_dirent64`, padded to 8 bytes.
fn dirent(ino: u64, next: u64, d_type: u8, name: &[u8]) -> Vec<u8> {
    let reclen = (DIRENT_HEAD + name.len() + 1).next_multiple_of(8);
    let mut record = Vec::with_capacity(reclen);
    record.extend_from_slice(&ino.to_le_bytes());
    record.extend_from_slice(&next.to_le_bytes());
    record.extend_from_slice(&(reclen as u16).to_le_bytes());
    record.push(d_type);
    record.extend_from_slice(name);
    record.resize(reclen, 0);
    record
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dirent_layout_matches_linux() {
        let d = dirent(7, 5, DT_LNK, b"12");
        assert_eq!(d.len(), 24, "19 + 2 + NUL, rounded up to 8");
        assert_eq!(&d[0..8], &7u64.to_le_bytes());
        assert_eq!(&d[8..16], &5u64.to_le_bytes());
        assert_eq!(&d[16..18], &24u16.to_le_bytes());
        assert_eq!(d[18], DT_LNK);
        assert_eq!(&d[19..22], b"12\0");
        assert_eq!(dirent(1, 1, DT_DIR, b"12345").len(), 32);
    }
}
