//! Memory mappings: `mmap`, `mprotect`, `mremap`, `madvise`, `msync`.

use super::{append_bits, bits, one_of, push_part, Table};

/// Pages may not be accessed.
pub const PROT_NONE: u64 = 0x0;
/// Pages may be read.
pub const PROT_READ: u64 = 0x1;
/// Pages may be written.
pub const PROT_WRITE: u64 = 0x2;
/// Pages may be executed.
pub const PROT_EXEC: u64 = 0x4;
/// Pages may be used for atomic operations (no effect on x86).
pub const PROT_SEM: u64 = 0x8;
/// `mprotect`: extend the change down to the start of a grows-down
/// mapping.
pub const PROT_GROWSDOWN: u64 = 0x0100_0000;
/// `mprotect`: extend the change up to the end of a grows-up mapping.
pub const PROT_GROWSUP: u64 = 0x0200_0000;

const PROT_FLAGS: Table = table![
    PROT_READ,
    PROT_WRITE,
    PROT_EXEC,
    PROT_SEM,
    PROT_GROWSDOWN,
    PROT_GROWSUP
];

/// Page protection: `PROT_NONE`, `PROT_READ|PROT_WRITE`.
pub fn prot(prot: u64) -> String {
    if prot == PROT_NONE {
        "PROT_NONE".to_owned()
    } else {
        bits(prot, PROT_FLAGS)
    }
}

/// Mask of the mapping type in `mmap` flags.
pub const MAP_TYPE: u64 = 0x0f;
/// Changes are shared with other mappings of the object.
pub const MAP_SHARED: u64 = 0x01;
/// Changes are private (copy on write).
pub const MAP_PRIVATE: u64 = 0x02;
/// [`MAP_SHARED`], and fail on unknown flags.
pub const MAP_SHARED_VALIDATE: u64 = 0x03;
/// Private anonymous memory the kernel may drop under pressure.
pub const MAP_DROPPABLE: u64 = 0x08;
/// Map at exactly this address, replacing what is there.
pub const MAP_FIXED: u64 = 0x10;
/// Not backed by a file; zero-filled.
pub const MAP_ANONYMOUS: u64 = 0x20;
/// Same as [`MAP_ANONYMOUS`].
pub const MAP_ANON: u64 = MAP_ANONYMOUS;
/// Place the mapping in the first 2 GiB.
pub const MAP_32BIT: u64 = 0x40;
/// A stack that grows down.
pub const MAP_GROWSDOWN: u64 = 0x100;
/// Ignored (historical).
pub const MAP_DENYWRITE: u64 = 0x800;
/// Ignored (historical).
pub const MAP_EXECUTABLE: u64 = 0x1000;
/// Lock the pages in memory.
pub const MAP_LOCKED: u64 = 0x2000;
/// Don't reserve swap space.
pub const MAP_NORESERVE: u64 = 0x4000;
/// Prefault the pages.
pub const MAP_POPULATE: u64 = 0x8000;
/// With [`MAP_POPULATE`]: don't block on I/O.
pub const MAP_NONBLOCK: u64 = 0x10000;
/// The mapping is a thread stack.
pub const MAP_STACK: u64 = 0x20000;
/// Use huge pages.
pub const MAP_HUGETLB: u64 = 0x40000;
/// Synchronous page faults for DAX files.
pub const MAP_SYNC: u64 = 0x80000;
/// Like [`MAP_FIXED`], but fail with `EEXIST` instead of replacing.
pub const MAP_FIXED_NOREPLACE: u64 = 0x100000;
/// Don't clear anonymous pages (only on no-MMU kernels that allow it).
pub const MAP_UNINITIALIZED: u64 = 0x400_0000;
/// With [`MAP_HUGETLB`], the page size's log2 sits at this shift.
pub const MAP_HUGE_SHIFT: u64 = 26;
/// Mask of the huge page size, after shifting.
pub const MAP_HUGE_MASK: u64 = 0x3f;

const MAP_TYPES: Table = table![MAP_SHARED, MAP_PRIVATE, MAP_SHARED_VALIDATE, MAP_DROPPABLE];

/// `mmap` flags after the type, in strace's order.
const MAP_FLAGS: Table = table![
    MAP_FIXED,
    MAP_ANONYMOUS,
    MAP_32BIT,
    MAP_NORESERVE,
    MAP_POPULATE,
    MAP_NONBLOCK,
    MAP_GROWSDOWN,
    MAP_DENYWRITE,
    MAP_EXECUTABLE,
    MAP_LOCKED,
    MAP_STACK,
    MAP_HUGETLB,
    MAP_SYNC,
    MAP_FIXED_NOREPLACE,
];

/// `mmap` flags as strace prints them: the mapping type (`MAP_FILE` for
/// 0), the flags, then bits 26.. as a huge page size
/// (`21<<MAP_HUGE_SHIFT`; strace reads them so even without
/// `MAP_HUGETLB`, where bit 26 would be `MAP_UNINITIALIZED`):
/// `MAP_PRIVATE|MAP_FIXED|MAP_ANONYMOUS`.
pub fn map_flags(flags: u64) -> String {
    let kind = flags & MAP_TYPE;
    let mut out = if kind == 0 {
        "MAP_FILE".to_owned()
    } else {
        one_of(kind, MAP_TYPES)
    };
    let huge_bits = MAP_HUGE_MASK << MAP_HUGE_SHIFT;
    append_bits(&mut out, flags & !MAP_TYPE & !huge_bits, MAP_FLAGS);
    let huge = (flags & huge_bits) >> MAP_HUGE_SHIFT;
    if huge != 0 {
        push_part(&mut out, &format!("{huge}<<MAP_HUGE_SHIFT"));
    }
    out
}

/// `mremap`: the kernel may move the mapping.
pub const MREMAP_MAYMOVE: u64 = 1;
/// `mremap`: move to exactly the new address.
pub const MREMAP_FIXED: u64 = 2;
/// `mremap`: move, but leave the old range mapped (and empty).
pub const MREMAP_DONTUNMAP: u64 = 4;

/// `mremap` flags.
pub fn mremap_flags(flags: u64) -> String {
    bits(
        flags,
        table![MREMAP_MAYMOVE, MREMAP_FIXED, MREMAP_DONTUNMAP],
    )
}

/// No special treatment.
pub const MADV_NORMAL: u64 = 0;
/// Expect random access.
pub const MADV_RANDOM: u64 = 1;
/// Expect sequential access.
pub const MADV_SEQUENTIAL: u64 = 2;
/// Will need these pages soon.
pub const MADV_WILLNEED: u64 = 3;
/// Drop the pages: private anonymous memory reads back as zeros.
pub const MADV_DONTNEED: u64 = 4;
/// The pages may be freed lazily.
pub const MADV_FREE: u64 = 8;
/// Free the range and its backing store.
pub const MADV_REMOVE: u64 = 9;
/// Don't inherit across `fork`.
pub const MADV_DONTFORK: u64 = 10;
/// Undo [`MADV_DONTFORK`].
pub const MADV_DOFORK: u64 = 11;
/// Candidate for same-page merging.
pub const MADV_MERGEABLE: u64 = 12;
/// Undo [`MADV_MERGEABLE`].
pub const MADV_UNMERGEABLE: u64 = 13;
/// Prefer transparent huge pages.
pub const MADV_HUGEPAGE: u64 = 14;
/// Avoid transparent huge pages.
pub const MADV_NOHUGEPAGE: u64 = 15;
/// Leave out of core dumps.
pub const MADV_DONTDUMP: u64 = 16;
/// Undo [`MADV_DONTDUMP`].
pub const MADV_DODUMP: u64 = 17;
/// Zero the range in a `fork` child.
pub const MADV_WIPEONFORK: u64 = 18;
/// Undo [`MADV_WIPEONFORK`].
pub const MADV_KEEPONFORK: u64 = 19;
/// Deactivate the pages.
pub const MADV_COLD: u64 = 20;
/// Reclaim the pages.
pub const MADV_PAGEOUT: u64 = 21;
/// Prefault for reading.
pub const MADV_POPULATE_READ: u64 = 22;
/// Prefault for writing.
pub const MADV_POPULATE_WRITE: u64 = 23;
/// Like [`MADV_DONTNEED`], for locked pages too.
pub const MADV_DONTNEED_LOCKED: u64 = 24;
/// Collapse into transparent huge pages now.
pub const MADV_COLLAPSE: u64 = 25;
/// Poison the pages (testing).
pub const MADV_HWPOISON: u64 = 100;
/// Soft-offline the pages (testing).
pub const MADV_SOFT_OFFLINE: u64 = 101;
/// Install guard pages that fault on access.
pub const MADV_GUARD_INSTALL: u64 = 102;
/// Remove guard pages.
pub const MADV_GUARD_REMOVE: u64 = 103;

const MADV_ADVICE: Table = table![
    MADV_NORMAL,
    MADV_RANDOM,
    MADV_SEQUENTIAL,
    MADV_WILLNEED,
    MADV_DONTNEED,
    MADV_FREE,
    MADV_REMOVE,
    MADV_DONTFORK,
    MADV_DOFORK,
    MADV_MERGEABLE,
    MADV_UNMERGEABLE,
    MADV_HUGEPAGE,
    MADV_NOHUGEPAGE,
    MADV_DONTDUMP,
    MADV_DODUMP,
    MADV_WIPEONFORK,
    MADV_KEEPONFORK,
    MADV_COLD,
    MADV_PAGEOUT,
    MADV_POPULATE_READ,
    MADV_POPULATE_WRITE,
    MADV_DONTNEED_LOCKED,
    MADV_COLLAPSE,
    MADV_HWPOISON,
    MADV_SOFT_OFFLINE,
    MADV_GUARD_INSTALL,
    MADV_GUARD_REMOVE,
];

/// `madvise` advice.
pub fn madvise_advice(advice: u64) -> String {
    one_of(advice, MADV_ADVICE)
}

/// `msync`: schedule the write-back and return.
pub const MS_ASYNC: u64 = 1;
/// `msync`: invalidate other mappings of the file.
pub const MS_INVALIDATE: u64 = 2;
/// `msync`: write back and wait.
pub const MS_SYNC: u64 = 4;

/// `msync` flags.
pub fn msync_flags(flags: u64) -> String {
    bits(flags, table![MS_SYNC, MS_ASYNC, MS_INVALIDATE])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prot_values() {
        assert_eq!(prot(0), "PROT_NONE");
        assert_eq!(prot(PROT_READ), "PROT_READ");
        assert_eq!(prot(3), "PROT_READ|PROT_WRITE");
        assert_eq!(prot(7), "PROT_READ|PROT_WRITE|PROT_EXEC");
        assert_eq!(prot(5 | 0x100), "PROT_READ|PROT_EXEC|0x100");
    }

    #[test]
    fn map_flags_like_strace() {
        assert_eq!(map_flags(0x22), "MAP_PRIVATE|MAP_ANONYMOUS");
        assert_eq!(map_flags(0x32), "MAP_PRIVATE|MAP_FIXED|MAP_ANONYMOUS");
        assert_eq!(map_flags(0x812), "MAP_PRIVATE|MAP_FIXED|MAP_DENYWRITE");
        assert_eq!(map_flags(0x20022), "MAP_PRIVATE|MAP_ANONYMOUS|MAP_STACK");
        assert_eq!(map_flags(MAP_SHARED), "MAP_SHARED");
        assert_eq!(
            map_flags(MAP_SHARED_VALIDATE | MAP_SYNC),
            "MAP_SHARED_VALIDATE|MAP_SYNC"
        );
        assert_eq!(
            map_flags(MAP_PRIVATE | MAP_FIXED_NOREPLACE),
            "MAP_PRIVATE|MAP_FIXED_NOREPLACE"
        );
        assert_eq!(
            map_flags(MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | (21 << MAP_HUGE_SHIFT)),
            "MAP_PRIVATE|MAP_ANONYMOUS|MAP_HUGETLB|21<<MAP_HUGE_SHIFT"
        );
        assert_eq!(map_flags(0x7), "0x7");
        assert_eq!(map_flags(0x4 | MAP_ANONYMOUS), "0x4|MAP_ANONYMOUS");
        assert_eq!(map_flags(MAP_ANONYMOUS), "MAP_FILE|MAP_ANONYMOUS");
        assert_eq!(map_flags(0), "MAP_FILE");
        assert_eq!(
            map_flags(0x2 | 0x20 | 0x100 | 0x4000 | 0x8000 | 0x20000),
            "MAP_PRIVATE|MAP_ANONYMOUS|MAP_NORESERVE|MAP_POPULATE|MAP_GROWSDOWN|MAP_STACK"
        );
        assert_eq!(
            map_flags(MAP_SHARED | MAP_ANONYMOUS | MAP_LOCKED | MAP_32BIT),
            "MAP_SHARED|MAP_ANONYMOUS|MAP_32BIT|MAP_LOCKED"
        );
        assert_eq!(
            map_flags(MAP_PRIVATE | MAP_UNINITIALIZED),
            "MAP_PRIVATE|1<<MAP_HUGE_SHIFT"
        );
    }

    #[test]
    fn mremap_and_madvise() {
        assert_eq!(mremap_flags(MREMAP_MAYMOVE), "MREMAP_MAYMOVE");
        assert_eq!(mremap_flags(3), "MREMAP_MAYMOVE|MREMAP_FIXED");
        assert_eq!(mremap_flags(0), "0");
        assert_eq!(madvise_advice(4), "MADV_DONTNEED");
        assert_eq!(madvise_advice(MADV_FREE), "MADV_FREE");
        assert_eq!(madvise_advice(MADV_GUARD_INSTALL), "MADV_GUARD_INSTALL");
        assert_eq!(madvise_advice(77), "0x4d");
        assert_eq!(
            msync_flags(MS_SYNC | MS_INVALIDATE),
            "MS_SYNC|MS_INVALIDATE"
        );
    }
}
