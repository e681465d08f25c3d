//! Program header checks: the PT_LOAD rules that keep a later mmap sane, and
//! the few other headers a loader needs (PT_INTERP, PT_PHDR, PT_GNU_STACK).

use super::FileView;
use super::{page_up, LoadError, Prot, Segment, PAGE_SIZE, PHENT_SIZE, USER_END};
use goblin::elf64::program_header::{
    ProgramHeader, PF_X, PT_GNU_STACK, PT_INTERP, PT_LOAD, PT_PHDR,
};

/// Linux's PATH_MAX, counting the NUL; the kernel refuses longer PT_INTERP.
const PATH_MAX: u64 = 4096;

/// What one pass over the program headers found.
pub(super) struct Found {
    pub segments: Vec<Segment>,
    pub interp: Option<String>,
    pub phdr_vaddr: Option<u64>,
    pub exec_stack: bool,
}

/// Validates every header the loader uses; unknown types are ignored as in Linux.
pub(super) fn scan(file: &FileView<'_>, table: &[ProgramHeader]) -> Result<Found, LoadError> {
    let mut found = Found {
        segments: Vec::new(),
        interp: None,
        phdr_vaddr: None,
        exec_stack: false,
    };
    for ph in table {
        match ph.p_type {
            PT_LOAD => {
                if let Some(seg) = load_segment(file.len, ph)? {
                    if let Some(prev) = found.segments.last() {
                        check_order(prev, &seg)?;
                    }
                    found.segments.push(seg);
                }
            }
            PT_INTERP if found.interp.is_none() => found.interp = Some(interp_path(file, ph)?),
            PT_PHDR if found.phdr_vaddr.is_none() => found.phdr_vaddr = Some(ph.p_vaddr),
            // The last one wins, as in binfmt_elf.
            PT_GNU_STACK => found.exec_stack = ph.p_flags & PF_X != 0,
            _ => {}
        }
    }
    Ok(found)
}

/// Checks one PT_LOAD; `None` for an empty one (`p_memsz == 0`), which maps nothing.
fn load_segment(file_len: u64, ph: &ProgramHeader) -> Result<Option<Segment>, LoadError> {
    if ph.p_filesz > ph.p_memsz {
        return Err(LoadError::Corrupt(
            "PT_LOAD file size is larger than its memory size".into(),
        ));
    }
    let file_end = ph.p_offset.checked_add(ph.p_filesz);
    if file_end.is_none_or(|end| end > file_len) {
        return Err(LoadError::Truncated("PT_LOAD segment past end of file"));
    }
    // mmap maps whole pages, so file offset and address must agree below the page size.
    if ph.p_vaddr % PAGE_SIZE != ph.p_offset % PAGE_SIZE {
        return Err(LoadError::Corrupt(format!(
            "PT_LOAD at {:#x} and its file offset {:#x} differ modulo the page size",
            ph.p_vaddr, ph.p_offset
        )));
    }
    let mem_end = ph.p_vaddr.checked_add(ph.p_memsz).and_then(page_up);
    if mem_end.is_none_or(|end| end > USER_END) {
        return Err(LoadError::Corrupt(format!(
            "PT_LOAD at {:#x} of size {:#x} goes past the user address space",
            ph.p_vaddr, ph.p_memsz
        )));
    }
    if ph.p_memsz == 0 {
        return Ok(None);
    }
    Ok(Some(Segment {
        vaddr: ph.p_vaddr,
        memsz: ph.p_memsz,
        offset: ph.p_offset,
        filesz: ph.p_filesz,
        prot: Prot::from_pflags(ph.p_flags),
    }))
}

/// The ELF spec requires PT_LOADs sorted by address; overlapping bytes would
/// make one segment silently overwrite another. Sharing a page is allowed
/// (the later mapping wins that page, as in Linux).
fn check_order(prev: &Segment, next: &Segment) -> Result<(), LoadError> {
    if next.vaddr < prev.vaddr {
        return Err(LoadError::Corrupt(
            "PT_LOAD segments are not in ascending address order".into(),
        ));
    }
    // Cannot overflow: load_segment bounded vaddr + memsz by USER_END.
    if next.vaddr < prev.vaddr + prev.memsz {
        return Err(LoadError::Corrupt("PT_LOAD segments overlap".into()));
    }
    Ok(())
}

/// The interpreter path: inside the file, NUL-terminated, shorter than
/// PATH_MAX, UTF-8. Like Linux, the path ends at the first NUL.
fn interp_path(file: &FileView<'_>, ph: &ProgramHeader) -> Result<String, LoadError> {
    if ph.p_filesz < 2 || ph.p_filesz > PATH_MAX {
        return Err(LoadError::Corrupt(format!(
            "PT_INTERP size {} (must be 2 to {PATH_MAX})",
            ph.p_filesz
        )));
    }
    let raw = file.get(ph.p_offset, ph.p_filesz, "PT_INTERP past end of file")?;
    let Some((&0, _)) = raw.split_last() else {
        return Err(LoadError::Corrupt("PT_INTERP is not NUL-terminated".into()));
    };
    let path = raw.split(|&b| b == 0).next().unwrap_or_default();
    if path.is_empty() {
        return Err(LoadError::Corrupt("PT_INTERP is empty".into()));
    }
    String::from_utf8(path.to_vec())
        .map_err(|_| LoadError::Corrupt("PT_INTERP path is not UTF-8".into()))
}

/// AT_PHDR without PT_PHDR: the address of the table inside the PT_LOAD
/// whose file bytes hold all of it (the way Linux computes AT_PHDR).
pub(super) fn locate_table(segments: &[Segment], phoff: u64, phnum: u64) -> Option<u64> {
    let table_end = phoff.checked_add(phnum.checked_mul(PHENT_SIZE)?)?;
    segments.iter().find_map(|s| {
        let into = phoff.checked_sub(s.offset)?;
        let file_end = s.offset.checked_add(s.filesz)?;
        (table_end <= file_end).then(|| s.vaddr.checked_add(into))?
    })
}
