//! Per-process signal state: dispositions, the blocked mask and pending
//! signals, and what happens when a signal becomes deliverable.
//!
//! Default actions (terminate, core, ignore, stop, continue) and SIG_IGN
//! are carried out exactly. Running a guest handler needs a signal frame on
//! the guest stack, which this driver does not build yet: a signal that
//! would run a handler ends the process with a clear message rather than
//! being silently dropped.

use pico_abi::signal::{self as sig, DefaultAction, KernelSigaction};
use pico_abi::Errno;

/// What the dispatcher must do about a signal now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Disposition {
    /// Nothing (ignored, or left pending because it is blocked).
    None,
    /// The process dies by this signal.
    Kill(u32),
    /// The whole process stops (host job control carries it out).
    Stop(u32),
    /// A guest handler must run: not supported yet.
    Handler(u32),
}

pub struct Signals {
    actions: [KernelSigaction; 64],
    pub blocked: u64,
    pub pending: u64,
}

const UNBLOCKABLE: u64 = bit(sig::SIGKILL) | bit(sig::SIGSTOP);

pub const fn bit(signo: u32) -> u64 {
    1 << (signo - 1)
}

fn valid(signo: u64) -> Result<u32, Errno> {
    if (1..=64).contains(&signo) {
        Ok(signo as u32)
    } else {
        Err(Errno::EINVAL)
    }
}

impl Default for Signals {
    fn default() -> Self {
        Signals {
            actions: [KernelSigaction::default(); 64],
            blocked: 0,
            pending: 0,
        }
    }
}

impl Signals {
    pub fn action(&self, signo: u32) -> KernelSigaction {
        self.actions[(signo - 1) as usize]
    }

    /// rt_sigaction's state change; returns the old action.
    pub fn set_action(
        &mut self,
        signo: u64,
        new: Option<KernelSigaction>,
    ) -> Result<KernelSigaction, Errno> {
        let signo = valid(signo)?;
        let old = self.action(signo);
        if let Some(new) = new {
            if signo == sig::SIGKILL || signo == sig::SIGSTOP {
                return Err(Errno::EINVAL);
            }
            self.actions[(signo - 1) as usize] = new;
            mirror_on_host(signo, new.handler);
            // A newly ignored signal is discarded if pending (POSIX).
            if self.ignored(signo) {
                self.pending &= !bit(signo);
            }
        }
        Ok(old)
    }

    pub fn set_blocked(&mut self, mask: u64) {
        self.blocked = mask & !UNBLOCKABLE;
    }

    fn ignored(&self, signo: u32) -> bool {
        match self.action(signo).handler {
            sig::SIG_IGN => true,
            sig::SIG_DFL => sig::default_action(signo) == DefaultAction::Ignore,
            _ => false,
        }
    }

    /// A signal sent to this process by itself (kill, tgkill, raise) or by
    /// the driver (SIGPIPE, faults). `forced`: a synchronous fault, which
    /// Linux delivers even when blocked or ignored.
    pub fn send(&mut self, signo: u32, forced: bool) -> Disposition {
        if forced {
            let handler = self.action(signo).handler;
            if handler == sig::SIG_DFL || handler == sig::SIG_IGN || self.blocked & bit(signo) != 0
            {
                return Disposition::Kill(signo);
            }
            return Disposition::Handler(signo);
        }
        if self.ignored(signo) {
            return Disposition::None;
        }
        self.pending |= bit(signo);
        self.next_deliverable()
    }

    /// The first pending signal not blocked, taken off the pending set.
    pub fn next_deliverable(&mut self) -> Disposition {
        let ready = self.pending & !self.blocked;
        if ready == 0 {
            return Disposition::None;
        }
        let signo = ready.trailing_zeros() + 1;
        self.pending &= !bit(signo);
        match self.action(signo).handler {
            sig::SIG_IGN => Disposition::None,
            sig::SIG_DFL => match sig::default_action(signo) {
                DefaultAction::Terminate | DefaultAction::CoreDump => Disposition::Kill(signo),
                DefaultAction::Stop => Disposition::Stop(signo),
                DefaultAction::Ignore | DefaultAction::Continue => Disposition::None,
            },
            _ => Disposition::Handler(signo),
        }
    }
}

/// Signals from other processes reach picorun itself: make the host's
/// disposition match the guest's for ignore and default, so `kill -INT`
/// does to the pico process what it would do natively.
fn mirror_on_host(signo: u32, handler: u64) {
    let ignore = match handler {
        sig::SIG_IGN => true,
        sig::SIG_DFL => false,
        _ => return,
    };
    // SIGPIPE stays ignored on the host: the driver turns EPIPE into the
    // guest's SIGPIPE itself. SIGKILL/SIGSTOP cannot be changed.
    if signo == sig::SIGPIPE || signo == sig::SIGKILL || signo == sig::SIGSTOP || signo > 31 {
        return;
    }
    crate::host::set_host_disposition(signo as i32, ignore);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn act(handler: u64) -> Option<KernelSigaction> {
        Some(KernelSigaction {
            handler,
            ..Default::default()
        })
    }

    #[test]
    fn default_terminate_kills() {
        let mut s = Signals::default();
        assert_eq!(s.send(sig::SIGTERM, false), Disposition::Kill(sig::SIGTERM));
        assert_eq!(
            s.send(sig::SIGCHLD, false),
            Disposition::None,
            "default ignore"
        );
    }

    #[test]
    fn blocked_signals_wait_until_unblocked() {
        let mut s = Signals::default();
        s.set_blocked(bit(sig::SIGUSR1));
        assert_eq!(s.send(sig::SIGUSR1, false), Disposition::None);
        assert_eq!(s.pending, bit(sig::SIGUSR1));
        s.set_blocked(0);
        assert_eq!(s.next_deliverable(), Disposition::Kill(sig::SIGUSR1));
        assert_eq!(s.pending, 0);
    }

    #[test]
    fn sigkill_cannot_be_caught_or_blocked() {
        let mut s = Signals::default();
        assert_eq!(
            s.set_action(u64::from(sig::SIGKILL), act(sig::SIG_IGN)),
            Err(Errno::EINVAL)
        );
        s.set_blocked(u64::MAX);
        assert_eq!(s.blocked & bit(sig::SIGKILL), 0);
        assert_eq!(s.set_action(0, None), Err(Errno::EINVAL));
        assert_eq!(s.set_action(65, None), Err(Errno::EINVAL));
    }

    #[test]
    fn faults_kill_even_when_ignored() {
        let mut s = Signals::default();
        s.set_action(u64::from(sig::SIGUSR2), act(sig::SIG_IGN))
            .unwrap();
        assert_eq!(s.send(sig::SIGUSR2, false), Disposition::None);
        assert_eq!(s.send(sig::SIGUSR2, true), Disposition::Kill(sig::SIGUSR2));
    }

    #[test]
    fn handlers_are_reported_not_dropped() {
        let mut s = Signals::default();
        s.set_action(u64::from(sig::SIGUSR2), act(0x401000))
            .unwrap();
        assert_eq!(
            s.send(sig::SIGUSR2, false),
            Disposition::Handler(sig::SIGUSR2)
        );
    }
}
