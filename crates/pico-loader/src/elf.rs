//! ELF64 x86-64 executable bytes -> [`LoadPlan`]: which segments go where
//! with which protection, plus the facts the auxiliary vector needs.
//!
//! Only the ELF header and the program headers are read, as the kernel's
//! `binfmt_elf` does: section headers, symbols and the dynamic section may be
//! stripped or even corrupt in a binary Linux runs happily, so they are never
//! looked at (which is why this uses goblin's header-level parsers and not
//! `goblin::elf::Elf::parse`). Every offset and size from the file goes
//! through checked arithmetic; nothing here may panic, whatever the bytes.

mod error;
mod phdrs;
#[cfg(test)]
mod tests;

pub use error::LoadError;

use goblin::container::Endian;
use goblin::elf64::header::{self as eh, Header};
use goblin::elf64::program_header::ProgramHeader;

/// The x86-64 base page size; all mapping granularity derives from it.
pub const PAGE_SIZE: u64 = 4096;

/// End (exclusive) of the user half with 4-level paging, less the guard page
/// Linux keeps below it (`TASK_SIZE_MAX`). No PT_LOAD may reach past it.
pub const USER_END: u64 = (1 << 47) - PAGE_SIZE;

/// Size of one ELF64 program header, the only `e_phentsize` accepted.
pub const PHENT_SIZE: u64 = 56;

/// Memory protection of a segment, from its `p_flags`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Prot {
    pub read: bool,
    pub write: bool,
    pub exec: bool,
}

impl Prot {
    /// The `PROT_*` bits for mmap(2)/mprotect(2).
    pub fn to_linux(self) -> u64 {
        u64::from(self.read) | u64::from(self.write) << 1 | u64::from(self.exec) << 2
    }

    /// Decodes `PF_R`/`PF_W`/`PF_X`; other flag bits (OS/processor specific) are ignored.
    pub fn from_pflags(flags: u32) -> Prot {
        use goblin::elf64::program_header::{PF_R, PF_W, PF_X};
        Prot {
            read: flags & PF_R != 0,
            write: flags & PF_W != 0,
            exec: flags & PF_X != 0,
        }
    }
}

/// Whether the image is placed at its link addresses or anywhere.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ElfKind {
    /// ET_EXEC: addresses are absolute; the bias must be 0.
    Exec,
    /// ET_DYN: static-PIE, PIE or shared object (e.g. the interpreter): the
    /// caller picks a page-aligned load bias and adds it to every address.
    Dyn,
}

/// One PT_LOAD with a non-zero `p_memsz`, validated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Segment {
    pub vaddr: u64,
    pub memsz: u64,
    pub offset: u64,
    pub filesz: u64,
    pub prot: Prot,
}

/// Everything needed to place an ELF image in memory and describe it in the
/// auxiliary vector. All addresses are unbiased (as in the file).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoadPlan {
    pub kind: ElfKind,
    /// PT_LOADs in file order, which is ascending and non-overlapping (checked).
    /// PT_LOADs with `p_memsz == 0` map nothing and are left out.
    pub segments: Vec<Segment>,
    /// `e_entry`.
    pub entry: u64,
    /// Where the program headers are in memory (for AT_PHDR): PT_PHDR's
    /// `p_vaddr`, else found through the PT_LOAD whose file bytes contain the
    /// whole table; `None` if no PT_LOAD does.
    pub phdr_vaddr: Option<u64>,
    /// `e_phentsize` (always 56) and `e_phnum`, for AT_PHENT and AT_PHNUM.
    pub phent: u64,
    pub phnum: u64,
    /// PT_INTERP path, without its NUL. The first PT_INTERP wins, as in Linux.
    pub interp: Option<String>,
    /// Whether the stack must be executable: PT_GNU_STACK carries PF_X.
    /// Without PT_GNU_STACK this is `false`: since Linux 5.8 a 64-bit x86-64
    /// binary without PT_GNU_STACK gets a non-executable stack (and no
    /// READ_IMPLIES_EXEC); only ia32 binaries still get the old default.
    pub exec_stack: bool,
    /// Page-aligned `[lowest vaddr, highest vaddr + memsz)` of all segments.
    pub span: (u64, u64),
}

/// Rounds down to a page boundary.
pub fn page_down(addr: u64) -> u64 {
    addr & !(PAGE_SIZE - 1)
}

/// Rounds up to a page boundary; `None` if that passes 2^64.
pub fn page_up(addr: u64) -> Option<u64> {
    addr.checked_add(PAGE_SIZE - 1).map(page_down)
}

/// Parses and validates an x86-64 ELF executable, static-PIE, PIE or shared
/// object (the interpreter) into a [`LoadPlan`].
pub fn parse(bytes: &[u8]) -> Result<LoadPlan, LoadError> {
    parse_prefix(bytes, bytes.len() as u64)
}

/// [`parse`] from the first bytes of a file `file_len` bytes long: a loader
/// needs only the headers, not the (possibly many megabytes of) contents it
/// will map. [`LoadError::NeedsMore`] if a header lies past `prefix`.
pub fn parse_prefix(prefix: &[u8], file_len: u64) -> Result<LoadPlan, LoadError> {
    let file = FileView {
        prefix,
        len: file_len.max(prefix.len() as u64),
    };
    let header = read_header(prefix)?;
    let table = read_phdrs(&file, &header)?;
    let found = phdrs::scan(&file, &table)?;

    let (first, last) = match (found.segments.first(), found.segments.last()) {
        (Some(first), Some(last)) => (first, last),
        _ => return Err(LoadError::Corrupt("no PT_LOAD segment".into())),
    };
    // Both bounds were checked against USER_END in phdrs::scan.
    let span_end = last
        .vaddr
        .checked_add(last.memsz)
        .and_then(page_up)
        .ok_or_else(|| LoadError::Corrupt("PT_LOAD end overflows".into()))?;
    let span = (page_down(first.vaddr), span_end);

    let entry = header.e_entry;
    let entry_ok = found
        .segments
        .iter()
        .any(|s| s.prot.exec && entry >= s.vaddr && entry - s.vaddr < s.memsz);
    if !entry_ok {
        return Err(LoadError::Corrupt(format!(
            "entry point {entry:#x} is not inside an executable PT_LOAD"
        )));
    }

    let phnum = u64::from(header.e_phnum);
    let phdr_vaddr = found
        .phdr_vaddr
        .or_else(|| phdrs::locate_table(&found.segments, header.e_phoff, phnum));

    Ok(LoadPlan {
        kind: if header.e_type == eh::ET_EXEC {
            ElfKind::Exec
        } else {
            ElfKind::Dyn
        },
        segments: found.segments,
        entry,
        phdr_vaddr,
        phent: PHENT_SIZE,
        phnum,
        interp: found.interp,
        exec_stack: found.exec_stack,
        span,
    })
}

/// Reads and checks the ELF header, in the order that gives the most useful
/// error: identity first (is it ELF, 64-bit, little-endian), then machine, type.
fn read_header(bytes: &[u8]) -> Result<Header, LoadError> {
    if bytes.get(..eh::SELFMAG) != Some(eh::ELFMAG.as_slice()) {
        return Err(LoadError::NotElf);
    }
    match bytes.get(eh::EI_CLASS) {
        None => return Err(LoadError::Truncated("ELF header")),
        Some(&eh::ELFCLASS64) => {}
        Some(&eh::ELFCLASS32) => return Err(LoadError::Not64Bit),
        Some(class) => return Err(LoadError::Corrupt(format!("unknown ELF class {class}"))),
    }
    match bytes.get(eh::EI_DATA) {
        None => return Err(LoadError::Truncated("ELF header")),
        Some(&eh::ELFDATA2LSB) => {}
        Some(&eh::ELFDATA2MSB) => return Err(LoadError::BigEndian),
        Some(data) => {
            return Err(LoadError::Corrupt(format!(
                "unknown ELF data encoding {data}"
            )))
        }
    }
    if bytes.len() < eh::SIZEOF_EHDR {
        return Err(LoadError::Truncated("ELF header"));
    }
    let header = Header::parse(bytes).map_err(|e| error::from_goblin("ELF header", e))?;
    if header.e_machine != eh::EM_X86_64 {
        return Err(LoadError::WrongMachine(header.e_machine));
    }
    if header.e_type != eh::ET_EXEC && header.e_type != eh::ET_DYN {
        return Err(LoadError::NotExecutable(header.e_type));
    }
    if u64::from(header.e_phentsize) != PHENT_SIZE {
        return Err(LoadError::Corrupt(format!(
            "program header size {} (expected {PHENT_SIZE})",
            header.e_phentsize
        )));
    }
    Ok(header)
}

/// Largest program header table Linux accepts (`elf_read_phdrs`: 64 KiB);
/// also bounds what a hostile `e_phnum` makes us allocate.
const MAX_PHDR_TABLE: u64 = 65536;

/// The start of a file and its full length.
pub(crate) struct FileView<'a> {
    pub prefix: &'a [u8],
    pub len: u64,
}

impl FileView<'_> {
    /// Bytes `[start, start+len)`: `Truncated` past the end of the file,
    /// `NeedsMore` past the prefix.
    pub fn get(&self, start: u64, len: u64, what: &'static str) -> Result<&[u8], LoadError> {
        let end = start
            .checked_add(len)
            .filter(|&e| e <= self.len)
            .ok_or(LoadError::Truncated(what))?;
        usize::try_from(start)
            .ok()
            .zip(usize::try_from(end).ok())
            .and_then(|(s, e)| self.prefix.get(s..e))
            .ok_or(LoadError::NeedsMore(end))
    }
}

/// Reads the program header table after checking it lies inside the file.
fn read_phdrs(file: &FileView<'_>, header: &Header) -> Result<Vec<ProgramHeader>, LoadError> {
    let count = u64::from(header.e_phnum);
    if count == 0 {
        return Err(LoadError::Corrupt("no program headers".into()));
    }
    // At most 65535 * 56: cannot overflow.
    let table_len = count * PHENT_SIZE;
    if table_len > MAX_PHDR_TABLE {
        return Err(LoadError::Corrupt(format!("{count} program headers")));
    }
    let table = file.get(
        header.e_phoff,
        table_len,
        "program headers past end of file",
    )?;
    let count = usize::from(header.e_phnum);
    ProgramHeader::parse(table, 0, count, Endian::Little)
        .map_err(|e| error::from_goblin("program headers", e))
}

#[cfg(test)]
mod prefix_tests {
    use super::*;

    #[test]
    fn a_prefix_with_the_headers_gives_the_same_plan() {
        let bytes = std::fs::read("/bin/ls").expect("/bin/ls exists on Debian");
        let full = parse(&bytes).unwrap();
        let head = &bytes[..bytes.len().min(4096)];
        assert_eq!(parse_prefix(head, bytes.len() as u64).unwrap(), full);
    }

    #[test]
    fn a_short_prefix_asks_for_more_and_a_short_file_is_truncated() {
        let bytes = std::fs::read("/bin/ls").unwrap();
        assert!(
            matches!(parse_prefix(&bytes[..100], bytes.len() as u64), Err(LoadError::NeedsMore(n)) if n > 100)
        );
        assert!(matches!(
            parse_prefix(&bytes[..100], 100),
            Err(LoadError::Truncated(_))
        ));
    }
}
