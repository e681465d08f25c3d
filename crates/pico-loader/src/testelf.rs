//! Hand-assembled ELF64 images for the tests: an ELF header and program
//! headers written field by field, so each test can break exactly one thing.

pub(crate) use goblin::elf64::program_header::{
    PF_R, PF_W, PF_X, PT_GNU_STACK, PT_INTERP, PT_LOAD, PT_PHDR,
};

pub(crate) const INTERP: &str = "/lib64/ld-linux-x86-64.so.2";

/// One program header.
#[derive(Clone, Debug)]
pub(crate) struct Ph {
    pub p_type: u32,
    pub flags: u32,
    pub offset: u64,
    pub vaddr: u64,
    pub filesz: u64,
    pub memsz: u64,
}

impl Ph {
    pub fn load(flags: u32, offset: u64, vaddr: u64, filesz: u64, memsz: u64) -> Ph {
        Ph {
            p_type: PT_LOAD,
            flags,
            offset,
            vaddr,
            filesz,
            memsz,
        }
    }

    pub fn other(p_type: u32, flags: u32, offset: u64, vaddr: u64, filesz: u64) -> Ph {
        Ph {
            p_type,
            flags,
            offset,
            vaddr,
            filesz,
            memsz: filesz,
        }
    }
}

/// An image description; `build` lays it out.
#[derive(Clone, Debug)]
pub(crate) struct ElfImage {
    pub class: u8,
    pub data: u8,
    pub e_type: u16,
    pub machine: u16,
    pub entry: u64,
    pub phoff: u64,
    pub phentsize: u16,
    /// Overrides `e_phnum` (which is otherwise `phdrs.len()`).
    pub phnum: Option<u16>,
    pub phdrs: Vec<Ph>,
    /// File length; grown if the headers need more.
    pub len: usize,
    /// Bytes written last, at the given offsets (the image grows to fit).
    pub patches: Vec<(usize, Vec<u8>)>,
}

fn put(out: &mut Vec<u8>, at: usize, data: &[u8]) {
    if out.len() < at + data.len() {
        out.resize(at + data.len(), 0);
    }
    out[at..at + data.len()].copy_from_slice(data);
}

impl ElfImage {
    pub fn build(&self) -> Vec<u8> {
        let mut out = vec![0u8; self.len];
        let mut ident = [0u8; 16];
        ident[..4].copy_from_slice(b"\x7fELF");
        ident[4] = self.class;
        ident[5] = self.data;
        ident[6] = 1; // EV_CURRENT
        let mut h = ident.to_vec();
        h.extend(self.e_type.to_le_bytes());
        h.extend(self.machine.to_le_bytes());
        h.extend(1u32.to_le_bytes());
        h.extend(self.entry.to_le_bytes());
        h.extend(self.phoff.to_le_bytes());
        h.extend(0u64.to_le_bytes()); // e_shoff: no section headers
        h.extend(0u32.to_le_bytes()); // e_flags
        h.extend(64u16.to_le_bytes()); // e_ehsize
        h.extend(self.phentsize.to_le_bytes());
        let phnum = self.phnum.unwrap_or(self.phdrs.len() as u16);
        h.extend(phnum.to_le_bytes());
        h.extend(64u16.to_le_bytes()); // e_shentsize
        h.extend(0u16.to_le_bytes()); // e_shnum
        h.extend(0u16.to_le_bytes()); // e_shstrndx
        assert_eq!(h.len(), 64);
        put(&mut out, 0, &h);

        for (i, ph) in self.phdrs.iter().enumerate() {
            let mut p = Vec::new();
            p.extend(ph.p_type.to_le_bytes());
            p.extend(ph.flags.to_le_bytes());
            p.extend(ph.offset.to_le_bytes());
            p.extend(ph.vaddr.to_le_bytes());
            p.extend(ph.vaddr.to_le_bytes()); // p_paddr
            p.extend(ph.filesz.to_le_bytes());
            p.extend(ph.memsz.to_le_bytes());
            p.extend(0x1000u64.to_le_bytes()); // p_align
            assert_eq!(p.len(), 56);
            put(&mut out, self.phoff as usize + i * 56, &p);
        }
        for (at, data) in &self.patches {
            put(&mut out, *at, data);
        }
        out
    }
}

/// A static ET_EXEC: headers page, text page, data + BSS whose file bytes end
/// mid-page; no PT_PHDR; the last PT_LOAD ends exactly at the end of the file.
pub(crate) fn static_exec() -> ElfImage {
    ElfImage {
        class: 2,
        data: 1,
        e_type: 2,
        machine: 62,
        entry: 0x401010,
        phoff: 64,
        phentsize: 56,
        phnum: None,
        phdrs: vec![
            Ph::load(PF_R, 0, 0x400000, 0x200, 0x200),
            Ph::load(PF_R | PF_X, 0x1000, 0x401000, 0x800, 0x800),
            Ph::load(PF_R | PF_W, 0x2100, 0x403100, 0x300, 0x2000),
            Ph::other(PT_GNU_STACK, PF_R | PF_W, 0, 0, 0),
        ],
        len: 0x2400,
        patches: vec![],
    }
}

/// A dynamic PIE (ET_DYN) with PT_PHDR and PT_INTERP; its BSS ends on a page boundary.
pub(crate) fn pie() -> ElfImage {
    let mut interp = INTERP.as_bytes().to_vec();
    interp.push(0);
    ElfImage {
        class: 2,
        data: 1,
        e_type: 3,
        machine: 62,
        entry: 0x1000,
        phoff: 64,
        phentsize: 56,
        phnum: None,
        phdrs: vec![
            Ph::other(PT_PHDR, PF_R, 64, 64, 6 * 56),
            Ph::other(PT_INTERP, PF_R, 0x200, 0x200, interp.len() as u64),
            Ph::load(PF_R, 0, 0, 0x300, 0x300),
            Ph::load(PF_R | PF_X, 0x1000, 0x1000, 0x800, 0x800),
            Ph::load(PF_R | PF_W, 0x2100, 0x3100, 0x300, 0x1f00),
            Ph::other(PT_GNU_STACK, PF_R | PF_W, 0, 0, 0),
        ],
        len: 0x2400,
        patches: vec![(0x200, interp)],
    }
}
