//! Why an image cannot be loaded, worded for the one line the CLI prints.

use std::fmt;

/// Why [`parse`](super::parse) rejected an image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoadError {
    /// No `\x7fELF` magic (the caller may then try `#!`).
    NotElf,
    /// ELFCLASS32.
    Not64Bit,
    /// ELFDATA2MSB.
    BigEndian,
    /// `e_machine` other than EM_X86_64.
    WrongMachine(u16),
    /// `e_type` other than ET_EXEC or ET_DYN.
    NotExecutable(u16),
    /// A structure the headers point at lies (partly) past the end of the file.
    Truncated(&'static str),
    /// The headers are inconsistent.
    Corrupt(String),
    /// [`crate::elf::parse_prefix`] was given too little of the file: the
    /// first this many bytes are needed.
    NeedsMore(u64),
}

/// Names the machines someone is likely to try by mistake.
fn machine_name(machine: u16) -> Option<&'static str> {
    Some(match machine {
        3 => "i386",
        8 => "mips",
        20 => "powerpc",
        21 => "powerpc64",
        22 => "s390",
        40 => "arm",
        43 => "sparc64",
        62 => "x86-64",
        183 => "aarch64",
        243 => "riscv",
        258 => "loongarch",
        _ => return None,
    })
}

fn type_name(e_type: u16) -> &'static str {
    match e_type {
        0 => "none",
        1 => "relocatable object",
        4 => "core dump",
        _ => "unknown type",
    }
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoadError::NotElf => f.write_str("not an ELF file"),
            LoadError::Not64Bit => f.write_str("32-bit ELF is not supported (only x86-64)"),
            LoadError::BigEndian => f.write_str("big-endian ELF is not supported (only x86-64)"),
            LoadError::WrongMachine(m) => match machine_name(*m) {
                Some(name) => write!(f, "ELF for machine {m} ({name}), not x86-64"),
                None => write!(f, "ELF for machine {m}, not x86-64"),
            },
            LoadError::NotExecutable(t) => write!(
                f,
                "ELF type {t} ({}) is not an executable or shared object",
                type_name(*t)
            ),
            LoadError::Truncated(what) => write!(f, "truncated ELF: {what}"),
            LoadError::Corrupt(why) => write!(f, "corrupt ELF: {why}"),
            LoadError::NeedsMore(n) => {
                write!(f, "the ELF headers need the first {n} bytes of the file")
            }
        }
    }
}

impl std::error::Error for LoadError {}

/// goblin reports short reads as scroll errors; everything else it finds is
/// a malformed file. Lengths are checked before goblin is called, so this is
/// a safety net rather than the usual path.
pub(super) fn from_goblin(what: &'static str, err: goblin::error::Error) -> LoadError {
    match err {
        goblin::error::Error::Scroll(_) | goblin::error::Error::BufferTooShort(..) => {
            LoadError::Truncated(what)
        }
        other => LoadError::Corrupt(format!("{what}: {other}")),
    }
}
