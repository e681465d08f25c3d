//! The promises a [`LoadPlan`] keeps, as checks: what the mapper relies on
//! for every plan `parse` accepts. The mutation tests and the fuzz targets
//! (`fuzz/`) assert them on whatever bytes they feed the loader.

use crate::elf::{page_down, LoadPlan, PAGE_SIZE, USER_END};
use crate::map::MapStep;

/// What every successful parse guarantees (see `LoadPlan`).
pub fn check_plan(plan: &LoadPlan, file_len: u64) {
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
pub fn check_steps(plan: &LoadPlan, bias: u64) {
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
