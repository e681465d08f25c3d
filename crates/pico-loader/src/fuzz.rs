//! Deterministic mutation fuzzing of everything that reads untrusted bytes:
//! valid images with a few bytes or fields changed must give a plan or an
//! error, never a panic, and any plan must keep the promises of `parse`.

use crate::elf::{parse, USER_END};
use crate::invariants::{check_plan, check_steps};
use crate::script::parse_shebang;
use crate::testelf::{pie, static_exec};

/// xorshift64: reproducible without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// Values that tend to sit on boundaries.
    fn interesting(&mut self) -> u64 {
        const VALUES: [u64; 12] = [
            0,
            1,
            0x38,
            0x40,
            0xfff,
            0x1000,
            0x400000,
            USER_END,
            1 << 47,
            i64::MAX as u64,
            u64::MAX - 0xfff,
            u64::MAX,
        ];
        match self.below(3) {
            0 => VALUES[self.below(VALUES.len() as u64) as usize],
            1 => self.below(0x3000),
            _ => self.next(),
        }
    }
}

fn mutate(rng: &mut Rng, image: &mut Vec<u8>) {
    for _ in 0..=rng.below(4) {
        match rng.below(5) {
            // A byte in the headers, where it matters most.
            0 | 1 => {
                let at = rng.below(0x240.min(image.len() as u64)) as usize;
                image[at] = rng.next() as u8;
            }
            // A whole 8-byte field in the program header table.
            2 => {
                let at = 64 + 8 * rng.below(48) as usize;
                if at + 8 <= image.len() {
                    image[at..at + 8].copy_from_slice(&rng.interesting().to_le_bytes());
                }
            }
            // A byte anywhere.
            3 => {
                let at = rng.below(image.len() as u64) as usize;
                image[at] = rng.next() as u8;
            }
            _ => image.truncate(rng.below(image.len() as u64 + 1) as usize),
        }
        if image.is_empty() {
            return;
        }
    }
}

#[test]
fn mutated_images_never_panic() {
    let seeds = [static_exec().build(), pie().build()];
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut accepted = 0;
    for i in 0..20_000 {
        let mut image = seeds[i % seeds.len()].clone();
        mutate(&mut rng, &mut image);
        if let Ok(plan) = parse(&image) {
            accepted += 1;
            check_plan(&plan, image.len() as u64);
            check_steps(&plan, 0);
            check_steps(&plan, 0x5555_5555_4000);
        }
        // Garbage bias on whatever came out: must not panic either.
        if let Ok(plan) = parse(&image) {
            let _ = plan.map_steps(rng.next());
            let _ = plan.brk_start(u64::MAX);
        }
    }
    // The mutations must leave some images valid, or the checks above test nothing.
    assert!(accepted > 1000, "only {accepted} mutated images parsed");
}

#[test]
fn random_shebang_lines_never_panic() {
    let mut rng = Rng(42);
    for _ in 0..20_000 {
        let len = rng.below(400) as usize;
        let mut bytes = b"#!".to_vec();
        for _ in 0..len {
            let b = match rng.below(4) {
                0 => b' ',
                1 => b'\n',
                2 => 0,
                _ => rng.next() as u8,
            };
            bytes.push(b);
        }
        if let Some(s) = parse_shebang(&bytes) {
            assert!(!s.interpreter.is_empty());
            assert!(!s.interpreter.contains([' ', '\t', '\n', '\0']));
            assert!(s.interpreter.len() + s.arg.map_or(0, |a| a.len()) < 256);
        }
    }
}
