//! `max_procs`: how many pico processes of a tree may be alive at once.
//!
//! The tree spans host processes, so the count lives in a table of words
//! that all of them share: a MAP_SHARED mapping made before the first fork
//! (see [`crate::host::shared_words`]), one slot per live process holding
//! its pid and start time. fork claims a slot before the host fork and
//! fills in the child's identity after it; a full table is `EAGAIN`, as
//! Linux answers past RLIMIT_NPROC.
//!
//! A process killed by SIGKILL runs no code, so nobody frees slots: when
//! no slot is free, the table is swept, and a slot whose process no
//! longer exists is taken over. Identity is pid *and* start time, so a
//! reused pid does not keep a slot. A zombie still counts until it is
//! reaped, as it does for RLIMIT_NPROC.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::RwLock;

use pico_abi::Errno;

/// A claimed slot whose fork has not finished (the claimer's identity).
const RESERVED: u64 = 1 << 63;

static TABLE: RwLock<Option<&'static [AtomicU64]>> = RwLock::new(None);

fn table() -> Option<&'static [AtomicU64]> {
    *TABLE.read().unwrap_or_else(|p| p.into_inner())
}

/// Creates the table for `max` processes, with this process in it. Must
/// run before the first fork of the tree.
pub fn create(max: u32) -> Result<(), Errno> {
    let words = crate::host::shared_words(max.max(1) as usize)?;
    let me = identity(std::process::id()).ok_or(Errno::EAGAIN)?;
    words[0].store(me, Ordering::SeqCst);
    *TABLE.write().unwrap_or_else(|p| p.into_inner()) = Some(words);
    Ok(())
}

/// A process's slot word: pid in bits 32..63, the low 32 bits of its
/// start time (clock ticks since boot) below. `None` if it is gone.
fn identity(pid: u32) -> Option<u64> {
    let stat = std::fs::read(format!("/proc/{pid}/stat")).ok()?;
    start_time(&stat).map(|t| u64::from(pid & 0x7fff_ffff) << 32 | (t & 0xffff_ffff))
}

/// Field 22 (starttime) of a `/proc/PID/stat` line. The command name
/// (field 2) may hold spaces and parentheses: fields are counted after
/// its last `)`.
fn start_time(stat: &[u8]) -> Option<u64> {
    let close = stat.iter().rposition(|&b| b == b')')?;
    let rest = std::str::from_utf8(stat.get(close + 1..)?).ok()?;
    rest.split_ascii_whitespace().nth(19)?.parse().ok()
}

/// Whether the process a slot names still exists (a zombie does).
fn alive(word: u64) -> bool {
    let pid = ((word >> 32) & 0x7fff_ffff) as u32;
    identity(pid) == Some(word & !RESERVED)
}

/// A slot claimed for a child about to be forked. Dropped unassigned
/// (the fork failed), it is free again; in the forked child it must be
/// forgotten, since the slot is the parent's to fill.
pub struct Slot {
    word: &'static AtomicU64,
    claim: u64,
}

impl Slot {
    /// Records the forked child `pid` in the slot.
    pub fn assign(self, pid: u32) {
        // A child already gone (auto-reaped) leaves the slot free.
        let child = identity(pid).unwrap_or(0);
        let _ = self
            .word
            .compare_exchange(self.claim, child, Ordering::SeqCst, Ordering::SeqCst);
        std::mem::forget(self);
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let _ = self
            .word
            .compare_exchange(self.claim, 0, Ordering::SeqCst, Ordering::SeqCst);
    }
}

/// Claims a slot for a new process: `None` when there is no limit,
/// `EAGAIN` when the tree already has as many live processes as allowed.
pub fn reserve() -> Result<Option<Slot>, Errno> {
    let Some(table) = table() else {
        return Ok(None);
    };
    let claim = identity(std::process::id()).ok_or(Errno::EAGAIN)? | RESERVED;
    // Free slots first; only a full table is worth the sweep's reads.
    for sweep in [false, true] {
        for word in table {
            let v = word.load(Ordering::SeqCst);
            let free = v == 0 || (sweep && !alive(v));
            if free
                && word
                    .compare_exchange(v, claim, Ordering::SeqCst, Ordering::SeqCst)
                    .is_ok()
            {
                return Ok(Some(Slot { word, claim }));
            }
        }
    }
    Err(Errno::EAGAIN)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_time_skips_odd_command_names() {
        let line = b"42 (a) b (c) S 1 42 42 0 -1 4194560 1 0 0 0 5 6 0 0 20 0 1 0 987654 100 1";
        assert_eq!(start_time(line), Some(987654));
        assert_eq!(start_time(b"garbage"), None);
    }

    #[test]
    fn this_process_is_alive_and_a_made_up_one_is_not() {
        let me = identity(std::process::id()).unwrap();
        assert!(alive(me));
        assert!(alive(me | RESERVED));
        assert!(!alive(me ^ 1), "another start time is another process");
    }
}
