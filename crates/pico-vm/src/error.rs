//! picorun's own failures in setting up or running a VM. Never a guest
//! errno: a failing KVM ioctl is reported, not turned into guest behaviour.

use std::fmt;
use std::io;

#[derive(Debug)]
pub enum VmError {
    /// `/dev/kvm` cannot be used at all.
    KvmUnavailable { reason: String, hint: &'static str },
    /// A KVM ioctl failed.
    Kvm {
        op: &'static str,
        source: kvm_ioctls::Error,
    },
    /// Host memory for the guest could not be set up.
    Memory { op: &'static str, source: io::Error },
    /// KVM lacks something picorun needs.
    Unsupported(String),
}

impl VmError {
    pub(crate) fn kvm(op: &'static str) -> impl FnOnce(kvm_ioctls::Error) -> VmError {
        move |source| VmError::Kvm { op, source }
    }
}

impl fmt::Display for VmError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VmError::KvmUnavailable { reason, hint } => write!(f, "/dev/kvm: {reason} ({hint})"),
            VmError::Kvm { op, source } => write!(f, "KVM {op} failed: {source}"),
            VmError::Memory { op, source } => write!(f, "guest memory: {op}: {source}"),
            VmError::Unsupported(what) => write!(f, "KVM does not support {what}"),
        }
    }
}

impl std::error::Error for VmError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            VmError::Kvm { source, .. } => Some(source),
            VmError::Memory { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// Turns a failure to open `/dev/kvm` into what the user should do.
pub(crate) fn kvm_open_error(e: kvm_ioctls::Error) -> VmError {
    let (reason, hint) = match e.errno() {
        libc::ENOENT => (
            "no such device".to_string(),
            "KVM is not available: load the kvm module (modprobe kvm_intel or kvm_amd) or run on a host with virtualization enabled",
        ),
        libc::EACCES | libc::EPERM => (
            "permission denied".to_string(),
            "add your user to the 'kvm' group (sudo usermod -aG kvm $USER, then log in again) or run as root",
        ),
        _ => (e.to_string(), "check that KVM works on this host"),
    };
    VmError::KvmUnavailable { reason, hint }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_or_forbidden_kvm_says_what_to_do() {
        let missing = kvm_open_error(kvm_ioctls::Error::new(libc::ENOENT)).to_string();
        assert!(
            missing.contains("no such device") && missing.contains("modprobe"),
            "{missing}"
        );
        let denied = kvm_open_error(kvm_ioctls::Error::new(libc::EACCES)).to_string();
        assert!(
            denied.contains("permission denied") && denied.contains("kvm' group"),
            "{denied}"
        );
    }
}
