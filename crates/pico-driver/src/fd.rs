//! The guest's descriptor table: guest fd numbers to host descriptors,
//! shared by the threads of a process. picorun's own descriptors (kvm, vm,
//! vcpu) are never in it, so the guest can neither see nor close them.

use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::sync::{Arc, Mutex, MutexGuard};

use pico_abi::Errno;

use crate::procfs::Origin;

/// A descriptor to install.
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
}

/// A guest descriptor as it is now (a snapshot: the table may change).
#[derive(Debug, Clone)]
pub struct FdView {
    /// Shared so a call in progress keeps the file open if another thread
    /// closes the guest fd meanwhile (as Linux's file references do).
    pub file: Arc<OwnedFd>,
    pub cloexec: bool,
    pub origin: Option<Origin>,
}

impl FdView {
    /// A duplicate (dup, dup2, F_DUPFD): the same open file, its own flag.
    pub fn dup(&self, cloexec: bool) -> Result<FdEntry, Errno> {
        Ok(FdEntry {
            file: dup_host(self.file.as_raw_fd())?,
            cloexec,
            origin: self.origin.clone(),
        })
    }
}

type Slot = FdView;

#[derive(Debug, Default)]
struct Table {
    slots: Vec<Option<Slot>>,
}

/// The table, behind a lock each method takes briefly (never across a
/// blocking host call).
#[derive(Debug, Default, Clone)]
pub struct FdTable {
    table: Arc<Mutex<Table>>,
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

/// Whether host descriptor `fd` is open and not close-on-exec.
fn survives_exec(fd: RawFd) -> bool {
    crate::host::call(
        libc::SYS_fcntl,
        &[crate::host::HostArg::Fd(fd), (libc::F_GETFD as u64).into()],
    )
    .is_ok_and(|flags| flags & libc::FD_CLOEXEC as u64 == 0)
}

fn index(fd: u64) -> Result<usize, Errno> {
    usize::try_from(fd as i32).map_err(|_| Errno::EBADF)
}

impl FdTable {
    /// A table with the host's standard descriptors as guest 0, 1 and 2
    /// (those the host has open).
    pub fn with_stdio() -> FdTable {
        let t = FdTable::default();
        for fd in 0..3 {
            if let Ok(file) = dup_host(fd) {
                let _ = t.insert_at(fd as usize, FdEntry::new(file, false));
            }
        }
        t
    }

    /// Every descriptor picorun inherited, under the same numbers, as a
    /// native program inherits them across exec (so not those marked
    /// close-on-exec: in a pico process forked from a program embedding
    /// picorun, they are that program's own). Must run before picorun
    /// opens any descriptor of its own. Afterwards picorun no longer holds
    /// the originals (its stdin and stdout become /dev/null, its stderr
    /// stays for its own messages), so a guest that closes one really
    /// closes it: a reader sees EOF, a writer EPIPE, as natively.
    pub fn inherited() -> FdTable {
        let t = FdTable::default();
        // The directory's own descriptor is in the listing: it is closed
        // again once read, so only numbers still open count. They are all
        // known before any duplicate is made, so a duplicate can never be
        // taken for an inherited descriptor.
        let listed: Vec<RawFd> = std::fs::read_dir("/proc/self/fd")
            .map(|dir| {
                dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
                    .collect()
            })
            .unwrap_or_else(|_| vec![0, 1, 2]);
        let numbers: Vec<RawFd> = listed.into_iter().filter(|&fd| survives_exec(fd)).collect();
        for fd in numbers {
            if let Ok(file) = dup_host(fd) {
                let _ = t.insert_at(fd as usize, FdEntry::new(file, false));
                crate::host::release_inherited(fd);
            }
        }
        t
    }

    fn lock(&self) -> MutexGuard<'_, Table> {
        self.table
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// An independent copy (a forked child's table).
    pub fn deep_copy(&self) -> FdTable {
        let slots = self.lock().slots.clone();
        FdTable {
            table: Arc::new(Mutex::new(Table { slots })),
        }
    }

    /// In a forked child, after switching to its [`deep_copy`]: lets go of
    /// the parent's table. Host threads of the parent (its other guest
    /// threads, an exitless server) do not exist in the child but their
    /// references to this table were copied, so without this its entries
    /// would hold the child's host descriptors open (a pipe would never see
    /// EOF). Skipped if a vanished thread held the lock at the fork.
    ///
    /// [`deep_copy`]: FdTable::deep_copy
    pub fn release_in_child(&self) {
        if let Ok(mut table) = self.table.try_lock() {
            table.slots.clear();
        }
    }

    /// Guest `fd` as it is now, or `EBADF`.
    pub fn get(&self, fd: u64) -> Result<FdView, Errno> {
        let i = index(fd)?;
        self.lock()
            .slots
            .get(i)
            .cloned()
            .flatten()
            .ok_or(Errno::EBADF)
    }

    fn slot(&self, fd: u64) -> Result<Slot, Errno> {
        self.get(fd)
    }

    /// Whether `other` is this very table (shared, not a copy).
    pub fn same_as(&self, other: &FdTable) -> bool {
        Arc::ptr_eq(&self.table, &other.table)
    }

    /// The host descriptor behind guest `fd`, or `EBADF`.
    pub fn host(&self, fd: u64) -> Result<RawFd, Errno> {
        // Read in place: every read and write asks, and a copy of the slot
        // would cost an Arc count up and down for a number.
        let i = index(fd)?;
        self.lock()
            .slots
            .get(i)
            .and_then(Option::as_ref)
            .map(|s| s.file.as_raw_fd())
            .ok_or(Errno::EBADF)
    }

    /// The host file behind guest `fd`, kept open while the caller holds it.
    pub fn file(&self, fd: u64) -> Result<Arc<OwnedFd>, Errno> {
        self.slot(fd).map(|s| s.file)
    }

    pub fn cloexec(&self, fd: u64) -> Result<bool, Errno> {
        self.slot(fd).map(|s| s.cloexec)
    }

    pub fn set_cloexec(&self, fd: u64, cloexec: bool) -> Result<(), Errno> {
        let i = index(fd)?;
        let mut t = self.lock();
        let slot = t
            .slots
            .get_mut(i)
            .and_then(Option::as_mut)
            .ok_or(Errno::EBADF)?;
        slot.cloexec = cloexec;
        Ok(())
    }

    /// Installs `entry` at the lowest free number `>= min`, below `limit`.
    pub fn insert_from(&self, min: usize, limit: usize, entry: FdEntry) -> Result<u64, Errno> {
        let mut t = self.lock();
        let free = (min..limit)
            .find(|&i| t.slots.get(i).is_none_or(Option::is_none))
            .ok_or(Errno::EMFILE)?;
        t.put(free, entry);
        Ok(free as u64)
    }

    /// Installs `entry` at `fd`, closing what was there (dup2 semantics).
    pub fn insert_at(&self, fd: usize, entry: FdEntry) -> Result<(), Errno> {
        self.lock().put(fd, entry);
        Ok(())
    }

    /// Removes guest `fd`; the host descriptor closes when its last user
    /// drops it.
    pub fn remove(&self, fd: u64) -> Result<(), Errno> {
        let i = index(fd)?;
        let old = self.lock().slots.get_mut(i).and_then(Option::take);
        old.map(drop).ok_or(Errno::EBADF)
    }

    /// Closes every close-on-exec descriptor (execve).
    pub fn close_on_exec(&self) {
        let mut t = self.lock();
        for slot in &mut t.slots {
            if slot.as_ref().is_some_and(|s| s.cloexec) {
                *slot = None;
            }
        }
    }

    /// close_range(2) on the table: closes the descriptors numbered
    /// `first..=last`, or only marks them close-on-exec if `cloexec`, in
    /// one step other threads cannot interleave with. The host
    /// descriptors close after the lock is released.
    pub fn close_range(&self, first: usize, last: usize, cloexec: bool) {
        let mut closed = Vec::new();
        {
            let mut t = self.lock();
            let end = t.slots.len().min(last.saturating_add(1));
            for slot in t.slots.iter_mut().take(end).skip(first) {
                if cloexec {
                    if let Some(s) = slot.as_mut() {
                        s.cloexec = true;
                    }
                } else if let Some(s) = slot.take() {
                    closed.push(s);
                }
            }
        }
        drop(closed);
    }

    /// Guest fds in use, ascending (a snapshot).
    pub fn numbers(&self) -> std::vec::IntoIter<usize> {
        self.lock()
            .slots
            .iter()
            .enumerate()
            .filter(|(_, s)| s.is_some())
            .map(|(i, _)| i)
            .collect::<Vec<_>>()
            .into_iter()
    }
}

impl Table {
    fn put(&mut self, fd: usize, entry: FdEntry) {
        if self.slots.len() <= fd {
            self.slots.resize_with(fd + 1, || None);
        }
        self.slots[fd] = Some(Slot {
            file: Arc::new(entry.file),
            cloexec: entry.cloexec,
            origin: entry.origin,
        });
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
        let t = FdTable::default();
        assert_eq!(t.insert_from(0, 1024, devnull()).unwrap(), 0);
        assert_eq!(t.insert_from(0, 1024, devnull()).unwrap(), 1);
        t.remove(0).unwrap();
        assert_eq!(t.insert_from(0, 1024, devnull()).unwrap(), 0);
        assert_eq!(t.insert_from(10, 1024, devnull()).unwrap(), 10);
        assert_eq!(t.numbers().collect::<Vec<_>>(), vec![0, 1, 10]);
    }

    #[test]
    fn bad_numbers_are_ebadf() {
        let t = FdTable::default();
        assert_eq!(t.host(0), Err(Errno::EBADF));
        assert_eq!(t.host(u64::MAX), Err(Errno::EBADF), "-1");
        assert_eq!(t.host(1 << 40), Err(Errno::EBADF));
        assert!(t.remove(5).is_err());
        t.insert_at(3, devnull()).unwrap();
        assert!(t.host(3).is_ok());
    }

    #[test]
    fn limit_gives_emfile() {
        let t = FdTable::default();
        t.insert_from(0, 1, devnull()).unwrap();
        assert_eq!(t.insert_from(0, 1, devnull()).unwrap_err(), Errno::EMFILE);
    }

    #[test]
    fn a_file_in_use_survives_close() {
        let t = FdTable::default();
        t.insert_at(4, devnull()).unwrap();
        let file = t.file(4).unwrap();
        t.remove(4).unwrap();
        assert!(t.host(4).is_err());
        assert!(crate::host::call(
            libc::SYS_fstat,
            &[
                crate::host::HostArg::Fd(file.as_raw_fd()),
                crate::host::HostArg::Local([0u8; 144].as_mut_ptr())
            ]
        )
        .is_ok());
    }

    #[test]
    fn close_range_closes_or_marks() {
        let t = FdTable::default();
        for fd in [1, 3, 4, 5, 9] {
            t.insert_at(fd, devnull()).unwrap();
        }
        t.close_range(3, 4, false);
        assert_eq!(t.numbers().collect::<Vec<_>>(), vec![1, 5, 9]);
        t.close_range(5, usize::MAX, true);
        assert!(t.cloexec(5).unwrap() && t.cloexec(9).unwrap());
        assert!(!t.cloexec(1).unwrap());
        t.close_range(0, usize::MAX, false);
        assert_eq!(t.numbers().count(), 0);
    }

    #[test]
    fn deep_copies_are_independent() {
        let t = FdTable::default();
        t.insert_at(0, devnull()).unwrap();
        let c = t.deep_copy();
        c.remove(0).unwrap();
        assert!(t.host(0).is_ok());
    }
}
