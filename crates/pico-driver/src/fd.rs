//! The guest's descriptor table: guest fd numbers to host descriptors.
//! picorun's own descriptors (kvm, vm, vcpu) are never in it, so the guest
//! can neither see nor close them.

use std::os::fd::{AsRawFd, OwnedFd, RawFd};

use pico_abi::Errno;

use crate::procfs::Origin;

#[derive(Debug)]
pub struct FdEntry {
    pub file: OwnedFd,
    /// FD_CLOEXEC as the guest set it (host descriptors are always
    /// close-on-exec on the host side: picorun never execs a guest program
    /// directly).
    pub cloexec: bool,
    /// Set when the descriptor was opened on a path [`crate::procfs`]
    /// serves: what the host descriptor alone cannot tell.
    pub origin: Option<Origin>,
}

impl FdEntry {
    /// A descriptor opened on an ordinary path.
    pub fn new(file: OwnedFd, cloexec: bool) -> FdEntry {
        FdEntry {
            file,
            cloexec,
            origin: None,
        }
    }

    /// A duplicate (dup, dup2, F_DUPFD): the same open file, its own flag.
    pub fn dup(&self, cloexec: bool) -> Result<FdEntry, Errno> {
        Ok(FdEntry {
            file: dup_host(self.file.as_raw_fd())?,
            cloexec,
            origin: self.origin.clone(),
        })
    }
}

#[derive(Debug, Default)]
pub struct FdTable {
    entries: Vec<Option<FdEntry>>,
}

/// Duplicates a host descriptor, close-on-exec on the host.
pub fn dup_host(fd: RawFd) -> Result<OwnedFd, Errno> {
    // F_DUPFD_CLOEXEC with a floor above the standard descriptors, so host
    // fds 0-2 stay picorun's own.
    let new = crate::host::call(
        libc::SYS_fcntl,
        &[
            crate::host::HostArg::Fd(fd),
            (libc::F_DUPFD_CLOEXEC as u64).into(),
            3u64.into(),
        ],
    )?;
    Ok(crate::host::own_fd(new))
}

impl FdTable {
    /// A table with the host's standard descriptors as guest 0, 1 and 2
    /// (those the host has open).
    pub fn with_stdio() -> FdTable {
        let mut t = FdTable::default();
        for fd in 0..3 {
            if let Ok(file) = dup_host(fd) {
                // Lowest free slot is `fd` itself while 0..fd are filled.
                let _ = t.insert_at(fd as usize, FdEntry::new(file, false));
            } else {
                t.entries.push(None);
            }
        }
        t
    }

    /// The host descriptor behind guest `fd`, or `EBADF`.
    pub fn host(&self, fd: u64) -> Result<RawFd, Errno> {
        self.get(fd).map(|e| e.file.as_raw_fd())
    }

    pub fn get(&self, fd: u64) -> Result<&FdEntry, Errno> {
        let i = usize::try_from(fd as i32).map_err(|_| Errno::EBADF)?;
        self.entries
            .get(i)
            .and_then(Option::as_ref)
            .ok_or(Errno::EBADF)
    }

    pub fn get_mut(&mut self, fd: u64) -> Result<&mut FdEntry, Errno> {
        let i = usize::try_from(fd as i32).map_err(|_| Errno::EBADF)?;
        self.entries
            .get_mut(i)
            .and_then(Option::as_mut)
            .ok_or(Errno::EBADF)
    }

    /// Installs `entry` at the lowest free number `>= min`, below `limit`.
    pub fn insert_from(&mut self, min: usize, limit: usize, entry: FdEntry) -> Result<u64, Errno> {
        let free = (min..limit)
            .find(|&i| self.entries.get(i).is_none_or(Option::is_none))
            .ok_or(Errno::EMFILE)?;
        self.insert_at(free, entry)?;
        Ok(free as u64)
    }

    /// Installs `entry` at `fd`, closing what was there (dup2 semantics).
    pub fn insert_at(&mut self, fd: usize, entry: FdEntry) -> Result<(), Errno> {
        if self.entries.len() <= fd {
            self.entries.resize_with(fd + 1, || None);
        }
        self.entries[fd] = Some(entry);
        Ok(())
    }

    /// Removes guest `fd`; the host descriptor closes when dropped.
    pub fn remove(&mut self, fd: u64) -> Result<FdEntry, Errno> {
        let i = usize::try_from(fd as i32).map_err(|_| Errno::EBADF)?;
        self.entries
            .get_mut(i)
            .and_then(Option::take)
            .ok_or(Errno::EBADF)
    }

    /// Guest fds in use, ascending.
    pub fn numbers(&self) -> impl Iterator<Item = usize> + '_ {
        self.entries
            .iter()
            .enumerate()
            .filter(|(_, e)| e.is_some())
            .map(|(i, _)| i)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn devnull() -> FdEntry {
        let f = std::fs::File::open("/dev/null").unwrap();
        FdEntry::new(f.into(), false)
    }

    #[test]
    fn lowest_free_number_is_used() {
        let mut t = FdTable::default();
        assert_eq!(t.insert_from(0, 1024, devnull()).unwrap(), 0);
        assert_eq!(t.insert_from(0, 1024, devnull()).unwrap(), 1);
        t.remove(0).unwrap();
        assert_eq!(t.insert_from(0, 1024, devnull()).unwrap(), 0);
        assert_eq!(t.insert_from(10, 1024, devnull()).unwrap(), 10);
        assert_eq!(t.numbers().collect::<Vec<_>>(), vec![0, 1, 10]);
    }

    #[test]
    fn bad_numbers_are_ebadf() {
        let mut t = FdTable::default();
        assert_eq!(t.host(0), Err(Errno::EBADF));
        assert_eq!(t.host(u64::MAX), Err(Errno::EBADF), "-1");
        assert_eq!(t.host(1 << 40), Err(Errno::EBADF));
        assert!(t.remove(5).is_err());
        t.insert_at(3, devnull()).unwrap();
        assert!(t.host(3).is_ok());
    }

    #[test]
    fn limit_gives_emfile() {
        let mut t = FdTable::default();
        t.insert_from(0, 1, devnull()).unwrap();
        assert_eq!(t.insert_from(0, 1, devnull()).unwrap_err(), Errno::EMFILE);
    }
}
