//! The initial stack builder on arbitrary argv, envp, auxv and stack tops:
//! an image or `TooLarge`, never a panic; an image must be what a program
//! reads at start-up (argc, NULL-terminated argv and envp pointing at their
//! strings, auxv ending in AT_NULL, 16-byte-aligned sp).
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use pico_loader::{build_stack, StackSpec};

#[derive(Arbitrary, Debug)]
struct Input {
    stack_top: u64,
    argv: Vec<Vec<u8>>,
    envp: Vec<Vec<u8>>,
    execfn: Vec<u8>,
    platform: Vec<u8>,
    random: [u8; 16],
    auxv: Vec<(u64, u64)>,
    /// Makes one argument long (near MAX_ARG_STRLEN), to reach the limits.
    long_arg: Option<u32>,
}

fn word(bytes: &[u8], at: u64, sp: u64) -> u64 {
    let i = (at - sp) as usize;
    u64::from_le_bytes(bytes[i..i + 8].try_into().unwrap())
}

/// The C string at `addr` in the image (up to its NUL).
fn string(bytes: &[u8], addr: u64, sp: u64) -> &[u8] {
    let rest = &bytes[(addr - sp) as usize..];
    &rest[..rest.iter().position(|&b| b == 0).expect("NUL-terminated")]
}

fn cut_at_nul(s: &[u8]) -> &[u8] {
    &s[..s.iter().position(|&b| b == 0).unwrap_or(s.len())]
}

fuzz_target!(|input: Input| {
    let mut argv = input.argv;
    if let Some(n) = input.long_arg {
        argv.push(vec![b'x'; (n % (140 * 1024)) as usize]);
    }
    let spec = StackSpec {
        stack_top: input.stack_top,
        argv: &argv,
        envp: &input.envp,
        execfn: &input.execfn,
        platform: &input.platform,
        random: input.random,
        auxv: &input.auxv,
    };
    let Ok(img) = build_stack(&spec) else {
        return;
    };
    let top = input.stack_top & !15;
    assert_eq!(img.sp % 16, 0);
    assert_eq!(img.sp + img.bytes.len() as u64, top);
    let b = &img.bytes;
    assert_eq!(word(b, img.sp, img.sp), argv.len() as u64);
    for (i, arg) in argv.iter().enumerate() {
        let p = word(b, img.argv_addr + 8 * i as u64, img.sp);
        assert!(p >= img.args.0 && p < img.args.1);
        assert_eq!(string(b, p, img.sp), cut_at_nul(arg));
    }
    assert_eq!(word(b, img.argv_addr + 8 * argv.len() as u64, img.sp), 0);
    for (i, env) in input.envp.iter().enumerate() {
        let p = word(b, img.envp_addr + 8 * i as u64, img.sp);
        assert!(p >= img.env.0 && p < img.env.1);
        assert_eq!(string(b, p, img.sp), cut_at_nul(env));
    }
    assert_eq!(
        word(b, img.envp_addr + 8 * input.envp.len() as u64, img.sp),
        0
    );
    // auxv: the caller's pairs, then AT_RANDOM, AT_EXECFN, AT_PLATFORM, AT_NULL.
    let n = input.auxv.len() as u64;
    for (i, &(k, v)) in input.auxv.iter().enumerate() {
        assert_eq!(word(b, img.auxv_addr + 16 * i as u64, img.sp), k);
        assert_eq!(word(b, img.auxv_addr + 16 * i as u64 + 8, img.sp), v);
    }
    assert_eq!(word(b, img.auxv_addr + 16 * (n + 3), img.sp), 0);
    assert_eq!(
        string(b, img.execfn_addr, img.sp),
        cut_at_nul(&input.execfn)
    );
    let r = (img.random_addr - img.sp) as usize;
    assert_eq!(&b[r..r + 16], &input.random);
});
