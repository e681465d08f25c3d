//! The seccomp allow-list as a BPF search tree. seccompiler (used for the
//! small clone3 filter) emits one linear chain of checks: for picorun's
//! ~220 allowed calls that is ~970 instructions, and the kernel, which runs
//! a new filter once per syscall number when it is attached (to cache the
//! calls it always allows), took ~0.5 ms of every start to attach it. A
//! binary search over the sorted numbers decides in ~10 instructions.

use seccompiler::sock_filter;

const LD_ABS: u16 = 0x20; // BPF_LD | BPF_W | BPF_ABS
const JEQ: u16 = 0x15; // BPF_JMP | BPF_JEQ | BPF_K
const JGE: u16 = 0x35; // BPF_JMP | BPF_JGE | BPF_K
const JSET: u16 = 0x45; // BPF_JMP | BPF_JSET | BPF_K
const JA: u16 = 0x05; // BPF_JMP | BPF_JA
const RET: u16 = 0x06; // BPF_RET | BPF_K

/// seccomp_data offsets: syscall number, audit architecture, low half of
/// the first argument.
const NR: u32 = 0;
const ARCH: u32 = 4;
const ARG0_LOW: u32 = 16;
pub(crate) const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;
/// Numbers from here up are the x32 ABI's.
const X32_BIT: u32 = 0x4000_0000;

pub const RET_ALLOW: u32 = 0x7fff_0000;
pub const fn ret_errno(errno: u32) -> u32 {
    0x0005_0000 | (errno & 0xffff)
}

/// At most this many numbers are checked one after the other at a leaf.
const LEAF: usize = 4;

fn op(code: u16, jt: u8, jf: u8, k: u32) -> sock_filter {
    sock_filter { code, jt, jf, k }
}

/// A filter that allows `allowed` (any order, no duplicates needed) and
/// `guarded` when its first argument has none of the bits in `mask` set,
/// and answers everything else, other architectures and x32 with `deny`.
pub fn allow_list(allowed: &[u32], guarded: (u32, u32), deny: u32) -> Vec<sock_filter> {
    let mut numbers: Vec<u32> = allowed.iter().copied().chain([guarded.0]).collect();
    numbers.sort_unstable();
    numbers.dedup();
    let mut program = vec![
        op(LD_ABS, 0, 0, ARCH),
        op(JEQ, 1, 0, AUDIT_ARCH_X86_64),
        op(RET, 0, 0, deny),
        op(LD_ABS, 0, 0, NR),
        op(JGE, 0, 1, X32_BIT),
        op(RET, 0, 0, deny),
    ];
    tree(&numbers, guarded, deny, &mut program);
    program
}

fn tree(numbers: &[u32], guarded: (u32, u32), deny: u32, out: &mut Vec<sock_filter>) {
    if numbers.len() <= LEAF {
        for &nr in numbers {
            if nr == guarded.0 {
                out.extend([
                    op(JEQ, 0, 4, nr),
                    op(LD_ABS, 0, 0, ARG0_LOW),
                    op(JSET, 0, 1, guarded.1),
                    op(RET, 0, 0, deny),
                    op(RET, 0, 0, RET_ALLOW),
                ]);
            } else {
                out.extend([op(JEQ, 0, 1, nr), op(RET, 0, 0, RET_ALLOW)]);
            }
        }
        out.push(op(RET, 0, 0, deny));
        return;
    }
    let (left, right) = numbers.split_at(numbers.len() / 2);
    out.push(op(JGE, 0, 1, right[0]));
    let jump = out.len();
    out.push(op(JA, 0, 0, 0));
    tree(left, guarded, deny, out);
    // `ja` skips the left subtree: its offset counts from the next instruction.
    out[jump].k = (out.len() - jump - 1) as u32;
    tree(right, guarded, deny, out);
}

/// Runs `program` on one call, as the kernel would (the subset of BPF the
/// builder emits), for tests.
#[cfg(test)]
pub fn run(program: &[sock_filter], arch: u32, nr: u32, arg0: u64) -> u32 {
    let (mut pc, mut a) = (0usize, 0u32);
    loop {
        let i = &program[pc];
        pc += 1;
        let (jt, jf) = (i.jt, i.jf);
        let jump = |pc: usize, taken: bool| pc + usize::from(if taken { jt } else { jf });
        match i.code {
            LD_ABS => {
                a = match i.k {
                    NR => nr,
                    ARCH => arch,
                    ARG0_LOW => arg0 as u32,
                    other => panic!("load of offset {other}"),
                }
            }
            JEQ => pc = jump(pc, a == i.k),
            JGE => pc = jump(pc, a >= i.k),
            JSET => pc = jump(pc, a & i.k != 0),
            JA => pc += i.k as usize,
            RET => return i.k,
            other => panic!("opcode {other:#x}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DENY: u32 = ret_errno(1);

    #[test]
    fn allows_exactly_the_list() {
        let allowed: Vec<u32> = (0..300).filter(|n| n % 3 == 0 || n % 7 == 1).collect();
        let guarded = (56, 0x7e02_0000);
        let program = allow_list(&allowed, guarded, DENY);
        for nr in 0..700u32 {
            let want = if allowed.contains(&nr) || nr == guarded.0 {
                RET_ALLOW
            } else {
                DENY
            };
            assert_eq!(run(&program, AUDIT_ARCH_X86_64, nr, 0), want, "nr {nr}");
        }
        assert_eq!(
            run(&program, AUDIT_ARCH_X86_64, 56, 0x1_0000_0000 | 0x0002_0000),
            DENY
        );
        assert_eq!(run(&program, AUDIT_ARCH_X86_64, 56, 0x0001_1200), RET_ALLOW);
        assert_eq!(run(&program, AUDIT_ARCH_X86_64, X32_BIT, 0), DENY, "x32");
        assert_eq!(run(&program, 0x4000_0003, 0, 0), DENY, "i386");
    }

    #[test]
    fn decides_in_a_few_steps_and_jumps_fit() {
        let allowed: Vec<u32> = (0..450).collect();
        let program = allow_list(&allowed, (56, 1), DENY);
        // Every relative jump of the tree lands inside the program.
        for (at, i) in program.iter().enumerate() {
            let reach = match i.code {
                JA => i.k as usize,
                JEQ | JGE | JSET => usize::from(i.jt.max(i.jf)),
                _ => 0,
            };
            assert!(at + 1 + reach < program.len() || i.code == RET);
        }
        assert!(
            program.len() < 3 * allowed.len(),
            "{} instructions",
            program.len()
        );
    }
}
