//! The ELF loader on arbitrary bytes: `parse`, `parse_prefix`, `map_steps`,
//! `brk_start`, `span_len` and `parse_shebang` must never panic, and every
//! plan `parse` accepts must keep the promises the mapper relies on.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pico_loader::elf::{page_down, USER_END};
use pico_loader::{parse, parse_prefix, parse_shebang, LoadPlan, MapStep, PAGE_SIZE};

/// What every successful parse guarantees (see `LoadPlan`).
fn check_plan(plan: &LoadPlan, file_len: u64) {
    assert!(!plan.segments.is_empty());
    for pair in plan.segments.windows(2) {
        assert!(pair[0].vaddr + pair[0].memsz <= pair[1].vaddr, "{plan:?}");
    }
    for s in &plan.segments {
        assert!(s.filesz <= s.memsz && s.memsz > 0, "{s:?}");
        assert!(s.offset + s.filesz <= file_len, "{s:?}");
        assert_eq!(s.vaddr % PAGE_SIZE, s.offset % PAGE_SIZE, "{s:?}");
        assert!(s.vaddr + s.memsz <= USER_END, "{s:?}");
    }
    assert!(
        plan.span.0 <= plan.span.1 && plan.span.1 <= USER_END,
        "{plan:?}"
    );
    assert_eq!(plan.span.0 % PAGE_SIZE, 0);
    assert_eq!(plan.span.1 % PAGE_SIZE, 0);
    assert!(
        plan.segments
            .iter()
            .any(|s| s.prot.exec && plan.entry >= s.vaddr && plan.entry < s.vaddr + s.memsz),
        "entry outside the executable segments: {plan:?}"
    );
    if let Some(interp) = &plan.interp {
        assert!(!interp.is_empty() && interp.len() < 4096 && !interp.contains('\0'));
    }
}

/// The mapping steps at `bias` stay inside the biased span, page-aligned.
fn check_steps(plan: &LoadPlan, bias: u64) {
    let (lo, hi) = (plan.span.0 + bias, plan.span.1 + bias);
    for step in plan.map_steps(bias) {
        let (addr, len) = match step {
            MapStep::File {
                addr, len, offset, ..
            } => {
                assert_eq!(offset % PAGE_SIZE, 0);
                (addr, len)
            }
            MapStep::Anon { addr, len, .. } => (addr, len),
            MapStep::Zero { addr, len } => {
                assert!(len > 0 && len < PAGE_SIZE);
                assert_eq!(page_down(addr), page_down(addr + len - 1));
                continue;
            }
        };
        assert_eq!(addr % PAGE_SIZE, 0);
        assert_eq!(len % PAGE_SIZE, 0);
        assert!(
            len > 0 && addr >= lo && addr + len <= hi,
            "{step:?} outside the span"
        );
    }
    assert_eq!(plan.brk_start(bias), hi);
}

fuzz_target!(|data: &[u8]| {
    if let Ok(plan) = parse(data) {
        check_plan(&plan, data.len() as u64);
        check_steps(&plan, 0);
        check_steps(&plan, 0x5555_5555_4000);
        let _ = plan.span_len();
        // Garbage biases: no promise, but no panic either.
        for bias in [
            u64::MAX,
            1 << 63,
            u64::MAX - PAGE_SIZE + 1,
            0x7fff_ffff_f000,
        ] {
            let _ = plan.map_steps(bias);
            let _ = plan.brk_start(bias);
        }
    }
    // The loader reads only a prefix of big files: any split, any claimed length.
    if data.len() >= 2 {
        let cut = usize::from(data[0]) * 16 % data.len();
        let claimed = data.len() as u64 + u64::from(data[1]) * 4096;
        if let Ok(plan) = parse_prefix(&data[..cut], claimed) {
            check_plan(&plan, claimed);
        }
    }
    if let Some(s) = parse_shebang(data) {
        assert!(!s.interpreter.is_empty());
        assert!(!s.interpreter.contains([' ', '\t', '\n', '\0']));
    }
});
