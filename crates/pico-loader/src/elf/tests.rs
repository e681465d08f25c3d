use super::*;
use crate::testelf::*;

fn seg(vaddr: u64, memsz: u64, offset: u64, filesz: u64, flags: u32) -> Segment {
    Segment {
        vaddr,
        memsz,
        offset,
        filesz,
        prot: Prot::from_pflags(flags),
    }
}

fn corrupt_msg(img: &ElfImage) -> String {
    match parse(&img.build()) {
        Err(LoadError::Corrupt(msg)) => msg,
        other => panic!("expected Corrupt, got {other:?}"),
    }
}

#[test]
fn static_exec_plan() {
    let plan = parse(&static_exec().build()).unwrap();
    assert_eq!(
        plan,
        LoadPlan {
            kind: ElfKind::Exec,
            segments: vec![
                seg(0x400000, 0x200, 0, 0x200, PF_R),
                seg(0x401000, 0x800, 0x1000, 0x800, PF_R | PF_X),
                seg(0x403100, 0x2000, 0x2100, 0x300, PF_R | PF_W),
            ],
            entry: 0x401010,
            // No PT_PHDR: the table at file offset 64 lies in the first PT_LOAD.
            phdr_vaddr: Some(0x400040),
            phent: 56,
            phnum: 4,
            interp: None,
            exec_stack: false,
            span: (0x400000, 0x406000),
        }
    );
}

#[test]
fn pie_plan() {
    let plan = parse(&pie().build()).unwrap();
    assert_eq!(plan.kind, ElfKind::Dyn);
    assert_eq!(plan.interp.as_deref(), Some(INTERP));
    assert_eq!(plan.phdr_vaddr, Some(64));
    assert_eq!(plan.phnum, 6);
    assert_eq!(plan.entry, 0x1000);
    assert_eq!(plan.span, (0, 0x5000));
    assert_eq!(plan.segments.len(), 3);
    assert_eq!(
        plan.segments[2],
        seg(0x3100, 0x1f00, 0x2100, 0x300, PF_R | PF_W)
    );
}

#[test]
fn pt_phdr_wins_over_computed_address() {
    let mut img = static_exec();
    img.phdrs
        .push(Ph::other(PT_PHDR, PF_R, 64, 0x400040, 5 * 56));
    img.phdrs.rotate_right(1);
    assert_eq!(parse(&img.build()).unwrap().phdr_vaddr, Some(0x400040));
    img.phdrs[0].vaddr = 0x400100;
    assert_eq!(parse(&img.build()).unwrap().phdr_vaddr, Some(0x400100));
}

#[test]
fn phdr_vaddr_none_when_table_not_loaded() {
    let mut img = static_exec();
    img.phdrs.remove(0);
    let plan = parse(&img.build()).unwrap();
    assert_eq!(plan.phdr_vaddr, None);
    assert_eq!(plan.span, (0x401000, 0x406000));
}

#[test]
fn phdr_vaddr_needs_whole_table_in_file_bytes() {
    let mut img = static_exec();
    // The first PT_LOAD holds only part of the 4-entry table (64..288).
    img.phdrs[0].filesz = 0x100;
    img.phdrs[0].memsz = 0x200;
    assert_eq!(parse(&img.build()).unwrap().phdr_vaddr, None);
}

#[test]
fn gnu_stack_flags() {
    let mut img = static_exec();
    img.phdrs[3].flags = PF_R | PF_W | PF_X;
    assert!(parse(&img.build()).unwrap().exec_stack);
    img.phdrs[3].flags = PF_R | PF_W;
    assert!(!parse(&img.build()).unwrap().exec_stack);
    // No PT_GNU_STACK: non-executable, as Linux >= 5.8 does for x86-64.
    img.phdrs.pop();
    assert!(!parse(&img.build()).unwrap().exec_stack);
}

#[test]
fn prot_to_linux() {
    assert_eq!(Prot::default().to_linux(), 0);
    assert_eq!(Prot::from_pflags(PF_R).to_linux(), 1);
    assert_eq!(Prot::from_pflags(PF_W).to_linux(), 2);
    assert_eq!(Prot::from_pflags(PF_X).to_linux(), 4);
    assert_eq!(Prot::from_pflags(PF_R | PF_W | PF_X).to_linux(), 7);
    assert_eq!(Prot::from_pflags(PF_R | PF_X | 0xf000_0000).to_linux(), 5);
}

#[test]
fn empty_pt_load_is_skipped() {
    let mut img = static_exec();
    img.phdrs.insert(1, Ph::load(PF_R, 0, 0x900000, 0, 0));
    let plan = parse(&img.build()).unwrap();
    assert_eq!(plan.segments.len(), 3);
    assert_eq!(plan.span, (0x400000, 0x406000));
}

#[test]
fn segments_may_share_a_page() {
    let mut img = static_exec();
    // Data starts right where text ends, in the same page.
    img.phdrs[2] = Ph::load(PF_R | PF_W, 0x1800, 0x401800, 0x300, 0x400);
    img.len = 0x2400;
    assert!(parse(&img.build()).is_ok());
}

#[test]
fn rejects_not_elf() {
    assert_eq!(parse(b""), Err(LoadError::NotElf));
    assert_eq!(parse(b"\x7fEL"), Err(LoadError::NotElf));
    assert_eq!(parse(b"#!/bin/sh\n"), Err(LoadError::NotElf));
    let mut bytes = static_exec().build();
    bytes[1] = b'X';
    assert_eq!(parse(&bytes), Err(LoadError::NotElf));
}

#[test]
fn rejects_32_bit() {
    let mut img = static_exec();
    img.class = 1;
    assert_eq!(parse(&img.build()), Err(LoadError::Not64Bit));
}

#[test]
fn rejects_unknown_class_and_data() {
    let mut img = static_exec();
    img.class = 3;
    assert!(corrupt_msg(&img).contains("class 3"));
    let mut img = static_exec();
    img.data = 0;
    assert!(corrupt_msg(&img).contains("data encoding 0"));
}

#[test]
fn rejects_big_endian() {
    let mut img = static_exec();
    img.data = 2;
    assert_eq!(parse(&img.build()), Err(LoadError::BigEndian));
}

#[test]
fn rejects_other_machines() {
    for machine in [3u16, 40, 183, 243, 9999] {
        let mut img = static_exec();
        img.machine = machine;
        assert_eq!(parse(&img.build()), Err(LoadError::WrongMachine(machine)));
    }
}

#[test]
fn rejects_non_executable_types() {
    for e_type in [0u16, 1, 4, 0xfe00] {
        let mut img = static_exec();
        img.e_type = e_type;
        assert_eq!(parse(&img.build()), Err(LoadError::NotExecutable(e_type)));
    }
}

#[test]
fn rejects_bad_phentsize_and_phnum() {
    let mut img = static_exec();
    img.phentsize = 32;
    assert!(corrupt_msg(&img).contains("program header size 32"));
    let mut img = static_exec();
    img.phnum = Some(0);
    assert!(corrupt_msg(&img).contains("no program headers"));
    let mut img = static_exec();
    img.phnum = Some(2000);
    img.len = 0x30000;
    assert!(corrupt_msg(&img).contains("2000 program headers"));
}

#[test]
fn rejects_program_headers_past_eof() {
    let mut img = static_exec();
    img.phnum = Some(1000);
    assert_eq!(
        parse(&img.build()),
        Err(LoadError::Truncated("program headers past end of file"))
    );
    let mut img = static_exec();
    img.phoff = u64::MAX - 8;
    img.phdrs.clear();
    img.phnum = Some(4);
    assert_eq!(
        parse(&img.build()),
        Err(LoadError::Truncated("program headers past end of file"))
    );
}

#[test]
fn rejects_every_truncation() {
    for image in [static_exec().build(), pie().build()] {
        for n in 0..image.len() {
            assert!(parse(&image[..n]).is_err(), "prefix of {n} bytes parsed");
        }
        assert!(parse(&image).is_ok());
    }
}

#[test]
fn rejects_overlapping_or_unsorted_segments() {
    let mut img = static_exec();
    img.phdrs[1] = Ph::load(PF_R | PF_X, 0x1100, 0x400100, 0x800, 0x800);
    img.entry = 0x400110;
    assert_eq!(corrupt_msg(&img), "PT_LOAD segments overlap");
    let mut img = static_exec();
    img.phdrs.swap(0, 1);
    assert_eq!(
        corrupt_msg(&img),
        "PT_LOAD segments are not in ascending address order"
    );
}

#[test]
fn rejects_bad_entry() {
    let mut img = static_exec();
    img.entry = 0x500000;
    assert!(corrupt_msg(&img).contains("entry point 0x500000"));
    // Inside a PT_LOAD, but not an executable one.
    img.entry = 0x403200;
    assert!(corrupt_msg(&img).contains("not inside an executable PT_LOAD"));
    // One past the end of the text segment.
    img.entry = 0x401800;
    assert!(corrupt_msg(&img).contains("entry point"));
}

#[test]
fn rejects_bad_pt_load() {
    let mut img = static_exec();
    img.phdrs[2].filesz = 0x3000;
    assert!(corrupt_msg(&img).contains("file size is larger"));

    let mut img = static_exec();
    img.phdrs[2].filesz = 0x400;
    assert_eq!(
        parse(&img.build()),
        Err(LoadError::Truncated("PT_LOAD segment past end of file"))
    );

    let mut img = static_exec();
    img.phdrs[2].offset = u64::MAX - 0x10;
    assert_eq!(
        parse(&img.build()),
        Err(LoadError::Truncated("PT_LOAD segment past end of file"))
    );

    let mut img = static_exec();
    img.phdrs[2].vaddr = 0x403200;
    assert!(corrupt_msg(&img).contains("differ modulo the page size"));

    let mut img = static_exec();
    img.phdrs[2].vaddr = 0x7fff_ffff_f100;
    assert!(corrupt_msg(&img).contains("past the user address space"));

    let mut img = static_exec();
    img.phdrs[2].vaddr = u64::MAX - 0xeff;
    assert!(corrupt_msg(&img).contains("past the user address space"));
}

#[test]
fn rejects_no_pt_load() {
    let mut img = static_exec();
    img.phdrs.retain(|p| p.p_type != PT_LOAD);
    assert_eq!(corrupt_msg(&img), "no PT_LOAD segment");
    // Only empty ones.
    img.phdrs.push(Ph::load(PF_R | PF_X, 0, 0x400000, 0, 0));
    assert_eq!(corrupt_msg(&img), "no PT_LOAD segment");
}

fn pie_with_interp(raw: &[u8]) -> ElfImage {
    let mut img = pie();
    img.phdrs[1].filesz = raw.len() as u64;
    img.patches = vec![(0x200, raw.to_vec())];
    img
}

#[test]
fn interp_checks() {
    let img = pie_with_interp(b"/lib/ld.so");
    assert!(corrupt_msg(&img).contains("not NUL-terminated"));
    let img = pie_with_interp(b"\0\0");
    assert!(corrupt_msg(&img).contains("empty"));
    let img = pie_with_interp(b"\0");
    assert!(corrupt_msg(&img).contains("PT_INTERP size 1"));
    let img = pie_with_interp(b"/lib/\xff\xfe.so\0");
    assert!(corrupt_msg(&img).contains("not UTF-8"));
    // Stops at the first NUL, as the kernel's C string does.
    let img = pie_with_interp(b"/lib/ld.so\0junk\0");
    assert_eq!(
        parse(&img.build()).unwrap().interp.as_deref(),
        Some("/lib/ld.so")
    );

    let mut long = vec![b'a'; 4096];
    long[0] = b'/';
    long.push(0);
    let mut img = pie_with_interp(&long);
    img.phdrs[1].offset = 0x400;
    img.patches[0].0 = 0x400;
    assert!(corrupt_msg(&img).contains("PT_INTERP size 4097"));
    long.truncate(4095);
    long.push(0);
    let mut img = pie_with_interp(&long);
    img.phdrs[1].offset = 0x2400;
    img.patches[0].0 = 0x2400;
    assert_eq!(
        parse(&img.build()).unwrap().interp.map(|s| s.len()),
        Some(4095)
    );

    let mut img = pie();
    img.phdrs[1].offset = 0x23f0;
    assert_eq!(
        parse(&img.build()),
        Err(LoadError::Truncated("PT_INTERP past end of file"))
    );
}

#[test]
fn first_interp_wins() {
    let mut img = pie();
    img.phdrs.push(Ph::other(PT_INTERP, PF_R, 0x280, 0x280, 4));
    img.patches.push((0x280, b"/x\0\0".to_vec()));
    assert_eq!(parse(&img.build()).unwrap().interp.as_deref(), Some(INTERP));
}

#[test]
fn error_messages() {
    let cases = [
        (LoadError::NotElf, "not an ELF file"),
        (
            LoadError::Not64Bit,
            "32-bit ELF is not supported (only x86-64)",
        ),
        (
            LoadError::BigEndian,
            "big-endian ELF is not supported (only x86-64)",
        ),
        (
            LoadError::WrongMachine(183),
            "ELF for machine 183 (aarch64), not x86-64",
        ),
        (
            LoadError::WrongMachine(3),
            "ELF for machine 3 (i386), not x86-64",
        ),
        (
            LoadError::WrongMachine(40),
            "ELF for machine 40 (arm), not x86-64",
        ),
        (
            LoadError::WrongMachine(243),
            "ELF for machine 243 (riscv), not x86-64",
        ),
        (
            LoadError::WrongMachine(7777),
            "ELF for machine 7777, not x86-64",
        ),
        (
            LoadError::NotExecutable(1),
            "ELF type 1 (relocatable object) is not an executable or shared object",
        ),
        (
            LoadError::Truncated("program headers past end of file"),
            "truncated ELF: program headers past end of file",
        ),
        (
            LoadError::Corrupt("PT_LOAD segments overlap".into()),
            "corrupt ELF: PT_LOAD segments overlap",
        ),
    ];
    for (err, text) in cases {
        assert_eq!(err.to_string(), text);
    }
}

/// Reads a system binary; missing means the test machine is not set up.
fn system_file(path: &str, package: &str) -> Vec<u8> {
    std::fs::read(path)
        .unwrap_or_else(|e| panic!("cannot read {path} ({e}); install the `{package}` package"))
}

fn assert_sane(plan: &LoadPlan) {
    assert_eq!(plan.phent, 56);
    assert!(plan.segments.iter().any(|s| s.prot.exec));
    let entry_seg = plan
        .segments
        .iter()
        .find(|s| plan.entry >= s.vaddr && plan.entry < s.vaddr + s.memsz)
        .expect("entry in a segment");
    assert!(entry_seg.prot.exec);
    assert!(!plan.exec_stack);
}

#[test]
fn parses_bin_ls() {
    let plan = parse(&system_file("/bin/ls", "coreutils")).unwrap();
    assert_eq!(plan.kind, ElfKind::Dyn);
    assert_eq!(plan.interp.as_deref(), Some("/lib64/ld-linux-x86-64.so.2"));
    assert_eq!(plan.span.0, 0);
    assert_eq!(plan.phdr_vaddr, Some(64));
    assert!(plan.segments.len() >= 2);
    assert_sane(&plan);
}

#[test]
fn parses_the_dynamic_linker() {
    let plan = parse(&system_file("/lib64/ld-linux-x86-64.so.2", "libc6")).unwrap();
    assert_eq!(plan.kind, ElfKind::Dyn);
    assert_eq!(plan.interp, None);
    assert_sane(&plan);
}

#[test]
fn parses_static_busybox() {
    let plan = parse(&system_file("/bin/busybox", "busybox-static")).unwrap();
    assert_eq!(plan.kind, ElfKind::Exec);
    assert_eq!(plan.interp, None, "/bin/busybox must be the static build");
    // No PT_PHDR in a static executable: found through the first PT_LOAD.
    assert_eq!(plan.phdr_vaddr, Some(plan.span.0 + 64));
    assert_sane(&plan);
}
