//! How to place a [`LoadPlan`] in memory, as mmap-shaped steps the caller
//! performs in order. Pure: this module decides addresses, it maps nothing.
//!
//! BSS follows the kernel's `binfmt_elf`: the file mapping of a segment
//! covers its file bytes rounded up to a page; the bytes from
//! `vaddr + filesz` to the end of that page must read as zero (the file has
//! unrelated bytes there), which is a [`MapStep::Zero`]; whatever of `memsz`
//! lies beyond that page is a fresh anonymous mapping.
//!
//! Steps must run in the order given: when two segments share a page, the
//! later segment's mapping replaces that page, exactly as in Linux.
//!
//! The plan's fields are public, so these functions accept any values:
//! arithmetic wraps or saturates instead of panicking (a nonsensical plan
//! gives nonsensical steps, never a crash). A plan from [`parse`](crate::parse)
//! with a page-aligned bias that keeps the span below
//! [`USER_END`](crate::elf::USER_END) gives exact steps.

#[cfg(test)]
mod tests;

use crate::elf::{page_down, LoadPlan, Prot, Segment, PAGE_SIZE};

/// One mapping operation. Addresses are biased; all but `Zero` are page-aligned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MapStep {
    /// `mmap(addr, len, prot, MAP_PRIVATE | MAP_FIXED, fd, offset)` of the
    /// executable file. `addr`, `len` and `offset` are page-aligned. The last
    /// page may run past the end of the file; those bytes read as zero (as
    /// with mmap).
    ///
    /// If the next step is a [`MapStep::Zero`] and `prot` lacks write, the
    /// caller must be able to write that page once: map with `prot` plus
    /// write, perform the `Zero` step, then `mprotect(addr, len, prot)`.
    /// The mapping is private, so the zeros never reach the file.
    File {
        addr: u64,
        len: u64,
        offset: u64,
        prot: Prot,
    },
    /// Write `len` zero bytes at `addr`. Always directly follows the `File`
    /// step whose last page holds `[addr, addr + len)` and ends exactly at that
    /// page's end: the head of the BSS that shares a page with file data.
    /// See [`MapStep::File`] for the write access this needs.
    Zero { addr: u64, len: u64 },
    /// A private anonymous (zero-filled) mapping with `MAP_FIXED`: the rest of
    /// the BSS, or a whole segment with no file bytes. Page-aligned. It takes
    /// the segment's protection (Linux maps it read-write whatever the
    /// segment says; a read-only BSS only ever holds zeros, so this is
    /// stricter without breaking real programs).
    Anon { addr: u64, len: u64, prot: Prot },
}

impl LoadPlan {
    /// The mappings for this plan loaded at `bias` (0 for [`ElfKind::Exec`](crate::ElfKind::Exec);
    /// for `Dyn`, a page-aligned address minus `span.0`, best 2 MiB-aligned so
    /// huge-page-aligned segments stay aligned).
    pub fn map_steps(&self, bias: u64) -> Vec<MapStep> {
        let mut steps = Vec::with_capacity(self.segments.len().saturating_mul(3));
        for seg in &self.segments {
            segment_steps(seg, bias, &mut steps);
        }
        steps
    }

    /// Where the heap starts: the page-aligned end of the highest segment.
    pub fn brk_start(&self, bias: u64) -> u64 {
        page_up_sat(self.span.1.wrapping_add(bias))
    }

    /// Bytes of address space the image needs, page-aligned: reserve this
    /// much to choose a bias for an `ElfKind::Dyn` image.
    pub fn span_len(&self) -> u64 {
        page_up_sat(self.span.1.saturating_sub(self.span.0))
    }
}

/// Rounds up to a page, saturating at the highest page start instead of overflowing.
fn page_up_sat(addr: u64) -> u64 {
    page_down(addr.saturating_add(PAGE_SIZE - 1))
}

/// File mapping, BSS head, BSS rest — each only if non-empty.
fn segment_steps(seg: &Segment, bias: u64, steps: &mut Vec<MapStep>) {
    if seg.memsz == 0 {
        return;
    }
    let start = seg.vaddr.wrapping_add(bias);
    let first_page = page_down(start);
    let filesz = seg.filesz.min(seg.memsz);
    let mem_end = start.saturating_add(seg.memsz);

    let anon_start = if filesz == 0 {
        first_page
    } else {
        let file_end = start.saturating_add(filesz);
        let file_page_end = page_up_sat(file_end);
        steps.push(MapStep::File {
            addr: first_page,
            len: file_page_end.saturating_sub(first_page),
            offset: page_down(seg.offset),
            prot: seg.prot,
        });
        if seg.memsz > filesz && file_end < file_page_end {
            steps.push(MapStep::Zero {
                addr: file_end,
                len: file_page_end - file_end,
            });
        }
        file_page_end
    };

    let anon_end = page_up_sat(mem_end);
    if anon_end > anon_start {
        steps.push(MapStep::Anon {
            addr: anon_start,
            len: anon_end - anon_start,
            prot: seg.prot,
        });
    }
}
