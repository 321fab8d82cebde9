// SPDX-License-Identifier: GPL-2.0

//! The `KVM_HC_SEND_IPI` transport: one hypercall for up to 128 APIC ids
//! (`a0`/`a1` bitmap relative to `a2`, `a3` the ICR low word).

use crate::glue;
use crate::glue::IrqGuard;
use crate::hint;
use crate::hint::HintError;
use crate::hint::HostHint;
use crate::kvm::KvmHcSendIpi;

/// What one hypercall achieved.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Every target in the bitmap got the IPI.
    Delivered,
    /// The host refused the call (`-KVM_ENOSYS`, `-KVM_EINVAL`, ...): KVM
    /// checks its arguments before it delivers anything, so no target got it.
    Failed,
    /// The host delivered to fewer vCPUs than the bitmap names, without
    /// saying which it missed.  KVM skips APIC ids it has no vCPU for, or
    /// whose APIC is disabled, which cannot happen for the online CPUs the
    /// module targets while the host's APIC map is consistent.
    Partial {
        /// Number of vCPUs the host delivered to.
        delivered: u32,
    },
}

/// Issues one `KVM_HC_SEND_IPI` for `hc`.
///
/// The module only plans this transport when the host exposes
/// `KVM_FEATURE_PV_SEND_IPI`; the guard proves interrupts are off.
#[inline]
pub(crate) fn send(_irqs_off: &IrqGuard, hc: &KvmHcSendIpi) -> Outcome {
    let asked = hc.count();
    #[cfg(CONFIG_IPI_STEER_FAULT_INJECTION)]
    let hc = &{
        let mut hc = *hc;
        crate::fault::apply(&mut hc);
        hc
    };
    // SAFETY: PV_SEND_IPI was checked when the plan was made; interrupts are off.
    let ret = unsafe { glue::kvm_send_ipi(hc.bitmap_low, hc.bitmap_high, hc.min.0, hc.icr) };
    match u32::try_from(ret) {
        Ok(n) if n >= asked => Outcome::Delivered,
        Ok(delivered) => Outcome::Partial { delivered },
        Err(_) => Outcome::Failed,
    }
}

/// Asks the host how this vCPU's IPIs are accelerated
/// (`KVM_HC_IPI_ACCEL_INFO`, from ipi_steer's host patches).
///
/// `features` are the `glue::F_*` bits: only a KVM guest asks, and a host
/// without the patches answers `-KVM_ENOSYS`.
pub(crate) fn query_hint(features: u32) -> Result<HostHint, HintError> {
    if features & glue::F_KVM == 0 {
        return Err(HintError::NotAvailable);
    }
    // SAFETY: the KVM signature was found.
    let ret = unsafe { glue::kvm_hypercall0(hint::KVM_HC_IPI_ACCEL_INFO as u32) };
    hint::decode(ret as i64)
}
