//! Where a vCPU stopped inside its fast syscall page, and what that means
//! for the user's state (the rules are in `guest-stubs/trampoline.S`).
//! Pure, so the classification is unit-tested without a VM.

use crate::trampoline::FastCode;

/// What the host does with a vCPU stopped at some offset in the fast page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Position {
    /// Not in the fast page.
    Outside,
    /// Before the registers are saved: they are still the user's, and the
    /// syscall has not started; handle it as an ordinary syscall.
    Entry,
    /// The syscall is under way but has changed nothing that cannot be
    /// redone: restart it as an ordinary syscall from the saved registers.
    Restart,
    /// At the store of the new signal mask (in r11): store it, then finish.
    Commit,
    /// Waiting for a posted (exitless) request: finish with its result if
    /// it was served, else cancel it and restart.
    Posted,
    /// The call is done, rax is the result: finish the return.
    Finish,
}

/// Classifies `rip` for a fast page whose code starts at `base`.
pub fn position(code: &FastCode, base: u64, rip: u64) -> Position {
    let Some(offset) = rip.checked_sub(base) else {
        return Position::Outside;
    };
    let len = code.bytes.len() as u64;
    match offset {
        o if o >= len => Position::Outside,
        o if o < code.saved => Position::Entry,
        o if o > code.post && o < code.posted_end => Position::Posted,
        o if o < code.commit => Position::Restart,
        o if o < code.ret => Position::Commit,
        _ => Position::Finish,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trampoline::fast_code;

    #[test]
    fn points_are_in_order() {
        let c = fast_code();
        assert!(0 < c.saved && c.saved < c.post && c.post < c.wait_out);
        assert!(c.wait_out < c.posted_end && c.posted_end < c.out && c.out < c.commit);
        assert!(c.commit < c.ret && c.ret < c.bytes.len() as u64);
        assert!(c.bytes.len() <= 4096, "fits its page");
    }

    #[test]
    fn classifies_each_region() {
        let c = fast_code();
        let base = 0x1000_0000;
        assert_eq!(position(&c, base, base - 1), Position::Outside);
        assert_eq!(position(&c, base, base), Position::Entry);
        assert_eq!(position(&c, base, base + c.saved), Position::Restart);
        assert_eq!(position(&c, base, base + c.out), Position::Restart);
        assert_eq!(
            position(&c, base, base + c.post),
            Position::Restart,
            "not yet posted"
        );
        assert_eq!(position(&c, base, base + c.post + 1), Position::Posted);
        assert_eq!(position(&c, base, base + c.wait_out + 2), Position::Posted);
        assert_eq!(position(&c, base, base + c.posted_end), Position::Restart);
        assert_eq!(position(&c, base, base + c.commit), Position::Commit);
        assert_eq!(position(&c, base, base + c.ret), Position::Finish);
        let end = base + c.bytes.len() as u64;
        assert_eq!(position(&c, base, end - 1), Position::Finish);
        assert_eq!(position(&c, base, end), Position::Outside);
    }

    #[test]
    fn the_commit_is_one_store_that_falls_into_the_return() {
        let c = fast_code();
        // `mov %r11, disp32(%rip)`: REX.W 89 /r with ModRM 0x1d, 7 bytes.
        let commit = &c.bytes[c.commit as usize..c.ret as usize];
        assert_eq!(&commit[..3], &[0x4c, 0x89, 0x1d]);
        assert_eq!(commit.len(), 7);
    }
}
