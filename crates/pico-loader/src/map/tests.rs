use super::*;
use crate::elf::{parse, ElfKind};
use crate::testelf::{pie, static_exec};

const RW: Prot = Prot {
    read: true,
    write: true,
    exec: false,
};
const RX: Prot = Prot {
    read: true,
    write: false,
    exec: true,
};

fn plan_of(segments: Vec<Segment>) -> LoadPlan {
    let lo = segments.first().map_or(0, |s| page_down(s.vaddr));
    let hi = segments
        .last()
        .map_or(0, |s| page_up_sat(s.vaddr + s.memsz));
    LoadPlan {
        kind: ElfKind::Dyn,
        segments,
        entry: 0,
        phdr_vaddr: None,
        phent: 56,
        phnum: 1,
        interp: None,
        exec_stack: false,
        span: (lo, hi),
    }
}

fn one(vaddr: u64, memsz: u64, offset: u64, filesz: u64, prot: Prot) -> LoadPlan {
    plan_of(vec![Segment {
        vaddr,
        memsz,
        offset,
        filesz,
        prot,
    }])
}

#[test]
fn bss_tail_mid_page_gives_file_zero_anon() {
    let plan = one(0x403100, 0x2000, 0x2100, 0x300, RW);
    assert_eq!(
        plan.map_steps(0),
        vec![
            MapStep::File {
                addr: 0x403000,
                len: 0x1000,
                offset: 0x2000,
                prot: RW
            },
            MapStep::Zero {
                addr: 0x403400,
                len: 0xc00
            },
            MapStep::Anon {
                addr: 0x404000,
                len: 0x2000,
                prot: RW
            },
        ]
    );
}

#[test]
fn bias_shifts_addresses_not_offsets() {
    let plan = one(0x3100, 0x2000, 0x2100, 0x300, RW);
    let bias = 0x5555_5555_4000;
    assert_eq!(
        plan.map_steps(bias),
        vec![
            MapStep::File {
                addr: bias + 0x3000,
                len: 0x1000,
                offset: 0x2000,
                prot: RW
            },
            MapStep::Zero {
                addr: bias + 0x3400,
                len: 0xc00
            },
            MapStep::Anon {
                addr: bias + 0x4000,
                len: 0x2000,
                prot: RW
            },
        ]
    );
}

#[test]
fn file_end_on_page_boundary_needs_no_zero() {
    let plan = one(0x1000, 0x3000, 0x1000, 0x1000, RW);
    assert_eq!(
        plan.map_steps(0),
        vec![
            MapStep::File {
                addr: 0x1000,
                len: 0x1000,
                offset: 0x1000,
                prot: RW
            },
            MapStep::Anon {
                addr: 0x2000,
                len: 0x2000,
                prot: RW
            },
        ]
    );
}

#[test]
fn bss_inside_last_file_page_is_zero_only() {
    let plan = one(0x1000, 0x200, 0x1000, 0x100, RW);
    assert_eq!(
        plan.map_steps(0),
        vec![
            MapStep::File {
                addr: 0x1000,
                len: 0x1000,
                offset: 0x1000,
                prot: RW
            },
            // Zeroed to the end of the page, like the kernel's padzero.
            MapStep::Zero {
                addr: 0x1100,
                len: 0xf00
            },
        ]
    );
}

#[test]
fn no_bss_means_no_zero_even_mid_page() {
    let plan = one(0x1000, 0x800, 0x1000, 0x800, RX);
    assert_eq!(
        plan.map_steps(0),
        vec![MapStep::File {
            addr: 0x1000,
            len: 0x1000,
            offset: 0x1000,
            prot: RX
        }]
    );
}

#[test]
fn filesz_zero_is_all_anon() {
    let plan = one(0x5100, 0x100, 0x2100, 0, RW);
    assert_eq!(
        plan.map_steps(0),
        vec![MapStep::Anon {
            addr: 0x5000,
            len: 0x1000,
            prot: RW
        }]
    );
    let plan = one(0x5000, 0x2001, 0, 0, RW);
    assert_eq!(
        plan.map_steps(0),
        vec![MapStep::Anon {
            addr: 0x5000,
            len: 0x3000,
            prot: RW
        }]
    );
}

#[test]
fn parsed_static_exec_steps() {
    let plan = parse(&static_exec().build()).unwrap();
    let steps = plan.map_steps(0);
    assert_eq!(steps.len(), 5);
    assert_eq!(
        steps[0],
        MapStep::File {
            addr: 0x400000,
            len: 0x1000,
            offset: 0,
            prot: Prot {
                read: true,
                write: false,
                exec: false
            }
        }
    );
    assert_eq!(
        steps[1],
        MapStep::File {
            addr: 0x401000,
            len: 0x1000,
            offset: 0x1000,
            prot: RX
        }
    );
    assert_eq!(
        steps[3],
        MapStep::Zero {
            addr: 0x403400,
            len: 0xc00
        }
    );
    assert_eq!(plan.brk_start(0), 0x406000);
    assert_eq!(plan.span_len(), 0x6000);
}

#[test]
fn parsed_pie_brk_and_span() {
    let plan = parse(&pie().build()).unwrap();
    assert_eq!(plan.span_len(), 0x5000);
    assert_eq!(plan.brk_start(0x7f00_0000_0000), 0x7f00_0000_5000);
    // The BSS ends exactly on a page: the last step is an Anon up to it.
    assert_eq!(
        plan.map_steps(0).last(),
        Some(&MapStep::Anon {
            addr: 0x4000,
            len: 0x1000,
            prot: RW
        })
    );
}

#[test]
fn nonsense_plans_do_not_panic() {
    let extremes = [
        0,
        1,
        0xfff,
        0x1000,
        u64::MAX - 0x1000,
        u64::MAX - 1,
        u64::MAX,
    ];
    for &vaddr in &extremes {
        for &memsz in &extremes {
            for &filesz in &extremes {
                let mut plan = one(0, 0, 0, 0, RW);
                plan.segments[0] = Segment {
                    vaddr,
                    memsz,
                    offset: vaddr,
                    filesz,
                    prot: RW,
                };
                plan.span = (vaddr, memsz);
                for &bias in &extremes {
                    let _ = plan.map_steps(bias);
                    let _ = plan.brk_start(bias);
                    let _ = plan.span_len();
                }
            }
        }
    }
}
