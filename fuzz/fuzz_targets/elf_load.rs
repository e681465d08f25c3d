//! The ELF loader on arbitrary bytes: `parse`, `parse_prefix`, `map_steps`,
//! `brk_start`, `span_len` and `parse_shebang` must never panic, and every
//! plan `parse` accepts must keep the promises the mapper relies on.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pico_loader::invariants::{check_plan, check_steps};
use pico_loader::{parse, parse_prefix, parse_shebang, PAGE_SIZE};

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
