//! Per-process signal state: dispositions, the blocked mask, the queue of
//! pending signals with their siginfo, and the alternate stack — and the
//! decision of what a pending signal does.

use std::sync::{Arc, Mutex, MutexGuard};

use pico_abi::signal::{self as sig, DefaultAction, KernelSigaction};
use pico_abi::Errno;

use crate::hostsig;
use crate::sigframe::{AltStack, SIGINFO_SIZE};

/// A queued signal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pending {
    pub signo: u32,
    pub info: [u8; SIGINFO_SIZE],
}

/// What delivering a signal requires.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// The process dies by this signal.
    Kill(u32),
    /// The whole process stops (host job control carries it out).
    Stop(u32),
    /// Run the guest's handler.
    Handler(Pending, KernelSigaction),
}

pub const SS_ONSTACK: u32 = 1;
pub const SS_DISABLE: u32 = 2;

/// Dispositions, shared by the threads of a process.
type Actions = Arc<Mutex<[KernelSigaction; 64]>>;

pub struct Signals {
    actions: Actions,
    pub blocked: u64,
    queue: Vec<Pending>,
    pub altstack: AltStack,
    /// The mask to record in the next frame instead of `blocked`
    /// (rt_sigsuspend runs the handler under its temporary mask).
    pub saved_mask: Option<u64>,
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
            actions: Arc::new(Mutex::new([KernelSigaction::default(); 64])),
            blocked: 0,
            queue: Vec::new(),
            altstack: AltStack {
                sp: 0,
                flags: SS_DISABLE,
                size: 0,
            },
            saved_mask: None,
        }
    }
}

impl Signals {
    /// Signals ignored by picorun's parent start ignored in the guest, as
    /// across a native exec; every other routable signal is caught on the
    /// host and routed to the guest.
    pub fn inherit() -> Signals {
        // The blocked mask is inherited across exec too; picorun's host mask
        // is what its parent left, and from now on mirrors the guest's.
        let s = Signals {
            blocked: hostsig::host_blocked() & !UNBLOCKABLE,
            ..Signals::default()
        };
        for signo in 1..=64 {
            // Rust's runtime ignores SIGPIPE in picorun before main, so
            // what picorun's parent had is lost: the guest starts with the
            // default, as nearly every parent leaves it.
            if signo != sig::SIGPIPE && hostsig::host_ignores(signo) {
                s.actions()[(signo - 1) as usize].handler = sig::SIG_IGN;
            } else {
                hostsig::catch(signo);
            }
        }
        s
    }

    /// A new thread's state: the process's dispositions, the creator's
    /// mask, nothing pending, no alternate stack.
    pub fn for_new_thread(&self) -> Signals {
        Signals {
            actions: self.actions.clone(),
            blocked: self.blocked,
            ..Signals::default()
        }
    }

    /// A forked child's state: a copy of everything (its own dispositions).
    pub fn for_child(&self) -> Signals {
        let actions = *self.actions();
        Signals {
            actions: Arc::new(Mutex::new(actions)),
            blocked: self.blocked,
            queue: Vec::new(),
            altstack: self.altstack,
            saved_mask: None,
        }
    }

    fn actions(&self) -> MutexGuard<'_, [KernelSigaction; 64]> {
        self.actions.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn action(&self, signo: u32) -> KernelSigaction {
        self.actions()[(signo - 1) as usize]
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
            self.actions()[(signo - 1) as usize] = new;
            // An ignored signal is ignored by the host too (it never
            // interrupts a host call); any other is caught and routed.
            if new.handler == sig::SIG_IGN {
                if hostsig::routed(signo) {
                    crate::host::set_host_disposition(signo as i32, true);
                }
            } else {
                hostsig::catch(signo);
            }
            if self.ignored(signo) {
                self.queue.retain(|p| p.signo != signo);
            }
        }
        Ok(old)
    }

    /// execve: handlers become the default, ignored signals stay ignored,
    /// the mask and pending signals stay, the alternate stack goes.
    pub fn reset_for_exec(&mut self) {
        for a in self.actions().iter_mut() {
            if a.handler != sig::SIG_IGN {
                *a = KernelSigaction::default();
            }
        }
        self.altstack = AltStack {
            sp: 0,
            flags: SS_DISABLE,
            size: 0,
        };
        self.saved_mask = None;
    }

    /// Sets this thread's mask (and the host thread's, see
    /// [`hostsig::mirror_mask`]); must be called on the thread that owns it.
    pub fn set_blocked(&mut self, mask: u64) {
        let mask = mask & !UNBLOCKABLE;
        if mask != self.blocked {
            hostsig::mirror_mask(mask);
        }
        self.blocked = mask;
    }

    fn ignored(&self, signo: u32) -> bool {
        match self.action(signo).handler {
            sig::SIG_IGN => true,
            sig::SIG_DFL => matches!(
                sig::default_action(signo),
                DefaultAction::Ignore | DefaultAction::Continue
            ),
            _ => false,
        }
    }

    /// Queues a signal unless it is ignored; a standard signal already
    /// pending is not queued twice, real-time signals queue.
    pub fn enqueue(&mut self, signo: u32, info: [u8; SIGINFO_SIZE]) {
        if self.ignored(signo) {
            return;
        }
        if signo < sig::SIGRTMIN && self.queue.iter().any(|p| p.signo == signo) {
            return;
        }
        self.queue.push(Pending { signo, info });
    }

    /// Pending signals (rt_sigpending).
    pub fn pending_mask(&self) -> u64 {
        self.queue.iter().fold(0, |m, p| m | bit(p.signo))
    }

    /// Whether an unblocked signal is queued.
    pub fn deliverable(&self) -> bool {
        self.pending_mask() & !self.blocked != 0
    }

    /// The handler the next deliverable signal would run, if any.
    pub fn next_handler(&self) -> Option<KernelSigaction> {
        let p = self.peek()?;
        let act = self.action(p.signo);
        (act.handler != sig::SIG_DFL && act.handler != sig::SIG_IGN).then_some(act)
    }

    fn peek(&self) -> Option<&Pending> {
        let ready = self.pending_mask() & !self.blocked;
        if ready == 0 {
            return None;
        }
        let signo = ready.trailing_zeros() + 1;
        self.queue.iter().find(|p| p.signo == signo)
    }

    /// Takes the first queued signal in `set` (rt_sigtimedwait).
    pub fn take_from(&mut self, set: u64) -> Option<Pending> {
        let at = self.queue.iter().position(|p| set & bit(p.signo) != 0)?;
        Some(self.queue.remove(at))
    }

    /// Dequeues the next deliverable signal and says what it does.
    pub fn next_action(&mut self) -> Option<Action> {
        loop {
            let p = *self.peek()?;
            let at = self.queue.iter().position(|q| *q == p)?;
            self.queue.remove(at);
            let act = self.action(p.signo);
            match act.handler {
                sig::SIG_IGN => continue,
                sig::SIG_DFL => match sig::default_action(p.signo) {
                    DefaultAction::Terminate | DefaultAction::CoreDump => {
                        return Some(Action::Kill(p.signo))
                    }
                    DefaultAction::Stop => return Some(Action::Stop(p.signo)),
                    DefaultAction::Ignore | DefaultAction::Continue => continue,
                },
                _ => {
                    if act.flags & sig::SA_RESETHAND != 0 {
                        self.actions()[(p.signo - 1) as usize] = KernelSigaction::default();
                    }
                    return Some(Action::Handler(p, act));
                }
            }
        }
    }

    /// A synchronous fault: delivered to the handler if one is installed
    /// and the signal is not blocked; otherwise it kills, even if ignored
    /// (Linux's force_sig).
    pub fn fault(&mut self, p: Pending) -> Action {
        let act = self.action(p.signo);
        if act.handler == sig::SIG_DFL
            || act.handler == sig::SIG_IGN
            || self.blocked & bit(p.signo) != 0
        {
            return Action::Kill(p.signo);
        }
        if act.flags & sig::SA_RESETHAND != 0 {
            self.actions()[(p.signo - 1) as usize] = KernelSigaction::default();
        }
        Action::Handler(p, act)
    }

    /// The mask while a handler for `signo` with `act` runs.
    pub fn enter_handler(&mut self, signo: u32, act: &KernelSigaction) {
        let mut mask = self.blocked | act.mask;
        if act.flags & sig::SA_NODEFER == 0 {
            mask |= bit(signo);
        }
        self.set_blocked(mask);
    }

    /// Whether `sp` is on the alternate signal stack.
    pub fn on_altstack(&self, sp: u64) -> bool {
        let a = self.altstack;
        a.flags & SS_DISABLE == 0 && sp > a.sp && sp - a.sp <= a.size
    }
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

    fn info() -> [u8; SIGINFO_SIZE] {
        [0; SIGINFO_SIZE]
    }

    #[test]
    fn default_terminate_kills_and_default_ignore_drops() {
        let mut s = Signals::default();
        s.enqueue(sig::SIGCHLD, info());
        assert_eq!(s.next_action(), None);
        s.enqueue(sig::SIGTERM, info());
        assert_eq!(s.next_action(), Some(Action::Kill(sig::SIGTERM)));
    }

    #[test]
    fn blocked_signals_wait_until_unblocked() {
        let mut s = Signals::default();
        s.set_blocked(bit(sig::SIGUSR1));
        s.enqueue(sig::SIGUSR1, info());
        assert_eq!(s.next_action(), None);
        assert_eq!(s.pending_mask(), bit(sig::SIGUSR1));
        s.set_blocked(0);
        assert_eq!(s.next_action(), Some(Action::Kill(sig::SIGUSR1)));
        assert_eq!(s.pending_mask(), 0);
    }

    #[test]
    fn standard_signals_coalesce_realtime_queue() {
        let mut s = Signals::default();
        s.set_blocked(u64::MAX);
        s.enqueue(sig::SIGUSR1, info());
        s.enqueue(sig::SIGUSR1, info());
        s.enqueue(40, info());
        s.enqueue(40, info());
        assert_eq!(s.queue.len(), 3);
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
    fn faults_kill_when_ignored_or_blocked_and_run_handlers_otherwise() {
        let mut s = Signals::default();
        let p = Pending {
            signo: sig::SIGSEGV,
            info: info(),
        };
        assert_eq!(s.fault(p), Action::Kill(sig::SIGSEGV));
        s.actions()[(sig::SIGSEGV - 1) as usize].handler = 0x401000;
        assert!(matches!(s.fault(p), Action::Handler(..)));
        s.set_blocked(bit(sig::SIGSEGV));
        assert_eq!(s.fault(p), Action::Kill(sig::SIGSEGV));
    }

    #[test]
    fn handler_mask_adds_the_signal_unless_nodefer() {
        let mut s = Signals::default();
        let a = KernelSigaction {
            handler: 1,
            mask: bit(sig::SIGUSR2),
            ..Default::default()
        };
        s.enter_handler(sig::SIGUSR1, &a);
        assert_eq!(s.blocked, bit(sig::SIGUSR1) | bit(sig::SIGUSR2));
        let mut s = Signals::default();
        let a = KernelSigaction {
            handler: 1,
            flags: sig::SA_NODEFER,
            ..Default::default()
        };
        s.enter_handler(sig::SIGUSR1, &a);
        assert_eq!(s.blocked, 0);
    }

    #[test]
    fn resethand_restores_the_default() {
        let mut s = Signals::default();
        s.actions()[(sig::SIGUSR1 - 1) as usize] = KernelSigaction {
            handler: 5,
            flags: sig::SA_RESETHAND,
            ..Default::default()
        };
        s.enqueue(sig::SIGUSR1, info());
        assert!(matches!(s.next_action(), Some(Action::Handler(..))));
        assert_eq!(s.action(sig::SIGUSR1).handler, sig::SIG_DFL);
    }
}
