use super::at::*;
use super::*;

const TOP: u64 = 0x7fff_ffff_f000;
const RANDOM: [u8; 16] = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16];

fn strings(list: &[&str]) -> Vec<Vec<u8>> {
    list.iter().map(|s| s.as_bytes().to_vec()).collect()
}

fn spec<'a>(argv: &'a [Vec<u8>], envp: &'a [Vec<u8>], auxv: &'a [(u64, u64)]) -> StackSpec<'a> {
    StackSpec {
        stack_top: TOP,
        argv,
        envp,
        execfn: b"/usr/bin/prog",
        platform: b"x86_64",
        random: RANDOM,
        auxv,
    }
}

/// Reads the image back the way a program's start-up code would.
struct Reader<'a> {
    img: &'a StackImage,
}

impl Reader<'_> {
    fn bytes(&self, addr: u64, len: usize) -> &[u8] {
        let off = (addr - self.img.sp) as usize;
        &self.img.bytes[off..off + len]
    }

    fn word(&self, addr: u64) -> u64 {
        u64::from_le_bytes(self.bytes(addr, 8).try_into().unwrap())
    }

    fn cstr(&self, addr: u64) -> String {
        let off = (addr - self.img.sp) as usize;
        let tail = &self.img.bytes[off..];
        let end = tail.iter().position(|&b| b == 0).expect("NUL");
        String::from_utf8(tail[..end].to_vec()).unwrap()
    }

    /// Pointers from `addr` up to the NULL that ends the array.
    fn strings_at(&self, mut addr: u64) -> Vec<String> {
        let mut out = Vec::new();
        loop {
            let p = self.word(addr);
            if p == 0 {
                return out;
            }
            out.push(self.cstr(p));
            addr += 8;
        }
    }

    fn auxv(&self) -> Vec<(u64, u64)> {
        let mut out = Vec::new();
        let mut addr = self.img.auxv_addr;
        loop {
            let pair = (self.word(addr), self.word(addr + 8));
            out.push(pair);
            if pair.0 == AT_NULL {
                return out;
            }
            addr += 16;
        }
    }
}

#[test]
fn layout_reads_back() {
    let argv = strings(&["prog", "-x", ""]);
    let envp = strings(&["A=1", "HOME=/root"]);
    let auxv = [(AT_PAGESZ, 4096), (AT_ENTRY, 0x401000)];
    let img = build_stack(&spec(&argv, &envp, &auxv)).unwrap();
    let r = Reader { img: &img };

    assert_eq!(img.sp % 16, 0);
    assert_eq!(img.bytes.len() as u64, TOP - img.sp);
    assert_eq!(r.word(img.sp), 3);
    assert_eq!(img.argv_addr, img.sp + 8);
    assert_eq!(r.strings_at(img.argv_addr), ["prog", "-x", ""]);
    assert_eq!(img.envp_addr, img.argv_addr + 4 * 8);
    assert_eq!(r.strings_at(img.envp_addr), ["A=1", "HOME=/root"]);
    assert_eq!(img.auxv_addr, img.envp_addr + 3 * 8);

    let aux = r.auxv();
    assert_eq!(aux.len(), 6);
    assert_eq!(aux[..2], auxv);
    assert_eq!(aux[2], (AT_RANDOM, img.random_addr));
    assert_eq!(r.bytes(img.random_addr, 16), RANDOM);
    assert_eq!(aux[3], (AT_EXECFN, img.execfn_addr));
    assert_eq!(r.cstr(img.execfn_addr), "/usr/bin/prog");
    assert_eq!(aux[4], (AT_PLATFORM, img.platform_addr));
    assert_eq!(r.cstr(img.platform_addr), "x86_64");
    assert_eq!(aux[5], (AT_NULL, 0));

    // Linux's placement: NULL word at the top, execfn under it, then envp
    // then argv strings, each array in order, argv[0] lowest.
    assert_eq!(r.bytes(TOP - 8, 8), [0; 8]);
    assert_eq!(img.execfn_addr, TOP - 8 - 14);
    assert_eq!(img.env, (img.args.1, img.execfn_addr));
    assert_eq!(r.bytes(img.env.0, 15), b"A=1\0HOME=/root\0");
    assert_eq!(r.bytes(img.args.0, 9), b"prog\0-x\0\0");
    assert_eq!(img.args.1 - img.args.0, 9);
    assert_eq!(r.word(img.argv_addr), img.args.0);
    assert!(img.random_addr < img.platform_addr && img.platform_addr < img.args.0);
    // The pointer/auxv block ends below the random bytes.
    assert!(img.auxv_addr + 16 * 6 <= img.random_addr);
}

#[test]
fn sp_is_16_aligned_for_every_parity() {
    let pool = strings(&["a", "bb", "ccc", "dddd", "eeeee"]);
    let aux_pool = [(AT_PAGESZ, 4096), (AT_UID, 0), (AT_GID, 0)];
    for argc in 0..5 {
        for envc in 0..5 {
            for auxc in 0..3 {
                let img =
                    build_stack(&spec(&pool[..argc], &pool[..envc], &aux_pool[..auxc])).unwrap();
                let r = Reader { img: &img };
                assert_eq!(img.sp % 16, 0, "argc {argc} envc {envc} auxc {auxc}");
                assert_eq!(r.word(img.sp), argc as u64);
                assert_eq!(r.strings_at(img.argv_addr).len(), argc);
                assert_eq!(r.strings_at(img.envp_addr).len(), envc);
                assert_eq!(r.auxv().len(), auxc + 4);
                // No more than 15 bytes of padding under the random bytes.
                assert!(img.random_addr - (img.auxv_addr + 16 * (auxc as u64 + 4)) < 16);
            }
        }
    }
}

#[test]
fn unaligned_top_is_rounded_down() {
    let argv = strings(&["x"]);
    let mut s = spec(&argv, &[], &[]);
    s.stack_top = TOP + 7;
    let img = build_stack(&s).unwrap();
    assert_eq!(img.sp % 16, 0);
    assert_eq!(img.sp + img.bytes.len() as u64, TOP);
}

#[test]
fn too_large() {
    let long = vec![vec![b'x'; MAX_ARG_STRLEN as usize]];
    assert_eq!(
        build_stack(&spec(&long, &[], &[])),
        Err(StackError::TooLarge)
    );
    assert_eq!(
        build_stack(&spec(&[], &long, &[])),
        Err(StackError::TooLarge)
    );
    // Just under the per-string limit is fine.
    let ok = vec![vec![b'x'; MAX_ARG_STRLEN as usize - 1]];
    assert!(build_stack(&spec(&ok, &[], &[])).is_ok());
    // Many strings, each fine, too much in all.
    let many = vec![vec![b'y'; 100 * 1024]; 21];
    assert_eq!(
        build_stack(&spec(&many, &[], &[])),
        Err(StackError::TooLarge)
    );
    // Many tiny strings: the pointers alone pass the limit.
    let tiny = vec![Vec::new(); 300_000];
    assert_eq!(
        build_stack(&spec(&tiny, &[], &[])),
        Err(StackError::TooLarge)
    );
    assert_eq!(StackError::TooLarge.to_string(), "argument list too long");
}

#[test]
fn low_stack_top_is_an_error_not_a_panic() {
    let argv = strings(&["prog"]);
    for top in [0, 8, 64, 128] {
        let mut s = spec(&argv, &[], &[]);
        s.stack_top = top;
        assert_eq!(build_stack(&s), Err(StackError::TooLarge), "top {top}");
    }
    // The image needs about 170 bytes: with 200 it just fits, down to address 32.
    let mut s = spec(&argv, &[], &[]);
    s.stack_top = 200;
    assert_eq!(build_stack(&s).unwrap().sp, 32);
}
