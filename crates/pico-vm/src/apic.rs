//! Whether a VM gets a local APIC in the kernel, which the guest never
//! uses, because a VM without one costs the host twice.
//!
//! KVM counts vCPUs without an in-kernel APIC in a static key
//! (`kvm_has_noapic_vcpu`). Its first such vCPU on the host turns the key
//! on and the last one's destruction turns it off again, and each turn
//! rewrites kernel text on every CPU: ~0.35 ms under PVM, once at start-up
//! and once at exit, for every short-lived pico process. A split irqchip
//! (`KVM_CAP_SPLIT_IRQCHIP`: APIC in the kernel, PIC and IOAPIC nowhere)
//! keeps that key alone; the APIC's own keys are turned off lazily, a
//! second after the last VM.
//!
//! The guest must not notice. Each vCPU's APIC is disabled through
//! `APIC_BASE` (a disabled APIC decodes no MMIO and takes no interrupt:
//! a guest access to 0xfee00000 with no memory there still faults as
//! before), and vCPUs other than 0 are made runnable by hand (with an
//! in-kernel APIC they start waiting for a startup IPI).
//!
//! Not where KVM would map its APIC-access page into every VM at
//! 0xfee00000 (Intel with flexpriority, AMD with AVIC): that page is a
//! memory slot of KVM's own, which the guest's memory there would
//! collide with. There VMs stay without an APIC, as before.

use std::path::Path;

use kvm_bindings::{kvm_enable_cap, kvm_mp_state, KVM_CAP_SPLIT_IRQCHIP, KVM_MP_STATE_RUNNABLE};
use kvm_ioctls::{Cap, Kvm, VcpuFd, VmFd};

/// Whether VMs on this host get an in-kernel APIC: KVM offers a split
/// irqchip and maps no APIC-access page. Asked once per process.
pub(crate) fn wanted(kvm: &Kvm) -> bool {
    static WANTED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *WANTED.get_or_init(|| {
        kvm.check_extension(Cap::SplitIrqchip) && !maps_access_page(Path::new("/sys/module"))
    })
}

/// Whether the loaded KVM vendor module maps an APIC-access page into
/// VMs with an in-kernel APIC, by its parameters under `modules`
/// (`/sys/module`). A parameter that cannot be read counts as yes.
fn maps_access_page(modules: &Path) -> bool {
    let enabled = |module: &str, parameter: &str| -> bool {
        if !modules.join(module).exists() {
            return false;
        }
        let path = modules.join(module).join("parameters").join(parameter);
        match std::fs::read_to_string(path) {
            Ok(value) => !matches!(value.trim(), "N" | "0"),
            Err(_) => true,
        }
    };
    enabled("kvm_intel", "flexpriority") || enabled("kvm_amd", "avic")
}

/// Gives `vm` (no vCPU yet) an in-kernel APIC and nothing else; whether
/// KVM took it.
pub(crate) fn enable(vm: &VmFd) -> bool {
    let mut cap = kvm_enable_cap {
        cap: KVM_CAP_SPLIT_IRQCHIP,
        ..Default::default()
    };
    // No IOAPIC pins: the guest has no devices.
    cap.args[0] = 0;
    match vm.enable_cap(&cap) {
        Ok(()) => true,
        Err(e) => {
            log::debug!("no in-kernel APIC (KVM_CAP_SPLIT_IRQCHIP): {e}");
            false
        }
    }
}

/// `APIC_BASE` for a vCPU: 0 is the APIC disabled.
pub(crate) const DISABLED_BASE: u64 = 0;

/// Makes a vCPU other than 0 runnable: with an in-kernel APIC, KVM starts
/// it waiting for a startup IPI that nothing will send.
pub(crate) fn make_runnable(vcpu: &VcpuFd) -> Result<(), kvm_ioctls::Error> {
    vcpu.set_mp_state(kvm_mp_state {
        mp_state: KVM_MP_STATE_RUNNABLE,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A module's parameter and its value, as under `/sys/module`.
    type Param = (&'static str, &'static str, &'static str);

    fn modules(params: &[Param]) -> std::path::PathBuf {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("pico-apic-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("kvm/parameters")).unwrap();
        for (module, parameter, value) in params {
            let p = dir.join(module).join("parameters");
            std::fs::create_dir_all(&p).unwrap();
            if !parameter.is_empty() {
                std::fs::write(p.join(parameter), value).unwrap();
            }
        }
        dir
    }

    #[test]
    fn access_page_follows_the_vendor_module() {
        let cases: &[(&[Param], bool)] = &[
            (&[("kvm_pvm", "stats", "N\n")], false),
            (&[("kvm_intel", "flexpriority", "Y\n")], true),
            (&[("kvm_intel", "flexpriority", "N\n")], false),
            (&[("kvm_amd", "avic", "0\n")], false),
            (&[("kvm_amd", "avic", "1\n")], true),
            (&[("kvm_amd", "avic", "Y\n")], true),
            // A vendor module whose parameter cannot be read.
            (&[("kvm_intel", "", "")], true),
        ];
        for (params, expected) in cases {
            let dir = modules(params);
            assert_eq!(maps_access_page(&dir), *expected, "{params:?}");
            std::fs::remove_dir_all(dir).unwrap();
        }
    }
}
