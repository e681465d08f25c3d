//! The seccomp allow-list as a BPF search tree. seccompiler emits one
//! linear chain of checks: for picorun's ~220 allowed calls that is ~970
//! instructions, and the kernel, which runs a new filter once per syscall
//! number when it is attached (to cache the calls it always allows), took
//! ~0.5 ms of every start to attach it. A binary search over the sorted
//! numbers decides in ~10 instructions. One filter does it all (each
//! attach costs its own pass over every number): allowed calls, the one
//! call allowed by its first argument (clone without namespace flags) and
//! calls with a fixed answer (clone3's ENOSYS).

use seccompiler::sock_filter;

const LD_ABS: u16 = 0x20; // BPF_LD | BPF_W | BPF_ABS
const JEQ: u16 = 0x15; // BPF_JMP | BPF_JEQ | BPF_K
const JGE: u16 = 0x35; // BPF_JMP | BPF_JGE | BPF_K
const JGT: u16 = 0x25; // BPF_JMP | BPF_JGT | BPF_K
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

/// What the filter does with one listed syscall number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Leaf {
    Allow,
    /// Allowed when the low half of the first argument has none of these
    /// bits set, else denied.
    Guarded(u32),
    /// Answered with this return value (e.g. an errno).
    Answer(u32),
}

/// Consecutive numbers with the same verdict: `lo..=hi`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Run {
    lo: u32,
    hi: u32,
    leaf: Leaf,
}

/// A filter that allows `allowed` (any order, no duplicates needed),
/// `guarded.0` when its first argument has none of the bits in `guarded.1`
/// set, answers each `(nr, ret)` of `answered` with `ret`, and answers
/// everything else, other architectures and x32 with `deny`.
///
/// Its size is what an attach costs (~0.12 µs an instruction here, besides
/// the pass over every number), so it searches runs of consecutive
/// numbers (picorun's ~190 allowed calls are ~55 runs), not numbers.
pub fn allow_list(
    allowed: &[u32],
    guarded: (u32, u32),
    answered: &[(u32, u32)],
    deny: u32,
) -> Vec<sock_filter> {
    let mut numbers: Vec<(u32, Leaf)> = allowed
        .iter()
        .map(|&nr| (nr, Leaf::Allow))
        .chain([(guarded.0, Leaf::Guarded(guarded.1))])
        .chain(answered.iter().map(|&(nr, ret)| (nr, Leaf::Answer(ret))))
        .collect();
    // The last word on a number wins: answered, then guarded, then allowed.
    numbers.reverse();
    numbers.sort_by_key(|&(nr, _)| nr);
    numbers.dedup_by_key(|&mut (nr, _)| nr);
    let mut runs: Vec<Run> = Vec::new();
    for (nr, leaf) in numbers {
        match runs.last_mut() {
            Some(run) if leaf == Leaf::Allow && run.leaf == Leaf::Allow && run.hi + 1 == nr => {
                run.hi = nr
            }
            _ => runs.push(Run {
                lo: nr,
                hi: nr,
                leaf,
            }),
        }
    }
    let mut program = vec![
        op(LD_ABS, 0, 0, ARCH),
        op(JEQ, 1, 0, AUDIT_ARCH_X86_64),
        op(RET, 0, 0, deny),
        op(LD_ABS, 0, 0, NR),
        op(JGE, 0, 1, X32_BIT),
        op(RET, 0, 0, deny),
    ];
    tree(&runs, deny, &mut program);
    program
}

fn tree(runs: &[Run], deny: u32, out: &mut Vec<sock_filter>) {
    if runs.len() <= LEAF {
        leaf(runs, deny, out);
        return;
    }
    let (left, right) = runs.split_at(runs.len() / 2);
    out.push(op(JGE, 0, 1, right[0].lo));
    let jump = out.len();
    out.push(op(JA, 0, 0, 0));
    tree(left, deny, out);
    // `ja` skips the left subtree: its offset counts from the next instruction.
    out[jump].k = (out.len() - jump - 1) as u32;
    tree(right, deny, out);
}

/// A few runs in order: for each, past its end go on to the next, else
/// from its start its verdict; below its start (or past the last) deny.
/// The verdicts follow the checks; jumps are forward and short.
fn leaf(runs: &[Run], deny: u32, out: &mut Vec<sock_filter>) {
    let checks = out.len();
    let deny_at = checks + 2 * runs.len();
    let allow_at = deny_at + 1;
    // Where each run's verdict starts: the shared `ret allow`, or a block
    // of its own after it.
    let mut next_block = allow_at + 1;
    let verdict_at: Vec<usize> = runs
        .iter()
        .map(|run| match run.leaf {
            Leaf::Allow => allow_at,
            Leaf::Answer(_) => {
                next_block += 1;
                next_block - 1
            }
            Leaf::Guarded(_) => {
                next_block += 4;
                next_block - 4
            }
        })
        .collect();
    // A jump from the instruction at `from` to `to`, as BPF counts it.
    let offset = |from: usize, to: usize| (to - from - 1) as u8;
    for (i, run) in runs.iter().enumerate() {
        let at = out.len();
        let past = if i + 1 < runs.len() { at + 2 } else { deny_at };
        out.push(op(JGT, offset(at, past), 0, run.hi));
        out.push(op(
            JGE,
            offset(at + 1, verdict_at[i]),
            offset(at + 1, deny_at),
            run.lo,
        ));
    }
    out.push(op(RET, 0, 0, deny));
    out.push(op(RET, 0, 0, RET_ALLOW));
    for run in runs {
        match run.leaf {
            Leaf::Allow => {}
            Leaf::Answer(ret) => out.push(op(RET, 0, 0, ret)),
            // Any bit of the mask set: deny, else allow (BPF jumps only
            // forward, so this block has its own `ret allow`).
            Leaf::Guarded(mask) => out.extend([
                op(LD_ABS, 0, 0, ARG0_LOW),
                op(JSET, 0, 1, mask),
                op(RET, 0, 0, deny),
                op(RET, 0, 0, RET_ALLOW),
            ]),
        }
    }
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
            JGT => pc = jump(pc, a > i.k),
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

    /// What `allow_list(allowed, guarded, answered, DENY)` must answer for
    /// `nr` with a first argument of 0.
    fn expected(nr: u32, allowed: &[u32], guarded: (u32, u32), answered: &[(u32, u32)]) -> u32 {
        if let Some(&(_, ret)) = answered.iter().find(|a| a.0 == nr) {
            ret
        } else if allowed.contains(&nr) || nr == guarded.0 {
            RET_ALLOW
        } else {
            DENY
        }
    }

    #[test]
    fn allows_exactly_the_list() {
        let allowed: Vec<u32> = (0..300).filter(|n| n % 3 == 0 || n % 7 == 1).collect();
        let guarded = (56, 0x7e02_0000);
        // 435 (clone3) is answered; 3 is both allowed and answered.
        let answered = [(435, ret_errno(38)), (3, ret_errno(4))];
        let program = allow_list(&allowed, guarded, &answered, DENY);
        for nr in 0..700u32 {
            let want = expected(nr, &allowed, guarded, &answered);
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
    fn runs_are_checked_at_both_ends() {
        // Long runs, a guarded number next to one, an answered number that
        // splits one, and numbers at the ends of the range.
        let allowed: Vec<u32> = (0..50).chain(60..62).chain([100, 0x3fff_ffff]).collect();
        let guarded = (50, 0x10);
        let answered = [(20, ret_errno(38)), (435, ret_errno(38))];
        let program = allow_list(&allowed, guarded, &answered, DENY);
        for nr in (0..700u32).chain([0x3fff_fffe, 0x3fff_ffff]) {
            let want = expected(nr, &allowed, guarded, &answered);
            assert_eq!(run(&program, AUDIT_ARCH_X86_64, nr, 0), want, "nr {nr}");
        }
        assert_eq!(run(&program, AUDIT_ARCH_X86_64, 50, 0x10), DENY);
        assert!(program.len() < 40, "{} instructions", program.len());
    }

    #[test]
    fn decides_in_a_few_steps_and_jumps_fit() {
        let allowed: Vec<u32> = (0..450).collect();
        let program = allow_list(&allowed, (56, 1), &[(435, ret_errno(38))], DENY);
        // Every relative jump of the tree lands inside the program.
        for (at, i) in program.iter().enumerate() {
            let reach = match i.code {
                JA => i.k as usize,
                JEQ | JGE | JGT | JSET => usize::from(i.jt.max(i.jf)),
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
